package unifiedfs_test

import (
	"bytes"
	"testing"
	"testing/fstest"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// TestFSConformance runs testing/fstest over a root mount and two nested mounts holding
// files created through the FS and directly in the UFS.
func TestFSConformance(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	e.root.Direct().Put("docs/readme.txt", []byte("from the UFS"))
	e.root.Direct().Put("top.txt", []byte("top"))
	oss := e.stores.Add("bucket1", ufstest.ObjectStore)
	oss.Direct().Put("data/part-0", []byte("zero"))
	oss.Direct().Put("data/sub/part-1", []byte("one"))
	kodo := e.stores.Add("bucket2", ufstest.ObjectStore)
	kodo.Direct().Put("x/y.bin", bytes.Repeat([]byte{7}, 10000))
	if err := e.fs.Mkdir(ctx, "/mnt"); err != nil {
		t.Fatal(err)
	}
	e.mount("/mnt/oss", "mem://bucket1/data", unifiedfs.MountOptions{})
	e.mount("/mnt/oss/nested", "mem://bucket2/x", unifiedfs.MountOptions{})
	e.write("/made.txt", "cache-through", unifiedfs.CacheThrough)
	e.write("/mnt/oss/through.txt", "through", unifiedfs.Through)
	e.write("/mnt/oss/cached.txt", "must-cache", unifiedfs.MustCache)
	e.write("/mnt/oss/nested/new.txt", "async", unifiedfs.AsyncThrough)
	if err := fstest.TestFS(e.fs, "top.txt", "docs/readme.txt", "made.txt", "mnt/oss/part-0", "mnt/oss/sub/part-1",
		"mnt/oss/through.txt", "mnt/oss/cached.txt", "mnt/oss/nested/y.bin", "mnt/oss/nested/new.txt"); err != nil {
		t.Fatal(err)
	}
	// The same through a context-bound view and a Sub.
	sub, err := e.fs.WithContext(ctx).Sub("mnt/oss")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "part-0", "nested/y.bin"); err != nil {
		t.Fatal(err)
	}
}
