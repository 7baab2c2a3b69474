package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
)

// Span tests use 16-byte blocks, a window of 4 and spans of 4: reading block
// 0 then block 1 fetches block 1 on demand and queues one span, blocks 2..5.

func spanCache(t *testing.T) *Cache {
	return newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 4, ReadAheadWorkers: 2, ReadAheadSpan: 4})
}

// startSpan reads block 0 of f through a new sequential reader, then gates s,
// sets its error to err and starts the demand read of block 1, which queues
// the span 2..5. It returns once both fetches (block 1 and the span) wait on
// the gate, with the reader and the demand read's result.
func startSpan(t *testing.T, c *Cache, s *source, f File, err error) (*Reader, <-chan error) {
	t.Helper()
	r := c.NewReader(f, s.fetch, ReadCache)
	readBlock(t, r, s, 16, 0)
	s.gate = make(chan struct{})
	s.setErr(err)
	demand := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(context.Background(), make([]byte, 16), 16)
		demand <- err
	}()
	waitFor(t, "the demand and span fetches", func() bool { return s.calls.Load() == 3 })
	if offs, lens := s.offsets(), s.lengths(); !slices.Contains(offs, 32) || !slices.Contains(lens, 64) {
		t.Fatalf("fetches at %v of %v bytes: want the span 2..5 (64 bytes at 32)", offs, lens)
	}
	return r, demand
}

// fetches returns the (offset, length) of s's fetch calls by offset: a demand
// fetch and a read-ahead started by the same read run in either order.
func fetches(s *source) [][2]int64 {
	offs, lens := s.offsets(), s.lengths()
	out := make([][2]int64, len(offs))
	for i := range offs {
		out[i] = [2]int64{offs[i], int64(lens[i])}
	}
	slices.SortFunc(out, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	return out
}

type readResult struct {
	data []byte
	err  error
}

// readAsync reads block idx of f through a new Reader, whose first read is
// never sequential: it queues no read-ahead.
func readAsync(ctx context.Context, c *Cache, f File, fetch Fetcher, idx int64) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		r := c.NewReader(f, fetch, ReadCache)
		defer r.Close()
		buf := make([]byte, 16)
		n, err := r.ReadAt(ctx, buf, idx*16)
		ch <- readResult{buf[:n], err}
	}()
	return ch
}

// waitWaiters waits until n readers wait for fills of blocks from..to of f.
func waitWaiters(t *testing.T, c *Cache, f File, from, to int64, n int32) {
	t.Helper()
	waitFor(t, "the waiters", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		var w int32
		for i := from; i <= to; i++ {
			if cl := c.inflight[key{f.ID, f.Gen, i}]; cl != nil {
				w += cl.waiters
			}
		}
		return w == n
	})
}

// waitIdle waits until no fill is in flight.
func waitIdle(t *testing.T, c *Cache) {
	t.Helper()
	waitFor(t, "fills to end", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.inflight) == 0
	})
}

func TestSpanSingleflight(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 40)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r, demand := startSpan(t, c, s, f, nil)
	defer r.Close()
	var results []<-chan readResult
	var idxs []int64
	for i := range 12 {
		idx := 2 + int64(i%4)
		idxs = append(idxs, idx)
		results = append(results, readAsync(context.Background(), c, f, s.fetch, idx))
	}
	waitWaiters(t, c, f, 2, 5, 12)
	close(s.gate)
	if err := <-demand; err != nil {
		t.Fatalf("demand read of block 1: %v", err)
	}
	for i, ch := range results {
		res := <-ch
		if res.err != nil || !bytes.Equal(res.data, s.data[idxs[i]*16:idxs[i]*16+16]) {
			t.Fatalf("waiter on block %d: err %v or wrong data", idxs[i], res.err)
		}
	}
	if got := fetches(s); !slices.Equal(got, [][2]int64{{0, 16}, {16, 16}, {32, 64}}) {
		t.Fatalf("fetches (offset, length) %v, want blocks 0 and 1 and the span 2..5", got)
	}
	st := c.Stats()
	if st.Fetches != 3 || st.ReadAheads != 4 || st.Misses != 14 || st.Hits != 0 {
		t.Fatalf("stats %+v: want 3 fetches, 4 read-aheads, 14 misses (12 waiters, blocks 0 and 1)", st)
	}
	for i := int64(0); i < 6; i++ {
		if !c.Has(f, i) {
			t.Fatalf("block %d not cached", i)
		}
	}
	if st.MemBytes != 6*16 || c.CachedBytes(f) != 6*16 {
		t.Fatalf("MemBytes %d, CachedBytes %d, want 96", st.MemBytes, c.CachedBytes(f))
	}
}

func TestSpanFetchErrorReachesEveryWaiter(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 41)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	boom := errors.New("ufs exploded")
	r, demand := startSpan(t, c, s, f, boom)
	defer r.Close()
	var results []<-chan readResult
	for i := range 8 {
		results = append(results, readAsync(context.Background(), c, f, s.fetch, 2+int64(i%4)))
	}
	waitWaiters(t, c, f, 2, 5, 8)
	close(s.gate)
	if err := <-demand; !errors.Is(err, boom) {
		t.Fatalf("demand read of block 1: %v, want the fetch error", err)
	}
	for i, ch := range results {
		if res := <-ch; !errors.Is(res.err, boom) {
			t.Fatalf("waiter %d: %v, want the fetch error", i, res.err)
		}
	}
	waitIdle(t, c)
	for i := int64(1); i < 6; i++ {
		if c.Has(f, i) {
			t.Fatalf("block %d of the failed fetches cached", i)
		}
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (waiters must not fetch on their own)", n)
	}
	s.setErr(nil)
	readBlock(t, c.NewReader(f, s.fetch, ReadCache), s, 16, 3)
	if n := s.calls.Load(); n != 4 {
		t.Fatalf("block 3 of the failed span: %d fetches, want it fetched again (4)", n)
	}
}

func TestSpanCancelledWaiterDoesNotCancelSpan(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 42)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r, demand := startSpan(t, c, s, f, nil)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancelled := readAsync(ctx, c, f, s.fetch, 3)
	other := readAsync(context.Background(), c, f, s.fetch, 4)
	waitWaiters(t, c, f, 2, 5, 2)
	cancel()
	if res := <-cancelled; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", res.err)
	}
	close(s.gate)
	if res := <-other; res.err != nil || !bytes.Equal(res.data, s.data[64:80]) {
		t.Fatalf("waiter on block 4 after another's cancel: err %v or wrong data", res.err)
	}
	if err := <-demand; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, c)
	for i := int64(2); i < 6; i++ {
		if !c.Has(f, i) {
			t.Fatalf("block %d of the span not cached", i)
		}
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

func TestSpanDropDuringFillStoresNothing(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 43)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r, demand := startSpan(t, c, s, f, nil)
	defer r.Close()
	waiter := readAsync(context.Background(), c, f, s.fetch, 3)
	waitWaiters(t, c, f, 2, 5, 1)
	c.Drop(f.ID)
	close(s.gate)
	if res := <-waiter; res.err != nil || !bytes.Equal(res.data, s.data[48:64]) {
		t.Fatalf("waiter on block 3 across Drop: err %v or wrong data", res.err)
	}
	if err := <-demand; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, c)
	for i := int64(0); i < 6; i++ {
		if c.Has(f, i) {
			t.Fatalf("block %d stored after Drop", i)
		}
	}
	if st := c.Stats(); st.MemBytes != 0 || c.CachedBytes(f) != 0 {
		t.Fatalf("after Drop: MemBytes %d, CachedBytes %d, want 0", st.MemBytes, c.CachedBytes(f))
	}
}

// A reader's Close cancels its running span; a reader waiting on a block of
// it retries with its own fetch.
func TestSpanAbortedByReaderCloseIsRetried(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 44)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r, demand := startSpan(t, c, s, f, nil)
	s2 := &source{data: s.data}
	waiter := readAsync(context.Background(), c, f, s2.fetch, 3)
	waitWaiters(t, c, f, 2, 5, 1)
	r.Close()
	if res := <-waiter; res.err != nil || !bytes.Equal(res.data, s.data[48:64]) {
		t.Fatalf("waiter on block 3 of the aborted span: err %v or wrong data", res.err)
	}
	if n := s2.calls.Load(); n != 1 {
		t.Fatalf("the waiter's retry made %d fetches, want 1", n)
	}
	close(s.gate)
	if err := <-demand; err != nil {
		t.Fatalf("demand read started before Close: %v", err)
	}
	waitIdle(t, c)
	for i, want := range []bool{true, true, false, true, false, false} {
		if c.Has(f, int64(i)) != want {
			t.Fatalf("block %d cached %v, want %v", i, !want, want)
		}
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("closed reader's fetch called %d times, want 3", n)
	}
}

// The last span of a file is short: its last block too.
func TestSpanPartialAtEOF(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*7+5, 45) // blocks 0..7, block 7 of 5 bytes
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, s, 16, 0)
	readBlock(t, r, s, 16, 1) // span 2..5
	waitFor(t, "span 2..5", func() bool { return c.Has(f, 2) && c.Has(f, 3) && c.Has(f, 4) && c.Has(f, 5) })
	readBlock(t, r, s, 16, 2) // window to 6, rounded up to a span, cut at the end: 6..7
	waitFor(t, "span 6..7", func() bool { return c.Has(f, 6) && c.Has(f, 7) })
	readAll(t, r, s.data, 16)
	if got := fetches(s); !slices.Equal(got, [][2]int64{{0, 16}, {16, 16}, {32, 64}, {96, 21}}) {
		t.Fatalf("fetches (offset, length) %v, want blocks 0 and 1, spans 2..5 and 6..7", got)
	}
	st := c.Stats()
	if st.Fetches != 4 || st.ReadAheads != 6 || st.MemBytes != f.Size || c.CachedBytes(f) != f.Size {
		t.Fatalf("stats %+v, cached %d: want 4 fetches, 6 read-aheads, %d bytes", st, c.CachedBytes(f), f.Size)
	}
}

// A UFS file shorter than File.Size: the blocks a short span fetch covers are
// kept, the others fail like a short single-block fetch.
func TestSpanShortFetch(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*3+3, 46)
	f := File{ID: 1, Gen: 1, Size: 16 * 8}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, s, 16, 0)
	readBlock(t, r, s, 16, 1) // span 2..5 gets 19 of 64 bytes
	waitFor(t, "the span", func() bool { return c.Stats().Fetches == 3 })
	waitIdle(t, c)
	for i, want := range []bool{true, true, true, false, false, false} {
		if c.Has(f, int64(i)) != want {
			t.Fatalf("block %d cached %v, want %v", i, !want, want)
		}
	}
	_, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(context.Background(), make([]byte, 16), 48)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("block 3 beyond the UFS file's end: %v, want io.ErrUnexpectedEOF", err)
	}
}

// Random reads and ReadNoCache fetch one block per Fetcher call, whatever
// the span.
func TestSpanNotUsedByRandomOrNoCacheReads(t *testing.T) {
	c := spanCache(t)
	s := newSource(16*20, 47)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	for _, i := range []int64{7, 2, 12, 0, 9, 17, 3, 15} {
		readBlock(t, r, s, 16, i)
	}
	nc := c.NewReader(File{ID: 2, Gen: 1, Size: f.Size}, s.fetch, ReadNoCache)
	defer nc.Close()
	readAll(t, nc, s.data, 16)
	if len(c.raQueue) != 0 || c.Stats().ReadAheads != 0 {
		t.Fatalf("read-ahead queued: %+v", c.Stats())
	}
	lens := s.lengths()
	if len(lens) != 8+20 || slices.ContainsFunc(lens, func(n int) bool { return n != 16 }) {
		t.Fatalf("fetch lengths %v, want 28 fetches of one block", lens)
	}
	if n := c.CachedBytes(File{ID: 2, Gen: 1}); n != 0 {
		t.Fatalf("ReadNoCache stored %d bytes", n)
	}
}

// A reader missing a block of a span that is queued but not started (every
// worker busy) runs the span itself rather than waiting for a worker.
func TestSpanQueuedIsRunByItsFirstReader(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 8, ReadAheadWorkers: 1, ReadAheadSpan: 4})
	s := newSource(16*20, 48)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r, demand := startSpan(t, c, s, f, nil) // the worker waits in span 2..5; 6..9 is queued
	defer r.Close()
	if n := len(c.raQueue); n != 1 {
		t.Fatalf("%d spans queued, want 1 (6..9)", n)
	}
	waiter := readAsync(context.Background(), c, f, s.fetch, 7)
	waitFor(t, "span 6..9 to be fetched", func() bool { return s.calls.Load() == 4 })
	if got := fetches(s); !slices.Equal(got, [][2]int64{{0, 16}, {16, 16}, {32, 64}, {96, 64}}) {
		t.Fatalf("fetches (offset, length) %v, want blocks 0 and 1, spans 2..5 and 6..9", got)
	}
	close(s.gate)
	if res := <-waiter; res.err != nil || !bytes.Equal(res.data, s.data[112:128]) {
		t.Fatalf("waiter on block 7: err %v or wrong data", res.err)
	}
	if err := <-demand; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, c)
	for i := int64(0); i < 10; i++ {
		if !c.Has(f, i) {
			t.Fatalf("block %d not cached", i)
		}
	}
	if st := c.Stats(); st.Fetches != 4 || st.ReadAheads != 8 {
		t.Fatalf("stats %+v: want 4 fetches, 8 read-aheads", st)
	}
}

// Close completes the spans still queued, without fetching them.
func TestSpanCloseCompletesQueuedSpans(t *testing.T) {
	c, err := New(Config{BlockSize: 16, ReadAheadBlocks: 8, ReadAheadWorkers: 1, ReadAheadSpan: 4})
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(16*20, 49)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	_, demand := startSpan(t, c, s, f, nil) // the gate never opens
	c.Close()
	if err := <-demand; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		t.Fatalf("demand read across Close: %v", err)
	}
	waitIdle(t, c)
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (the queued span 6..9 not fetched)", n)
	}
	if _, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(context.Background(), make([]byte, 16), 7*16); !errors.Is(err, ErrClosed) {
		t.Fatalf("read of a drained span's block after Close: %v, want ErrClosed", err)
	}
}
