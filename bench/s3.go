package main

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func init() {
	register(metric{id: "R4c", name: "same from the S3 peer (s3test, SigV4 over loopback HTTP)", baseline: "one plain GET of the whole object from the same peer (the same signed client)", goal: "≥ 0.8",
		run: runFirstReadS3, ok: func(m float64) bool { return m >= 0.8 }})
}

// runFirstReadS3 is R4 on the S3 peer, measured inside testing.Benchmark (the peer needs
// a testing.TB).
func runFirstReadS3(pairs int) ([]float64, string, error) {
	var ratios []float64
	var runErr error
	done := false
	testing.Benchmark(func(b *testing.B) {
		if done {
			return
		}
		done = true
		ratios, runErr = firstReadS3(b, pairs)
	})
	return ratios, "(throughput ratio)", runErr
}

func firstReadS3(tb testing.TB, pairs int) ([]float64, error) {
	ctx := context.Background()
	data := make([]byte, 256*mib)
	rand.New(rand.NewSource(3)).Read(data)
	srv := s3test.NewServer(tb, s3test.WithBuckets("bench"))
	srv.PutObject("bench", "data/big", data)
	uri, opts := srv.URI("bench", "data"), srv.Options()
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
			r, err := direct.OpenRange(ctx, "big", 0, -1) // one GET, no Range header
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
