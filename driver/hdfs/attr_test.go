package hdfs_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Chmod and Chown (the NameNode's setPermission and setOwner) change what Stat reports,
// through the guard.
func TestChmodChown(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{Groups: map[string][]string{"alice": {"alice", "staff"}}})
	u := open(t, c, nil)
	mustWrite(t, u, "f", []byte("x"))
	a := ufs.AttributerOf(u)
	if a == nil {
		t.Fatal("the HDFS UFS is not an Attributer")
	}
	if err := a.Chmod(bg, "f", 0o640); err != nil {
		t.Fatal(err)
	}
	// The test user is no superuser: giving the file away is refused; its own group is fine.
	if err := a.Chown(bg, "f", "bob", ""); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("chown to another user: %v, want fs.ErrPermission", err)
	}
	if err := a.Chown(bg, "f", "", "staff"); err != nil {
		t.Fatal(err)
	}
	st, err := u.Stat(bg, "f")
	if err != nil || st.Mode != 0o640 || st.Owner != c.User() || st.Group != "staff" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if err := a.Chmod(bg, "f", 0o4777|1<<31); err == nil {
		t.Fatal("a mode beyond the permission bits passed the guard")
	}
}
