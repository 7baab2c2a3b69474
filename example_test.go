package unifiedfs_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
)

// lsUFS lists a local directory the way `ls` would.
func lsUFS(dir string) {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	fmt.Println("$ ls UFS:", strings.Join(names, " "))
}

// lsR prints every path of the namespace, as `alluxio fs ls -R /`.
func lsR(fsys fs.FS) {
	var paths []string
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != "." {
			paths = append(paths, "/"+p)
		}
		return err
	})
	if len(paths) == 0 {
		paths = []string{"(empty)"}
	}
	fmt.Println("$ ls -R /:", strings.Join(paths, " "))
}

// The "Transparent Naming" walkthrough of Alluxio's unified-namespace page, on two
// temporary local directories: one is the root UFS, the other is mounted at /demo.
func Example_transparentNaming() {
	ctx := context.Background()
	demo, _ := os.MkdirTemp("", "alluxio-demo-")
	defer os.RemoveAll(demo)
	_ = os.WriteFile(filepath.Join(demo, "hello"), nil, 0o644)
	rootDir, _ := os.MkdirTemp("", "unifiedfs-root-")
	defer os.RemoveAll(rootDir)

	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file://" + rootDir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fsys.Close()

	if err := fsys.Mount(ctx, "/demo", "file://"+demo, unifiedfs.MountOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Mounted file://" + "<demo> at /demo")
	lsR(fsys) // /demo/hello was loaded from the UFS on first access

	// touch: the new file lives only in the namespace until persisted.
	_ = fsys.WriteFile(ctx, "/demo/hello2", nil, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache})
	st, _ := fsys.GetStatus(ctx, "/demo/hello2")
	fmt.Println("/demo/hello2 has been created:", st.PersistState)
	lsUFS(demo)

	_ = fsys.Persist(ctx, "/demo/hello2")
	st, _ = fsys.GetStatus(ctx, "/demo/hello2")
	fmt.Println("persisted /demo/hello2:", st.PersistState)
	lsUFS(demo)

	_ = fsys.Rename(ctx, "/demo/hello2", "/demo/world")
	fmt.Println("Renamed /demo/hello2 to /demo/world")
	lsUFS(demo)

	_ = fsys.Remove(ctx, "/demo/world")
	fmt.Println("/demo/world has been removed")
	lsUFS(demo)

	_ = fsys.Unmount(ctx, "/demo")
	fmt.Println("Unmounted /demo")
	lsR(fsys)
	lsUFS(demo)

	// Output:
	// Mounted file://<demo> at /demo
	// $ ls -R /: /demo /demo/hello
	// /demo/hello2 has been created: NOT_PERSISTED
	// $ ls UFS: hello
	// persisted /demo/hello2: PERSISTED
	// $ ls UFS: hello hello2
	// Renamed /demo/hello2 to /demo/world
	// $ ls UFS: hello world
	// /demo/world has been removed
	// $ ls UFS: hello
	// Unmounted /demo
	// $ ls -R /: (empty)
	// $ ls UFS: hello
}
