package cache

import (
	"sync"
	"sync/atomic"
)

// block is the data of one cached block. Its buffer is recycled for new fills
// when the last reference goes: the memory tier holds one reference, and
// every reader copying from it, waiter of its fill or spill in progress holds
// one more. Without recycling, a cache running at capacity allocates (and
// the GC clears) one block per fill.
type block struct {
	data []byte
	refs atomic.Int32
}

// bufPool keeps free full-size block buffers, up to max.
type bufPool struct {
	mu     sync.Mutex
	free   [][]byte
	max    int
	closed bool // the Cache closed: nothing is kept any more
}

// close drops the free buffers and stops keeping released ones.
func (p *bufPool) close() {
	p.mu.Lock()
	p.free, p.closed = nil, true
	p.mu.Unlock()
}

// getBuf returns a buffer of n bytes with undefined content.
func (c *Cache) getBuf(n int64) []byte {
	if n == c.bs {
		p := &c.pool
		p.mu.Lock()
		if k := len(p.free); k > 0 {
			b := p.free[k-1]
			p.free[k-1] = nil
			p.free = p.free[:k-1]
			p.mu.Unlock()
			return b
		}
		p.mu.Unlock()
	}
	return make([]byte, n)
}

// putBuf offers a buffer nobody references any more for reuse.
func (c *Cache) putBuf(b []byte) {
	if int64(cap(b)) != c.bs {
		return
	}
	p := &c.pool
	p.mu.Lock()
	if len(p.free) < p.max && !p.closed {
		p.free = append(p.free, b[:c.bs])
	}
	p.mu.Unlock()
}

// newBlock wraps data in a block holding refs references.
func newBlock(data []byte, refs int32) *block {
	b := &block{data: data}
	b.refs.Store(refs)
	return b
}

// release drops one reference to b, recycling its buffer after the last.
func (c *Cache) release(b *block) {
	if b.refs.Add(-1) == 0 {
		c.putBuf(b.data)
	}
}
