package local_test

import (
	"context"
	"errors"
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
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
		u, err := ufs.Open(context.Background(), "file://"+t.TempDir(), map[string]string{"local.fsync": "false"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}})
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
	u, err := local.New(root)
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
	u, _ := local.New(root)
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
