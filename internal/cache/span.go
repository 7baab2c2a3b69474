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

// prefetch fills, for read-ahead, the blocks first..first+n-1 of r's file that
// are neither cached nor being filled, and waits for them. It runs on a
// read-ahead worker. Each run of consecutive missing blocks is fetched with one
// Fetcher call; every block of the run is registered in c.inflight before the
// fetch, so a reader missing any of them waits for that fetch.
func (c *Cache) prefetch(r *Reader, first int64, n int) {
	calls := make([]*call, n)
	onDisk := make([]bool, n) // a ReadPromote reader's disk hits: read from disk one by one
	started := 0
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	for i := range calls {
		k := key{r.f.ID, r.f.Gen, first + int64(i)}
		disk := c.disk != nil && c.disk.has(k)
		if c.inflight[k] != nil || c.memPeek(k) != nil || disk && r.mode != ReadPromote {
			continue
		}
		calls[i] = &call{done: make(chan struct{}), store: true, promote: r.mode == ReadPromote}
		c.inflight[k] = calls[i]
		onDisk[i] = disk
		started++
	}
	c.mu.Unlock()
	c.readAheads.Add(int64(started))
	for i := 0; i < n; {
		if calls[i] == nil {
			i++
			continue
		}
		k := key{r.f.ID, r.f.Gen, first + int64(i)}
		if onDisk[i] {
			c.fill(r.ctx, k, c.blockLen(r.f.Size, k.idx), r.fetch, calls[i])
			i++
			continue
		}
		var lens []int64
		j := i
		for ; j < n && calls[j] != nil && !onDisk[j]; j++ {
			lens = append(lens, c.blockLen(r.f.Size, first+int64(j)))
		}
		c.fetchBlocks(r.ctx, k, lens, calls[i:j], r.fetch)
		i = j
	}
}
