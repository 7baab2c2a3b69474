package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// ReadMode says what a Reader stores.
type ReadMode int

const (
	// ReadCache stores what it fetches in memory; disk-tier hits are served
	// from disk.
	ReadCache ReadMode = iota
	// ReadNoCache serves blocks already cached but stores nothing new (and
	// does no read-ahead, which would store).
	ReadNoCache
	// ReadPromote is ReadCache that also copies disk-tier hits into memory
	// (the disk copy stays, so a later eviction from memory costs no write).
	ReadPromote
)

// Reader reads one open file. It tracks the access pattern: a read that
// starts where the previous one ended is sequential and queues asynchronous
// fills of the next ReadAheadBlocks blocks, up to ReadAheadSpan consecutive
// blocks per Fetcher call; other reads prefetch nothing and fetch a missing
// block with one Fetcher call of its own.
// ReadAt is safe for concurrent use.
type Reader struct {
	c      *Cache
	f      File
	fetch  Fetcher
	mode   ReadMode
	ctx    context.Context // cancelled by Close: stops this reader's read-ahead
	cancel context.CancelFunc
	closed atomic.Bool

	mu      sync.Mutex
	lastEnd int64 // end of the previous read, -1 before the first
	raNext  int64 // first block index not yet considered for read-ahead
}

// NewReader returns a Reader of f; fetch (nil when the UFS cannot serve the
// file) fills missing blocks.
func (c *Cache) NewReader(f File, fetch Fetcher, mode ReadMode) *Reader {
	ctx, cancel := context.WithCancel(c.ctx)
	return &Reader{c: c, f: f, fetch: fetch, mode: mode, ctx: ctx, cancel: cancel, lastEnd: -1}
}

// Close stops the reader's read-ahead: queued prefetches are skipped and the
// running ones see their context cancelled (a reader waiting on such a fill
// retries it). Close does not wait for fetches to return.
func (r *Reader) Close() error {
	r.closed.Store(true)
	r.cancel()
	return nil
}

// ReadAt reads len(p) bytes at off with io.ReaderAt semantics: fewer only at
// the end of the file, with io.EOF, or with an error. ctx bounds this call's
// waits; a fill it started keeps running while other readers wait for it, and
// is cancelled when none is left.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: ReadAt: negative offset %d", off)
	}
	size := r.f.Size
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	r.track(off, end)
	c, bs := r.c, r.c.bs
	n := 0
	want := int(end - off)
	for n < want {
		pos := off + int64(n)
		idx := pos / bs
		b, err := c.getBlock(ctx, key{r.f.ID, r.f.Gen, idx}, c.blockLen(size, idx), r.fetch, r.mode)
		if err != nil {
			return n, err
		}
		m := copy(p[n:want], b.data[pos-idx*bs:])
		c.release(b)
		if m == 0 {
			return n, errors.New("cache: empty block")
		}
		n += m
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// track records a read of [off, end) and queues read-ahead when it continues
// the previous read.
func (r *Reader) track(off, end int64) {
	c := r.c
	if c.raWin == 0 || r.mode == ReadNoCache || r.fetch == nil {
		return
	}
	r.mu.Lock()
	seq := off == r.lastEnd
	r.lastEnd = end
	if !seq {
		r.raNext = 0
		r.mu.Unlock()
		return
	}
	last, lastIdx := (end-1)/c.bs, (r.f.Size-1)/c.bs
	first := max(r.raNext, last+1)
	if first > last+int64(c.raWin) || first > lastIdx {
		r.mu.Unlock()
		return
	}
	// The window extends to a whole span, so a span is never split by the
	// window's edge: one Fetcher call per span.
	stop := min(max(last+int64(c.raWin), first+int64(c.raSpan)-1), lastIdx)
	r.raNext = stop + 1
	r.mu.Unlock()

	// Register a call for every missing block now, so that a reader missing
	// one waits for its span instead of fetching it alone. Consecutive
	// missing blocks form spans of up to raSpan blocks, one queued task each.
	var cur *span
	started, queueFull := 0, int64(-1)
	c.mu.Lock()
	for i := first; i <= stop && !c.closed; i++ {
		k := key{r.f.ID, r.f.Gen, i}
		disk := c.disk != nil && c.disk.has(k)
		if c.memPeek(k) != nil || c.inflight[k] != nil || disk && r.mode != ReadPromote {
			cur = nil
			continue
		}
		if cur == nil || cur.disk || disk || len(cur.calls) == c.raSpan {
			cur = &span{r: r, first: i, disk: disk}
			select {
			case c.raQueue <- cur:
			default: // queue full: forget the rest, a later read asks again
				queueFull = i
			}
			if queueFull >= 0 {
				break
			}
		}
		cl := &call{done: make(chan struct{}), store: true, promote: r.mode == ReadPromote, sp: cur}
		cur.calls = append(cur.calls, cl)
		c.inflight[k] = cl
		started++
	}
	c.mu.Unlock()
	c.readAheads.Add(int64(started))
	if queueFull >= 0 {
		r.mu.Lock()
		r.raNext = min(r.raNext, queueFull)
		r.mu.Unlock()
	}
}
