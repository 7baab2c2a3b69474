// Command unifiedfs is the `alluxio fs`-style command line of unifiedfs.
//
// This first version only runs the demo (`unifiedfs demo`): it mounts a temporary local
// directory through the ufs registry and shows what the UFS layer sees. The full command
// set arrives with the namespace.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "demo" {
		fmt.Fprintln(os.Stderr, "usage: unifiedfs demo")
		os.Exit(2)
	}
	if err := demo(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "unifiedfs:", err)
		os.Exit(1)
	}
}

func demo(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "unifiedfs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hello from the UFS\n"), 0o644); err != nil {
		return err
	}
	u, err := ufs.Open(ctx, "file://"+dir, nil)
	if err != nil {
		return err
	}
	defer u.Close()
	if err := ufs.WriteFile(ctx, u, "world", []byte("written through unifiedfs\n")); err != nil {
		return err
	}
	entries, err := ufs.ListAll(ctx, u, ufs.Root)
	if err != nil {
		return err
	}
	fmt.Printf("file://%s holds:\n", dir)
	for _, st := range entries {
		fmt.Printf("  %-8s %4d bytes  %s\n", st.Name, st.Size, ufs.FingerprintOf(u.Capabilities().Kind, st))
	}
	return nil
}
