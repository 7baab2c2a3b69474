package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// serveOK serves one GET through h and fails unless it is a 200.
func serveOK(b *testing.B, h http.Handler, target string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d\n%s", target, rec.Code, rec.Body)
	}
}

// median times fn n times and returns the median.
func median(n int, fn func()) time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		fn()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// BenchmarkBrowse100k serves Browse pages of a loaded directory of 100,000 entries
// (server time: the handler, without the network). The target is the first page in
// ≤ 20 ms. The baseline, measured in the same run, is one ListStatus of the directory:
// what any page would cost if it listed the whole directory (x-ListStatus is the
// page's time over it). Name order, either way, copies only the page; size and mtime
// orders list and sort all 100,000 entries on every request.
func BenchmarkBrowse100k(b *testing.B) {
	fx := newFixture(b, 100_000)
	h := Handler(fx.fsys, Options{})
	serveOK(b, h, "/browse?path=/data/big") // loads the directory's metadata
	listing := median(21, func() {
		if _, err := fx.fsys.ListStatus(ctx, "/data/big"); err != nil {
			b.Fatal(err)
		}
	})
	for _, c := range []struct{ name, query string }{
		{"first-page", "path=/data/big"},
		{"last-page", "path=/data/big&offset=99900"},
		{"name-desc", "path=/data/big&order=desc"},
		{"sort-size", "path=/data/big&sort=size"},
		{"sort-mtime", "path=/data/big&sort=mtime&order=desc"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				serveOK(b, h, "/browse?"+c.query)
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/page")
			b.ReportMetric(float64(per)/float64(listing), "x-ListStatus")
			b.ReportMetric(float64(per)/float64(20*time.Millisecond), "x-20ms-target")
		})
	}
	b.Logf("baseline: ListStatus of 100,000 entries %v", listing)
}

// BenchmarkListPage100k compares FS.ListPage (the first 100 entries) with ListStatus
// (all 100,000, which a page would slice) on a loaded directory, in the same run.
func BenchmarkListPage100k(b *testing.B) {
	fx := newFixture(b, 100_000)
	if _, err := fx.fsys.ListStatus(ctx, "/data/big"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	begin := time.Now()
	for b.Loop() {
		if page, _, err := fx.fsys.ListPage(ctx, "/data/big", 0, 100); err != nil || len(page) != 100 {
			b.Fatal(len(page), err)
		}
	}
	per := time.Since(begin) / time.Duration(b.N)
	const runs = 50 // the baseline costs ~1000 pages each
	begin = time.Now()
	for range runs {
		if all, err := fx.fsys.ListStatus(ctx, "/data/big"); err != nil || len(all) != 100_000 {
			b.Fatal(len(all), err)
		}
	}
	b.ReportMetric(float64(per)/float64(time.Since(begin)/runs), "x-ListStatus")
}

// BenchmarkMetricsScrape1M scrapes /metrics (the Collector alone, through promhttp) of
// an FS with 1,000,000 files loaded, and of an empty FS in the same run: a scrape reads
// counters, so the two cost the same (x-empty ≈ 1); the target is ≤ 5 ms.
func BenchmarkMetricsScrape1M(b *testing.B) {
	const dirs, perDir = 1000, 1000
	var stores ufstest.Stores
	big := stores.Add("big", ufstest.ObjectStore)
	stores.Add("empty", ufstest.ObjectStore)
	d := big.Direct()
	for i := range dirs {
		for j := range perDir {
			d.Put(fmt.Sprintf("d%04d/f%04d", i, j), nil)
		}
	}
	open := func(root string) *unifiedfs.FS {
		fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: root, Registry: stores.Registry()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { fsys.Close() })
		return fsys
	}
	full, empty := open("mem://big/"), open("mem://empty/")
	start := time.Now()
	// One recursive sync loads the whole tree: 1,001 listings.
	if err := full.LoadMetadata(ctx, "/", unifiedfs.LoadMetadataOptions{Recursive: true, Limit: -1}); err != nil {
		b.Fatal(err)
	}
	if n := full.Metrics().Files.Persisted; n != dirs*perDir {
		b.Fatalf("loaded %d files, want %d", n, dirs*perDir)
	}
	b.Logf("loaded %d inodes in %v", dirs*perDir+dirs+1, time.Since(start))
	handler := func(fsys *unifiedfs.FS) http.Handler {
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(fsys))
		return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	hFull, hEmpty := handler(full), handler(empty)
	b.ReportAllocs()
	begin := time.Now()
	for b.Loop() {
		serveOK(b, hFull, "/metrics")
	}
	per := time.Since(begin) / time.Duration(b.N)
	begin = time.Now()
	for range b.N { // the baseline, as many scrapes of the empty FS in the same process
		serveOK(b, hEmpty, "/metrics")
	}
	baseline := time.Since(begin) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/scrape")
	b.ReportMetric(float64(per)/float64(baseline), "x-empty")
	b.ReportMetric(float64(per)/float64(5*time.Millisecond), "x-5ms-target")
}
