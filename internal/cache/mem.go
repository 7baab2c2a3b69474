package cache

import "fmt"

// The memory tier: unpinned blocks in c.lru (bounded in bytes by evictMem),
// pinned blocks in c.pinned when there is no disk tier. With a disk tier,
// pinned blocks live on disk and memory holds only evictable copies. Every
// function here needs c.mu held.

// memGet returns block k from memory (or from the queue of blocks waiting to
// be spilled to disk) with a reference for the caller, marking it recently
// used; nil if absent.
func (c *Cache) memGet(k key) *block {
	b, ok := c.pinned[k]
	if !ok {
		b, ok = c.lru.Get(k)
	}
	if !ok && c.disk != nil {
		if it := c.disk.pending[k]; it != nil {
			b, ok = it.blk, true
		}
	}
	if !ok {
		return nil
	}
	b.refs.Add(1)
	return b
}

// memPeek returns block k from memory without touching its recency.
// No reference is taken: use only its length.
func (c *Cache) memPeek(k key) *block {
	if b, ok := c.pinned[k]; ok {
		return b
	}
	if b, ok := c.lru.Peek(k); ok {
		return b
	}
	if c.disk != nil {
		if it := c.disk.pending[k]; it != nil {
			return it.blk
		}
	}
	return nil
}

// memReserved returns the bytes of the memory bound taken by pinned data: all of it
// without a disk tier; with one, the blocks held in memory (Hold).
func (c *Cache) memReserved() int64 {
	if c.disk != nil {
		return c.pinMem
	}
	return c.pinBytes
}

// memAdd stores an unpinned block, taking over one of its references, and
// evicts down to the byte bound (which may evict the new block itself when
// pinned data fills memory).
func (c *Cache) memAdd(k key, b *block) {
	if _, ok := c.pinned[k]; ok || c.closed {
		c.release(b)
		return
	}
	c.lru.Remove(k)
	c.lru.Add(k, b)
	c.lruBytes += int64(len(b.data))
	c.fileIdx(k.id).mem[k] = struct{}{}
	c.evictMem()
}

// pinAdd stores a pinned block in memory, taking over one of its references;
// its bytes are already reserved.
func (c *Cache) pinAdd(k key, b *block) {
	c.lru.Remove(k)
	c.pinned[k] = b
	c.pinMem += int64(len(b.data))
	c.fileIdx(k.id).mem[k] = struct{}{}
}

// memRemove drops block k from memory, releasing its pinned reservation.
func (c *Cache) memRemove(k key) {
	if b, ok := c.pinned[k]; ok {
		delete(c.pinned, k)
		c.pinMem -= int64(len(b.data))
		c.pinBytes -= int64(len(b.data))
		c.release(b)
		delete(c.files[k.id].mem, k)
		c.forgetIfEmpty(k.id)
		return
	}
	if !c.lru.Remove(k) && c.disk != nil {
		c.disk.cancelSpill(k)
	}
}

// evictMem evicts least recently used blocks until the memory bound holds.
func (c *Cache) evictMem() {
	c.evicting = true
	for c.lruBytes+c.memReserved() > c.memCap {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
	c.evicting = false
}

// onMemEvict is the LRU's removal callback: it keeps the byte count and the
// file index, and hands evicted blocks to the disk tier.
func (c *Cache) onMemEvict(k key, b *block) {
	c.lruBytes -= int64(len(b.data))
	if c.evicting {
		c.evictions.Add(1)
		// A block queued for the disk tier stays in the file index (and is
		// served from the queue) until it is written.
		if c.disk != nil && !c.closed && c.disk.enqueueSpill(k, b) {
			return
		}
	}
	c.release(b)
	if fi := c.files[k.id]; fi != nil {
		delete(fi.mem, k)
	}
	c.forgetIfEmpty(k.id)
}

// reservePinned reserves n bytes for pinned data of file id, making room by
// eviction; it fails with ErrNoSpace when pinned bytes would exceed the
// capacity. It returns disk files to remove once c.mu is released.
func (c *Cache) reservePinned(id uint64, n int64) ([]*diskEntry, error) {
	capacity, tier := c.memCap, "memory"
	if c.disk != nil {
		capacity, tier = c.disk.capacity, "disk"
	}
	if c.pinBytes+n > capacity {
		return nil, fmt.Errorf("cache: file %d: %d more pinned bytes would exceed the %s capacity (%d of %d pinned): %w",
			id, n, tier, c.pinBytes, capacity, ErrNoSpace)
	}
	c.pinBytes += n
	if c.disk != nil {
		c.disk.evictFor(0)
		return c.disk.takeVictims(), nil
	}
	c.evictMem()
	return nil, nil
}
