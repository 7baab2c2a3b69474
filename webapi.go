package unifiedfs

import (
	"context"
	"io/fs"
	"maps"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Read-only accessors for status pages and metrics exporters (package web).

// ListPage returns up to limit entries of the directory at path (either form), starting at
// the offset-th in name order, and the number of entries the directory has. It loads and
// syncs metadata exactly as ListStatus does, but copies only the page, so paging through a
// large directory costs the page, not the directory. Each entry's Info().Sys() is a
// *FileStatus. An offset at or past the end gives no entries.
func (f *FS) ListPage(ctx context.Context, path string, offset, limit int) ([]fs.DirEntry, int, error) {
	p, err := clean("readdir", path)
	if err != nil {
		return nil, 0, err
	}
	if err := f.check(ctx, "readdir", p); err != nil {
		return nil, 0, err
	}
	r, err := f.resolve(ctx, "readdir", p, lookupOpts{})
	if err != nil {
		return nil, 0, err
	}
	if !r.node.IsDir() {
		return nil, 0, pathErr("readdir", p, ErrNotDir)
	}
	if err := f.syncDirIfDue(ctx, "readdir", &r, lookupOpts{}); err != nil {
		return nil, 0, err
	}
	d := r.node.Dir()
	offset, limit = max(offset, 0), max(limit, 0)
	out := make([]fs.DirEntry, 0, min(limit, d.Len()))
	i := 0
	d.Range(func(c *inode.Inode) bool {
		if len(out) == limit {
			return false
		}
		if i >= offset {
			m := r.mount
			if c.IsMount() {
				if cm := f.mountByID(c.Dir().MountID.Load()); cm != nil {
					m = cm
				}
			}
			out = append(out, &fileInfo{f: f, dir: r.path, in: c, m: m})
		}
		i++
		return true
	})
	return out, d.Len(), nil
}

// CachedBlocks reports which blocks of the file at path (either form) the block cache
// holds, in memory or on disk, and the block size. It loads metadata as GetStatus does
// and reads no content.
func (f *FS) CachedBlocks(ctx context.Context, path string) (blockSize int64, cached []bool, err error) {
	p, err := clean("stat", path)
	if err != nil {
		return 0, nil, err
	}
	if err := f.check(ctx, "stat", p); err != nil {
		return 0, nil, err
	}
	r, err := f.resolve(ctx, "stat", p, lookupOpts{})
	if err != nil {
		return 0, nil, err
	}
	if r.node.IsDir() {
		return 0, nil, pathErr("stat", p, ErrIsDir)
	}
	bs := f.cache.BlockSize()
	cf := cacheFile(r.node)
	n := (r.node.Size + bs - 1) / bs
	cached = make([]bool, n)
	for i := range cached {
		cached[i] = f.cache.Has(cf, int64(i))
	}
	return bs, cached, nil
}

// Config returns the effective configuration (defaults filled in) with secret option
// values redacted; Registry, Logger and Clock are left nil.
func (f *FS) Config() Config {
	c := f.cfg
	c.RootOptions = ufs.RedactOptions(c.RootOptions)
	c.HA.JournalOptions = ufs.RedactOptions(c.HA.JournalOptions)
	c.PathSyncIntervals = maps.Clone(c.PathSyncIntervals)
	c.HA.ZooKeeper = append([]string(nil), c.HA.ZooKeeper...)
	c.Registry, c.Logger, c.Clock = nil, nil, nil
	return c
}

// MountStats are the counters of one mount's UFS.
type MountStats struct {
	Path string // rooted mount point
	Kind string // the UFS's kind ("local", "oss", ...)
	// HasRetry says whether the driver runs its requests under a retry policy
	// (retry.Reporter); the four counts below are that policy's, zero otherwise.
	HasRetry                            bool
	Retries, Throttled, Resumed, GaveUp int64
	// Calls counts the calls made to the UFS and the errors they returned, per
	// operation (ufs.CallStats); nil for a UFS that is not guarded (an unreachable mount).
	Calls []ufs.OpCount
}

// MountStats returns the counters of every mount's UFS, sorted by mount path.
func (f *FS) MountStats() []MountStats {
	var out []MountStats
	for _, m := range f.mountsBelow(ufs.Root, true) {
		s := MountStats{Path: ufs.Rooted(m.Path), Kind: m.caps.Kind}
		if rr, ok := m.ufs.(retry.Reporter); ok {
			if st := rr.RetryStats(); st != nil {
				s.HasRetry = true
				s.Retries, s.Throttled, s.Resumed, s.GaveUp = st.Retries.Load(), st.Throttled.Load(), st.Resumed.Load(), st.GaveUp.Load()
			}
		}
		if cs, ok := m.ufs.(ufs.CallStats); ok {
			s.Calls = cs.Calls()
		}
		out = append(out, s)
	}
	return out
}
