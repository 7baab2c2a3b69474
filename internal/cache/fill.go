package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Fetcher opens a stream of the file's n bytes at off from the UFS. The stream
// yields those bytes and then io.EOF (n may be 0: a stream that only ends); it
// ends sooner, with io.EOF, only at the end of the file. A stream that breaks
// (a Read error after some bytes that is not final, see retryable) is resumed:
// the cache opens another one for the rest, up to Config.FetchRetries times
// per fetch. An error before any byte, from the open or the first Read, is
// final: retrying it is the driver's job. The cache closes every stream it
// opens.
type Fetcher func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// retryBackoff is the pause before the first retry of a broken fetch; it
// doubles on each further retry of the same fill.
const retryBackoff = 10 * time.Millisecond

// call is one fill of one block, shared by every reader that misses it.
// Fields other than done are guarded by Cache.mu until done is closed, then
// read-only.
type call struct {
	done     chan struct{}
	waiters  int32 // readers waiting; each gets a reference to blk
	finished bool  // blk, err and references are set; done is (about to be) closed
	store    bool  // keep fetched data in memory (a ReadCache/ReadPromote reader wants it)
	promote  bool  // keep data read from disk in memory
	noStore  bool  // the file was dropped meanwhile
	fromDisk bool
	aborted  bool  // the fill's own context was cancelled (not a waiter's)
	sp       *span // the read-ahead span filling the block, if any
	// cancel ends a demand fill's own context (nil for read-ahead fills, which
	// run on their reader's): called when its last waiter leaves.
	cancel context.CancelFunc
	blk    *block
	err    error
}

// getBlock returns block k (of length n) from memory, disk or fetch, with a
// reference the caller releases. The caller's ctx bounds only its own wait. A
// demand fill (one no read-ahead started) is shared by every reader missing
// the block while it runs, on a context of its own: when all of them have
// left it is cancelled and forgotten, so that the next reader starts a fresh
// fill instead of joining one that nobody waits for (a fetch stuck on a
// broken connection, say). Read-ahead fills run on their reader's context.
func (c *Cache) getBlock(ctx context.Context, k key, n int64, fetch Fetcher, mode ReadMode) (*block, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if b := c.memGet(k); b != nil {
			c.mu.Unlock()
			c.hits.Add(1)
			return b, nil
		}
		cl := c.inflight[k]
		if cl == nil {
			fctx, cancel := context.WithCancel(c.ctx)
			cl = &call{done: make(chan struct{}), cancel: cancel}
			c.inflight[k] = cl
			go func() {
				c.fill(fctx, k, n, fetch, cl)
				cancel()
			}()
		} else if cl.sp != nil && cl.sp.claim() {
			go c.runSpan(cl.sp) // read-ahead queued but not started: run it now
		}
		cl.waiters++
		if mode != ReadNoCache {
			cl.store = true
		}
		if mode == ReadPromote {
			cl.promote = true
		}
		c.mu.Unlock()
		select {
		case <-cl.done:
		case <-ctx.Done():
			c.mu.Lock()
			finished := cl.finished
			if !finished {
				cl.waiters--
				if cl.waiters == 0 && cl.cancel != nil {
					// The last waiter of a demand fill: nobody wants it any more.
					if c.inflight[k] == cl {
						delete(c.inflight, k)
					}
					cl.cancel()
				}
			}
			c.mu.Unlock()
			if finished {
				<-cl.done
				if cl.blk != nil {
					c.release(cl.blk)
				}
			}
			return nil, ctx.Err()
		}
		if cl.err != nil && cl.aborted && ctx.Err() == nil && c.ctx.Err() == nil {
			continue // a read-ahead fill cancelled by its reader's Close: retry
		}
		if cl.err == nil {
			if cl.fromDisk {
				c.hits.Add(1)
				c.diskHits.Add(1)
			} else {
				c.misses.Add(1)
			}
		}
		return cl.blk, cl.err
	}
}

// fill loads block k from disk or, failing that, through fetch, completes cl
// and stores the data as the waiters asked. fctx is detached from every
// waiter: the Cache's context, or a read-ahead reader's.
func (c *Cache) fill(fctx context.Context, k key, n int64, fetch Fetcher, cl *call) {
	if c.disk != nil {
		if data, ok := c.readDisk(k, n); ok {
			c.mu.Lock()
			cl.fromDisk = true
			c.complete(k, n, cl, data, nil, false)
			c.mu.Unlock()
			close(cl.done)
			return
		}
	}
	c.fetchBlocks(fctx, k, []int64{n}, []*call{cl}, fetch)
}

// complete records the outcome of fill cl of block k (n bytes long) and, on
// success, hands data to its waiters and, as they asked, to the memory tier.
// aborted says the fill's own context ended. c.mu must be held; the caller
// closes cl.done once it is released.
func (c *Cache) complete(k key, n int64, cl *call, data []byte, err error, aborted bool) {
	if c.inflight[k] == cl {
		delete(c.inflight, k)
	}
	if err == nil && int64(len(data)) != n {
		err = fmt.Errorf("cache: block %d of file %d holds %d bytes, want %d: %w", k.idx, k.id, len(data), n, io.ErrUnexpectedEOF)
	}
	cl.err = err
	cl.aborted = err != nil && aborted
	cl.finished = true
	if err != nil {
		if data != nil {
			c.putBuf(data)
		}
		return
	}
	store := !cl.noStore && (cl.promote || cl.store && !cl.fromDisk)
	refs := cl.waiters
	if store {
		refs++
	}
	cl.blk = newBlock(data, refs)
	if store {
		c.memAdd(k, cl.blk)
	} else if refs == 0 {
		c.putBuf(data)
	}
}

// readDisk returns block k from the disk tier; a corrupt file is removed and
// counts as a miss.
func (c *Cache) readDisk(k key, n int64) ([]byte, bool) {
	c.mu.Lock()
	e := c.disk.lookup(k)
	c.mu.Unlock()
	if e == nil {
		return nil, false
	}
	buf := c.getBuf(n)
	data, err := readBlockFile(e, buf)
	if err == nil {
		return data, true
	}
	c.putBuf(buf)
	c.corrupt.Add(1)
	c.mu.Lock()
	c.disk.remove(e)
	victims := c.disk.takeVictims()
	c.mu.Unlock()
	e.removeFile()
	for _, v := range victims {
		v.removeFile()
	}
	return nil, false
}

// retryAfter reports whether a transfer that broke with err, after making
// progress, is to be resumed: err is retryable, the fill has retries left
// (*retried counts them) and ctx lasts through the backoff.
func (c *Cache) retryAfter(ctx context.Context, err error, retried *int) bool {
	if *retried >= c.retries || !retryable(err) {
		return false
	}
	t := time.NewTimer(retryBackoff << *retried)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	*retried++
	c.fetchRetries.Add(1)
	return true
}

// retryable says whether a fetch that failed with err may succeed when asked
// again: not at the end of the file, not when the fill's context ended, not
// when the version is gone or changed, not when access is denied. An error
// before any byte arrived is the driver's to retry; the cache retries breaks.
func retryable(err error) bool {
	for _, final := range []error{io.EOF, context.Canceled, context.DeadlineExceeded, ufs.ErrChanged, fs.ErrNotExist, fs.ErrPermission} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}
