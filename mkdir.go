package unifiedfs

import (
	"context"
	"errors"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// MkdirOptions tune Mkdir and MkdirAll. The zero value uses the FS defaults.
type MkdirOptions struct {
	// Mode is the directory's permission bits; zero means 0755.
	Mode fs.FileMode
	// WriteType MustCache makes the directory only in the namespace (NotPersisted) until
	// something below it is persisted; any other creates it in the UFS first. Zero:
	// Config.WriteType.
	WriteType WriteType
}

func mkdirOptions(opts []MkdirOptions) MkdirOptions {
	if len(opts) > 0 {
		return opts[0]
	}
	return MkdirOptions{}
}

// Mkdir creates the directory path; its parent must exist. An existing path fails with
// fs.ErrExist. See MkdirOptions for the mode and write type (at most one value).
func (f *FS) Mkdir(ctx context.Context, path string, opts ...MkdirOptions) error {
	p, err := clean("mkdir", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "mkdir", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		o := mkdirOptions(opts)
		return f.forwardOp(ctx, peer, opRequest{Op: "mkdir", Path: p, Mode: o.Mode, WriteType: o.WriteType})
	}
	if err := f.checkLeader("mkdir", p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr("mkdir", p, fs.ErrExist)
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("mkdir", p, err)
	}
	defer held.Unlock()
	return f.mkdirLocked(ctx, p, mkdirOptions(opts))
}

func (f *FS) mkdirLocked(ctx context.Context, p string, o MkdirOptions) error {
	dir, _ := ufs.Split(p)
	parent, err := f.resolveParent(ctx, "mkdir", p)
	if err != nil {
		return err
	}
	if err := writable("mkdir", p, &parent); err != nil {
		return err
	}
	if _, err := f.resolve(ctx, "mkdir", p, lookupOpts{}); err == nil {
		return pathErr("mkdir", p, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	mode := o.Mode.Perm()
	if mode == 0 {
		mode = 0o755
	}
	ps := inode.NotPersisted
	if f.writeType(o.WriteType) != MustCache {
		if err := parent.mount.ufs.Mkdir(ctx, ufs.Join(parent.ufsPath, ufs.Base(p))); err != nil {
			return pathErr("mkdir", p, err)
		}
		ps = inode.Persisted
	}
	owner := f.ns().DefaultOwner(true)
	rec := &namespace.NodeRecord{Dir: true, MTime: f.now().UnixNano(), Persist: ps, Owner: owner.Owner, Group: owner.Group, Mode: mode}
	if err := f.apply(&namespace.Entry{Op: namespace.OpCreate, Path: p, Node: rec, ReqID: reqIDOf(ctx)}, nil); err != nil {
		return err
	}
	if ps == inode.Persisted {
		f.markNewDirLoaded(p)
		return f.markAncestorsPersisted(ctx, dir)
	}
	return nil
}

// resolveParent resolves the parent of p, which must be a directory; errors name p.
func (f *FS) resolveParent(ctx context.Context, op, p string) (resolved, error) {
	dir, _ := ufs.Split(p)
	parent, err := f.resolve(ctx, op, dir, lookupOpts{})
	if errors.Is(err, fs.ErrNotExist) {
		return resolved{}, pathErr(op, p, errorf(fs.ErrNotExist, "parent directory %s does not exist", ufs.Rooted(dir)))
	}
	if err != nil {
		return resolved{}, pathErr(op, p, err)
	}
	if !parent.node.IsDir() {
		return resolved{}, pathErr(op, p, errorf(ErrNotDir, "parent %s is a file", ufs.Rooted(dir)))
	}
	return parent, nil
}

// markNewDirLoaded records that a directory we just created holds nothing we have not
// seen, so lookups below it need not ask the UFS. (Listing times are this member's own
// soft state, not namespace state.)
func (f *FS) markNewDirLoaded(p string) {
	if in := f.ns().Lookup(p); in != nil && in.IsDir() {
		in.Dir().SyncedAt.CompareAndSwap(0, f.now().UnixNano())
	}
}

// markAncestorsPersisted marks p and its ancestors up to their mount point as persisted
// (the UFS created them as parents of a persisted entry).
func (f *FS) markAncestorsPersisted(ctx context.Context, p string) error {
	for {
		in := f.ns().Lookup(p)
		if in == nil || in.IsMount() || in.Persist() == inode.Persisted {
			return nil
		}
		if err := f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Node: &namespace.NodeRecord{Dir: true, Persist: inode.Persisted}}, nil); err != nil {
			return err
		}
		f.markNewDirLoaded(p)
		if p == ufs.Root {
			return nil
		}
		p, _ = ufs.Split(p)
	}
}

// MkdirAll creates path and any missing parents; existing directories are fine.
func (f *FS) MkdirAll(ctx context.Context, path string, opts ...MkdirOptions) error {
	p, err := clean("mkdir", path)
	if err != nil {
		return err
	}
	if p == ufs.Root {
		return nil
	}
	if peer := f.forwarder(ctx); peer != nil {
		o := mkdirOptions(opts)
		return f.forwardOp(ctx, peer, opRequest{Op: "mkdir", Path: p, Mode: o.Mode, WriteType: o.WriteType, Recursive: true})
	}
	for walked, rest := ufs.Root, p; ; {
		name, tail, more := namespace.Cut(rest)
		walked = ufs.Join(walked, name)
		r, err := f.resolve(ctx, "mkdir", walked, lookupOpts{})
		switch {
		case err == nil && !r.node.IsDir():
			return pathErr("mkdir", p, errorf(ErrNotDir, "%s is a file", ufs.Rooted(walked)))
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := f.Mkdir(ctx, walked, opts...); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			return err
		}
		if !more {
			return nil
		}
		rest = tail
	}
}
