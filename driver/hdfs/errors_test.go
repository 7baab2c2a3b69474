package hdfs_test

import (
	"errors"
	"io/fs"
	"testing"

	hdfsclient "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// TestExceptionsMapToSentinels provokes NameNode exceptions, real and injected, and
// checks the sentinel each maps to, that the error is a *fs.PathError, and that the
// client's error stays in the chain.
func TestExceptionsMapToSentinels(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, nil)
	root := ufs.Unwrap(u).(interface{ Root() string }).Root()
	mustWrite(t, u, "file", []byte("x"))
	mustWrite(t, u, "full/a", []byte("x"))
	if err := u.Mkdir(bg, "locked/inner"); err != nil {
		t.Fatal(err)
	}
	if err := c.Chown(root+"/locked", "bob", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := c.Chmod(root+"/locked", 0o700); err != nil {
		t.Fatal(err)
	}

	check := func(what string, err, sentinel error, exception string) {
		t.Helper()
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Errorf("%s: %v is not a *fs.PathError", what, err)
			return
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: %v does not satisfy errors.Is(%v)", what, err, sentinel)
		}
		if sentinel != fs.ErrNotExist && errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v claims not-found", what, err)
		}
		if exception != "" {
			var re hdfsclient.Error
			if !errors.As(err, &re) || re.Exception() != exception {
				t.Errorf("%s: %v does not keep the %s in its chain", what, err, exception)
			}
		}
	}

	_, err := u.Stat(bg, "missing")
	check("stat missing", err, fs.ErrNotExist, "")
	_, err = u.Stat(bg, "locked/inner")
	check("stat below a 0700 dir of bob", err, fs.ErrPermission, "")
	_, err = u.List(bg, "locked", ufs.ListOptions{})
	check("list a 0700 dir of bob", err, fs.ErrPermission, "")
	check("create in a 0700 dir of bob", ufs.WriteFile(bg, u, "locked/new", []byte("x")), fs.ErrPermission, "")
	check("remove non-empty", u.Remove(bg, "full"), ufs.ErrNotEmpty, "")
	check("mkdir over a file", u.Mkdir(bg, "file"), fs.ErrExist, "")
	check("mkdir below a file", u.Mkdir(bg, "file/sub"), fs.ErrExist, "org.apache.hadoop.fs.ParentNotDirectoryException")
	check("rename onto existing", u.Rename(bg, "file", "full/a"), fs.ErrExist, "")
	check("rename missing", u.Rename(bg, "nope", "other"), fs.ErrNotExist, "")
	check("write a name HDFS rejects", ufs.WriteFile(bg, u, "a:b", []byte("x")), fs.ErrInvalid, "org.apache.hadoop.fs.InvalidPathException")
	_, err = u.List(bg, "file", ufs.ListOptions{})
	check("list a file", err, ufs.ErrNotDir, "")
	_, err = u.OpenRange(bg, "full", 0, -1)
	check("open a directory", err, ufs.ErrIsDir, "")

	// Injected exceptions, as a NameNode under other conditions throws them.
	for _, tc := range []struct {
		class    string
		sentinel error
	}{
		{"org.apache.hadoop.security.AccessControlException", fs.ErrPermission},
		{"java.io.FileNotFoundException", fs.ErrNotExist},
		{"org.apache.hadoop.fs.FileAlreadyExistsException", fs.ErrExist},
		{"org.apache.hadoop.fs.PathIsNotEmptyDirectoryException", ufs.ErrNotEmpty},
		{"org.apache.hadoop.fs.ParentNotDirectoryException", ufs.ErrNotDir},
		{"org.apache.hadoop.fs.InvalidPathException", fs.ErrInvalid},
	} {
		c.FailNext("rename2", tc.class, "injected")
		err := u.Rename(bg, "file", "renamed")
		check("rename2 throwing "+tc.class, err, tc.sentinel, "")
	}
	// Exceptions with no sentinel keep the class and claim nothing (SafeModeException is
	// retried: TestTransientExceptionsAreRetried).
	for _, class := range []string{
		"org.apache.hadoop.hdfs.protocol.NSQuotaExceededException",
		"org.apache.hadoop.hdfs.protocol.DSQuotaExceededException",
	} {
		c.FailNext("getListing", class, "injected")
		_, err := u.List(bg, ufs.Root, ufs.ListOptions{})
		var re hdfsclient.Error
		if !errors.As(err, &re) || re.Exception() != class {
			t.Errorf("list throwing %s: %v", class, err)
		}
		for _, s := range []error{fs.ErrNotExist, fs.ErrPermission, fs.ErrExist, fs.ErrInvalid} {
			if errors.Is(err, s) {
				t.Errorf("list throwing %s: %v satisfies %v", class, err, s)
			}
		}
	}
	// Opening a root the user may not traverse is a permission error, not "missing".
	opts := c.Options()
	_, err = ufs.Open(bg, "hdfs://"+c.Addr()+root+"/locked/inner", opts)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("open a root below a 0700 dir of bob: %v", err)
	}
	_, err = ufs.Open(bg, "hdfs://"+c.Addr()+root+"/nope", opts)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open a missing root: %v", err)
	}
	_, err = ufs.Open(bg, "hdfs://"+c.Addr()+root+"/file", opts)
	if !errors.Is(err, ufs.ErrNotDir) {
		t.Errorf("open a file as root: %v", err)
	}
}
