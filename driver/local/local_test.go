package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func TestConformance(t *testing.T) {
	ufstest.Run(t, ufstest.Harness{
		New: func(t *testing.T) ufs.UFS {
			u, err := ufs.Open(context.Background(), "file://"+t.TempDir(), map[string]string{"local.fsync": "false"})
			if err != nil {
				t.Fatal(err)
			}
			return u
		},
		OpenMissing: func(t *testing.T) (ufs.UFS, error) {
			return ufs.Open(context.Background(), "file://"+filepath.Join(t.TempDir(), "missing"), nil)
		},
		// A directory the process may not read: the filesystem's own credentials.
		OpenBadCredentials: func(t *testing.T) (ufs.UFS, error) {
			if os.Geteuid() == 0 {
				t.Skip("running as root: no directory is unreadable")
			}
			dir := filepath.Join(t.TempDir(), "locked")
			if err := os.Mkdir(dir, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			return ufs.Open(context.Background(), "file://"+dir, nil)
		},
	})
}

// TestNewIsGuarded checks the typed constructor: a guarded UFS over *local.FS, with
// local.fsync's default, and the Opener's errors.
func TestNewIsGuarded(t *testing.T) {
	ctx := context.Background()
	u, err := local.New(ctx, local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, ok := ufs.Unwrap(u).(*local.FS); !ok || ufs.Guard(u) != u {
		t.Fatalf("New returned %T, want a guarded *local.FS", u)
	}
	if _, err := u.Stat(ctx, "../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("stat ../x: %v", err)
	}
	if _, err := local.New(ctx, local.Options{Dir: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := ufs.Open(ctx, "file://"+filepath.Join(t.TempDir(), "missing"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing root: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, []byte("x"), 0o644)
	if _, err := ufs.Open(ctx, "file://"+f, nil); !errors.Is(err, ufs.ErrNotDir) {
		t.Fatalf("file as root: %v", err)
	}
	if _, err := ufs.Open(ctx, "file://host/tmp", nil); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("file URI with a host: %v", err)
	}
	if _, err := ufs.Open(ctx, t.TempDir(), map[string]string{"LOCAL.FSYNC": "maybe"}); !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "local.fsync") {
		t.Fatalf("bad option: %v", err)
	}
}

// TestSymlinkEscape proves no path reaches outside the root, even through a link.
func TestSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644)
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Skip("no symlinks:", err)
	}
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "filelink"))
	os.WriteFile(filepath.Join(root, "inside"), []byte("in"), 0o644)
	os.Symlink("inside", filepath.Join(root, "goodlink"))
	u, err := local.New(ctx, local.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, p := range []string{"link/secret", "filelink"} {
		if _, err := u.Stat(ctx, p); err == nil {
			t.Errorf("stat %s escaped the root", p)
		}
		if _, err := ufs.ReadFile(ctx, u, p); err == nil {
			t.Errorf("read %s escaped the root", p)
		} else if !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read %s: %v, want a permission error", p, err)
		}
	}
	if err := ufs.WriteFile(ctx, u, "link/planted", []byte("x")); err == nil {
		t.Errorf("write through link escaped the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatalf("a file was planted outside the root")
	}
	if err := u.RemoveAll(ctx, "link/secret"); err == nil {
		if _, serr := os.Stat(filepath.Join(outside, "secret")); serr != nil {
			t.Fatalf("RemoveAll deleted a file outside the root")
		}
	}
	// A link that stays inside works, and escaping links are not listed.
	if got, err := ufs.ReadFile(ctx, u, "goodlink"); err != nil || string(got) != "in" {
		t.Errorf("inside link: %q %v", got, err)
	}
	all, _ := ufs.ListAll(ctx, u, ufs.Root)
	for _, st := range all {
		if st.Name == "link" || st.Name == "filelink" {
			t.Errorf("escaping link %s listed", st.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Fatalf("outside file damaged: %v", err)
	}
}

func TestCreateLeavesNoTempOnFailure(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	u, _ := local.New(ctx, local.Options{Dir: root})
	cctx, cancel := context.WithCancel(ctx)
	w, err := u.Create(cctx, "d/f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("abc"))
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("close: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "d"))
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestAppendConformance(t *testing.T) {
	ufstest.RunAppend(t, ufstest.AppendHarness{New: func(t *testing.T) (ufs.UFS, ufs.UFS) {
		dir := t.TempDir()
		a, err := ufs.Open(context.Background(), "file://"+dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ufs.Open(context.Background(), "file://"+dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}})
}

// TestLongNames stores names of the filesystem's limit (255 bytes, in ASCII and in
// three-byte runes): uploads go through a temporary name that must fit too. A longer
// name fails with fs.ErrInvalid and leaves nothing behind.
func TestLongNames(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	u, err := local.New(ctx, local.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	names := []string{strings.Repeat("n", 251) + ".txt", strings.Repeat("日", 85)}
	for i, name := range names {
		data := []byte(fmt.Sprintf("content %d", i))
		if err := ufs.WriteFile(ctx, u, "d/"+name, data); err != nil {
			t.Fatalf("write a %d-byte name: %v", len(name), err)
		}
		if got, err := ufs.ReadFile(ctx, u, "d/"+name); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read a %d-byte name: %q, %v", len(name), got, err)
		}
		if st, err := u.Stat(ctx, "d/"+name); err != nil || st.Name != name {
			t.Fatalf("stat a %d-byte name: %+v, %v", len(name), st, err)
		}
		w, err := u.(ufs.Appender).Append(ctx, "d/"+name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("+"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Rename(ctx, "d/"+names[0], "d/"+strings.Repeat("m", 255)); err != nil {
		t.Fatalf("rename to a 255-byte name: %v", err)
	}
	all, err := ufs.ListAll(ctx, u, "d")
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v, %v", all, err)
	}
	tooLong := strings.Repeat("x", 256)
	err = ufs.WriteFile(ctx, u, "d/"+tooLong, []byte("x"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrInvalid) || !errors.As(err, &pe) {
		t.Fatalf("write a 256-byte name: %v, want a *fs.PathError wrapping fs.ErrInvalid", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "d")); len(entries) != 2 {
		t.Fatalf("after a failed upload the directory holds %d entries, want 2", len(entries))
	}
}
