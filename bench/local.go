//go:build unix

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
)

// The local-tree metrics: a 100,000-file tree of 5 levels on local disk (10 × 10 × 10 ×
// 10 directories of 10 files: 11,111 directories), built once per run.

func init() {
	register(metric{id: "R11", name: "cold metadata load of a local 100k-file 5-level tree: a fresh FS lists every directory (fs.WalkDir) and Stats every file", baseline: "os.ReadDir of each directory + os.Stat of each file, same tree, page cache warm, order alternated", goal: "≤ 1.5×",
		run: runColdLocal, ok: func(m float64) bool { return m <= 1.5 }})
	register(metric{id: "R6b", name: "heap bytes per inode after R11's load of the local 100k-file tree", baseline: "—", goal: "≤ 150 B",
		run: runLocalHeap, ok: func(m float64) bool { return m <= 150 }})
}

const (
	localFanout = 10
	localFiles  = 100_000
	localDirs   = 1 + 10 + 100 + 1000 + 10000
)

var (
	localOnce    sync.Once
	localRoot    string
	localErr     error
	localHeapPer []float64 // one per R11 pair
)

// localTree builds the tree once; main removes it at exit.
func localTree() (string, error) {
	localOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bench-tree-")
		if err != nil {
			localErr = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		var mk func(p string, depth int) error
		mk = func(p string, depth int) error {
			for i := 0; i < localFanout; i++ {
				if depth == 4 {
					f, err := os.Create(filepath.Join(p, fileName(i)))
					if err != nil {
						return err
					}
					if _, err := f.Write([]byte{byte(i)}); err != nil {
						f.Close()
						return err
					}
					if err := f.Close(); err != nil {
						return err
					}
					continue
				}
				sub := filepath.Join(p, fmt.Sprintf("level%d=%02d", depth, i))
				if err := os.Mkdir(sub, 0o755); err != nil {
					return err
				}
				if err := mk(sub, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		localRoot = filepath.Join(dir, "tree")
		if localErr = os.Mkdir(localRoot, 0o755); localErr == nil {
			localErr = mk(localRoot, 0)
		}
	})
	return localRoot, localErr
}

// osWalk is R11's baseline: os.ReadDir of each directory, os.Stat of each file.
func osWalk(dir string) (dirs, files int, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	dirs = 1
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			d, f, err := osWalk(p)
			if err != nil {
				return 0, 0, err
			}
			dirs, files = dirs+d, files+f
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			return 0, 0, err
		}
		sink = fi
		files++
	}
	return dirs, files, nil
}

// fsWalk is R11's measured side: fs.WalkDir over the FS (one ReadDir per directory, which
// loads its metadata) and one Stat per file.
func fsWalk(fsys *unifiedfs.FS) (dirs, files int, err error) {
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs++
			return nil
		}
		fi, err := fsys.Stat(p)
		if err != nil {
			return err
		}
		if fi.Name() != path.Base(p) {
			return fmt.Errorf("stat %s: name %q", p, fi.Name())
		}
		sink = fi
		files++
		return nil
	})
	return dirs, files, err
}

// R11 and R6b come from the same loads, measured once whichever metric runs first.
var (
	coldOnce   sync.Once
	coldRatios []float64
	coldNote   string
	coldErr    error
)

func runColdLocal(pairs int) ([]float64, string, error) {
	coldOnce.Do(func() { coldRatios, coldNote, coldErr = measureColdLocal(pairs) })
	return coldRatios, coldNote, coldErr
}

func measureColdLocal(pairs int) ([]float64, string, error) {
	root, err := localTree()
	if err != nil {
		return nil, "", err
	}
	if _, _, err := osWalk(root); err != nil { // warm the page cache and dentries
		return nil, "", err
	}
	ctx := context.Background()
	check := func(d, f int) error {
		if d != localDirs || f != localFiles {
			return fmt.Errorf("walked %d directories and %d files, want %d and %d", d, f, localDirs, localFiles)
		}
		return nil
	}
	var ratios []float64
	localHeapPer = nil
	for i := 0; i < pairs+1; i++ { // pair 0 warms up and is not counted
		var werr error
		base := func() time.Duration {
			return timeBase(func() {
				d, f, err := osWalk(root)
				if err == nil {
					err = check(d, f)
				}
				werr = err
			})
		}
		var retained float64
		ours := func() time.Duration {
			sink = nil // a FileInfo of the last FS would keep that FS
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file://" + root})
			if err != nil {
				werr = err
				return 0
			}
			d := timeOurs(func() {
				d, f, err := fsWalk(fsys)
				if err == nil {
					err = check(d, f)
				}
				werr = err
			})
			runtime.GC()
			runtime.ReadMemStats(&after)
			retained = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(localDirs+localFiles)
			if verbose {
				fmt.Fprintf(os.Stderr, "R11 heap before %d after %d\n", before.HeapAlloc, after.HeapAlloc)
			}
			runtime.KeepAlive(fsys)
			fsys.Close()
			return d
		}
		var b, o time.Duration
		if i%2 == 0 {
			b = base()
			if werr == nil {
				o = ours()
			}
		} else {
			o = ours()
			if werr == nil {
				b = base()
			}
		}
		if werr != nil {
			return nil, "", werr
		}
		logPair("R11", i, b, o)
		if i == 0 {
			continue
		}
		ratios = append(ratios, float64(o)/float64(b))
		localHeapPer = append(localHeapPer, retained)
	}
	return ratios, fmt.Sprintf("(%d directories, %d files; the FS is new for every pair)", localDirs, localFiles), nil
}

func runLocalHeap(pairs int) ([]float64, string, error) {
	if _, _, err := runColdLocal(pairs); err != nil {
		return nil, "", err
	}
	return localHeapPer, fmt.Sprintf("(heap retained after each R11 load, GC'd, ÷ %d inodes)", localDirs+localFiles), nil
}
