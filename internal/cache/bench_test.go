package cache

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Run the ratio report with:
//
//	go test ./internal/cache -run TestRatios -ratios -v
//
// (-ratios.size=N changes the 1 GiB data size, -ratios.rounds the rounds).
// Each ratio is baseline time ÷ cache time (throughput of the cache relative
// to the baseline), measured in the same run with rounds interleaved, best
// round of each side.
var (
	ratiosFlag  = flag.Bool("ratios", false, "run TestRatios: print cache/baseline throughput ratios")
	ratiosSize  = flag.Int64("ratios.size", 1<<30, "bytes of data for TestRatios")
	ratioRounds = flag.Int("ratios.rounds", 5, "interleaved rounds per ratio in TestRatios")
)

const benchBuf = 1 << 20 // the reader's buffer: 1 MiB

// memFetcher serves data without a copy of its own: a stream is a reader of
// the slice.
func memFetcher(data []byte) Fetcher {
	return func(_ context.Context, off, n int64) (io.ReadCloser, error) {
		off = min(off, int64(len(data)))
		return io.NopCloser(bytes.NewReader(data[off:min(off+n, int64(len(data)))])), nil
	}
}

// memFill fills p with data at off, as one fetch of the cold baseline.
func memFill(data []byte, off int64, p []byte) int {
	if off >= int64(len(data)) {
		return 0
	}
	return copy(p, data[off:])
}

// streamCopy reads data through a bytes.Reader into buf: the baseline.
func streamCopy(data, buf []byte) {
	r := bytes.NewReader(data)
	for {
		if _, err := r.Read(buf); err == io.EOF {
			return
		}
	}
}

// readThrough reads a whole file through a new Reader into buf.
func readThrough(c *Cache, f File, fetch Fetcher, mode ReadMode, buf []byte) error {
	r := c.NewReader(f, fetch, mode)
	defer r.Close()
	for off := int64(0); ; {
		n, err := r.ReadAt(context.Background(), buf, off)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fetchOnly reads the whole file through one stream of fetch into buf: the
// cold baseline.
func fetchOnly(fetch Fetcher, size int64, buf []byte) {
	rc, err := fetch(context.Background(), 0, size)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	for {
		if _, err := rc.Read(buf); err != nil {
			return
		}
	}
}

// parallel runs fn in n goroutines and waits.
func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	wg.Wait()
}

type pair struct{ base, subj []time.Duration }

func (p *pair) add(base, subj time.Duration) {
	p.base = append(p.base, base)
	p.subj = append(p.subj, subj)
}

// ratio is best baseline ÷ best subject, and the median of per-round ratios.
func (p *pair) ratio() (best, median float64) {
	rs := make([]float64, len(p.base))
	for i := range rs {
		rs[i] = float64(p.base[i]) / float64(p.subj[i])
	}
	slices.Sort(rs)
	return float64(slices.Min(p.base)) / float64(slices.Min(p.subj)), rs[len(rs)/2]
}

func timed(fn func()) time.Duration {
	t0 := time.Now()
	fn()
	return time.Since(t0)
}

func gbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e9 }

// measure runs rounds of baseline and subject alternately (after one warm-up
// of each) and prints the ratio.
func measure(t *testing.T, name string, bytes int64, rounds int, base, subj func()) float64 {
	t.Helper()
	var p pair
	base()
	subj()
	for range rounds {
		runtime.GC()
		b := timed(base)
		runtime.GC()
		s := timed(subj)
		p.add(b, s)
	}
	best, med := p.ratio()
	t.Logf("%-44s ratio %.3f (median %.3f)  baseline %.2f GB/s  cache %.2f GB/s",
		name, best, med, gbps(bytes, slices.Min(p.base)), gbps(bytes, slices.Min(p.subj)))
	return best
}

// fillCache stores data as file f (unpinned) through a Writer.
func fillCache(t *testing.T, c *Cache, f File, data []byte) {
	t.Helper()
	w := c.NewWriter(f, false)
	for off := 0; off < len(data); off += benchBuf {
		if _, err := w.Write(data[off:min(off+benchBuf, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.CachedBytes(f); got != int64(len(data)) {
		t.Fatalf("cache holds %d of %d bytes", got, len(data))
	}
}

func TestRatios(t *testing.T) {
	if !*ratiosFlag {
		t.Skip("benchmark report: run with -run TestRatios -ratios -v")
	}
	size, rounds := *ratiosSize, *ratioRounds
	data := newSource(int(size), 42).data
	buf := make([]byte, benchBuf)
	bufs := [][]byte{make([]byte, benchBuf), make([]byte, benchBuf)}
	t.Logf("data %d MiB, reader buffer %d KiB, GOMAXPROCS %d, %s/%s, %s",
		size>>20, benchBuf>>10, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())

	// Hot sequential reads at the default block size, 1 and 2 goroutines.
	c, err := New(Config{MemCapacity: size + size/8})
	if err != nil {
		t.Fatal(err)
	}
	f := File{ID: 1, Gen: 1, Size: size}
	fillCache(t, c, f, data)
	fetch := memFetcher(data)
	measure(t, "sequential hot read, 1 goroutine", size, rounds,
		func() { streamCopy(data, buf) },
		func() { readThrough(c, f, fetch, ReadCache, buf) })
	measure(t, "sequential hot read, 2 goroutines", 2*size, rounds,
		func() {
			var i int
			var mu sync.Mutex
			parallel(2, func() { mu.Lock(); b := bufs[i]; i++; mu.Unlock(); streamCopy(data, b) })
		},
		func() {
			var i int
			var mu sync.Mutex
			parallel(2, func() { mu.Lock(); b := bufs[i]; i++; mu.Unlock(); readThrough(c, f, fetch, ReadCache, b) })
		})
	if st := c.Stats(); st.Fetches != 0 {
		t.Fatalf("hot reads fetched %d blocks", st.Fetches)
	}
	c.Close()

	// Cold fill: each round reads a new generation, so every block is fetched
	// and stored. "at capacity": the default 256 MiB memory, so every fill
	// evicts (the steady state of a working cache); "empty": memory holds the
	// whole file and the previous generation is dropped first. The floor is
	// the least any storing cache must do: fetch into a block buffer (from a
	// preallocated ring of 256 MiB), then copy it to the reader's buffer.
	ring := make([][]byte, DefaultMemCapacity/DefaultBlockSize)
	for i := range ring {
		ring[i] = make([]byte, DefaultBlockSize)
	}
	floor := func() {
		for off, i := int64(0), 0; off < size; off, i = off+DefaultBlockSize, i+1 {
			blk := ring[i%len(ring)][:min(DefaultBlockSize, size-off)]
			memFill(data, off, blk)
			copy(buf, blk)
		}
	}
	for _, v := range []struct {
		name    string
		memCap  int64
		ra      int
		dropOld bool
	}{
		{"at capacity, no read-ahead", DefaultMemCapacity, -1, false},
		{"at capacity, read-ahead 4", DefaultMemCapacity, DefaultReadAheadBlocks, false},
		{"empty cache, no read-ahead", size + size/8, -1, true},
	} {
		c, err = New(Config{MemCapacity: v.memCap, ReadAheadBlocks: v.ra})
		if err != nil {
			t.Fatal(err)
		}
		gen := uint64(0)
		subj := func() {
			if v.dropOld {
				c.Drop(1)
			}
			gen++
			if err := readThrough(c, File{ID: 1, Gen: gen, Size: size}, fetch, ReadCache, buf); err != nil {
				t.Fatal(err)
			}
		}
		measure(t, "cold fill, "+v.name+" ÷ fetch alone", size, rounds, func() { fetchOnly(fetch, size, buf) }, subj)
		measure(t, "cold fill, "+v.name+" ÷ fetch+copy floor", size, rounds, floor, subj)
		c.Close()
	}
	t.Logf("fetch+copy floor ÷ fetch alone: the cost of storing at all")
	measure(t, "floor ÷ fetch alone", size, rounds, func() { fetchOnly(fetch, size, buf) }, floor)

	// Block size sweep on 1/4 of the data: hot read and cold fill ratios, and
	// what a random 4 KiB read costs (bytes fetched).
	small := data[:size/4]
	fs := File{ID: 2, Gen: 1, Size: int64(len(small))}
	sfetch := memFetcher(small)
	for _, bs := range []int64{64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20} {
		c, err := New(Config{BlockSize: bs, MemCapacity: fs.Size * 2, ReadAheadBlocks: -1})
		if err != nil {
			t.Fatal(err)
		}
		fillCache(t, c, fs, small)
		hot := measure(t, fmt.Sprintf("block %5d KiB: hot read", bs>>10), fs.Size, rounds,
			func() { streamCopy(small, buf) },
			func() { readThrough(c, fs, sfetch, ReadCache, buf) })
		c.Close()
		// Cold fill at capacity: memory holds a quarter of the data.
		c, err = New(Config{BlockSize: bs, MemCapacity: fs.Size / 4, ReadAheadBlocks: -1})
		if err != nil {
			t.Fatal(err)
		}
		gen := uint64(1)
		cold := measure(t, fmt.Sprintf("block %5d KiB: cold fill at capacity", bs>>10), fs.Size, rounds,
			func() { fetchOnly(sfetch, fs.Size, buf) },
			func() {
				gen++
				readThrough(c, File{ID: 2, Gen: gen, Size: fs.Size}, sfetch, ReadCache, buf)
			})
		t.Logf("block %5d KiB: hot %.3f cold %.3f; a random 4 KiB read fetches %d KiB", bs>>10, hot, cold, bs>>10)
		c.Close()
	}
}

// Standard benchmarks on 64 MiB (go test -bench . ./internal/cache).

const benchSize = 64 << 20

func BenchmarkStreamCopy(b *testing.B) {
	data, buf := make([]byte, benchSize), make([]byte, benchBuf)
	b.SetBytes(benchSize)
	for b.Loop() {
		streamCopy(data, buf)
	}
}

func BenchmarkSequentialHit(b *testing.B) {
	data, buf := make([]byte, benchSize), make([]byte, benchBuf)
	c, _ := New(Config{MemCapacity: 2 * benchSize})
	defer c.Close()
	f := File{ID: 1, Gen: 1, Size: benchSize}
	w := c.NewWriter(f, false)
	w.Write(data)
	w.Close()
	b.SetBytes(benchSize)
	for b.Loop() {
		readThrough(c, f, nil, ReadCache, buf)
	}
}

func BenchmarkFetchOnly(b *testing.B) {
	data, buf := make([]byte, benchSize), make([]byte, benchBuf)
	fetch := memFetcher(data)
	b.SetBytes(benchSize)
	for b.Loop() {
		fetchOnly(fetch, benchSize, buf)
	}
}

func BenchmarkColdFill(b *testing.B) {
	data, buf := make([]byte, benchSize), make([]byte, benchBuf)
	fetch := memFetcher(data)
	c, _ := New(Config{MemCapacity: 2 * benchSize})
	defer c.Close()
	b.SetBytes(benchSize)
	gen := uint64(0)
	for b.Loop() {
		c.Drop(1)
		gen++
		readThrough(c, File{ID: 1, Gen: gen, Size: benchSize}, fetch, ReadCache, buf)
	}
}
