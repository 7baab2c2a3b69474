package unifiedfs_test

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// closingUFS is a UFS that, like a real driver's, serves no read once closed.
type closingUFS struct {
	ufs.UFS
	closed atomic.Bool
}

func (c *closingUFS) Close() error { c.closed.Store(true); return c.UFS.Close() }

func (c *closingUFS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	if c.closed.Load() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrClosed}
	}
	return c.UFS.OpenRange(ctx, p, off, n)
}

// A file opened before UpdateMount keeps reading after the UFS it was opened with is
// closed at the end of the drain: its fetches go through the mount's current UFS.
func TestUpdateMountKeepsOpenFilesReading(t *testing.T) {
	defer unifiedfs.SetMountDrain(10 * time.Millisecond)()
	stores := &ufstest.Stores{}
	stores.Add("root", ufstest.ObjectStore)
	stores.Add("data", ufstest.ObjectStore)
	var mu sync.Mutex
	var opened []*closingUFS
	reg := &ufs.Registry{}
	reg.Register("mem", func(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
		u, err := stores.Open(ctx, uri, opts)
		if err != nil {
			return nil, err
		}
		c := &closingUFS{UFS: u}
		mu.Lock()
		opened = append(opened, c)
		mu.Unlock()
		return c, nil
	})
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://root/", Registry: reg, BlockSize: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if err := fsys.Mount(ctx, "/m", "mem://data/", unifiedfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("0123456789abcdef", 512) // 8 blocks
	if err := fsys.WriteFile(ctx, "/m/f", []byte(data), unifiedfs.CreateOptions{WriteType: unifiedfs.Through}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Free(ctx, "/m/f"); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("m/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 1<<10)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	old := opened[len(opened)-1]
	mu.Unlock()
	if err := fsys.UpdateMount(ctx, "/m", unifiedfs.MountOptions{Options: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	testpeer.WaitFor(t, "the replaced UFS closed", 5*time.Second, old.closed.Load)
	rest, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read after the replaced UFS closed: %v", err)
	}
	if got := string(head) + string(rest); got != data {
		t.Fatalf("read %d bytes, not the file's %d", len(got), len(data))
	}
}
