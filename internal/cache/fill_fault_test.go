package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// stuckFetcher serves data, except that its first `stuck` calls block until
// their context ends, as a fetch on a connection that stopped delivering.
type stuckFetcher struct {
	data      []byte
	stuck     int64
	calls     atomic.Int64
	started   chan struct{} // a stuck call started
	cancelled chan struct{} // a stuck call saw its context end
}

func newStuckFetcher(data []byte, stuck int64) *stuckFetcher {
	return &stuckFetcher{data: data, stuck: stuck, started: make(chan struct{}, 16), cancelled: make(chan struct{}, 16)}
}

func (s *stuckFetcher) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if s.calls.Add(1) <= s.stuck {
		s.started <- struct{}{}
		<-ctx.Done()
		s.cancelled <- struct{}{}
		return nil, ctx.Err()
	}
	return memFetcher(s.data)(ctx, off, n)
}

// receive waits up to 5 s for a value on ch.
func receive(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitGoroutines waits until no more than n goroutines run.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("goroutines to end (want <= %d)", n), func() bool { return runtime.NumGoroutine() <= n })
}

// A demand fill whose only waiter gives up is cancelled at once, and the next
// reader starts a fresh fill rather than joining the stuck one.
func TestAbandonedDemandFillIsCancelled(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newStuckFetcher(newSource(64, 20).data, 1)
	f := File{ID: 1, Gen: 1, Size: 64}
	before := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(ctx, make([]byte, 16), 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with a 20 ms timeout over a stuck fetch: %v, want DeadlineExceeded", err)
	}
	receive(t, "the stuck fetch's context to be cancelled", s.cancelled)
	waitGoroutines(t, before)
	waitIdle(t, c)

	buf := make([]byte, 16)
	if _, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(context.Background(), buf, 0); err != nil || !bytes.Equal(buf, s.data[:16]) {
		t.Fatalf("read after the cancelled fill: err %v or wrong data", err)
	}
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the stuck one, then a fresh one)", n)
	}
	waitGoroutines(t, before)
}

// A demand fill goes on while one of its waiters remains.
func TestDemandFillOutlivesOneOfTwoWaiters(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(64, 21)
	s.gate = make(chan struct{})
	var fetchCtx atomic.Value // the fill's context
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		fetchCtx.Store(ctx)
		return s.fetch(ctx, off, n)
	}
	f := File{ID: 1, Gen: 1, Size: 64}
	before := runtime.NumGoroutine()

	leaving, leave := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, err := c.NewReader(f, fetch, ReadCache).ReadAt(leaving, make([]byte, 16), 0)
		left <- err
	}()
	stays := readAsync(context.Background(), c, f, fetch, 0)
	waitWaiters(t, c, f, 0, 0, 2)
	leave()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaving waiter: %v", err)
	}
	if err := fetchCtx.Load().(context.Context).Err(); err != nil {
		t.Fatalf("the fill's context ended (%v) while a waiter remains", err)
	}
	close(s.gate)
	if res := <-stays; res.err != nil || !bytes.Equal(res.data, s.data[:16]) {
		t.Fatalf("remaining waiter: err %v or wrong data", res.err)
	}
	if n := s.calls.Load(); n != 1 || !c.Has(f, 0) {
		t.Fatalf("fetches %d, cached %v: want one fetch, its block cached", n, c.Has(f, 0))
	}
	waitGoroutines(t, before)
}

// Both waiters of a stuck fill leave, one after the other: the fill ends with
// the second, and readers then share one fresh fill.
func TestDemandFillCancelledWithItsLastWaiter(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newStuckFetcher(newSource(64, 22).data, 1)
	f := File{ID: 1, Gen: 1, Size: 64}
	before := runtime.NumGoroutine()

	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	r1 := readAsync(ctx1, c, f, s.fetch, 0)
	receive(t, "the fetch to start", s.started)
	r2 := readAsync(ctx2, c, f, s.fetch, 0)
	waitWaiters(t, c, f, 0, 0, 2)
	cancel1()
	if res := <-r1; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("first waiter: %v", res.err)
	}
	select {
	case <-s.cancelled:
		t.Fatal("the fill was cancelled while a waiter remained")
	default:
	}
	cancel2()
	if res := <-r2; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("second waiter: %v", res.err)
	}
	receive(t, "the fill's context to be cancelled", s.cancelled)
	waitGoroutines(t, before)

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 16)
			if _, err := c.NewReader(f, s.fetch, ReadCache).ReadAt(context.Background(), buf, 0); err != nil || !bytes.Equal(buf, s.data[:16]) {
				t.Errorf("reader after the cancellation: err %v or wrong data", err)
			}
		}()
	}
	wg.Wait()
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the cancelled one, then one shared by later readers)", n)
	}
	waitGoroutines(t, before)
}

// A read-ahead fill keeps running when the demand reader that waited on it
// leaves: it belongs to its reader, which cancels it by Close.
func TestReadAheadFillOutlivesItsWaiter(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 2, ReadAheadWorkers: 1, ReadAheadSpan: 1})
	s := newSource(16*8, 23)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, s, 16, 0)
	s.gate = make(chan struct{})
	demand := make(chan error, 1)
	go func() { // block 1 on demand; 2 and 3 read ahead
		_, err := r.ReadAt(context.Background(), make([]byte, 16), 16)
		demand <- err
	}()
	waitFor(t, "the read-ahead", func() bool { return c.Stats().ReadAheads == 2 && s.calls.Load() >= 2 })
	ctx, cancel := context.WithCancel(context.Background())
	waiter := readAsync(ctx, c, f, s.fetch, 2)
	waitWaiters(t, c, f, 2, 2, 1)
	cancel()
	if res := <-waiter; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("waiter on a read-ahead block: %v", res.err)
	}
	close(s.gate)
	if err := <-demand; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "blocks 2 and 3 read ahead", func() bool { return c.Has(f, 2) && c.Has(f, 3) })
	if n := s.calls.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (blocks 0 to 3, each once)", n)
	}
}

// breakingFetcher serves data; each of its first `breaks` calls delivers at
// most `upTo` bytes and then fails with err, as a transfer cut mid-body.
type breakingFetcher struct {
	data   []byte
	breaks int
	upTo   int
	err    error

	mu    sync.Mutex
	calls [][2]int64 // (offset, length) of each call
}

func (b *breakingFetcher) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return callFetcher(b.fill)(ctx, off, n)
}

func (b *breakingFetcher) fill(ctx context.Context, off int64, p []byte) (int, error) {
	b.mu.Lock()
	b.calls = append(b.calls, [2]int64{off, int64(len(p))})
	broken := len(b.calls) <= b.breaks
	b.mu.Unlock()
	if broken {
		n := copy(p[:min(b.upTo, len(p))], b.data[off:])
		return n, b.err
	}
	if n := copy(p, b.data[off:]); n < len(p) {
		return n, io.EOF
	}
	return len(p), nil
}

func (b *breakingFetcher) log() [][2]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][2]int64(nil), b.calls...)
}

var errReset = errors.New("read tcp 127.0.0.1:1234: connection reset by peer")

// A fetch that breaks mid-block is resumed from its first missing byte; the
// bytes delivered before the break are kept.
func TestBrokenFetchResumes(t *testing.T) {
	for _, brk := range []error{errReset, io.ErrUnexpectedEOF} {
		t.Run(brk.Error(), func(t *testing.T) {
			c := newCache(t, Config{BlockSize: 64, ReadAheadBlocks: -1})
			b := &breakingFetcher{data: newSource(256, 24).data, breaks: 1, upTo: 40, err: brk}
			f := File{ID: 1, Gen: 1, Size: 256}
			buf := make([]byte, 64)
			if _, err := c.NewReader(f, b.fetch, ReadCache).ReadAt(context.Background(), buf, 64); err != nil || !bytes.Equal(buf, b.data[64:128]) {
				t.Fatalf("read over a broken fetch: err %v or wrong data", err)
			}
			if got, want := b.log(), [][2]int64{{64, 64}, {104, 24}}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("fetch calls (offset, length) %v, want %v", got, want)
			}
			if st := c.Stats(); st.Fetches != 1 || st.FetchRetries != 1 {
				t.Fatalf("Fetches %d, FetchRetries %d: want 1 and 1", st.Fetches, st.FetchRetries)
			}
		})
	}
}

// Breaks are resumed FetchRetries times per fill, then the error is returned.
func TestBrokenFetchRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		retries, wantCalls int
	}{{0, 3}, {1, 2}, {4, 5}, {-1, 1}} {
		t.Run(fmt.Sprint(tc.retries), func(t *testing.T) {
			c := newCache(t, Config{BlockSize: 64, ReadAheadBlocks: -1, FetchRetries: tc.retries})
			b := &breakingFetcher{data: newSource(256, 25).data, breaks: 100, upTo: 4, err: errReset}
			_, err := c.NewReader(File{ID: 1, Gen: 1, Size: 256}, b.fetch, ReadCache).ReadAt(context.Background(), make([]byte, 64), 0)
			if !errors.Is(err, errReset) {
				t.Fatalf("read over a fetch that always breaks: %v, want the break", err)
			}
			if n := len(b.log()); n != tc.wantCalls {
				t.Fatalf("FetchRetries %d: %d fetch calls, want %d", tc.retries, n, tc.wantCalls)
			}
		})
	}
}

// Final errors, and errors before any byte, are not retried by the cache.
func TestFetchErrorsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		upTo int
		err  error
	}{
		{"changed", 10, fmt.Errorf("%w: the UFS file ends at byte 10", ufs.ErrChanged)},
		{"gone", 10, &fs.PathError{Op: "read", Path: "/x", Err: fs.ErrNotExist}},
		{"denied", 10, &fs.PathError{Op: "read", Path: "/x", Err: fs.ErrPermission}},
		{"cancelled", 10, context.Canceled},
		{"deadline", 10, fmt.Errorf("get: %w", context.DeadlineExceeded)},
		{"no bytes", 0, errReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{BlockSize: 64, ReadAheadBlocks: -1})
			b := &breakingFetcher{data: newSource(256, 26).data, breaks: 1, upTo: tc.upTo, err: tc.err}
			f := File{ID: 1, Gen: 1, Size: 256}
			_, err := c.NewReader(f, b.fetch, ReadCache).ReadAt(context.Background(), make([]byte, 64), 0)
			if !errors.Is(err, tc.err) {
				t.Fatalf("read: %v, want %v", err, tc.err)
			}
			if n := len(b.log()); n != 1 || c.Stats().FetchRetries != 0 || c.Has(f, 0) {
				t.Fatalf("%d fetch calls, %d retries, cached %v: want 1, 0, false", n, c.Stats().FetchRetries, c.Has(f, 0))
			}
		})
	}
}

// A read-ahead span fetched with one Fetcher call is resumed after a break
// too, and every block of it is right.
func TestBrokenSpanFetchResumes(t *testing.T) {
	c := spanCache(t)
	b := &breakingFetcher{data: newSource(16*20, 27).data, breaks: 0, upTo: 7, err: errReset}
	f := File{ID: 1, Gen: 1, Size: int64(len(b.data))}
	r := c.NewReader(f, b.fetch, ReadCache)
	defer r.Close()
	s := &source{data: b.data}
	readBlock(t, r, s, 16, 0)
	b.mu.Lock()
	b.breaks = len(b.calls) + 2 // the next two calls break: block 1 and span 2..5, in either order
	b.mu.Unlock()
	readBlock(t, r, s, 16, 1)
	waitFor(t, "span 2..5", func() bool { return c.Has(f, 2) && c.Has(f, 3) && c.Has(f, 4) && c.Has(f, 5) })
	readAll(t, r, b.data, 16)
	if st := c.Stats(); st.FetchRetries != 2 {
		t.Fatalf("FetchRetries %d, want 2", st.FetchRetries)
	}
	var spanCalls [][2]int64
	for _, cl := range b.log() {
		if cl[0] >= 32 && cl[0] < 96 {
			spanCalls = append(spanCalls, cl)
		}
	}
	if fmt.Sprint(spanCalls) != fmt.Sprint([][2]int64{{32, 64}, {32 + 7, 64 - 7}}) {
		t.Fatalf("span fetch calls %v, want the span then its rest from byte 39", spanCalls)
	}
}
