package cache

import (
	"cmp"
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
