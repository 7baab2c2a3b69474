//go:build unix

package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R7", name: "LoadMetadata -R of 1M objects (1000 dirs × 1000), 20 ms list latency", baseline: "lower bound: pages × latency ÷ concurrency + decode of the same pages", goal: "≤ 1.3",
		run: func(pairs int) ([]float64, string, error) { return runLoadMetadata(pairs, 20*time.Millisecond) }, ok: func(m float64) bool { return m <= 1.3 }})
	register(metric{id: "R7b", name: "same, 1 ms list latency", baseline: "same lower bound", goal: "≤ 1.5",
		run: func(pairs int) ([]float64, string, error) { return runLoadMetadata(pairs, time.Millisecond) }, ok: func(m float64) bool { return m <= 1.5 }})
	register(metric{id: "R9", name: "re-sync of 1M unchanged objects (1 ms latency)", baseline: "R7's lower bound", goal: "≤ 1.1, ≈ 0 allocs/entry",
		run: runResync, ok: func(m float64) bool { return m <= 1.1 }})
}

const (
	syncDirs     = 1000
	syncPerDir   = 1000
	syncEntries  = syncDirs * syncPerDir
	syncConc     = 32
	syncPageSize = 1000
)

var (
	objOnce   sync.Once
	objStores *ufstest.Stores
)

// objects1M is an object-store fake with 1000 directories of 1000 objects.
func objects1M() *ufstest.Stores {
	objOnce.Do(func() {
		objStores = &ufstest.Stores{}
		m := objStores.Add("big", ufstest.ObjectStore)
		m.SetPageSize(syncPageSize)
		data := []byte("x")
		for d := 0; d < syncDirs; d++ {
			for f := 0; f < syncPerDir; f++ {
				data[0] = byte(d ^ f)
				m.Direct().Put(fmt.Sprintf("data/dir-%04d/%s", d, fileName(f)), data)
			}
		}
		_ = m.Direct().Keys()
	})
	return objStores
}

// decodeCost lists every page of the tree once with no latency: the cost of producing
// (decoding) the statuses, which no sync can avoid.
func decodeCost(m *ufstest.MemFS) (time.Duration, int) {
	ctx := context.Background()
	pages := 0
	t := timeIt(func() {
		dirs := []string{"data"}
		for len(dirs) > 0 {
			d := dirs[0]
			dirs = dirs[1:]
			opts := ufs.ListOptions{}
			for {
				p, err := m.List(ctx, d, opts)
				if err != nil {
					panic(err)
				}
				pages++
				for _, st := range p.Entries {
					if st.IsDir {
						dirs = append(dirs, d+"/"+st.Name)
					}
				}
				if p.NextPageToken == "" {
					break
				}
				opts.PageToken = p.NextPageToken
			}
		}
	})
	return t, pages
}

// lowerBound is the time no recursive sync can beat: the root listing, then the other
// pages spread over the concurrency, plus the decode cost.
func lowerBound(m *ufstest.MemFS, lat time.Duration) (time.Duration, int) {
	dec, pages := decodeCost(m)
	rounds := 1 + (pages-1+syncConc-1)/syncConc
	return time.Duration(rounds)*lat + dec, pages
}

func newSyncFS(stores *ufstest.Stores) (*unifiedfs.FS, error) {
	return unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "mem://big/", Registry: stores.Registry(),
		SyncConcurrency: syncConc, SyncLimit: -1})
}

func runLoadMetadata(pairs int, lat time.Duration) ([]float64, string, error) {
	stores := objects1M()
	m := stores.Get("big")
	var ratios []float64
	var pages int
	for i := 0; i < pairs; i++ {
		runtime.GC()
		bound, n := lowerBound(m, lat)
		pages = n
		remove := m.Inject(ufstest.Fault{Op: ufstest.OpList, Latency: lat, LatencyOnly: true})
		fsys, err := newSyncFS(stores)
		if err != nil {
			return nil, "", err
		}
		runtime.GC()
		var lerr error
		ours := timeOurs(func() {
			lerr = fsys.LoadMetadata(context.Background(), "/data", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true, Limit: -1})
		})
		remove()
		fsys.Close()
		if lerr != nil {
			return nil, "", lerr
		}
		ratios = append(ratios, float64(ours)/float64(bound))
		runtime.GC()
	}
	return ratios, fmt.Sprintf("(%d pages, concurrency %d)", pages, syncConc), nil
}

func runResync(pairs int) ([]float64, string, error) {
	stores := objects1M()
	m := stores.Get("big")
	fsys, err := newSyncFS(stores)
	if err != nil {
		return nil, "", err
	}
	defer fsys.Close()
	ctx := context.Background()
	opts := unifiedfs.LoadMetadataOptions{Recursive: true, Force: true, Limit: -1}
	if err := fsys.LoadMetadata(ctx, "/data", opts); err != nil {
		return nil, "", err
	}
	const lat = time.Millisecond
	var ratios []float64
	var allocs []float64
	for i := 0; i < pairs; i++ {
		runtime.GC()
		bound, _ := lowerBound(m, lat)
		remove := m.Inject(ufstest.Fault{Op: ufstest.OpList, Latency: lat, LatencyOnly: true})
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ours := timeOurs(func() { err = fsys.LoadMetadata(ctx, "/data", opts) })
		runtime.ReadMemStats(&after)
		remove()
		if err != nil {
			return nil, "", err
		}
		ratios = append(ratios, float64(ours)/float64(bound))
		allocs = append(allocs, float64(after.Mallocs-before.Mallocs)/syncEntries)
	}
	med, _, hi := stats(allocs)
	return ratios, fmt.Sprintf("(allocations per entry: median %.3g, max %.3g, the fake's listing included)", med, hi), nil
}
