package cache

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// startReaders starts n goroutines reading block 0 of f and returns their
// results once all are done.
func startReaders(c *Cache, f File, fetch Fetcher, n int) func() ([][]byte, []error) {
	bufs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.NewReader(f, fetch, ReadCache)
			defer r.Close()
			bufs[i] = make([]byte, 16)
			_, errs[i] = r.ReadAt(context.Background(), bufs[i], 0)
		}()
	}
	return func() ([][]byte, []error) { wg.Wait(); return bufs, errs }
}

// waitWaiters waits until n readers wait for block 0 of f (misses counted
// only on return, so watch the fetch gate instead: one fetch started, and the
// call registered).
func waitFetchStarted(t *testing.T, c *Cache, s *source) {
	t.Helper()
	waitFor(t, "the fetch to start", func() bool { return s.calls.Load() >= 1 })
}

func TestSingleflight(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(64, 10)
	s.gate = make(chan struct{})
	f := File{ID: 1, Gen: 1, Size: 64}
	wait := startReaders(c, f, s.fetch, 16)
	waitFetchStarted(t, c, s)
	close(s.gate)
	bufs, errs := wait()
	for i := range bufs {
		if errs[i] != nil || !bytes.Equal(bufs[i], s.data[:16]) {
			t.Fatalf("reader %d: err %v or wrong data", i, errs[i])
		}
	}
	st := c.Stats()
	if s.calls.Load() != 1 || st.Fetches != 1 {
		t.Fatalf("16 concurrent misses made %d fetch calls (Fetches %d), want 1", s.calls.Load(), st.Fetches)
	}
	if st.Misses+st.Hits != 16 {
		t.Fatalf("hits %d + misses %d != 16 reads", st.Hits, st.Misses)
	}
}

func TestFetchErrorReachesEveryWaiter(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(64, 11)
	s.gate = make(chan struct{})
	boom := errors.New("ufs exploded")
	s.setErr(boom)
	f := File{ID: 1, Gen: 1, Size: 64}
	wait := startReaders(c, f, s.fetch, 8)
	waitFetchStarted(t, c, s)
	close(s.gate)
	_, errs := wait()
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("reader %d: err %v, want the fetch error", i, err)
		}
	}
	if c.Has(f, 0) {
		t.Fatal("failed fetch cached")
	}
	calls := s.calls.Load()
	s.setErr(nil)
	readBlock(t, c.NewReader(f, s.fetch, ReadCache), s, 16, 0)
	if s.calls.Load() != calls+1 {
		t.Fatal("the failed block was not fetched again")
	}
}

func TestCancelledWaiterDoesNotCancelFetch(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(64, 12)
	s.gate = make(chan struct{})
	f := File{ID: 1, Gen: 1, Size: 64}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(ctx, make([]byte, 16), 0)
		first <- err
	}()
	waitFetchStarted(t, c, s)
	wait := startReaders(c, f, s.fetch, 3)
	waitWaiters(t, c, f, 0, 0, 4) // the fill has other waiters when the first leaves
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	close(s.gate)
	bufs, errs := wait()
	for i := range bufs {
		if errs[i] != nil || !bytes.Equal(bufs[i], s.data[:16]) {
			t.Fatalf("reader %d after another's cancel: %v", i, errs[i])
		}
	}
	if s.calls.Load() != 1 || !c.Has(f, 0) {
		t.Fatalf("fetches %d, cached %v: want 1 shared fetch, cached", s.calls.Load(), c.Has(f, 0))
	}
}

func TestCloseCancelsFetch(t *testing.T) {
	c, err := New(Config{BlockSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(64, 13)
	s.gate = make(chan struct{}) // never opened: only cancellation ends the fetch
	done := make(chan error, 1)
	go func() {
		_, err := c.NewReader(File{ID: 1, Gen: 1, Size: 64}, s.fetch, ReadCache).ReadAt(context.Background(), make([]byte, 16), 0)
		done <- err
	}()
	waitFetchStarted(t, c, s)
	c.Close()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
		t.Fatalf("read during Close: %v", err)
	}
}

func TestDropDuringFillStoresNothing(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(64, 14)
	s.gate = make(chan struct{})
	f := File{ID: 1, Gen: 1, Size: 64}
	wait := startReaders(c, f, s.fetch, 1)
	waitFetchStarted(t, c, s)
	c.Drop(1)
	close(s.gate)
	if _, errs := wait(); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if c.Has(f, 0) {
		t.Fatal("block fetched before Drop was stored after it")
	}
}

// TestReadAheadSequential checks the block-by-block read-ahead (span 1);
// span.go's tests cover spans.
func TestReadAheadSequential(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 3, ReadAheadWorkers: 2, ReadAheadSpan: 1})
	s := newSource(16*20, 15)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, s, 16, 0)
	readBlock(t, r, s, 16, 1) // continues the first read: prefetch 2, 3, 4
	waitFor(t, "read-ahead of blocks 2..4", func() bool { return c.Has(f, 2) && c.Has(f, 3) && c.Has(f, 4) })
	if c.Has(f, 5) {
		t.Fatal("read-ahead beyond its window")
	}
	readBlock(t, r, s, 16, 2) // hit; window slides to 5
	waitFor(t, "read-ahead of block 5", func() bool { return c.Has(f, 5) })
	st := c.Stats()
	if st.ReadAheads != 4 || s.calls.Load() != 6 {
		t.Fatalf("ReadAheads %d, fetches %d; want 4 and 6", st.ReadAheads, s.calls.Load())
	}
	// Reading on: every block fetched once, the demand reads find them.
	readAll(t, r, s.data, 16)
	if n := s.calls.Load(); n != 20 {
		t.Fatalf("fetches %d, want 20", n)
	}
}

func TestNoReadAheadOnRandomAccess(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 3, ReadAheadWorkers: 2})
	s := newSource(16*20, 16)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	for _, i := range []int64{7, 2, 12, 0, 9, 17} {
		readBlock(t, r, s, 16, i)
	}
	// Read-ahead is queued synchronously by ReadAt: nothing queued now means
	// none will run.
	if st := c.Stats(); st.ReadAheads != 0 || len(c.raQueue) != 0 {
		t.Fatalf("random reads queued read-ahead: %+v", st)
	}
	want := []int64{7 * 16, 2 * 16, 12 * 16, 0, 9 * 16, 17 * 16}
	if got := s.offsets(); !slices.Equal(got, want) {
		t.Fatalf("fetched offsets %v, want only %v", got, want)
	}
}

func TestReaderCloseStopsReadAhead(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 4, ReadAheadWorkers: 1, ReadAheadSpan: 1})
	s := newSource(16*20, 17)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	readBlock(t, r, s, 16, 0)
	s.gate = make(chan struct{})
	demand := make(chan error, 1)
	go func() {
		// Continues the first read: block 1 on demand, 2..5 queued for the
		// single worker; all wait on the gate.
		_, err := r.ReadAt(context.Background(), make([]byte, 16), 16)
		demand <- err
	}()
	waitFor(t, "a prefetch to start", func() bool { return c.Stats().ReadAheads == 4 && s.calls.Load() == 3 })
	r.Close()
	close(s.gate)
	if err := <-demand; err != nil {
		t.Fatalf("demand read started before Close: %v", err)
	}
	// Another reader, with its own fetch function, reads everything; the
	// closed reader's fetch function is never called again.
	s2 := &source{data: s.data}
	readAll(t, c.NewReader(f, s2.fetch, ReadCache), s.data, 16)
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("closed reader's fetch called %d times, want 3 (block 0, block 1, one prefetch)", n)
	}
}
