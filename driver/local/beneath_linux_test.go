//go:build linux && (amd64 || arm64)

package local

import (
	"os"
	"path/filepath"
	"testing"
)

// openDirBeneath opens directories below the root in one call, follows links that stay
// below it, and refuses (for os.Root to report) links that leave it, files and misses.
func TestOpenDirBeneath(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{"a/b/c", "x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "a/file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../x", filepath.Join(root, "a/in")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "a/out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../..", filepath.Join(root, "a/b/up")); err != nil {
		t.Fatal(err)
	}
	top, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	fd := int(top.Fd())
	f, ok := openDirBeneath(fd, "a/b/c")
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("openat2 is unavailable here: List falls back to os.Root's walk")
		}
		t.Skip("openat2 is unavailable here (old kernel or a sandbox filtering it)")
	}
	f.Close()
	if f, ok := openDirBeneath(fd, "a/in"); !ok {
		t.Error("a link to a directory below the root was refused")
	} else {
		f.Close()
	}
	for _, name := range []string{"a/out", "a/b/up", "a/b/up/x", "a/file", "a/missing", "../" + filepath.Base(root)} {
		if f, ok := openDirBeneath(fd, name); ok {
			f.Close()
			t.Errorf("openDirBeneath(%q) opened it", name)
		}
	}
}
