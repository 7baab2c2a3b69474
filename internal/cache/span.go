package cache

import (
	"context"
	"fmt"
	"io"
)

// fetchBlocks fetches the consecutive blocks first, first+1, ... (lens[i]
// bytes each, every block but the file's last full) with one Fetcher call and
// completes their fills, calls[i] being block first+i's. A single block is
// fetched straight into a block buffer; a span goes through a span buffer and
// is copied into block buffers, so blocks stay independent for eviction and
// buffer recycling. A fetch error fails every block of the span; a short read
// (EOF before the file's size) fails only the blocks it does not cover.
func (c *Cache) fetchBlocks(fctx context.Context, first key, lens []int64, calls []*call, fetch Fetcher) {
	var total int64
	for _, n := range lens {
		total += n
	}
	err := fctx.Err() // a closed reader's fetch is not called again
	if err == nil && fetch == nil {
		err = fmt.Errorf("block %d of file %d: %w", first.idx, first.id, ErrBlockLost)
	}
	var buf []byte
	var spanBuf *[]byte
	got := 0
	if err == nil {
		if len(lens) == 1 {
			buf = c.getBuf(total)
		} else {
			spanBuf = c.getSpanBuf()
			buf = (*spanBuf)[:total]
		}
		got, err = c.fetchRange(fctx, first.idx*c.bs, buf, fetch)
	}
	data := make([][]byte, len(lens))
	errs := make([]error, len(lens))
	var off int64
	for i, n := range lens {
		switch {
		case err != nil:
			errs[i] = err
		case off+n > int64(got):
			errs[i] = fmt.Errorf("cache: block %d of file %d: fetched %d of %d bytes: %w",
				first.idx+int64(i), first.id, max(0, int64(got)-off), n, io.ErrUnexpectedEOF)
		case spanBuf == nil:
			data[i] = buf
		default:
			data[i] = c.getBuf(n)
			copy(data[i], buf[off:off+n])
		}
		off += n
	}
	if spanBuf != nil {
		c.spanBufs.Put(spanBuf)
	} else if buf != nil && data[0] == nil {
		c.putBuf(buf)
	}
	aborted := fctx.Err() != nil
	c.mu.Lock()
	for i, cl := range calls {
		k := first
		k.idx += int64(i)
		c.complete(k, lens[i], cl, data[i], errs[i], aborted)
	}
	c.mu.Unlock()
	for _, cl := range calls {
		close(cl.done)
	}
}

// getSpanBuf returns a buffer of one read-ahead span (raSpan blocks). Span
// buffers live in a sync.Pool: they exist only while a read-ahead fetch runs,
// so idle ones are left to the garbage collector.
func (c *Cache) getSpanBuf() *[]byte {
	if p, ok := c.spanBufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, int64(c.raSpan)*c.bs)
	return &b
}

// span is a read-ahead fill of consecutive blocks of one file: one Fetcher
// call, or one disk read for a ReadPromote reader's disk-tier block. Its
// calls are registered in c.inflight as soon as the read-ahead is decided
// (Reader.track), so a reader missing any of its blocks waits for it; a
// read-ahead worker runs it, or the first reader needing one of its blocks if
// no worker has yet.
type span struct {
	r       *Reader
	first   int64
	disk    bool // one block held by the disk tier: fill reads it from there
	calls   []*call
	started bool // guarded by Cache.mu: claimed by a worker or a reader
}

// claim marks sp started and reports whether it was not already. c.mu must
// be held.
func (sp *span) claim() bool {
	if sp.started {
		return false
	}
	sp.started = true
	return true
}

// runSpan runs the span sp, which the caller claimed.
func (c *Cache) runSpan(sp *span) {
	r := sp.r
	k := key{r.f.ID, r.f.Gen, sp.first}
	if sp.disk {
		c.fill(r.ctx, k, c.blockLen(r.f.Size, k.idx), r.fetch, sp.calls[0])
		return
	}
	lens := make([]int64, len(sp.calls))
	for i := range lens {
		lens[i] = c.blockLen(r.f.Size, sp.first+int64(i))
	}
	c.fetchBlocks(r.ctx, k, lens, sp.calls, r.fetch)
}

// readAheadWorker runs queued read-ahead spans until the Cache closes. Spans
// of a closed reader complete without a fetch (their context is cancelled).
func (c *Cache) readAheadWorker() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case sp := <-c.raQueue:
			c.mu.Lock()
			run := sp.claim()
			c.mu.Unlock()
			if run {
				c.runSpan(sp)
			}
		}
	}
}

// drainReadAhead completes the spans left in the queue once the workers have
// stopped: their fills fail with the cancelled context, so no waiter is left
// hanging. Spans are queued under c.mu and only while the Cache is open.
func (c *Cache) drainReadAhead() {
	var left []*span
	c.mu.Lock()
	for len(c.raQueue) > 0 {
		if sp := <-c.raQueue; sp.claim() {
			left = append(left, sp)
		}
	}
	c.mu.Unlock()
	for _, sp := range left {
		c.runSpan(sp)
	}
}
