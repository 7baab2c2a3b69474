package cache

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// Read-ahead spans against a Fetcher whose every call has a fixed cost, as a
// ranged GET on an object store does. Run the report with:
//
//	go test ./internal/cache -run TestSpanRatio -ratios -v
var (
	spanSize     = flag.Int64("ratios.spansize", 256<<20, "bytes of the object read by TestSpanRatio")
	spanCallCost = flag.Duration("ratios.callcost", 200*time.Microsecond, "per-call cost of the Fetcher in TestSpanRatio")
)

// callCost spends d: asleep (the round trip of a request) or, with spin, on
// the CPU (signing, parsing, buffer allocation and its garbage collection).
func callCost(d time.Duration, spin bool) {
	if !spin {
		time.Sleep(d) // deliberate: a request's simulated round trip
		return
	}
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// costlyFetcher serves data, each call costing d before the copy.
func costlyFetcher(data []byte, d time.Duration, spin bool) Fetcher {
	mem := memFetcher(data)
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		callCost(d, spin)
		return mem(ctx, off, n)
	}
}

// tiled returns n bytes repeating 1 MiB of random data (quick to make; the
// copies cost the same as for any data).
func tiled(n int64) []byte {
	unit := newSource(1<<20, 50).data
	b := make([]byte, n)
	for off := 0; off < len(b); off += len(unit) {
		copy(b[off:], unit)
	}
	return b
}

// coldReader returns a function reading a new generation of file 1 through c
// from an empty cache, and a pointer to the fetches of its last run.
func coldReader(t testing.TB, c *Cache, size int64, fetch Fetcher, buf []byte) (func(), *int64) {
	gen := uint64(0)
	var fetches int64
	return func() {
		c.Drop(1)
		gen++
		before := c.Stats().Fetches
		if err := readThrough(c, File{ID: 1, Gen: gen, Size: size}, fetch, ReadCache, buf); err != nil {
			t.Fatal(err)
		}
		fetches = c.Stats().Fetches - before
	}, &fetches
}

func TestSpanRatio(t *testing.T) {
	if !*ratiosFlag {
		t.Skip("benchmark report: run with -run TestSpanRatio -ratios -v")
	}
	size, rounds, cost := *spanSize, *ratioRounds, *spanCallCost
	data := tiled(size)
	buf := make([]byte, benchBuf)
	t.Logf("object %d MiB, reader buffer %d KiB, per-call cost %v, GOMAXPROCS %d, %s/%s, %s",
		size>>20, benchBuf>>10, cost, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	for _, spin := range []bool{false, true} {
		kind := "slept"
		if spin {
			kind = "CPU"
		}
		fetch := costlyFetcher(data, cost, spin)
		stream := func() { callCost(cost, spin); streamCopy(data, buf) } // one streaming GET
		read := map[int]func(){}
		for _, span := range []int{1, 4} {
			c, err := New(Config{MemCapacity: size + size/8, ReadAheadSpan: span})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fn, fetches := coldReader(t, c, size, fetch, buf)
			read[span] = fn
			measure(t, fmt.Sprintf("%s cost: span %d ÷ streaming GET", kind, span), size, rounds, stream, fn)
			t.Logf("%s cost: span %d: %d Fetcher calls per read", kind, span, *fetches)
		}
		speedup := measure(t, fmt.Sprintf("%s cost: speedup of span 4 over span 1", kind), size, rounds, read[1], read[4])
		t.Logf("%s cost: span 4 is %.2fx span 1", kind, speedup)
	}
}

// BenchmarkColdSequentialSpan reads 64 MiB cold through a Fetcher slept
// 200 µs per call, with spans of 1 and 4 blocks.
func BenchmarkColdSequentialSpan(b *testing.B) {
	data, buf := tiled(benchSize), make([]byte, benchBuf)
	fetch := costlyFetcher(data, 200*time.Microsecond, false)
	for _, span := range []int{1, 4} {
		b.Run(fmt.Sprintf("span=%d", span), func(b *testing.B) {
			c, _ := New(Config{MemCapacity: 2 * benchSize, ReadAheadSpan: span})
			defer c.Close()
			fn, _ := coldReader(b, c, benchSize, fetch, buf)
			b.SetBytes(benchSize)
			for b.Loop() {
				fn()
			}
		})
	}
}
