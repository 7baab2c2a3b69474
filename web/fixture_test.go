package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

var ctx = context.Background()

// The fixture's secret: the mount option that carries it must never show.
const lakeSecret = "s3cr3t-Pa55w0rd-9f81c"

// scriptName is a file name that would run as script if a page did not escape it.
const scriptName = `<script>alert("x")<b>.txt`

// testBlockSize makes multi-block files small.
const testBlockSize = 64 << 10

// fixture is a namespace like a person would browse: a root on a filesystem-like store,
// an object store mounted at /data with a password, a directory of bigN entries, a
// pinned MUST_CACHE file, a binary file and a multi-block file partly cached.
type fixture struct {
	fsys        *unifiedfs.FS
	stores      *ufstest.Stores
	root, lake  *ufstest.MemFS
	retryStats  *retry.Stats
	bigN        int
	blocksFile  string
	blocksCache []bool
}

// retrying is a mem store whose driver reports retry counts, as OSS and Kodo do.
type retrying struct {
	*ufstest.Prefixed
	stats *retry.Stats
}

func (r retrying) RetryStats() *retry.Stats { return r.stats }

func newFixture(t testing.TB, bigN int) *fixture {
	t.Helper()
	fx := &fixture{stores: &ufstest.Stores{}, retryStats: &retry.Stats{}, bigN: bigN}
	fx.root = fx.stores.Add("root", ufstest.FileSystem)
	fx.lake = fx.stores.Add("lake", ufstest.ObjectStore)
	fx.stores.SetPassword("lake", lakeSecret)
	archive := fx.stores.Add("archive", ufstest.ObjectStore)
	mtime := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

	r := fx.root.Direct()
	r.PutAt("README.md", []byte("# Sales data lake\n\nThis namespace joins the local disk and the object store.\n"), mtime)
	r.PutAt("logs/app.log", []byte(strings.Repeat("2026-11-20T09:30:00Z INFO request served\n", 40)), mtime)
	r.Mkdir("scratch")

	l := fx.lake.Direct()
	l.PutAt("events/part-00000.parquet", append([]byte("PAR1\x15\x04\x15\x10\x00\x01\x02\x03"), make([]byte, 200)...), mtime)
	l.PutAt("events/part-00001.parquet", append([]byte("PAR1\x15\x04\x15\x20"), make([]byte, 4000)...), mtime.Add(time.Hour))
	l.PutAt(scriptName, []byte("<b>not bold</b>\n"), mtime)
	for i := range bigN {
		// Sizes vary, so that sorting by size means something.
		l.PutAt(fmt.Sprintf("big/part-%06d.csv", i), []byte(strings.Repeat("x", i%97)), mtime.Add(time.Duration(i)*time.Second))
	}
	fx.blocksFile = "/data/blocks.bin"
	blob := make([]byte, 10*testBlockSize+1234)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	l.PutAt("blocks.bin", blob, mtime)
	archive.Direct().PutAt("2025/summary.txt", []byte("archived\n"), mtime)

	reg := fx.stores.Registry()
	reg.Register("rmem", func(ctx context.Context, u ufs.URI, o ufs.Options) (ufs.UFS, error) {
		u.Scheme = "mem"
		got, err := fx.stores.Open(ctx, u, o)
		if err != nil {
			return nil, err
		}
		return retrying{Prefixed: got.(*ufstest.Prefixed), stats: fx.retryStats}, nil
	})
	state := t.TempDir()
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://root/", Registry: reg, BlockSize: testBlockSize,
		JournalDir: filepath.Join(state, "journal"), CacheDir: filepath.Join(state, "cache"), CacheDiskCapacity: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	fx.fsys = fsys
	if err := fsys.Mount(ctx, "/data", "mem://lake/", unifiedfs.MountOptions{Options: map[string]string{"mem.password": lakeSecret, "mem.region": "cn-hangzhou"}}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Mount(ctx, "/archive", "rmem://archive/", unifiedfs.MountOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.WriteFile(ctx, "/scratch/draft.txt", []byte("not persisted yet\n"), unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache}); err != nil {
		t.Fatal(err)
	}
	// Cache two blocks of blocks.bin (read-ahead may cache more: the page shows what is).
	f, err := fsys.OpenFile(ctx, fx.blocksFile, unifiedfs.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	for _, blk := range []int64{0, 6} {
		if _, err := f.(io.ReaderAt).ReadAt(buf, blk*testBlockSize); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	fx.retryStats.Retries.Add(7)
	fx.retryStats.Throttled.Add(2)
	return fx
}

// server serves the fixture's UI on loopback.
func (fx *fixture) server(t testing.TB, opts Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(fx.fsys, opts))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches url and returns the status, the headers and the body.
func get(t testing.TB, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
