package cache

import (
	"context"
	"errors"
	"io"
	"testing"
)

func TestReadThroughThenHit(t *testing.T) {
	c := newCache(t, Config{BlockSize: 64, ReadAheadBlocks: -1})
	s := newSource(1000, 1) // 15 full blocks and one of 40 bytes
	f := File{ID: 1, Gen: 1, Size: 1000}
	r := c.NewReader(f, s.fetch, ReadCache)
	defer r.Close()
	readAll(t, r, s.data, 100)
	if got := s.calls.Load(); got != 16 {
		t.Fatalf("fetches = %d, want 16 (one per block)", got)
	}
	readAll(t, r, s.data, 7)
	st := c.Stats()
	if st.Fetches != 16 || s.calls.Load() != 16 {
		t.Fatalf("second pass fetched: stats %+v, calls %d", st, s.calls.Load())
	}
	if st.MemBytes != 1000 || c.CachedBytes(f) != 1000 {
		t.Fatalf("MemBytes %d CachedBytes %d, want 1000 (partial block counts 40)", st.MemBytes, c.CachedBytes(f))
	}
	if st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("hit/miss counters not kept: %+v", st)
	}
}

func TestReadAtSemantics(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	s := newSource(40, 2)
	r := c.NewReader(File{ID: 1, Gen: 1, Size: 40}, s.fetch, ReadCache)
	buf := make([]byte, 30)
	n, err := r.ReadAt(context.Background(), buf, 20)
	if n != 20 || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt past end: n=%d err=%v, want 20, io.EOF", n, err)
	}
	if n, err := r.ReadAt(context.Background(), buf, 40); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at end: n=%d err=%v", n, err)
	}
	if _, err := r.ReadAt(context.Background(), buf, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	// The UFS holds fewer bytes than the size says: an error, nothing cached.
	short := c.NewReader(File{ID: 2, Gen: 1, Size: 50}, s.fetch, ReadCache)
	if _, err := short.ReadAt(context.Background(), make([]byte, 10), 40); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short fetch: err=%v, want io.ErrUnexpectedEOF", err)
	}
	if c.Has(File{ID: 2, Gen: 1}, 2) {
		t.Fatal("short block cached")
	}
	r.Close()
	if _, err := r.ReadAt(context.Background(), buf, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
}

func TestByteBoundEvictionOrder(t *testing.T) {
	// Capacity 40 bytes, blocks of 16: file A has blocks of 16, 16, 8.
	c := newCache(t, Config{BlockSize: 16, MemCapacity: 40, ReadAheadBlocks: -1})
	s := newSource(40, 3)
	fa := File{ID: 1, Gen: 1, Size: 40}
	ra := c.NewReader(fa, s.fetch, ReadCache)
	for _, i := range []int64{0, 1, 2} {
		readBlock(t, ra, s, 16, i)
	}
	if st := c.Stats(); st.MemBytes != 40 || st.Evictions != 0 {
		t.Fatalf("after A: %+v, want 40 bytes held (partial block counts 8), no eviction", st)
	}
	readBlock(t, ra, s, 16, 0) // block 0 becomes most recent: LRU order is 1, 2, 0
	fb := File{ID: 2, Gen: 1, Size: 16}
	rb := c.NewReader(fb, s.fetch, ReadCache)
	readBlock(t, rb, s, 16, 0) // +16 bytes: evicts block 1 only (40-16+16 = 40)
	if c.Has(fa, 1) || !c.Has(fa, 0) || !c.Has(fa, 2) || !c.Has(fb, 0) {
		t.Fatalf("after B: has A0=%v A1=%v A2=%v B0=%v, want A1 evicted only",
			c.Has(fa, 0), c.Has(fa, 1), c.Has(fa, 2), c.Has(fb, 0))
	}
	readBlock(t, rb, s, 16, 0)
	readBlock(t, ra, s, 16, 1) // +16: evicts the oldest, A2 (8 bytes), then A0
	if c.Has(fa, 2) || c.Has(fa, 0) || !c.Has(fb, 0) || !c.Has(fa, 1) {
		t.Fatal("wrong victims: want A2 then A0 evicted")
	}
	st := c.Stats()
	if st.MemBytes != 32 || st.Evictions != 3 {
		t.Fatalf("stats %+v, want MemBytes 32, Evictions 3", st)
	}
}

func TestPinnedSurvivePressure(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, MemCapacity: 64, ReadAheadBlocks: -1})
	pf := File{ID: 9, Gen: 1}
	data := newSource(40, 4).data
	writeFile(t, c, pf, true, data, 7)
	if st := c.Stats(); st.PinnedBytes != 40 || st.MemBytes != 40 {
		t.Fatalf("stats after pinned write: %+v", st)
	}
	s := newSource(1000, 5)
	r := c.NewReader(File{ID: 1, Gen: 1, Size: 1000}, s.fetch, ReadCache)
	readAll(t, r, s.data, 50) // far more than the 24 bytes left
	for i := int64(0); i < 3; i++ {
		if !c.Has(pf, i) {
			t.Fatalf("pinned block %d evicted", i)
		}
	}
	st := c.Stats()
	if st.MemBytes > 64 || st.Evictions == 0 {
		t.Fatalf("byte bound not kept under pressure: %+v", st)
	}
	// Pinned blocks read without a fetch function.
	pr := c.NewReader(File{ID: 9, Gen: 1, Size: 40}, nil, ReadCache)
	readAll(t, pr, data, 9)
	if p := c.PinnedFiles(); len(p) != 1 || p[0] != (PinnedFile{ID: 9, Gen: 1, Bytes: 40, Blocks: 3, Contiguous: true}) {
		t.Fatalf("PinnedFiles = %+v", p)
	}
	// Unpinned, they are evicted like others.
	c.Unpin(9)
	readAll(t, r, s.data, 50)
	if c.CachedBytes(pf) != 0 || c.Stats().PinnedBytes != 0 {
		t.Fatalf("unpinned blocks not evicted: cached %d, %+v", c.CachedBytes(pf), c.Stats())
	}
}

func TestOutOfSpaceMemory(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, MemCapacity: 64, ReadAheadBlocks: -1})
	writeFile(t, c, File{ID: 1, Gen: 1}, true, make([]byte, 40), 40)
	w := c.NewWriter(File{ID: 2, Gen: 1}, true)
	if _, err := w.Write(make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	n, err := w.Write(make([]byte, 5))
	if !errors.Is(err, ErrNoSpace) || n != 0 {
		t.Fatalf("Write over capacity: n=%d err=%v, want 0, ErrNoSpace", n, err)
	}
	w.Abort()
	st := c.Stats()
	if st.PinnedBytes != 40 || c.CachedBytes(File{ID: 2, Gen: 1}) != 0 {
		t.Fatalf("after Abort: %+v, cached %d; want only file 1 pinned", st, c.CachedBytes(File{ID: 2, Gen: 1}))
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
	// The space is free again.
	writeFile(t, c, File{ID: 3, Gen: 1}, true, make([]byte, 24), 5)
	// Unpinned writers never fail for space.
	writeFile(t, c, File{ID: 4, Gen: 1}, false, make([]byte, 200), 64)
	if st := c.Stats(); st.PinnedBytes != 64 || st.MemBytes > 64 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDropAndGenerations(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	v1, v2 := newSource(50, 6), newSource(50, 7)
	f1 := File{ID: 5, Gen: 1, Size: 50}
	f2 := File{ID: 5, Gen: 2, Size: 50}
	readAll(t, c.NewReader(f1, v1.fetch, ReadCache), v1.data, 50)
	// A new generation never sees the old one's blocks.
	readAll(t, c.NewReader(f2, v2.fetch, ReadCache), v2.data, 50)
	writeFile(t, c, File{ID: 5, Gen: 3}, true, make([]byte, 20), 20)
	other := newSource(20, 8)
	fo := File{ID: 6, Gen: 1, Size: 20}
	readAll(t, c.NewReader(fo, other.fetch, ReadCache), other.data, 20)
	c.Drop(5)
	for _, f := range []File{f1, f2, {ID: 5, Gen: 3}} {
		if c.CachedBytes(f) != 0 || c.Has(f, 0) {
			t.Fatalf("gen %d survives Drop", f.Gen)
		}
	}
	if st := c.Stats(); st.PinnedBytes != 0 || st.MemBytes != 20 || c.CachedBytes(fo) != 20 {
		t.Fatalf("after Drop: %+v", st)
	}
	// A dropped file with no fetch function is lost, not served stale.
	if _, err := c.NewReader(f2, nil, ReadCache).ReadAt(context.Background(), make([]byte, 4), 0); !errors.Is(err, ErrBlockLost) {
		t.Fatalf("read of dropped block: %v, want ErrBlockLost", err)
	}
}

func TestDropFailsOpenWriter(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	w := c.NewWriter(File{ID: 1, Gen: 1}, true)
	if _, err := w.Write(make([]byte, 40)); err != nil {
		t.Fatal(err)
	}
	c.Drop(1)
	if _, err := w.Write(make([]byte, 1)); !errors.Is(err, ErrDropped) {
		t.Fatalf("Write after Drop: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrDropped) {
		t.Fatalf("Close after Drop: %v", err)
	}
	if st := c.Stats(); st.PinnedBytes != 0 || st.MemBytes != 0 {
		t.Fatalf("dropped writer left %+v", st)
	}
}

func TestReadNoCache(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16})
	s := newSource(64, 9)
	f := File{ID: 1, Gen: 1, Size: 64}
	readBlock(t, c.NewReader(f, s.fetch, ReadCache), s, 16, 0)
	r := c.NewReader(f, s.fetch, ReadNoCache)
	readAll(t, r, s.data, 16) // sequential, but NoCache does no read-ahead
	if c.Has(f, 1) || c.CachedBytes(f) != 16 {
		t.Fatalf("ReadNoCache stored blocks: cached %d", c.CachedBytes(f))
	}
	if s.calls.Load() != 4 {
		t.Fatalf("fetches %d, want 4 (block 0 served from the cache)", s.calls.Load())
	}
}
