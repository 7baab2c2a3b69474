package cache

import (
	"bytes"
	"runtime"
	"testing"
)

// allocated returns the bytes fn allocated (every goroutine's).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Fills reuse the buffers of blocks that left the cache (dropped, or evicted at
// capacity) instead of allocating new ones.
func TestFillsRecycleBuffers(t *testing.T) {
	const bs = 1 << 20
	c := newCache(t, Config{BlockSize: bs, MemCapacity: 8 * bs, ReadAheadBlocks: 2, ReadAheadWorkers: 2})
	s := newSource(8*bs, 30)
	file := func(id, gen uint64) File { return File{ID: id, Gen: gen, Size: 8 * bs} }
	buf := make([]byte, bs)
	read := func(f File) { // readAll, without keeping what it read
		r := c.NewReader(f, s.fetch, ReadCache)
		defer r.Close()
		for off := int64(0); off < f.Size; off += bs {
			if n, err := r.ReadAt(t.Context(), buf, off); n != bs || !bytes.Equal(buf, s.data[off:off+bs]) {
				t.Fatalf("ReadAt(%d): %d bytes, %v, or wrong data", off, n, err)
			}
		}
		waitIdle(t, c)
	}
	if n := allocated(func() { read(file(1, 1)) }); n < 8*bs {
		t.Fatalf("the first read allocated %d bytes, less than its 8 blocks: the measure is wrong", n)
	}
	c.Drop(1)
	if n := allocated(func() { read(file(1, 2)) }); n >= bs {
		t.Fatalf("a read after Drop allocated %d bytes (want less than one block: the dropped blocks' buffers)", n)
	}
	// At capacity every fill evicts a block and reuses its buffer once its readers let go.
	// A fill may start before that: at most one buffer more per fill in flight (the demand
	// block and ReadAheadBlocks ahead of it), so 3 blocks at most, not 16.
	if n := allocated(func() { read(file(2, 1)); read(file(3, 1)) }); n >= 4*bs {
		t.Fatalf("16 fills at capacity allocated %d bytes (want at most 3 blocks: one per fill in flight)", n)
	}
	if st := c.Stats(); st.MemBytes > 8*bs || st.Evictions < 16 {
		t.Fatalf("MemBytes %d, Evictions %d: want at most the capacity, 16 evictions", st.MemBytes, st.Evictions)
	}
	c.pool.mu.Lock()
	kept := len(c.pool.free)
	c.pool.mu.Unlock()
	if kept > 8 {
		t.Fatalf("%d free buffers kept, more than the capacity's 8 blocks", kept)
	}
}

// Close releases the free buffers, and buffers released after it are not kept.
func TestCloseReleasesBuffers(t *testing.T) {
	c, err := New(Config{BlockSize: 16, MemCapacity: 16 * 16, ReadAheadBlocks: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(16*8, 31)
	f := File{ID: 1, Gen: 1, Size: int64(len(s.data))}
	readAll(t, c.NewReader(f, s.fetch, ReadCache), s.data, 16)
	b, err := c.getBlock(t.Context(), key{1, 1, 0}, 16, s.fetch, ReadCache) // a reader's reference
	if err != nil {
		t.Fatal(err)
	}
	c.Drop(1)
	c.Close()
	c.release(b)
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	if len(c.pool.free) != 0 {
		t.Fatalf("%d free buffers kept after Close", len(c.pool.free))
	}
}
