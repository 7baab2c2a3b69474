package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R10", name: "metadata-only creates (empty MUST_CACHE files), journal on, 8 writers", baseline: "journal off", goal: "≤ 3× slower",
		run: runJournalCreates, ok: func(m float64) bool { return m <= 3 }})
}

// createsTime creates perWriter empty files from each of 8 writers and returns the time.
func createsTime(journalDir string, perWriter int) (float64, error) {
	var stores ufstest.Stores
	stores.Add("r", ufstest.ObjectStore)
	fsys, err := unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "mem://r/", Registry: stores.Registry(), JournalDir: journalDir})
	if err != nil {
		return 0, err
	}
	defer fsys.Close()
	ctx := context.Background()
	const writers = 8
	for w := 0; w < writers; w++ {
		if err := fsys.Mkdir(ctx, fmt.Sprintf("/w%d", w)); err != nil {
			return 0, err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	d := timeIt(func() {
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					if err := fsys.WriteFile(ctx, fmt.Sprintf("/w%d/f%d", w, i), nil, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache}); err != nil {
						errs <- err
						return
					}
				}
			}(w)
		}
		wg.Wait()
	})
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(d), nil
}

func runJournalCreates(pairs int) ([]float64, string, error) {
	const perWriter = 500
	var ratios []float64
	var rates []float64
	for i := 0; i < pairs; i++ {
		off, err := createsTime("", perWriter)
		if err != nil {
			return nil, "", err
		}
		dir, err := os.MkdirTemp("", "bench-journal-")
		if err != nil {
			return nil, "", err
		}
		on, err := createsTime(filepath.Join(dir, "j"), perWriter)
		os.RemoveAll(dir)
		if err != nil {
			return nil, "", err
		}
		ratios = append(ratios, on/off)
		rates = append(rates, 8*perWriter/(on/1e9))
	}
	med, lo, hi := stats(rates)
	return ratios, fmt.Sprintf("(journal on: %.0f creates/s, %.0f – %.0f)", med, lo, hi), nil
}
