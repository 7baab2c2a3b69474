//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R1", name: "sequential read of a cached 1 GiB file into a 1 MiB buffer", baseline: "stream copy of the same bytes from RAM", goal: "≥ 0.85",
		run: func(p int) ([]float64, string, error) { return runCachedRead(p, 1) }, ok: func(m float64) bool { return m >= 0.85 }})
	register(metric{id: "R2", name: "R1 with 2 goroutines", baseline: "2-goroutine stream copy", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runCachedRead(p, 2) }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R3", name: "warm read through the local driver (page-cached 256 MiB file, NO_CACHE)", baseline: "os.File.Read, same 1 MiB buffer", goal: "≥ 0.9",
		run: runLocalRead, ok: func(m float64) bool { return m >= 0.9 }})
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
