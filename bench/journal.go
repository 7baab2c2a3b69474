//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func init() {
	register(metric{id: "R10", name: "metadata-only creates (empty MUST_CACHE files) per second, journal on, 8 writers",
		baseline: "the fsync bound: writers ÷ median latency of a small append + fsync in the journal's directory, probed before and after each run", goal: "≥ 0.8",
		run: func(p int) ([]float64, string, error) { return runJournalBound(p, 8, 500) }, ok: func(m float64) bool { return m >= 0.8 }})
	register(metric{id: "R10b", name: "same, 64 writers", baseline: "journal off (throughput ratio)", goal: "≥ 0.5",
		run: func(p int) ([]float64, string, error) { return runJournalOnOff(p, 64, 100) }, ok: func(m float64) bool { return m >= 0.5 }})
}

// createsTime creates perWriter empty files from each of writers goroutines, on an FS
// whose journal is in journalDir ("": no journal), and returns the time they took.
func createsTime(journalDir string, writers, perWriter int) (time.Duration, unifiedfs.JournalMetrics, error) {
	var jm unifiedfs.JournalMetrics
	var stores ufstest.Stores
	stores.Add("r", ufstest.ObjectStore)
	fsys, err := unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "mem://r/", Registry: stores.Registry(), JournalDir: journalDir})
	if err != nil {
		return 0, jm, err
	}
	defer fsys.Close()
	ctx := context.Background()
	for w := 0; w < writers; w++ {
		if err := fsys.Mkdir(ctx, fmt.Sprintf("/w%d", w)); err != nil {
			return 0, jm, err
		}
	}
	before := fsys.Metrics().Journal
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	timer := timeBase // journal off: the baseline of R10b (and, with -cpuprofile-timed, profiled apart)
	if journalDir != "" {
		timer = timeOurs
	}
	d := timer(func() {
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
	after := fsys.Metrics().Journal
	jm = unifiedfs.JournalMetrics{Flushes: after.Flushes - before.Flushes, FlushedEntries: after.FlushedEntries - before.FlushedEntries,
		FlushTime: after.FlushTime - before.FlushTime}
	close(errs)
	if err := <-errs; err != nil {
		return 0, jm, err
	}
	return d, jm, nil
}

// fsyncProbe appends n small records to a file in dir, each followed by fsync, as the
// journal's group commit does per batch, and adds each one's time to lat.
func fsyncProbe(dir string, n int, lat []time.Duration) ([]time.Duration, error) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync-probe"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, 128) // a batch of a few entries
	for range n {
		t := time.Now()
		if _, err := f.Write(rec); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// journalRun measures one run with the journal on, in a fresh directory, and the
// median fsync latency of that directory, probed just before and just after the run
// (the disk is shared: its latency drifts).
// It also returns what the journal's group commits did during the run.
func journalRun(writers, perWriter int) (on, fsync time.Duration, jm unifiedfs.JournalMetrics, err error) {
	dir, err := os.MkdirTemp("", "bench-journal-")
	if err != nil {
		return 0, 0, jm, err
	}
	defer os.RemoveAll(dir)
	lat, err := fsyncProbe(dir, 100, nil)
	if err != nil {
		return 0, 0, jm, err
	}
	if on, jm, err = createsTime(filepath.Join(dir, "j"), writers, perWriter); err != nil {
		return 0, 0, jm, err
	}
	if lat, err = fsyncProbe(dir, 100, lat); err != nil {
		return 0, 0, jm, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return on, lat[len(lat)/2], jm, nil
}

// flushStats returns the entries per group commit and the mean time of one (write and
// fsync, as the journal saw it under the run's load) of jm, in µs.
func flushStats(jm unifiedfs.JournalMetrics) (perFlush, flushMicros float64) {
	if jm.Flushes == 0 {
		return 0, 0
	}
	return float64(jm.FlushedEntries) / float64(jm.Flushes), float64(jm.FlushTime.Microseconds()) / float64(jm.Flushes)
}

// runJournalBound is R10: creates per second with the journal on over the bound the
// journal's disk sets: with one entry per create and group commit, a round of fsync
// makes at most one create of each writer durable.
func runJournalBound(pairs, writers, perWriter int) ([]float64, string, error) {
	var ratios, rates, lats, offRates, perFlush, flushLat, ownRatios []float64
	for i := 0; i < pairs; i++ {
		off, _, err := createsTime("", writers, perWriter)
		if err != nil {
			return nil, "", err
		}
		on, fsync, jm, err := journalRun(writers, perWriter)
		if err != nil {
			return nil, "", err
		}
		n := float64(writers * perWriter)
		rate, bound := n/on.Seconds(), float64(writers)/fsync.Seconds()
		pf, fl := flushStats(jm)
		perFlush, flushLat = append(perFlush, pf), append(flushLat, fl)
		if fl > 0 {
			ownRatios = append(ownRatios, rate/(float64(writers)/(fl/1e6)))
		}
		if verbose {
			fmt.Fprintf(os.Stderr, "R10 pair %d: journal on %.0f creates/s (cpu %v), fsync %v, bound %.0f/s, ratio %.3f; journal off %.0f creates/s\n",
				i, rate, lastCPU["ours"].Round(time.Millisecond), fsync.Round(time.Microsecond), bound, rate/bound, n/off.Seconds())
		}
		ratios = append(ratios, rate/bound)
		rates = append(rates, rate)
		lats = append(lats, float64(fsync.Microseconds()))
		offRates = append(offRates, n/off.Seconds())
	}
	rm, rlo, rhi := stats(rates)
	lm, llo, lhi := stats(lats)
	om, _, _ := stats(offRates)
	pm, _, _ := stats(perFlush)
	fm, flo, fhi := stats(flushLat)
	orm, _, _ := stats(ownRatios)
	return ratios, fmt.Sprintf("(journal on: %.0f creates/s, %.0f – %.0f; fsync median %.0f µs, %.0f – %.0f; journal off %.0f creates/s; "+
		"the journal's own group commits: %.1f entries each, %.0f µs each, %.0f – %.0f, under the run's load; against that latency: %.2f)",
		rm, rlo, rhi, lm, llo, lhi, om, pm, fm, flo, fhi, orm), nil
}

// runJournalOnOff is R10b: throughput with the journal on over throughput with it off.
func runJournalOnOff(pairs, writers, perWriter int) ([]float64, string, error) {
	var ratios, rates, lats []float64
	for i := 0; i < pairs; i++ {
		off, _, err := createsTime("", writers, perWriter)
		if err != nil {
			return nil, "", err
		}
		on, fsync, _, err := journalRun(writers, perWriter)
		if err != nil {
			return nil, "", err
		}
		n := float64(writers * perWriter)
		logPair("R10b", i, off, on)
		ratios = append(ratios, off.Seconds()/on.Seconds())
		rates = append(rates, n/on.Seconds())
		lats = append(lats, float64(fsync.Microseconds()))
	}
	rm, rlo, rhi := stats(rates)
	lm, _, _ := stats(lats)
	return ratios, fmt.Sprintf("(journal on: %.0f creates/s, %.0f – %.0f; fsync median %.0f µs)", rm, rlo, rhi, lm), nil
}
