//go:build unix

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/web"
)

// The web metrics: server time of one GET through web.Handler (an httptest recorder, no
// network).

func init() {
	register(metric{id: "W1", name: "first Browse page of a loaded 100k-entry local directory (one GET through web.Handler, server time)", baseline: "— (ms; ÷ FS.ReadDir of the same loaded directory in the notes)", goal: "≤ 20 ms",
		run: runBrowsePage, ok: func(m float64) bool { return m <= 20 }})
	register(metric{id: "W2", name: "/metrics scrape through web.Handler at 1,118,481 inodes (R5's tree)", baseline: "— (ms; ÷ the same scrape of an empty FS in the notes)", goal: "≤ 5 ms",
		run: runScrape, ok: func(m float64) bool { return m <= 5 }})
}

func serveGET(h http.Handler, target string) error {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("GET %s: %d", target, rec.Code)
	}
	sink = rec.Body.Len()
	return nil
}

func runBrowsePage(pairs int) ([]float64, string, error) {
	dir, err := bigLocalDir()
	if err != nil {
		return nil, "", err
	}
	fsys, err := unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "file://" + dir})
	if err != nil {
		return nil, "", err
	}
	defer fsys.Close()
	h := web.Handler(fsys, web.Options{})
	if err := serveGET(h, "/browse?path=/big"); err != nil { // loads the directory
		return nil, "", err
	}
	var ratios []float64
	var ms []float64
	for i := 0; i < pairs; i++ {
		var gerr error
		base := timeBase(func() {
			ents, err := fsys.ReadDir("big")
			if err == nil && len(ents) != bigDirN {
				err = fmt.Errorf("%d entries", len(ents))
			}
			gerr = err
			sink = ents
		})
		ours := timeOurs(func() {
			if err := serveGET(h, "/browse?path=/big"); err != nil {
				gerr = err
			}
		})
		if gerr != nil {
			return nil, "", gerr
		}
		logPair("W1", i, base, ours)
		ratios = append(ratios, float64(ours)/float64(base))
		ms = append(ms, float64(ours)/float64(time.Millisecond))
	}
	med, lo, hi := stats(ratios)
	return ms, fmt.Sprintf("(ms per page; ÷ one ReadDir of the whole directory: %.3g, %.3g – %.3g; name order, default page size)", med, lo, hi), nil
}

func runScrape(pairs int) ([]float64, string, error) {
	t, err := buildTree()
	if err != nil {
		return nil, "", err
	}
	empty, err := unifiedfs.New(context.Background(), unifiedfs.Config{RootUFS: "mem://empty/", Registry: emptyRegistry()})
	if err != nil {
		return nil, "", err
	}
	defer empty.Close()
	hFull, hEmpty := web.Handler(t.fs, web.Options{}), web.Handler(empty, web.Options{})
	if err := serveGET(hFull, "/metrics"); err != nil {
		return nil, "", err
	}
	var full, ratios []float64
	for i := 0; i < pairs; i++ {
		var gerr error
		base := timeBase(func() { gerr = serveGET(hEmpty, "/metrics") })
		ours := timeOurs(func() {
			if err := serveGET(hFull, "/metrics"); err != nil {
				gerr = err
			}
		})
		if gerr != nil {
			return nil, "", gerr
		}
		logPair("W2", i, base, ours)
		full = append(full, float64(ours)/float64(time.Millisecond))
		ratios = append(ratios, float64(ours)/float64(base))
	}
	med, lo, hi := stats(ratios)
	return full, fmt.Sprintf("(ms per scrape; ÷ the same scrape of an empty FS: %.3g, %.3g – %.3g; Go and process collectors included)", med, lo, hi), nil
}
