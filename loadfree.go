package unifiedfs

import (
	"context"
	"io"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Load reads the file at path, or every file below the directory at path, into the block
// cache (Alluxio's load); with a disk tier the blocks are written there too, so that they
// survive a restart. Metadata is loaded as needed.
func (f *FS) Load(ctx context.Context, path string) error {
	p, err := clean("load", path)
	if err != nil {
		return err
	}
	if f.remote != nil {
		return f.remoteLocal(ctx, localRequest{Op: "load", Path: ufs.Rooted(p)})
	}
	return f.walkFiles(ctx, "load", p, func(fp string, r *resolved) error {
		fl, err := f.open(ctx, fp, OpenOptions{ReadType: Cache}, lookupOpts{})
		if err != nil {
			return err
		}
		defer fl.Close()
		file := fl.(*File)
		bs := f.cache.BlockSize()
		buf := make([]byte, min(bs, max(r.node.Size, 1)))
		for off := int64(0); off < r.node.Size; off += int64(len(buf)) {
			if _, err := file.ReadAt(buf, off); err != nil && err != io.EOF {
				return err
			}
		}
		// Loaded blocks last: with a disk tier they survive a restart.
		if err := f.cache.Keep(cacheFile(file.r.node)); err != nil {
			return pathErr("load", fp, err)
		}
		return nil
	})
}

// Free drops the cached blocks of the persisted file at path, or of every file below the
// directory at path. It refuses, before freeing anything, when a file there is not
// persisted (its only copy is the cache): ErrNotPersisted, and, unless opts' Force is
// set, when a file there is pinned by SetAttribute: ErrPinned (Alluxio's free -f).
func (f *FS) Free(ctx context.Context, path string, opts ...FreeOptions) error {
	p, err := clean("free", path)
	if err != nil {
		return err
	}
	if f.remote != nil {
		return f.remoteLocal(ctx, localRequest{Op: "free", Path: ufs.Rooted(p), Force: freeForced(opts)})
	}
	r, err := f.resolve(ctx, "free", p, lookupOpts{})
	if err != nil {
		return err
	}
	if bad := namespace.FirstNotPersisted(p, r.node); bad != "" {
		return pathErr("free", bad, errorf(ErrNotPersisted, "cannot free %s: persist it first", ufs.Rooted(bad)))
	}
	if err := f.checkUnpinned(p, opts); err != nil {
		return err
	}
	return f.walkFiles(ctx, "free", p, func(_ string, r *resolved) error {
		f.cache.Drop(r.node.ID)
		return nil
	})
}

// walkFiles calls fn for the file at p or each file below the directory at p (loading
// directory listings as needed), depth first in name order.
func (f *FS) walkFiles(ctx context.Context, op, p string, fn func(string, *resolved) error) error {
	if err := f.check(ctx, op, p); err != nil {
		return err
	}
	r, err := f.resolve(ctx, op, p, lookupOpts{})
	if err != nil {
		return err
	}
	if !r.node.IsDir() {
		return fn(p, &r)
	}
	if err := f.loadDir(ctx, op, &r); err != nil {
		return err
	}
	for _, c := range r.node.Dir().Children() {
		if err := f.walkFiles(ctx, op, ufs.Join(p, c.Name), fn); err != nil {
			return err
		}
	}
	return nil
}
