package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/kodo"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	_ "github.com/unifiedfs/unifiedfs/driver/oss"
	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R1", name: "sequential read of a cached 1 GiB file into a 1 MiB buffer", baseline: "stream copy of the same bytes from RAM", goal: "≥ 0.85",
		run: func(p int) ([]float64, string, error) { return runCachedRead(p, 1) }, ok: func(m float64) bool { return m >= 0.85 }})
	register(metric{id: "R2", name: "R1 with 2 goroutines", baseline: "2-goroutine stream copy", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runCachedRead(p, 2) }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R3", name: "warm read through the local driver (page-cached 256 MiB file, NO_CACHE)", baseline: "os.File.Read, same 1 MiB buffer", goal: "≥ 0.9",
		run: runLocalRead, ok: func(m float64) bool { return m >= 0.9 }})
	register(metric{id: "R4", name: "first read of a 256 MiB object from the OSS fake through the FS", baseline: "one GET of the whole object from the same fake (the same signed client, no checksum)", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runFirstRead(p, "oss") }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R4b", name: "same from the Kodo fake", baseline: "same", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runFirstRead(p, "kodo") }, ok: func(m float64) bool { return m >= 0.8 }})
}

const mib = 1 << 20

// drain reads r to the end through buf and returns the bytes read.
func drain(r io.Reader, buf []byte) int64 {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n
		}
		if err != nil {
			panic(err)
		}
	}
}

// parallel runs fn in g goroutines and waits.
func parallel(g int, fn func(int)) {
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); fn(i) }(i)
	}
	wg.Wait()
}

var (
	cachedOnce sync.Once
	cachedFS   *unifiedfs.FS
	cachedData []byte
	cachedErr  error
)

// cachedFile is a 1 GiB MUST_CACHE file held in the memory tier.
func cachedFile() (*unifiedfs.FS, []byte, error) {
	cachedOnce.Do(func() {
		var stores ufstest.Stores
		stores.Add("r", ufstest.ObjectStore)
		cachedFS, cachedErr = unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "mem://r/", Registry: stores.Registry(), CacheCapacity: 1<<30 + 64*mib})
		if cachedErr != nil {
			return
		}
		cachedData = make([]byte, 1<<30)
		rand.New(rand.NewSource(1)).Read(cachedData[:mib])
		for off := mib; off < len(cachedData); off *= 2 {
			copy(cachedData[off:], cachedData[:off])
		}
		cachedErr = cachedFS.WriteFile(context.Background(), "/big", cachedData, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache})
	})
	return cachedFS, cachedData, cachedErr
}

func runCachedRead(pairs, g int) ([]float64, string, error) {
	fsys, data, err := cachedFile()
	if err != nil {
		return nil, "", err
	}
	var ratios []float64
	for i := 0; i < pairs; i++ {
		base := timeIt(func() {
			parallel(g, func(int) { drain(bytes.NewReader(data), make([]byte, mib)) })
		})
		ours := timeIt(func() {
			parallel(g, func(int) {
				f, err := fsys.Open("big")
				if err != nil {
					panic(err)
				}
				defer f.Close()
				if n := drain(f, make([]byte, mib)); n != int64(len(data)) {
					panic(fmt.Sprintf("read %d bytes", n))
				}
			})
		})
		ratios = append(ratios, float64(base)/float64(ours))
	}
	return ratios, "(throughput ratio: higher is better)", nil
}

func runLocalRead(pairs int) ([]float64, string, error) {
	dir, err := os.MkdirTemp("", "bench-local-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	data := make([]byte, 256*mib)
	rand.New(rand.NewSource(2)).Read(data)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return nil, "", err
	}
	fsys, err := unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "file://" + dir})
	if err != nil {
		return nil, "", err
	}
	defer fsys.Close()
	var ratios []float64
	for i := 0; i < pairs+1; i++ {
		base := timeIt(func() {
			f, err := os.Open(p)
			if err != nil {
				panic(err)
			}
			drain(f, make([]byte, mib))
			f.Close()
		})
		ours := timeIt(func() {
			f, err := fsys.OpenFile(context.Background(), "/f", unifiedfs.OpenOptions{ReadType: unifiedfs.NoCache})
			if err != nil {
				panic(err)
			}
			if n := drain(f, make([]byte, mib)); n != int64(len(data)) {
				panic(fmt.Sprintf("read %d", n))
			}
			f.Close()
		})
		if i > 0 { // the first pair warms the page cache
			ratios = append(ratios, float64(base)/float64(ours))
		}
	}
	return ratios, "(throughput ratio)", nil
}

// runFirstRead measures inside testing.Benchmark, which gives the fakes the testing.TB
// they need outside `go test`.
func runFirstRead(pairs int, kind string) ([]float64, string, error) {
	var ratios []float64
	var runErr error
	done := false
	testing.Benchmark(func(b *testing.B) {
		if done {
			return
		}
		done = true
		ratios, runErr = firstRead(b, pairs, kind)
	})
	return ratios, "(throughput ratio)", runErr
}

func firstRead(tb testing.TB, pairs int, kind string) ([]float64, error) {
	ctx := context.Background()
	data := make([]byte, 256*mib)
	rand.New(rand.NewSource(3)).Read(data)
	var uri string
	var opts map[string]string
	switch kind {
	case "oss":
		srv := osstest.NewServer(tb, osstest.WithBuckets("bench"))
		srv.PutObject("bench", "data/big", data)
		uri, opts = srv.URI("bench", "data"), srv.Options()
	default:
		tb.Setenv("TMPDIR", tb.TempDir())
		srv := kodotest.NewServer(tb, kodotest.WithBuckets("bench"))
		srv.Put("bench", "data/big", data)
		uri, opts = "kodo://bench/data", srv.Options("bench")
	}
	direct, err := ufs.Open(ctx, uri, opts)
	if err != nil {
		return nil, err
	}
	defer direct.Close()
	var ratios []float64
	buf := make([]byte, mib)
	for i := 0; i < pairs; i++ {
		runtime.GC() // the previous FS's cache is garbage now: collect it outside the timings
		base := timeIt(func() {
			// One GET of the whole object, as a range so that the driver does not add
			// the whole-object CRC check a plain GET would not do.
			r, err := direct.OpenRange(ctx, "big", 0, int64(len(data)))
			if err != nil {
				panic(err)
			}
			if n := drain(r, buf); n != int64(len(data)) {
				panic(fmt.Sprintf("baseline read %d", n))
			}
			r.Close()
		})
		fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: uri, RootOptions: opts, CacheCapacity: 512 * mib})
		if err != nil {
			return nil, err
		}
		runtime.GC()
		ours := timeIt(func() {
			f, err := fsys.Open("big")
			if err != nil {
				panic(err)
			}
			if n := drain(f, buf); n != int64(len(data)) {
				panic(fmt.Sprintf("read %d", n))
			}
			f.Close()
		})
		fsys.Close()
		ratios = append(ratios, float64(base)/float64(ours))
	}
	return ratios, nil
}
