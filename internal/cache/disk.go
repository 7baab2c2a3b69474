package cache

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// diskTier indexes the block files of DiskDir. Its fields are guarded by
// Cache.mu; file I/O happens outside it. Invariant after every operation:
// unpinned + Cache.pinBytes <= capacity (pinned bytes include the buffers of
// pinned writers, so a reservation always finds room).
type diskTier struct {
	c        *Cache
	dir      string
	capacity int64
	bytes    int64 // data bytes of all indexed files
	unpinned int64 // data bytes of files in lru
	lru      *simplelru.LRU[key, *diskEntry]
	pinned   map[key]*diskEntry
	seq      atomic.Uint64
	evicting bool
	victims  []*diskEntry // files to remove once Cache.mu is released

	// Blocks evicted from memory wait here to be written by spillLoop.
	pending      map[key]*spillItem
	queue        []*spillItem
	pendingBytes int64
	maxPending   int64
	notify       chan struct{}
}

// spillItem holds one reference to its block until unqueued.
type spillItem struct {
	k         key
	blk       *block
	cancelled bool
}

// openDisk creates or re-indexes a disk tier.
func openDisk(c *Cache, dir string, capacity int64) (*diskTier, error) {
	d := &diskTier{
		c: c, dir: dir, capacity: capacity,
		pinned:     map[key]*diskEntry{},
		pending:    map[key]*spillItem{},
		maxPending: max(64<<20, 4*c.bs),
		notify:     make(chan struct{}, 1),
	}
	lru, err := simplelru.NewLRU[key, *diskEntry](math.MaxInt, d.onEvict)
	if err != nil {
		return nil, err
	}
	d.lru = lru
	if err := os.RemoveAll(filepath.Join(dir, "tmp")); err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	for _, sub := range []string{"tmp", "blocks"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("cache: disk tier: %w", err)
		}
	}
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(dir, "blocks", fmt.Sprintf("%02x", i)), 0o700); err != nil {
			return nil, fmt.Errorf("cache: disk tier: %w", err)
		}
	}
	if err := d.scan(); err != nil {
		return nil, err
	}
	return d, nil
}

// scan indexes the block files left by a previous Cache. Unpinned blocks enter
// the LRU oldest modification time first.
func (d *diskTier) scan() error {
	type found struct {
		e     *diskEntry
		mtime time.Time
	}
	var all []found
	byKey := map[key]int{}
	var maxSeq uint64
	subs, err := os.ReadDir(filepath.Join(d.dir, "blocks"))
	if err != nil {
		return fmt.Errorf("cache: disk tier: %w", err)
	}
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		sdir := filepath.Join(d.dir, "blocks", sub.Name())
		ents, err := os.ReadDir(sdir)
		if err != nil {
			return fmt.Errorf("cache: disk tier: %w", err)
		}
		for _, de := range ents {
			p := filepath.Join(sdir, de.Name())
			k, seq, pinned, ok := parseBlockName(de.Name())
			if !ok || !de.Type().IsRegular() {
				continue // not ours: leave it alone
			}
			maxSeq = max(maxSeq, seq)
			n, err := readHeaderFile(p, k)
			if err != nil {
				d.c.corrupt.Add(1)
				os.Remove(p)
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue
			}
			f := found{&diskEntry{k: k, size: n, seq: seq, pinned: pinned, path: p}, info.ModTime()}
			if i, dup := byKey[k]; dup {
				// A crash can leave two files of one block: keep the pinned
				// one, else the newer.
				old := all[i].e
				if old.pinned && !pinned || old.pinned == pinned && old.seq > seq {
					f.e.removeFile()
					continue
				}
				old.removeFile()
				all[i] = f
				continue
			}
			byKey[k] = len(all)
			all = append(all, f)
		}
	}
	d.seq.Store(maxSeq)
	slices.SortFunc(all, func(a, b found) int {
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		return int(a.e.seq - b.e.seq)
	})
	c := d.c
	for _, f := range all {
		e := f.e
		if e.pinned {
			d.pinned[e.k] = e
			c.pinBytes += e.size
		} else {
			d.lru.Add(e.k, e)
			d.unpinned += e.size
		}
		d.bytes += e.size
		c.fileIdx(e.k.id).disk[e.k] = struct{}{}
	}
	d.evictFor(0)
	for _, v := range d.takeVictims() {
		v.removeFile()
	}
	return nil
}

// size returns the data bytes of block k on disk, 0 if absent.
func (d *diskTier) size(k key) int64 {
	if e := d.pinned[k]; e != nil {
		return e.size
	}
	if e, ok := d.lru.Peek(k); ok {
		return e.size
	}
	return 0
}

// has reports whether block k is on disk.
func (d *diskTier) has(k key) bool {
	return d.pinned[k] != nil || d.lru.Contains(k)
}

// lookup returns the entry of block k, marking it recently used.
func (d *diskTier) lookup(k key) *diskEntry {
	if e := d.pinned[k]; e != nil {
		return e
	}
	e, _ := d.lru.Get(k)
	return e
}

// evictFor evicts unpinned files until n more unpinned bytes fit. The
// victims' files are removed by whoever calls takeVictims.
func (d *diskTier) evictFor(n int64) {
	d.evicting = true
	for d.unpinned+n+d.c.pinBytes > d.capacity {
		if _, _, ok := d.lru.RemoveOldest(); !ok {
			break
		}
	}
	d.evicting = false
}

// takeVictims returns the files removed from the index so far.
func (d *diskTier) takeVictims() []*diskEntry {
	v := d.victims
	d.victims = nil
	return v
}

// onEvict is the disk LRU's removal callback.
func (d *diskTier) onEvict(k key, e *diskEntry) {
	if d.evicting {
		d.c.diskEvictions.Add(1)
	}
	d.unpinned -= e.size
	d.bytes -= e.size
	d.victims = append(d.victims, e)
	if fi := d.c.files[k.id]; fi != nil {
		delete(fi.disk, k)
	}
	d.c.forgetIfEmpty(k.id)
}

// insert indexes a newly written file, replacing an older file of the same
// block unless that one is pinned and the new one is not. It reports whether
// e was indexed; if not, the caller removes its file.
func (d *diskTier) insert(e *diskEntry) bool {
	if old := d.pinned[e.k]; old != nil {
		if !e.pinned {
			return false
		}
		d.remove(old)
	} else if old, ok := d.lru.Peek(e.k); ok {
		d.remove(old)
	}
	if e.pinned {
		d.pinned[e.k] = e
	} else {
		d.lru.Add(e.k, e)
		d.unpinned += e.size
	}
	d.bytes += e.size
	d.c.fileIdx(e.k.id).disk[e.k] = struct{}{}
	return true
}

// remove drops e from the index (if it is still the indexed file of its
// block) and queues its file for removal; a pinned entry's reservation is
// released.
func (d *diskTier) remove(e *diskEntry) {
	if e.pinned {
		if d.pinned[e.k] != e {
			return
		}
		delete(d.pinned, e.k)
		d.bytes -= e.size
		d.c.pinBytes -= e.size
		d.victims = append(d.victims, e)
		if fi := d.c.files[e.k.id]; fi != nil {
			delete(fi.disk, e.k)
		}
		d.c.forgetIfEmpty(e.k.id)
		return
	}
	if cur, ok := d.lru.Peek(e.k); ok && cur == e {
		d.lru.Remove(e.k)
	}
}

// enqueueSpill queues a block evicted from memory for writing to disk, taking
// over the memory tier's reference. It reports false (and queues nothing)
// when the block is already on disk or the queue is full.
func (d *diskTier) enqueueSpill(k key, b *block) bool {
	n := int64(len(b.data))
	if d.pending[k] != nil || d.pinned[k] != nil || d.lru.Contains(k) {
		return false
	}
	if d.pendingBytes+n > d.maxPending || n > d.capacity {
		return false
	}
	it := &spillItem{k: k, blk: b}
	d.pending[k] = it
	d.queue = append(d.queue, it)
	d.pendingBytes += n
	d.wake()
	return true
}

// cancelSpill drops block k from the spill queue.
func (d *diskTier) cancelSpill(k key) {
	it := d.pending[k]
	if it == nil {
		return
	}
	it.cancelled = true
	d.unqueue(it)
}

// unqueue forgets a spill item and its file index entry, and releases its
// reference.
func (d *diskTier) unqueue(it *spillItem) {
	if d.pending[it.k] != it {
		return
	}
	delete(d.pending, it.k)
	d.pendingBytes -= int64(len(it.blk.data))
	d.c.release(it.blk)
	if fi := d.c.files[it.k.id]; fi != nil && !d.c.lru.Contains(it.k) {
		if _, ok := d.c.pinned[it.k]; !ok {
			delete(fi.mem, it.k)
		}
	}
	d.c.forgetIfEmpty(it.k.id)
}

func (d *diskTier) wake() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// spillLoop writes queued blocks to disk until the Cache closes.
func (d *diskTier) spillLoop() {
	defer d.c.wg.Done()
	c := d.c
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-d.notify:
		}
		for {
			c.mu.Lock()
			if c.closed || len(d.queue) == 0 {
				c.mu.Unlock()
				break
			}
			it := d.queue[0]
			d.queue[0] = nil
			d.queue = d.queue[1:]
			if it.cancelled {
				c.mu.Unlock()
				continue
			}
			it.blk.refs.Add(1) // ours while writing: unqueue may release the item's
			c.mu.Unlock()
			seq := d.seq.Add(1)
			path, err := writeBlockFile(d.dir, it.k, seq, false, false, it.blk.data)
			c.release(it.blk)
			e := &diskEntry{k: it.k, size: int64(len(it.blk.data)), seq: seq, path: path}
			c.mu.Lock()
			ok := err == nil && !it.cancelled && !c.closed
			d.unqueue(it)
			if ok {
				d.evictFor(e.size)
				ok = d.unpinned+e.size+c.pinBytes <= d.capacity && d.insert(e)
			}
			victims := d.takeVictims()
			c.mu.Unlock()
			if err == nil && !ok {
				e.removeFile()
			}
			for _, v := range victims {
				v.removeFile()
			}
		}
	}
}

// unpin marks the pinned files of blocks ks as evictable; it returns the
// entries whose files must be renamed once Cache.mu is released.
func (d *diskTier) unpin(ks []key) []*diskEntry {
	var out []*diskEntry
	for _, k := range ks {
		e := d.pinned[k]
		if e == nil {
			continue
		}
		delete(d.pinned, k)
		e.pinned = false
		d.c.pinBytes -= e.size
		d.unpinned += e.size
		d.lru.Add(k, e)
		out = append(out, e)
	}
	return out
}
