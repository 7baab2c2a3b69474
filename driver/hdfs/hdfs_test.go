package hdfs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"testing"
	"time"

	hdfsdrv "github.com/unifiedfs/unifiedfs/driver/hdfs"
	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

var dirs atomic.Int64

// open opens a fresh directory of cluster c through the registry, with extra options.
func open(t *testing.T, c *hdfstest.Cluster, extra map[string]string) ufs.UFS {
	t.Helper()
	opts := c.Options()
	for k, v := range extra {
		opts[k] = v
	}
	u, err := ufs.Open(context.Background(), c.URI(fmt.Sprintf("/test/%d", dirs.Add(1))), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// TestConformance runs the ufs conformance suite against the in-process cluster, with
// a 64 KiB block size (the suite's MiB-sized files span dozens of blocks) and 5-entry
// getListing pages. TestBlockBoundaries reads across boundaries of smaller blocks.
func TestConformance(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 64 << 10, ListingLimit: 5})
	ufstest.Run(t, ufstest.Harness{
		New: func(t *testing.T) ufs.UFS { return open(t, c, nil) },
		OpenMissing: func(t *testing.T) (ufs.UFS, error) {
			return ufs.Open(context.Background(), "hdfs://"+c.Addr()+"/no/such/dir", c.Options()) // c.URI would create it
		},
		// HDFS's simple authentication has no secret to get wrong: what the NameNode
		// refuses is a root the user may not enter (AccessControlException).
		OpenBadCredentials: func(t *testing.T) (ufs.UFS, error) {
			dir := fmt.Sprintf("/private/%d", dirs.Add(1))
			c.MkdirAll(dir, c.Superuser(), 0o700)
			return ufs.Open(context.Background(), c.URI(dir+"/root"), c.Options())
		},
	})
}

// TestRealHDFS runs the conformance suite against a real cluster named by
// HDFS_TEST_NAMENODE ("host:port[,host:port]"), in a fresh directory below
// HDFS_TEST_DIR (default /tmp), as HDFS_TEST_USER (default HADOOP_USER_NAME or the OS
// user).
func TestRealHDFS(t *testing.T) {
	nn := os.Getenv("HDFS_TEST_NAMENODE")
	if nn == "" {
		t.Skip("HDFS_TEST_NAMENODE is not set: no real HDFS to test against (set it to host:port)")
	}
	base := os.Getenv("HDFS_TEST_DIR")
	if base == "" {
		base = "/tmp"
	}
	opts := map[string]string{"hdfs.namenodes": nn}
	if u := os.Getenv("HDFS_TEST_USER"); u != "" {
		opts["hdfs.user"] = u
	}
	ctx := context.Background()
	baseURI := fmt.Sprintf("hdfs://%s%s", nn, base)
	root, err := ufs.Open(ctx, baseURI, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	run := fmt.Sprintf("unifiedfs-test-%d", time.Now().UnixNano())
	if err := root.Mkdir(ctx, run); err != nil {
		t.Fatal(err)
	}
	defer root.RemoveAll(ctx, run)
	var n atomic.Int64
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
		dir := fmt.Sprintf("%s/%d", run, n.Add(1))
		if err := root.Mkdir(ctx, dir); err != nil {
			t.Fatal(err)
		}
		u, err := ufs.Open(ctx, baseURI+"/"+dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}})
}

// openPair opens one fresh directory of cluster c twice, as two processes would: two
// clients, so two lease holders.
func openPair(t *testing.T, c *hdfstest.Cluster) (ufs.UFS, ufs.UFS) {
	t.Helper()
	uri := c.URI(fmt.Sprintf("/test/%d", dirs.Add(1)))
	var us [2]ufs.UFS
	for i := range us {
		u, err := ufs.Open(context.Background(), uri, c.Options())
		if err != nil {
			t.Fatal(err)
		}
		us[i] = u
	}
	return us[0], us[1]
}

// TestAppendConformance runs the Appender and Sealer cases with 64 KiB blocks, so that
// their appends cross block boundaries.
func TestAppendConformance(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 64 << 10})
	ufstest.RunAppend(t, ufstest.AppendHarness{New: func(t *testing.T) (ufs.UFS, ufs.UFS) { return openPair(t, c) }})
}

// TestNewTyped opens a directory of the in-process cluster with the typed constructor: a
// guarded *hdfs.FS rooted there, and the Opener's checks.
func TestNewTyped(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	c.MkdirAll("/typed/root", c.User(), 0o755)
	ctx := context.Background()
	o := hdfsdrv.Options{NameNodes: []string{hdfstest.DeadAddr(t), c.Addr()}, Dir: "/typed/root", User: c.User()}
	u, err := hdfsdrv.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	f, ok := ufs.Unwrap(u).(*hdfsdrv.FS)
	if !ok || ufs.Guard(u) != u || f.Root() != "/typed/root" {
		t.Fatalf("New returned %T, want a guarded *hdfs.FS rooted at /typed/root", u)
	}
	if err := ufs.WriteFile(ctx, u, "x", []byte("typed")); err != nil {
		t.Fatal(err)
	}
	parent, err := ufs.Open(ctx, "hdfs://"+c.Addr()+"/typed", c.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	if got, err := ufs.ReadFile(ctx, parent, "root/x"); err != nil || string(got) != "typed" {
		t.Fatalf("root/x read from the parent directory: %q, %v", got, err)
	}
	o.Dir = "/typed/missing"
	if _, err := hdfsdrv.New(ctx, o); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New of a missing directory: %v", err)
	}
	if _, err := hdfsdrv.New(ctx, hdfsdrv.Options{Dir: "/x"}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("New without NameNodes: %v", err)
	}
}
