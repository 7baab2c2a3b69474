package unifiedfs

import (
	"context"
	"errors"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func renameErr(src, dst string, err error) error {
	var re *RenameError
	if errors.As(err, &re) {
		return err
	}
	return &RenameError{Op: "rename", Old: ufs.Rooted(src), New: ufs.Rooted(dst), Err: err}
}

// Rename moves a file or directory within one mount. A persisted entry is renamed in
// the UFS too (transparent naming); an unpersisted one only in the namespace, and a
// pending asynchronous persist follows it. Renaming a path onto itself is a no-op (as
// rename(2)). It fails with ErrCrossMount between mounts or for a mount point (or a tree
// holding one), fs.ErrExist when dst exists, ErrBusy when a file being written would
// move, ErrReadOnly under a read-only mount, and fs.ErrInvalid for the root or a move
// into itself. Errors are *RenameError.
func (f *FS) Rename(ctx context.Context, src, dst string) error {
	s, err := clean("rename", src)
	if err != nil {
		return renameErr(src, dst, err)
	}
	d, err := clean("rename", dst)
	if err != nil {
		return renameErr(src, dst, err)
	}
	if err := f.check(ctx, "rename", s); err != nil {
		return renameErr(s, d, err)
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "rename", Path: s, Dst: d})
	}
	if err := f.checkLeader("rename", s); err != nil {
		return renameErr(s, d, err)
	}
	if s == d && s != ufs.Root {
		if _, err := f.resolve(ctx, "rename", s, lookupOpts{}); err != nil {
			return renameErr(s, d, err)
		}
		return nil
	}
	if s == ufs.Root || d == ufs.Root || ufs.IsWithin(d, s) {
		return renameErr(s, d, errorf(fs.ErrInvalid, "cannot move %s to %s", ufs.Rooted(s), ufs.Rooted(d)))
	}
	held, err := f.locks.Lock(ctx, s, d)
	if err != nil {
		return renameErr(s, d, err)
	}
	defer held.Unlock()
	if err := f.renameLocked(ctx, s, d); err != nil {
		return renameErr(s, d, err)
	}
	return nil
}

func (f *FS) renameLocked(ctx context.Context, s, d string) error {
	from, err := f.resolve(ctx, "rename", s, lookupOpts{})
	if err != nil {
		return err
	}
	if from.node.IsMount() {
		return errorf(ErrCrossMount, "%s is a mount point: unmount and mount it elsewhere", ufs.Rooted(s))
	}
	if nested := f.mountsBelow(s, false); len(nested) > 0 {
		return errorf(ErrCrossMount, "%s holds the mount point %s", ufs.Rooted(s), ufs.Rooted(nested[0].Path))
	}
	to, err := f.resolveParent(ctx, "rename", d)
	if err != nil {
		return err
	}
	if _, err := f.resolve(ctx, "rename", d, lookupOpts{}); err == nil {
		return pathErr("rename", d, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if from.mount != to.mount {
		return errorf(ErrCrossMount, "%s is in %s and %s in %s", ufs.Rooted(s), from.mount.URI, ufs.Rooted(d), to.mount.URI)
	}
	if err := writable("rename", s, &from); err != nil {
		return err
	}
	if f.writers.under(s) {
		return errorf(ErrBusy, "%s is or holds a file being written", ufs.Rooted(s))
	}
	dstUFS := ufs.Join(to.ufsPath, ufs.Base(d))
	switch {
	case from.persisted():
		if err := from.mount.ufs.Rename(ctx, from.ufsPath, dstUFS); err != nil {
			return err
		}
	case from.node.Flags&inode.FlagShadow != 0:
		// The older object this file hid at its UFS path must not reappear there once the
		// file moves away: remove it first (the file's content is newer anyway).
		if err := from.mount.ufs.Remove(ctx, from.ufsPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := f.apply(&namespace.Entry{Op: namespace.OpRename, Path: s, Dst: d, ReqID: reqIDOf(ctx)}, nil); err != nil {
		return err
	}
	if f.persist != nil {
		f.persist.renamed(s, d)
	}
	if from.persisted() {
		dstDir, _ := ufs.Split(d)
		return f.markAncestorsPersisted(ctx, dstDir)
	}
	return nil
}
