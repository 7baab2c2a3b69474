package unifiedfs

import (
	"context"
	"io/fs"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// mountDrain is how long the UFS a mount used before UpdateMount stays open for the
// calls that started with it (a stream opened, an upload begun); it is closed then, or
// when the FS closes. Open files do not need it: their fetches use the current UFS.
var mountDrain = 30 * time.Second

// UpdateMount changes the options (credentials, endpoints), the read-only flag and the
// shared flag of the mount at path in place, as Alluxio's updateMount: the subtree, its
// cached blocks and its persist state stay. The UFS is opened with the new options first
// (its failure is the call's, and nothing changes); then one journaled change swaps it
// in atomically: every call that resolves a path after it sees the new mount, and files
// opened before fetch what they read next through the new UFS (the same objects, checked
// against the version they opened); a call already under way (a stream it opened, an
// upload) keeps the old UFS, which is closed once such calls had time to finish
// (mountDrain, 30 s). Options are replaced, not merged. The root mount is configured (fs.ErrInvalid);
// a path that is not a mount point: ErrNotMountPoint.
func (f *FS) UpdateMount(ctx context.Context, path string, opts MountOptions) error {
	const op = "updateMount"
	p, err := clean(op, path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, op, p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: op, Path: p, ReadOnly: opts.ReadOnly, Shared: opts.Shared, Options: opts.Options})
	}
	if err := f.checkLeader(op, p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr(op, p, errorf(fs.ErrInvalid, "the root mount is set by Config.RootUFS and Config.RootOptions"))
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr(op, p, err)
	}
	defer held.Unlock()
	in := f.ns().Lookup(p)
	if in == nil {
		return pathErr(op, p, fs.ErrNotExist)
	}
	if !in.IsMount() {
		return pathErr(op, p, ErrNotMountPoint)
	}
	cur := f.mountByID(in.Dir().MountID.Load())
	if cur == nil {
		return pathErr(op, p, ErrNotMountPoint)
	}
	opened, err := f.reg.Open(ctx, cur.URI.String(), opts.Options)
	if err != nil {
		return pathErr(op, p, err)
	}
	f.warnUnknownOptions(p, opened, opts.Options)
	rec := &namespace.MountRecord{ID: cur.ID, URI: cur.URI.String(), Options: opts.Options, ReadOnly: opts.ReadOnly, Shared: opts.Shared, MTime: cur.MTime}
	if err := f.apply(&namespace.Entry{Op: namespace.OpUpdateMount, Path: p, Mount: rec, ReqID: reqIDOf(ctx)}, opened); err != nil {
		_ = opened.Close()
		return err
	}
	f.log.Info("unifiedfs: mount updated", "path", ufs.Rooted(p), "uri", cur.URI.String(), "options", ufs.RedactOptions(opts.Options), "readOnly", opts.ReadOnly)
	return nil
}

// remountLocked publishes m (an updated mount) with the UFS opened for it and closes the
// UFS it replaces after the drain period; applyMu held.
func (f *FS) remountLocked(m *namespace.Mount, opened ufs.UFS) {
	old := f.mountByID(m.ID)
	u := opened
	if u == nil {
		u = &brokenUFS{err: errorf(fs.ErrInvalid, "mount updated without its UFS")}
	}
	f.setMount(&mount{Mount: m, ufs: u, caps: u.Capabilities()})
	f.absent.clear()
	if old == nil || old.ufs == u {
		return
	}
	go func() {
		t := time.NewTimer(mountDrain)
		defer t.Stop()
		select {
		case <-t.C:
		case <-f.ctx.Done():
		}
		if err := old.ufs.Close(); err != nil {
			f.log.Warn("unifiedfs: closing the UFS an updated mount replaced", "path", ufs.Rooted(m.Path), "err", err)
		}
	}()
}
