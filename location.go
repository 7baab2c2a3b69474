package unifiedfs

import (
	"context"

	"github.com/unifiedfs/unifiedfs/internal/cache"
)

// BlockLocation describes one block of a file (Alluxio's location).
type BlockLocation struct {
	Index          int
	Offset, Length int64
	// Tier is the cache tier holding the block: "MEM", "DISK", or "" when not cached.
	Tier string
	// Member is the address of the member whose cache holds the block of an unpersisted
	// file in a cluster ("" in a single process, or when any member can read it from the
	// UFS).
	Member string
	Cached bool
}

// Location returns the blocks of the file at path, in order, with where each is cached
// in this process. A directory: ErrIsDir.
func (f *FS) Location(ctx context.Context, path string) ([]BlockLocation, error) {
	const op = "location"
	p, err := clean(op, path)
	if err != nil {
		return nil, err
	}
	if err := f.check(ctx, op, p); err != nil {
		return nil, err
	}
	r, err := f.resolve(ctx, op, p, lookupOpts{})
	if err != nil {
		return nil, err
	}
	if r.node.IsDir() {
		return nil, pathErr(op, p, ErrIsDir)
	}
	cf := cacheFile(r.node)
	member := ""
	if !r.persisted() {
		member = f.ns().HolderOf(r.node.ID)
	}
	bs := f.cache.BlockSize()
	out := []BlockLocation{}
	for i, off := 0, int64(0); off < r.node.Size; i, off = i+1, off+bs {
		tier := f.cache.TierOf(cf, int64(i))
		out = append(out, BlockLocation{Index: i, Offset: off, Length: min(bs, r.node.Size-off), Tier: tier, Cached: tier != "", Member: member})
	}
	return out, nil
}

// TierUsage is the capacity and use of one cache tier, in bytes.
type TierUsage struct {
	Tier           string // "MEM" or "DISK"
	Capacity, Used int64
}

// Capacity returns the cache tiers of this process (the memory tier, then the disk tier
// when Config.CacheDir is set), as Alluxio's getCapacityBytes and getUsedBytes.
func (f *FS) Capacity() []TierUsage {
	mem, disk := f.cache.Capacity()
	st := f.cache.Stats()
	out := []TierUsage{{Tier: cache.TierMem, Capacity: mem, Used: st.MemBytes}}
	if disk > 0 {
		out = append(out, TierUsage{Tier: cache.TierDisk, Capacity: disk, Used: st.DiskBytes})
	}
	return out
}
