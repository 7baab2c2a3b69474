package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// mount is one mount of the namespace with this member's handle of its UFS. It is
// immutable once published.
type mount struct {
	*namespace.Mount
	ufs  ufs.UFS
	caps ufs.Capabilities
}

// ufsURI returns the URI of the UFS location of namespace path p (within m).
func (m *mount) ufsURI(p string) string {
	u := m.URI
	u.Path = ufs.Join(u.Path, ufs.Rel(m.Path, p))
	return u.String()
}

// Mount attaches the UFS at uri to the namespace at path, as Alluxio's mount. It fails
// with a clear error when: path exists (fs.ErrExist); its parent does not exist or is a
// file; the parent is under a read-only mount (ErrReadOnly); the UFS location overlaps
// another mount's (is a prefix or a child of it; fs.ErrExist); path would shadow an entry
// of the parent's UFS (fs.ErrExist); or the location does not exist or cannot be reached
// with the given options (the driver's error: fs.ErrNotExist, fs.ErrPermission, ...).
func (f *FS) Mount(ctx context.Context, path, uri string, opts MountOptions) error {
	p, err := clean("mount", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "mount", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "mount", Path: p, URI: uri, ReadOnly: opts.ReadOnly, Shared: opts.Shared, Options: opts.Options})
	}
	if err := f.checkLeader("mount", p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr("mount", p, errorf(fs.ErrExist, "the root is mounted by Config.RootUFS"))
	}
	u, err := ufs.ParseURI(uri)
	if err != nil {
		return pathErr("mount", p, err)
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("mount", p, err)
	}
	defer held.Unlock()

	dir, name := ufs.Split(p)
	parent, err := f.resolve(ctx, "mount", dir, lookupOpts{})
	if err != nil {
		return pathErr("mount", p, err)
	}
	if !parent.node.IsDir() {
		return pathErr("mount", p, errorf(ErrNotDir, "parent %s is a file", ufs.Rooted(dir)))
	}
	if parent.mount.ReadOnly {
		return pathErr("mount", p, errorf(ErrReadOnly, "parent %s is under the read-only mount %s", ufs.Rooted(dir), ufs.Rooted(parent.mount.Path)))
	}
	if _, err := f.resolve(ctx, "mount", p, lookupOpts{}); err == nil {
		return pathErr("mount", p, errorf(fs.ErrExist, "mount point %s already exists", ufs.Rooted(p)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, m := range *f.mounts.Load() {
		if m.URI.Overlaps(u) {
			return pathErr("mount", p, errorf(fs.ErrExist, "%s overlaps %s, already mounted at %s", u, m.URI, ufs.Rooted(m.Path)))
		}
	}
	// The parent's UFS must not hold an entry at the mount point: it would be shadowed.
	if parent.persisted() {
		_, err := parent.mount.ufs.Stat(ctx, ufs.Join(parent.ufsPath, name))
		switch {
		case err == nil:
			return pathErr("mount", p, errorf(fs.ErrExist, "%s exists in the parent's UFS (%s) and would be shadowed", ufs.Rooted(p), parent.mount.ufsURI(p)))
		case !errors.Is(err, fs.ErrNotExist):
			return pathErr("mount", p, err)
		}
	}
	opened, err := f.reg.Open(ctx, uri, opts.Options)
	if err != nil {
		return pathErr("mount", p, err)
	}
	f.warnUnknownOptions(p, opened, opts.Options)
	err = f.submitMount(ctx, p, &namespace.MountRecord{URI: u.String(), Options: opts.Options, ReadOnly: opts.ReadOnly, Shared: opts.Shared, MTime: f.now().UnixNano()}, opened)
	if err != nil {
		_ = opened.Close()
	}
	return err
}

// warnUnknownOptions logs the option keys of a mount that its driver does not read.
func (f *FS) warnUnknownOptions(p string, u ufs.UFS, opts map[string]string) {
	k, ok := u.(ufs.OptionKeyer)
	if !ok {
		return
	}
	for _, key := range ufs.UnknownKeys(opts, k.OptionKeys()) {
		f.log.Warn("unifiedfs: unknown mount option ignored", "path", ufs.Rooted(p), "key", key)
	}
}

// submitMount applies the mount of rec (its UFS already opened) with the next mount id.
func (f *FS) submitMount(ctx context.Context, p string, rec *namespace.MountRecord, opened ufs.UFS) error {
	for {
		f.applyMu.Lock() // read the watermark where apply will check it
		rec.ID = f.ns().NextMountID()
		f.applyMu.Unlock()
		err := f.apply(&namespace.Entry{Op: namespace.OpMount, Path: p, Mount: rec, ReqID: reqIDOf(ctx)}, opened)
		if errors.Is(err, fs.ErrInvalid) && f.ns().NextMountID() > rec.ID {
			continue // another mount took the id meanwhile
		}
		return err
	}
}

// Unmount detaches the mount at path: the subtree leaves the namespace and its cached
// blocks are dropped; the UFS data is never touched. Files under it that were never
// persisted (MUST_CACHE, pending ASYNC_THROUGH) are discarded with it, as in Alluxio:
// persist them first to keep them. It fails for the root
// (fs.ErrInvalid), for a path that is not a mount point (ErrNotMountPoint) and when a
// nested mount is below (ErrMountPoint).
func (f *FS) Unmount(ctx context.Context, path string) error {
	p, err := clean("unmount", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "unmount", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "unmount", Path: p})
	}
	if err := f.checkLeader("unmount", p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr("unmount", p, errorf(fs.ErrInvalid, "cannot unmount the root"))
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("unmount", p, err)
	}
	defer held.Unlock()
	return f.unmountLocked(ctx, p)
}

func (f *FS) unmountLocked(ctx context.Context, p string) error {
	if err := f.ns().Check(&namespace.Entry{Op: namespace.OpUnmount, Path: p}); err != nil {
		return err
	}
	f.writers.cancelUnder(p)
	if f.persist != nil {
		f.persist.cancelUnder(p)
	}
	return f.apply(&namespace.Entry{Op: namespace.OpUnmount, Path: p, ReqID: reqIDOf(ctx)}, nil)
}

// mountsBelow returns the mounts strictly below p (and p's own when self), sorted by path.
func (f *FS) mountsBelow(p string, self bool) []*mount {
	var out []*mount
	for _, nm := range f.ns().Mounts().Below(p, self) {
		if m := f.mountByID(nm.ID); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Mounts returns the mount table sorted by path, secrets redacted.
func (f *FS) Mounts() []MountInfo {
	if f.remote != nil {
		var out []MountInfo
		if err := f.remoteCall(f.ctx, "mounts", ufs.Root, "/mounts", nil, &out); err != nil {
			f.log.Warn("unifiedfs: the leader's mount table", "err", err)
		}
		return out
	}
	var out []MountInfo
	for _, m := range f.mountsBelow(ufs.Root, true) {
		out = append(out, MountInfo{Path: ufs.Rooted(m.Path), UFS: m.URI.String(), ReadOnly: m.ReadOnly, Shared: m.Shared,
			Options: ufs.RedactOptions(m.Options), Kind: m.caps.Kind, Error: mountErr(m)})
	}
	return out
}

// String describes the FS for logs: its mounts, without secrets.
func (f *FS) String() string {
	s := "unifiedfs{"
	for i, m := range f.Mounts() {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s=%s", m.Path, m.UFS)
	}
	return s + "}"
}

// brokenUFS stands for a journaled mount whose UFS cannot be reached: every operation
// reports the error that opening it gave.
type brokenUFS struct{ err error }

func (b *brokenUFS) fail(op, p string) error {
	return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("UFS unreachable since restart: %w", b.err)}
}

func (b *brokenUFS) Stat(_ context.Context, p string) (ufs.Status, error) {
	return ufs.Status{}, b.fail("stat", p)
}

func (b *brokenUFS) List(_ context.Context, p string, _ ufs.ListOptions) (ufs.ListPage, error) {
	return ufs.ListPage{}, b.fail("list", p)
}

func (b *brokenUFS) OpenRange(_ context.Context, p string, _, _ int64) (io.ReadCloser, error) {
	return nil, b.fail("open", p)
}

func (b *brokenUFS) Create(_ context.Context, p string, _ ufs.CreateOptions) (ufs.Writer, error) {
	return nil, b.fail("create", p)
}

func (b *brokenUFS) Mkdir(_ context.Context, p string) error { return b.fail("mkdir", p) }

func (b *brokenUFS) Remove(_ context.Context, p string) error { return b.fail("remove", p) }

func (b *brokenUFS) RemoveAll(_ context.Context, p string) error { return b.fail("removeall", p) }

func (b *brokenUFS) Rename(_ context.Context, src, _ string) error { return b.fail("rename", src) }

func (b *brokenUFS) Capabilities() ufs.Capabilities { return ufs.Capabilities{Kind: "unreachable"} }

func (b *brokenUFS) Close() error { return nil }

// mountErr reports why a mount is unusable ("" when it works).
func mountErr(m *mount) string {
	if b, ok := m.ufs.(*brokenUFS); ok {
		return b.err.Error()
	}
	return ""
}
