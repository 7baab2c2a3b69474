package cache

import (
	"cmp"
	"context"
	"fmt"
	"slices"
)

// Unpin makes the blocks of every generation of file id evictable (call it
// once the file is persisted). On disk this renames each block file, so the
// pinned state survives a restart. Writers of the file still open keep
// pinning the blocks they store later.
func (c *Cache) Unpin(id uint64) {
	var renames []*diskEntry
	c.mu.Lock()
	if fi := c.files[id]; fi != nil {
		for k := range fi.mem {
			if b, ok := c.pinned[k]; ok {
				delete(c.pinned, k)
				c.pinMem -= int64(len(b.data))
				c.pinBytes -= int64(len(b.data))
				c.lru.Add(k, b)
				c.lruBytes += int64(len(b.data))
			}
		}
		if c.disk != nil {
			renames = c.disk.unpin(keysOf(fi.disk))
		}
		c.evictMem()
	}
	c.mu.Unlock()
	for _, e := range renames {
		e.rename(false) // on failure the block is still pinned after a restart: Unpin again then
	}
}

// Drop removes every block of every generation of file id, pinned or not, from
// both tiers; fills in flight for it store nothing and its open writers fail
// with ErrDropped. Use it on delete, Free and content change.
func (c *Cache) Drop(id uint64) {
	c.mu.Lock()
	if fi := c.files[id]; fi != nil {
		for _, k := range append(keysOf(fi.mem), keysOf(fi.disk)...) {
			c.removeBlock(k)
		}
	}
	for k, cl := range c.inflight {
		if k.id == id {
			cl.noStore = true
		}
	}
	for w := range c.writers {
		if w.id == id {
			w.dropped = true
		}
	}
	var victims []*diskEntry
	if c.disk != nil {
		victims = c.disk.takeVictims()
	}
	c.mu.Unlock()
	removeAll(victims)
}

// removeBlock removes block k from both tiers. c.mu must be held; the caller
// removes the disk victims.
func (c *Cache) removeBlock(k key) {
	c.memRemove(k)
	if c.disk == nil {
		return
	}
	if e := c.disk.pinned[k]; e != nil {
		c.disk.remove(e)
	} else if e, ok := c.disk.lru.Peek(k); ok {
		c.disk.remove(e)
	}
}

func keysOf(m map[key]struct{}) []key {
	out := make([]key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortPinned(p []PinnedFile) {
	slices.SortFunc(p, func(a, b PinnedFile) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Gen, b.Gen)
	})
}

// Hold makes every block of f resident in memory and unevictable until Unpin(f.ID) or
// Drop(f.ID), fetching the missing ones through fetch first. It is for a version whose
// only other copy is about to leave the UFS while readers still read it. When the pinned
// bytes would exceed the capacity it fails with an error wrapping ErrNoSpace; the blocks
// it held by then stay held.
func (c *Cache) Hold(ctx context.Context, f File, fetch Fetcher) error {
	for idx := int64(0); idx*c.bs < f.Size; idx++ {
		k := key{f.ID, f.Gen, idx}
		n := c.blockLen(f.Size, idx)
		b, err := c.getBlock(ctx, k, n, fetch, ReadCache)
		if err != nil {
			return err
		}
		c.mu.Lock()
		// A block the disk tier pins (a not yet persisted file's) is held already: pinning
		// its memory copy too would count its bytes twice.
		if _, held := c.pinned[k]; held || c.closed || c.disk != nil && c.disk.pinned[k] != nil {
			c.release(b)
			c.mu.Unlock()
			continue
		}
		capacity := c.memCap
		if c.disk != nil {
			capacity = c.disk.capacity
		}
		if c.pinBytes+n > capacity {
			c.release(b)
			c.mu.Unlock()
			return fmt.Errorf("cache: holding file %d: %d more pinned bytes would exceed the capacity (%d of %d pinned): %w",
				f.ID, n, c.pinBytes, capacity, ErrNoSpace)
		}
		c.lru.Remove(k) // drops the memory tier's own reference; b is ours
		c.pinBytes += n
		c.pinAdd(k, b)
		c.evictMem()
		c.mu.Unlock()
	}
	return nil
}

// Keep copies the blocks of f held in memory to the disk tier (a no-op without one), so
// that they survive a restart, and returns once they are written. Blocks that do not fit
// in the disk tier are left out.
func (c *Cache) Keep(f File) error {
	d := c.disk
	if d == nil {
		return nil
	}
	for idx := int64(0); idx*c.bs < f.Size; idx++ {
		k := key{f.ID, f.Gen, idx}
		c.mu.Lock()
		var b *block
		if !c.closed && !d.has(k) && d.pending[k] == nil {
			b = c.memGet(k)
		}
		c.mu.Unlock()
		if b == nil {
			continue
		}
		seq := d.seq.Add(1)
		path, err := writeBlockFile(d.dir, k, seq, false, false, b.data)
		e := &diskEntry{k: k, size: int64(len(b.data)), seq: seq, path: path}
		c.release(b)
		if err != nil {
			return err
		}
		c.mu.Lock()
		ok := !c.closed
		if ok {
			d.evictFor(e.size)
			ok = d.unpinned+e.size+c.pinBytes <= d.capacity && d.insert(e)
		}
		victims := d.takeVictims()
		c.mu.Unlock()
		if !ok {
			e.removeFile()
		}
		removeAll(victims)
	}
	return nil
}

// Capacity returns the memory tier's and the disk tier's capacities in bytes (disk 0
// without a disk tier).
func (c *Cache) Capacity() (mem, disk int64) {
	if c.disk != nil {
		disk = c.disk.capacity
	}
	return c.memCap, disk
}
