package cache

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Many readers of two files through a cache far smaller than the files, with
// read-ahead (block by block and by spans) and a disk tier: recycled block
// buffers must never show a reader another block's bytes.
func TestConcurrentReadersUnderEviction(t *testing.T) {
	for _, v := range []struct {
		disk     bool
		ra, span int
	}{{false, 2, 1}, {true, 2, 1}, {false, 4, 4}, {true, 4, 3}} {
		disk := v.disk
		cfg := Config{BlockSize: 64, MemCapacity: 4 * 64, ReadAheadBlocks: v.ra, ReadAheadWorkers: 2, ReadAheadSpan: v.span}
		if disk {
			cfg.DiskDir, cfg.DiskCapacity = t.TempDir(), 8*64
		}
		c := newCache(t, cfg)
		srcs := []*source{newSource(64*40+17, 30), newSource(64*25, 31)}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewPCG(uint64(g), 7))
				s := srcs[g%2]
				f := File{ID: uint64(g%2 + 1), Gen: 1, Size: int64(len(s.data))}
				mode := []ReadMode{ReadCache, ReadPromote, ReadNoCache}[g%3]
				r := c.NewReader(f, s.fetch, mode)
				defer r.Close()
				buf := make([]byte, 150)
				off := int64(0)
				for range 300 {
					if rnd.IntN(4) == 0 {
						off = rnd.Int64N(f.Size)
					}
					n, err := r.ReadAt(context.Background(), buf, off)
					if err != nil && n < len(buf) && off+int64(n) != f.Size {
						t.Errorf("ReadAt(%d): %d, %v", off, n, err)
						return
					}
					if !bytes.Equal(buf[:n], s.data[off:off+int64(n)]) {
						t.Errorf("file %d at %d: wrong bytes", f.ID, off)
						return
					}
					off = (off + int64(n)) % f.Size
				}
			}()
		}
		wg.Wait()
		longest := slices.Max(append(srcs[0].lengths(), srcs[1].lengths()...))
		if v.span > 1 && longest <= 64 || v.span == 1 && longest > 64 {
			t.Fatalf("%+v: longest fetch %d bytes", v, longest)
		}
		if st := c.Stats(); st.MemBytes > cfg.MemCapacity || st.Evictions == 0 {
			t.Fatalf("%+v: %+v", v, st)
		}
	}
}
