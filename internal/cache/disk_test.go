package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// blockFiles lists the block files under dir/blocks.
func blockFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "blocks", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func reopen(t *testing.T, c *Cache, cfg Config) *Cache {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return newCache(t, cfg)
}

func TestDiskPinnedSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{BlockSize: 16, MemCapacity: 32, DiskDir: dir, DiskCapacity: 1000, ReadAheadBlocks: -1}
	c := newCache(t, cfg)
	data := newSource(70, 20).data
	f := File{ID: 0xabc, Gen: 3, Size: 70}
	writeFile(t, c, f, true, data, 9)
	if n := len(blockFiles(t, dir)); n != 5 {
		t.Fatalf("%d block files after Close, want 5 (pinned blocks written durably)", n)
	}
	st := c.Stats()
	if st.PinnedBytes != 70 || st.DiskBytes != 70 || st.MemBytes > 32 {
		t.Fatalf("stats %+v", st)
	}

	c = reopen(t, c, cfg)
	want := []PinnedFile{{ID: 0xabc, Gen: 3, Bytes: 70, Blocks: 5, Contiguous: true}}
	if p := c.PinnedFiles(); len(p) != 1 || p[0] != want[0] {
		t.Fatalf("PinnedFiles after reopen = %+v, want %+v", p, want)
	}
	if st := c.Stats(); st.PinnedBytes != 70 || st.DiskBytes != 70 {
		t.Fatalf("stats after reopen %+v", st)
	}
	readAll(t, c.NewReader(f, nil, ReadCache), data, 11)
	if st := c.Stats(); st.DiskHits != 11 || st.Fetches != 0 || st.MemBytes != 0 {
		t.Fatalf("ReadCache from disk: %+v, want 11 disk hits (7 reads over 5 blocks), nothing promoted", st)
	}
	readAll(t, c.NewReader(f, nil, ReadPromote), data, 16)
	if st := c.Stats(); st.MemBytes != 22 { // blocks 3 and 4 (16 + 6 bytes)
		t.Fatalf("ReadPromote did not fill memory: %+v", st)
	}

	// Unpin renames the files: after a reopen nothing is pinned, the blocks
	// are still cached and evictable.
	c.Unpin(f.ID)
	for _, p := range blockFiles(t, dir) {
		if !strings.HasSuffix(p, extBlock) {
			t.Fatalf("unpinned block file %s", p)
		}
	}
	c = reopen(t, c, cfg)
	if p := c.PinnedFiles(); len(p) != 0 {
		t.Fatalf("PinnedFiles after Unpin+reopen = %+v", p)
	}
	if c.CachedBytes(f) != 70 || c.Stats().PinnedBytes != 0 {
		t.Fatalf("cached %d, %+v", c.CachedBytes(f), c.Stats())
	}
	c.Drop(f.ID)
	if n := len(blockFiles(t, dir)); n != 0 || c.Stats().DiskBytes != 0 {
		t.Fatalf("%d block files after Drop", n)
	}
}

func TestDiskOutOfSpace(t *testing.T) {
	dir := t.TempDir()
	// Memory is larger than disk: the disk capacity bounds pinned data.
	c := newCache(t, Config{BlockSize: 16, MemCapacity: 1 << 20, DiskDir: dir, DiskCapacity: 64, ReadAheadBlocks: -1})
	writeFile(t, c, File{ID: 1, Gen: 1}, true, make([]byte, 48), 48)
	w := c.NewWriter(File{ID: 2, Gen: 1}, true)
	if _, err := w.Write(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 1)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Write over disk capacity: %v, want ErrNoSpace", err)
	}
	w.Abort()
	if n := len(blockFiles(t, dir)); n != 3 {
		t.Fatalf("%d block files after Abort, want file 1's 3", n)
	}
	if st := c.Stats(); st.PinnedBytes != 48 || st.DiskBytes != 48 {
		t.Fatalf("stats after Abort %+v", st)
	}
}

func TestDiskSpillEvictionAndReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{BlockSize: 16, MemCapacity: 32, DiskDir: dir, DiskCapacity: 96, ReadAheadBlocks: -1}
	c := newCache(t, cfg)
	s := newSource(160, 21) // 10 blocks; memory holds 2, disk 6
	f := File{ID: 7, Gen: 1, Size: 160}
	r := c.NewReader(f, s.fetch, ReadCache)
	readAll(t, r, s.data, 16)
	// Evicted blocks are spilled to disk asynchronously; the disk evicts its
	// own LRU: blocks 2..7 end there, 8 and 9 in memory.
	waitFor(t, "spill to disk", func() bool { return c.Stats().DiskBytes == 96 && c.Has(f, 7) && !c.Has(f, 1) })
	st := c.Stats()
	if st.DiskEvictions != 2 || st.MemBytes != 32 || c.CachedBytes(f) != 128 {
		t.Fatalf("stats %+v, cached %d; want 2 disk evictions, 128 bytes cached", st, c.CachedBytes(f))
	}
	for i := int64(2); i < 10; i++ {
		if !c.Has(f, i) {
			t.Fatalf("block %d not cached", i)
		}
	}
	c = reopen(t, c, cfg)
	if c.CachedBytes(f) != 96 || len(c.PinnedFiles()) != 0 {
		t.Fatalf("after reopen cached %d", c.CachedBytes(f))
	}
	calls := s.calls.Load()
	r = c.NewReader(f, s.fetch, ReadCache)
	for i := int64(2); i < 8; i++ {
		readBlock(t, r, s, 16, i)
	}
	if s.calls.Load() != calls {
		t.Fatal("blocks found on disk after reopen were fetched again")
	}
}

// flipByte corrupts the file at p.
func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiskCorruptBlockDetected(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{BlockSize: 16, MemCapacity: 16, DiskDir: dir, DiskCapacity: 1000, ReadAheadBlocks: -1}
	c := newCache(t, cfg)
	s := newSource(64, 22)
	f := File{ID: 3, Gen: 1, Size: 64}
	writeFile(t, c, f, true, s.data, 64)
	c = reopen(t, c, cfg)
	files := blockFiles(t, dir)
	if len(files) != 4 {
		t.Fatalf("%d files", len(files))
	}
	var b1, b2, b3 string
	for _, p := range files {
		k, _, _, _ := parseBlockName(filepath.Base(p))
		switch k.idx {
		case 1:
			b1 = p
		case 2:
			b2 = p
		case 3:
			b3 = p
		}
	}
	flipByte(t, b1, hdrSize+5) // data corrupt: found when read
	flipByte(t, b2, 10)        // header corrupt: found at reopen
	if err := os.Truncate(b3, hdrSize+3); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c, cfg)
	if st := c.Stats(); st.Corrupt != 2 || c.Has(f, 2) || c.Has(f, 3) || !c.Has(f, 1) {
		t.Fatalf("reopen with bad headers: %+v", st)
	}
	if p := c.PinnedFiles(); len(p) != 1 || p[0] != (PinnedFile{ID: 3, Gen: 1, Bytes: 32, Blocks: 2, Contiguous: true}) {
		t.Fatalf("PinnedFiles %+v, want blocks 0 and 1 (a 32-byte prefix)", p)
	}
	readBlock(t, c.NewReader(f, nil, ReadCache), s, 16, 0)
	_, err := c.NewReader(f, nil, ReadCache).ReadAt(context.Background(), make([]byte, 16), 16)
	if !errors.Is(err, ErrBlockLost) {
		t.Fatalf("corrupt block served: err %v", err)
	}
	if st := c.Stats(); st.Corrupt != 3 || c.Has(f, 1) {
		t.Fatalf("corrupt block not removed: %+v", st)
	}
	if _, err := os.Stat(b1); !os.IsNotExist(err) {
		t.Fatalf("corrupt file still there: %v", err)
	}
	// With a fetch function the lost block is simply fetched again.
	readAll(t, c.NewReader(f, s.fetch, ReadCache), s.data, 16)
}

func TestDiskIgnoresForeignFilesAndTemp(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{BlockSize: 16, DiskDir: dir, DiskCapacity: 100}
	c := newCache(t, cfg)
	c.Close()
	foreign := filepath.Join(dir, "blocks", "00", "README")
	os.WriteFile(foreign, []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "tmp", "1.tmp"), []byte("half"), 0o600)
	c = newCache(t, cfg)
	if _, err := os.Stat(foreign); err != nil {
		t.Fatal("a file that is not a block file was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp", "1.tmp")); !os.IsNotExist(err) {
		t.Fatal("a temp file survived New")
	}
	if _, err := New(Config{DiskDir: dir}); err == nil {
		t.Fatal("DiskDir without DiskCapacity accepted")
	}
}

// Holding a file whose blocks the disk tier already pins (a pinned writer stored them)
// pins nothing more: its bytes count once, and Unpin releases them all.
func TestHoldDiskPinnedCountsOnce(t *testing.T) {
	dir := t.TempDir()
	c := newCache(t, Config{BlockSize: 16, MemCapacity: 1 << 20, DiskDir: dir, DiskCapacity: 1000, ReadAheadBlocks: -1})
	f := File{ID: 1, Gen: 1, Size: 40}
	writeFile(t, c, f, true, make([]byte, 40), 40)
	src := newSource(40, 1)
	if err := c.Hold(context.Background(), f, src.fetch); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.PinnedBytes != 40 {
		t.Fatalf("pinned bytes after Hold of disk-pinned blocks: %d, want 40", st.PinnedBytes)
	}
	c.Unpin(f.ID)
	if st := c.Stats(); st.PinnedBytes != 0 {
		t.Fatalf("pinned bytes after Unpin: %d", st.PinnedBytes)
	}
}
