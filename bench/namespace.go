//go:build unix

package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R5", name: "Stat of a loaded path (same path; random over 1M)", baseline: "5-level map walk over the same names", goal: "≤ 2×",
		run: runStat, ok: func(m float64) bool { return m <= 2 }})
	register(metric{id: "R5b", name: "Stat throughput, 2 goroutines", baseline: "1 goroutine", goal: "≥ 1.6×",
		run: runStatScaling, ok: func(m float64) bool { return m >= 1.6 }})
	register(metric{id: "R6", name: "heap bytes per inode, 1M files, realistic names and 32-hex hashes", baseline: "—", goal: "≤ 150 B",
		run: runHeapPerInode, ok: func(m float64) bool { return m <= 150 }})
	register(metric{id: "R8", name: "ReadDir of a loaded 100k-entry directory", baseline: "os.ReadDir of a 100k local directory", goal: "≤ 0.25",
		run: runReadDir, ok: func(m float64) bool { return m <= 0.25 }})
}

// tree1M is a namespace of 16^4 directories with 16 files each (1,048,576 files) over an
// object-store fake, fully loaded, and the same names as nested maps.
type tree1M struct {
	fs    *unifiedfs.FS
	paths []string
	maps  map[string]any
}

var (
	treeOnce sync.Once
	tree     *tree1M
	treeErr  error
	heapPer  float64
)

func fileName(i int) string { return fmt.Sprintf("part-%05d-c000.snappy.parquet", i) }

func buildTree() (*tree1M, error) {
	treeOnce.Do(func() {
		ctx := context.Background()
		var stores ufstest.Stores
		m := stores.Add("b", ufstest.ObjectStore)
		t := &tree1M{maps: map[string]any{}}
		data := []byte("x")
		for a := 0; a < 16; a++ {
			for b := 0; b < 16; b++ {
				for c := 0; c < 16; c++ {
					for d := 0; d < 16; d++ {
						dir := fmt.Sprintf("year=%04d/month=%02d/day=%02d/hour=%02d", 2010+a, b, c, d)
						for f := 0; f < 16; f++ {
							p := dir + "/" + fileName(f)
							data[0] = byte(a ^ b ^ c ^ d ^ f) // distinct content hashes
							m.Direct().Put(p, data)
							t.paths = append(t.paths, p)
						}
					}
				}
			}
		}
		_ = m.Direct().Keys() // sort once before measuring
		fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://b/", Registry: stores.Registry()})
		if err != nil {
			treeErr = err
			return
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error { return err })
		if err != nil {
			treeErr = err
			return
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heapPer = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(t.paths)+65536+4096+256+16)
		for _, p := range t.paths {
			cur := t.maps
			for {
				name, rest, more := strings.Cut(p, "/")
				if !more {
					cur[name] = struct{}{}
					break
				}
				next, ok := cur[name].(map[string]any)
				if !ok {
					next = map[string]any{}
					cur[name] = next
				}
				cur, p = next, rest
			}
		}
		t.fs = fsys
		tree = t
	})
	return tree, treeErr
}

// mapWalk looks p up in nested maps: the baseline of R5.
func mapWalk(root map[string]any, p string) bool {
	cur := root
	for {
		name, rest, more := strings.Cut(p, "/")
		v, ok := cur[name]
		if !ok {
			return false
		}
		if !more {
			return true
		}
		if cur, ok = v.(map[string]any); !ok {
			return false
		}
		p = rest
	}
}

var sink any

func runStat(pairs int) ([]float64, string, error) {
	t, err := buildTree()
	if err != nil {
		return nil, "", err
	}
	const n = 200_000
	rng := rand.New(rand.NewSource(1))
	random := make([]string, n)
	for i := range random {
		random[i] = t.paths[rng.Intn(len(t.paths))]
	}
	same := t.paths[len(t.paths)/2]
	var ratios []float64
	var sameRatios []float64
	for i := 0; i < pairs; i++ {
		for _, set := range []struct {
			out  *[]float64
			path func(int) string
		}{{&sameRatios, func(int) string { return same }}, {&ratios, func(i int) string { return random[i] }}} {
			base := timeIt(func() {
				for j := 0; j < n; j++ {
					if !mapWalk(t.maps, set.path(j)) {
						panic("missing")
					}
				}
			})
			ours := timeIt(func() {
				for j := 0; j < n; j++ {
					fi, err := t.fs.Stat(set.path(j))
					if err != nil {
						panic(err)
					}
					sink = fi
				}
			})
			*set.out = append(*set.out, float64(ours)/float64(base))
		}
	}
	med, lo, hi := stats(sameRatios)
	return ratios, fmt.Sprintf("(random over 1M; same path: %.3g, %.3g – %.3g)", med, lo, hi), nil
}

func runStatScaling(pairs int) ([]float64, string, error) {
	t, err := buildTree()
	if err != nil {
		return nil, "", err
	}
	const n = 200_000
	work := func(g, goroutines int) {
		var wg sync.WaitGroup
		for k := 0; k < goroutines; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(k)))
				for j := 0; j < n; j++ {
					if _, err := t.fs.Stat(t.paths[rng.Intn(len(t.paths))]); err != nil {
						panic(err)
					}
				}
			}(k)
		}
		wg.Wait()
	}
	var ratios []float64
	for i := 0; i < pairs; i++ {
		one := timeIt(func() { work(i, 1) })
		two := timeIt(func() { work(i, 2) }) // twice the work
		ratios = append(ratios, 2*float64(one)/float64(two))
	}
	return ratios, "", nil
}

func runHeapPerInode(int) ([]float64, string, error) {
	if _, err := buildTree(); err != nil {
		return nil, "", err
	}
	return []float64{heapPer}, "(bytes of heap retained per inode after loading 1,118,481 inodes, GC'd)", nil
}

// bigDirN is the entry count of bigLocalDir's directory "big".
const bigDirN = 100_000

var (
	bigDirOnce sync.Once
	bigDir     string
	bigDirErr  error
)

// bigLocalDir returns a directory holding "big", a directory of bigDirN empty files,
// built once per run and removed when the harness ends (R8 and W1).
func bigLocalDir() (string, error) {
	bigDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-readdir-")
		if err != nil {
			bigDirErr = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		big := filepath.Join(dir, "big")
		if bigDirErr = os.Mkdir(big, 0o755); bigDirErr != nil {
			return
		}
		for i := 0; i < bigDirN; i++ {
			f, err := os.Create(filepath.Join(big, fileName(i)))
			if err != nil {
				bigDirErr = err
				return
			}
			f.Close()
		}
		bigDir = dir
	})
	return bigDir, bigDirErr
}

func emptyRegistry() *ufs.Registry {
	var stores ufstest.Stores
	stores.Add("empty", ufstest.ObjectStore)
	return stores.Registry()
}

func runReadDir(pairs int) ([]float64, string, error) {
	const n = bigDirN
	dir, err := bigLocalDir()
	if err != nil {
		return nil, "", err
	}
	big := filepath.Join(dir, "big")
	ctx := context.Background()
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file://" + dir})
	if err != nil {
		return nil, "", err
	}
	defer fsys.Close()
	if ents, err := fsys.ReadDir("big"); err != nil || len(ents) != n { // loads it
		return nil, "", fmt.Errorf("load: %d entries, %v", len(ents), err)
	}
	var ratios []float64
	for i := 0; i < pairs; i++ {
		base := timeIt(func() {
			ents, err := os.ReadDir(big)
			if err != nil || len(ents) != n {
				panic(err)
			}
			sink = ents
		})
		ours := timeIt(func() {
			ents, err := fsys.ReadDir("big")
			if err != nil || len(ents) != n {
				panic(err)
			}
			sink = ents
		})
		ratios = append(ratios, float64(ours)/float64(base))
	}
	time.Sleep(0)
	return ratios, "", nil
}
