package unifiedfs

import (
	"context"
	"errors"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Remove deletes a file or an empty directory (Delete with no options).
func (f *FS) Remove(ctx context.Context, path string) error {
	return f.Delete(ctx, path, DeleteOptions{})
}

// RemoveAll deletes path and everything below it; a missing path is not an error. A tree
// holding a mount point fails with ErrMountPoint (see Delete's Unmount option).
func (f *FS) RemoveAll(ctx context.Context, path string) error {
	err := f.Delete(ctx, path, DeleteOptions{Recursive: true})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Delete removes path. A persisted entry is deleted in the UFS too, unless
// opts.NamespaceOnly; cached blocks are dropped (once no reader holds them) and pending
// persists cancelled (an in-flight upload is aborted before anything is deleted, so the
// UFS never sees the create after the delete); files being written there fail their
// Close and leave nothing. A non-empty directory needs opts.Recursive (ErrNotEmpty). A
// mount point, or a tree holding one, fails with ErrMountPoint unless opts.Unmount, which
// unmounts those mounts instead of deleting their data. Writes under a read-only mount
// fail with ErrReadOnly.
func (f *FS) Delete(ctx context.Context, path string, opts DeleteOptions) (err error) {
	p, err := clean("delete", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "delete", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "delete", Path: p, Recursive: opts.Recursive, Unmount: opts.Unmount, NamespaceOnly: opts.NamespaceOnly})
	}
	if err := f.checkLeader("delete", p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr("delete", p, errorf(fs.ErrInvalid, "cannot delete the root"))
	}
	if f.persist != nil {
		cancelled := f.persist.cancelUnder(p)
		defer func() {
			if err != nil { // nothing was deleted: the persists go on
				f.persist.resume(cancelled)
			}
		}()
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("delete", p, err)
	}
	defer held.Unlock()
	r, err := f.resolve(ctx, "delete", p, lookupOpts{})
	if err != nil {
		return err
	}
	nested := f.mountsBelow(p, true)
	if len(nested) > 0 && !(opts.Recursive && opts.Unmount) {
		return pathErr("delete", p, errorf(ErrMountPoint, "%s is or holds the mount point %s; unmount it first", ufs.Rooted(p), ufs.Rooted(nested[0].Path)))
	}
	if err := writable("delete", p, &r); err != nil && !r.node.IsMount() {
		return err
	}
	if r.node.IsDir() && !opts.Recursive && len(nested) == 0 {
		if err := f.loadDir(ctx, "delete", &r); err != nil {
			return err
		}
		if r.node.Dir().Len() > 0 {
			return pathErr("delete", p, ErrNotEmpty)
		}
	}
	if !r.node.IsMount() && !opts.NamespaceOnly {
		if r.persisted() || r.node.Flags&inode.FlagShadow != 0 {
			f.holdReaders(ctx, p)
		}
		var err error
		switch {
		case r.persisted() && r.node.IsDir():
			err = r.mount.ufs.RemoveAll(ctx, r.ufsPath)
		case r.persisted() || r.node.Flags&inode.FlagShadow != 0:
			err = r.mount.ufs.Remove(ctx, r.ufsPath)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return pathErr("delete", p, err)
		}
	}
	f.writers.cancelUnder(p)
	// One entry: the nested mounts, the subtree and the sync points below go together.
	if err := f.apply(&namespace.Entry{Op: namespace.OpDelete, Path: p, Unmount: len(nested) > 0, ReqID: reqIDOf(ctx)}, nil); err != nil {
		return err
	}
	if r.persisted() && opts.NamespaceOnly {
		// Kept in the UFS: the next lookup may load it again.
		f.absent.forget(p)
	}
	return nil
}
