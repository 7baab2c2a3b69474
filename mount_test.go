package unifiedfs_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func TestMountRules(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	a := e.stores.Add("a", ufstest.ObjectStore)
	a.Direct().Put("dir/f", []byte("f"))
	a.Direct().Put("dir/sub/g", []byte("g"))
	a.Direct().Put("other/h", []byte("h"))
	e.root.Direct().Put("existing/file", []byte("x"))
	e.root.Direct().Put("shadow/inufs", []byte("x"))

	e.mount("/p1", "mem://a/dir/sub", unifiedfs.MountOptions{})
	// Nested mounts with disjoint locations work.
	e.mount("/p1/p2", "mem://a/other", unifiedfs.MountOptions{})
	if got := e.read("p1/p2/h"); got != "h" {
		t.Fatalf("nested mount read %q", got)
	}
	if got := e.read("p1/g"); got != "g" {
		t.Fatalf("mount read %q", got)
	}

	cases := []struct {
		name, at, uri string
		opts          unifiedfs.MountOptions
		want          error
		msg           string
	}{
		{"target exists in the namespace", "/existing", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrExist, "exists"},
		{"target is a file", "/existing/file", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrExist, "exists"},
		{"parent missing", "/nope/m", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrNotExist, ""},
		{"parent is a file", "/existing/file/m", "mem://a/dir", unifiedfs.MountOptions{}, unifiedfs.ErrNotDir, ""},
		{"location is a prefix of a mount's", "/m1", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrExist, "overlaps"},
		{"location is a child of a mount's", "/m2", "mem://a/dir/sub/deeper", unifiedfs.MountOptions{}, fs.ErrExist, "overlaps"},
		{"same location twice", "/m3", "mem://a/other", unifiedfs.MountOptions{}, fs.ErrExist, "overlaps"},
		{"overlaps the root mount", "/m4", "mem://root/x", unifiedfs.MountOptions{}, fs.ErrExist, "overlaps"},
		{"shadows a UFS entry", "/shadow", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrExist, ""},
		{"missing location", "/m5", "mem://a/missing", unifiedfs.MountOptions{}, fs.ErrNotExist, ""},
		{"missing store", "/m6", "mem://nostore/", unifiedfs.MountOptions{}, fs.ErrNotExist, ""},
		{"unknown scheme", "/m7", "gopher://x/", unifiedfs.MountOptions{}, unifiedfs.ErrNotSupported, "import"},
		{"bad URI", "/m8", "mem://a/../etc", unifiedfs.MountOptions{}, fs.ErrInvalid, ""},
		{"bad path", "/a/../b", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrInvalid, ""},
		{"root", "/", "mem://a/dir", unifiedfs.MountOptions{}, fs.ErrExist, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.fs.Mount(ctx, c.at, c.uri, c.opts)
			wantErr(t, c.name, err, c.want)
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("message %q lacks %q", err, c.msg)
			}
		})
	}
	// Wrong credentials fail at mount time, with a permission error.
	e.stores.Add("locked", ufstest.ObjectStore)
	e.stores.SetPassword("locked", "s3cret")
	err := e.fs.Mount(ctx, "/locked", "mem://locked/", unifiedfs.MountOptions{Options: map[string]string{"mem.password": "wrong"}})
	wantErr(t, "wrong credentials", err, fs.ErrPermission)
	e.mount("/locked", "mem://locked/", unifiedfs.MountOptions{Options: map[string]string{"MEM.PASSWORD": "s3cret"}})
	for _, m := range e.fs.Mounts() {
		if m.Path == "/locked" && m.Options["MEM.PASSWORD"] != "<redacted>" {
			t.Errorf("secret option not redacted: %v", m.Options)
		}
	}
	if strings.Contains(e.fs.String(), "s3cret") {
		t.Error("secret printed")
	}
	// A mount under a read-only mount is refused.
	ro := e.stores.Add("ro", ufstest.FileSystem)
	ro.Direct().Mkdir("d")
	e.mount("/ro", "mem://ro/", unifiedfs.MountOptions{ReadOnly: true})
	wantErr(t, "mount under read-only", e.fs.Mount(ctx, "/ro/d2", "mem://a/dir/f2", unifiedfs.MountOptions{}), unifiedfs.ErrReadOnly)

	got := []string{}
	for _, m := range e.fs.Mounts() {
		got = append(got, m.Path+"="+m.UFS)
	}
	want := "/=mem://root/ /locked=mem://locked/ /p1=mem://a/dir/sub /p1/p2=mem://a/other /ro=mem://ro/"
	if strings.Join(got, " ") != want {
		t.Fatalf("mounts = %v\nwant %v", got, want)
	}
}

func TestUnmountRules(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	a := e.stores.Add("a", ufstest.ObjectStore)
	a.Direct().Put("dir/f", []byte("content"))
	e.stores.Add("b", ufstest.FileSystem)
	e.mount("/m", "mem://a/dir", unifiedfs.MountOptions{})
	e.mount("/m/n", "mem://b/", unifiedfs.MountOptions{})
	e.write("/m/cached", "pinned", unifiedfs.MustCache)
	if e.read("m/f") != "content" { // cached now
		t.Fatal("read")
	}
	wantErr(t, "unmount root", e.fs.Unmount(ctx, "/"), fs.ErrInvalid)
	wantErr(t, "unmount a non-mount", e.fs.Unmount(ctx, "/m/f"), unifiedfs.ErrNotMountPoint)
	wantErr(t, "unmount missing", e.fs.Unmount(ctx, "/zzz"), fs.ErrNotExist)
	wantErr(t, "unmount with nested", e.fs.Unmount(ctx, "/m"), unifiedfs.ErrMountPoint)
	if err := e.fs.Unmount(ctx, "/m/n"); err != nil {
		t.Fatal(err)
	}
	before := a.TotalCalls()
	if err := e.fs.Unmount(ctx, "/m"); err != nil {
		t.Fatal(err)
	}
	if a.TotalCalls() != before {
		t.Errorf("unmount touched the UFS: %d calls", a.TotalCalls()-before)
	}
	if _, err := e.fs.Stat("m"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unmounted path still there: %v", err)
	}
	if got, _ := a.Direct().Get("dir/f"); string(got) != "content" {
		t.Fatal("UFS data changed by unmount")
	}
	// The mount point is gone from the root UFS too (it never was there).
	if e.root.Direct().Exists("m") {
		t.Fatal("mount point leaked into the parent UFS")
	}
	// Remount: the file is loaded again; the cached-only file is gone with the unmount.
	e.mount("/m", "mem://a/dir", unifiedfs.MountOptions{})
	if e.read("m/f") != "content" {
		t.Fatal("remount read")
	}
	if _, err := e.fs.Stat("m/cached"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("cached-only file survived unmount: %v", err)
	}
}

func TestRenameRules(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	a := e.stores.Add("a", ufstest.ObjectStore)
	a.Direct().Put("x/f", []byte("f"))
	e.stores.Add("b", ufstest.ObjectStore)
	e.root.Direct().Put("d/file", []byte("r"))
	e.root.Direct().Put("d/other", []byte("o"))
	e.mount("/ma", "mem://a/x", unifiedfs.MountOptions{})
	e.mount("/d/mb", "mem://b/", unifiedfs.MountOptions{})
	ro := e.stores.Add("ro", ufstest.FileSystem)
	ro.Direct().Put("r", []byte("r"))
	e.mount("/ro", "mem://ro/", unifiedfs.MountOptions{ReadOnly: true})

	wantErr(t, "across mounts", e.fs.Rename(ctx, "/ma/f", "/f"), unifiedfs.ErrCrossMount)
	wantErr(t, "a mount point", e.fs.Rename(ctx, "/ma", "/mz"), unifiedfs.ErrCrossMount)
	wantErr(t, "a tree holding a mount point", e.fs.Rename(ctx, "/d", "/d2"), unifiedfs.ErrCrossMount)
	wantErr(t, "onto a mount point", e.fs.Rename(ctx, "/d/file", "/ma"), fs.ErrExist)
	wantErr(t, "onto an existing file", e.fs.Rename(ctx, "/d/file", "/d/other"), fs.ErrExist)
	wantErr(t, "missing source", e.fs.Rename(ctx, "/nope", "/x"), fs.ErrNotExist)
	wantErr(t, "missing target parent", e.fs.Rename(ctx, "/d/file", "/nope/x"), fs.ErrNotExist)
	wantErr(t, "into itself", e.fs.Rename(ctx, "/d", "/d/inside"), fs.ErrInvalid)
	wantErr(t, "the root", e.fs.Rename(ctx, "/", "/x"), fs.ErrInvalid)
	wantErr(t, "read-only", e.fs.Rename(ctx, "/ro/r", "/ro/s"), unifiedfs.ErrReadOnly)
	var re *unifiedfs.RenameError
	if err := e.fs.Rename(ctx, "/nope", "/x"); !errors.As(err, &re) || re.Old != "/nope" || re.New != "/x" {
		t.Fatalf("rename error shape: %#v", err)
	}
	// Persisted: renamed in the UFS too. Unpersisted: only in the namespace.
	if err := e.fs.Rename(ctx, "/d/file", "/d/renamed"); err != nil {
		t.Fatal(err)
	}
	if !e.root.Direct().Exists("d/renamed") || e.root.Direct().Exists("d/file") {
		t.Fatal("persisted rename not done in the UFS")
	}
	e.write("/ma/mc", "m", unifiedfs.MustCache)
	before := a.Calls(ufstest.OpRename)
	if err := e.fs.Rename(ctx, "/ma/mc", "/ma/mc2"); err != nil {
		t.Fatal(err)
	}
	if a.Calls(ufstest.OpRename) != before || a.Direct().Exists("x/mc2") {
		t.Fatal("unpersisted rename reached the UFS")
	}
	if e.read("ma/mc2") != "m" {
		t.Fatal("content lost by rename")
	}
	// A directory rename on an object store moves every key.
	for p, c := range map[string]string{"/ma/dir/a": "1", "/ma/dir/b/c": "2"} {
		if err := e.fs.WriteFile(ctx, p, []byte(c), unifiedfs.CreateOptions{Recursive: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.fs.Rename(ctx, "/ma/dir", "/ma/moved/dir2"); err == nil {
		t.Fatal("rename into a missing parent succeeded")
	}
	if err := e.fs.Rename(ctx, "/ma/dir", "/ma/dir2"); err != nil {
		t.Fatal(err)
	}
	if got := a.Direct().Files("x/dir2"); strings.Join(got, ",") != "x/dir2/a,x/dir2/b/c" {
		t.Fatalf("UFS keys after directory rename: %v", got)
	}
	if len(a.Direct().Files("x/dir")) != 0 || e.read("ma/dir2/b/c") != "2" {
		t.Fatal("directory rename incomplete")
	}
}

func TestDeleteRules(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	a := e.stores.Add("a", ufstest.ObjectStore)
	a.Direct().Put("x/f", []byte("f"))
	ro := e.stores.Add("ro", ufstest.FileSystem)
	ro.Direct().Put("keep", []byte("k"))
	e.root.Direct().Put("t/file", []byte("1"))
	e.root.Direct().Put("t/sub/file", []byte("2"))
	e.root.Direct().Mkdir("empty")
	e.mount("/t/ma", "mem://a/x", unifiedfs.MountOptions{})
	e.mount("/t/sub/ro", "mem://ro/", unifiedfs.MountOptions{ReadOnly: true})

	wantErr(t, "root", e.fs.Remove(ctx, "/"), fs.ErrInvalid)
	wantErr(t, "missing", e.fs.Remove(ctx, "/nope"), fs.ErrNotExist)
	if err := e.fs.RemoveAll(ctx, "/nope"); err != nil {
		t.Fatalf("RemoveAll of a missing path: %v", err)
	}
	e.root.Direct().Put("u/file", []byte("u"))
	wantErr(t, "non-empty", e.fs.Remove(ctx, "/u"), unifiedfs.ErrNotEmpty)
	wantErr(t, "read-only", e.fs.Remove(ctx, "/t/sub/ro/keep"), unifiedfs.ErrReadOnly)
	wantErr(t, "a mount point", e.fs.Remove(ctx, "/t/ma"), unifiedfs.ErrMountPoint)
	wantErr(t, "a tree holding mounts", e.fs.RemoveAll(ctx, "/t"), unifiedfs.ErrMountPoint)
	if !e.root.Direct().Exists("t/file") {
		t.Fatal("refused delete changed the UFS")
	}
	if err := e.fs.Remove(ctx, "/empty"); err != nil {
		t.Fatal(err)
	}
	if e.root.Direct().Exists("empty") {
		t.Fatal("empty dir still in the UFS")
	}
	// Explicit unmount: nested mounts are unmounted, never deleted through.
	if err := e.fs.Delete(ctx, "/t", unifiedfs.DeleteOptions{Recursive: true, Unmount: true}); err != nil {
		t.Fatal(err)
	}
	if got, ok := ro.Direct().Get("keep"); !ok || string(got) != "k" {
		t.Fatal("deleted through a read-only nested mount")
	}
	if !a.Direct().Exists("x/f") {
		t.Fatal("deleted a nested mount's data")
	}
	if e.root.Direct().Exists("t/file") || e.root.Direct().Exists("t/sub/file") {
		t.Fatal("the root UFS part was not deleted")
	}
	if len(e.fs.Mounts()) != 1 {
		t.Fatalf("mounts left: %v", e.fs.Mounts())
	}
	// Namespace-only delete keeps the UFS copy.
	e.root.Direct().Put("keepme", []byte("k"))
	if err := e.fs.Delete(ctx, "/keepme", unifiedfs.DeleteOptions{NamespaceOnly: true}); err != nil {
		t.Fatal(err)
	}
	if !e.root.Direct().Exists("keepme") {
		t.Fatal("NamespaceOnly deleted the UFS copy")
	}
}

func TestSharedMountGivesOthersTheOwnersBits(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	for _, name := range []string{"private", "shared"} {
		s := e.stores.Add(name, ufstest.FileSystem)
		s.Direct().Put("f", []byte("x"))
		s.Direct().Chown("f", "alice", "staff", 0o640)
	}
	e.mount("/private", "mem://private/", unifiedfs.MountOptions{})
	e.mount("/shared", "mem://shared/", unifiedfs.MountOptions{Shared: true})
	if m := e.status("/private/f").Mode; m != 0o640 {
		t.Fatalf("private mount mode %v", m)
	}
	if m := e.status("/shared/f").Mode; m != 0o666 {
		t.Fatalf("shared mount mode %v, want the owner's rw for everyone", m)
	}
	fi, _ := e.fs.Stat("shared/f")
	if fi.Mode().Perm() != 0o666 {
		t.Fatalf("FileInfo mode %v", fi.Mode())
	}
}
