package cache

import (
	"context"
	"fmt"
	"io"
)

// fetchBlocks fetches the consecutive blocks first, first+1, ... (lens[i]
// bytes each, every block but the file's last full) through one stream and
// completes their fills, calls[i] being block first+i's. Each block is read
// from the stream straight into its own buffer and completed as soon as it is
// in, so a reader waiting for the first block of a span does not wait for the
// rest. An error fails the block it hit and the ones after it; a stream that
// ends before the file's size fails the blocks it does not cover.
func (c *Cache) fetchBlocks(fctx context.Context, first key, lens []int64, calls []*call, fetch Fetcher) {
	var total int64
	for _, n := range lens {
		total += n
	}
	err := fctx.Err() // a closed reader's fetch is not called again
	if err == nil && fetch == nil {
		err = fmt.Errorf("block %d of file %d: %w", first.idx, first.id, ErrBlockLost)
	}
	st := &stream{c: c, ctx: fctx, fetch: fetch, off: first.idx * c.bs, n: total}
	defer st.closeStream()
	if err == nil {
		c.fetches.Add(1)
	}
	for i, n := range lens {
		k := first
		k.idx += int64(i)
		var data []byte
		if err == nil {
			data = c.getBuf(n)
			var got int
			got, err = st.read(data)
			if err == nil && int64(got) < n {
				err = fmt.Errorf("cache: block %d of file %d: fetched %d of %d bytes: %w", k.idx, k.id, got, n, io.ErrUnexpectedEOF)
			}
			if err == nil && i == len(lens)-1 {
				err = st.end()
			}
			if err != nil {
				c.putBuf(data)
				data = nil
			}
		}
		c.mu.Lock()
		c.complete(k, n, calls[i], data, err, fctx.Err() != nil)
		c.mu.Unlock()
		close(calls[i].done)
	}
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
