package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// mount is one entry of the mount table. It is immutable once published.
type mount struct {
	id       uint32
	path     string // clean namespace path of the mount point
	uri      ufs.URI
	ufs      ufs.UFS
	caps     ufs.Capabilities
	readOnly bool
	shared   bool
	options  map[string]string // as given (secrets included: never print)
}

// ufsURI returns the URI of the UFS location of namespace path p (within m).
func (m *mount) ufsURI(p string) string {
	u := m.uri
	u.Path = ufs.Join(u.Path, ufs.Rel(m.path, p))
	return u.String()
}

// mountTable is an immutable snapshot, replaced on Mount and Unmount.
type mountTable struct {
	byID map[uint32]*mount
}

func (t *mountTable) with(m *mount) *mountTable {
	n := &mountTable{byID: make(map[uint32]*mount, len(t.byID)+1)}
	for id, v := range t.byID {
		n.byID[id] = v
	}
	n.byID[m.id] = m
	return n
}

func (t *mountTable) without(id uint32) *mountTable {
	n := &mountTable{byID: make(map[uint32]*mount, len(t.byID))}
	for k, v := range t.byID {
		if k != id {
			n.byID[k] = v
		}
	}
	return n
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
		return err
	}
	if !parent.node.IsDir() {
		return pathErr("mount", dir, ErrNotDir)
	}
	if parent.mount.readOnly {
		return pathErr("mount", p, errorf(ErrReadOnly, "parent %s is under the read-only mount %s", ufs.Rooted(dir), ufs.Rooted(parent.mount.path)))
	}
	if _, err := f.resolve(ctx, "mount", p, lookupOpts{}); err == nil {
		return pathErr("mount", p, errorf(fs.ErrExist, "mount point %s already exists", ufs.Rooted(p)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, m := range f.mounts.Load().byID {
		if m.uri.Overlaps(u) {
			return pathErr("mount", p, errorf(fs.ErrExist, "%s overlaps %s, already mounted at %s", u, m.uri, ufs.Rooted(m.path)))
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
	err = f.apply(&entry{Op: opMount, Path: p, Mount: &mountRecord{URI: u.String(), Options: opts.Options, ReadOnly: opts.ReadOnly, Shared: opts.Shared}}, opened)
	if err != nil {
		_ = opened.Close()
	}
	return err
}

// applyMount adds a mount and its mount-point directory; applyMu held.
func (f *FS) applyMount(e *entry, opened ufs.UFS) error {
	r := e.Mount
	u, err := ufs.ParseURI(r.URI)
	if err != nil {
		return pathErr("mount", e.Path, err)
	}
	if r.ID == 0 {
		f.mountSeq++
		r.ID = f.mountSeq
	} else if r.ID > f.mountSeq {
		f.mountSeq = r.ID
	}
	m := &mount{id: r.ID, path: e.Path, uri: u, ufs: opened, caps: opened.Capabilities(), readOnly: r.ReadOnly, shared: r.Shared, options: r.Options}
	if e.Path == ufs.Root {
		f.root.Load().Dir().MountID.Store(m.id)
		f.rootMount.Store(m)
	} else {
		f.ensureParents(e.Path)
		parent, name, err := f.parentDir("mount", e.Path)
		if err != nil {
			return err
		}
		if parent.Dir().Lookup(name) != nil {
			return pathErr("mount", e.Path, fs.ErrExist)
		}
		mp := inode.NewDir(name, f.defDir, f.now().UnixNano(), inode.Persisted)
		mp.Flags |= inode.FlagMount
		mp.Dir().MountID.Store(m.id)
		parent.Dir().Put(mp)
	}
	f.mounts.Store(f.mounts.Load().with(m))
	f.absent.clear()
	return nil
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
	if p == ufs.Root {
		return pathErr("unmount", p, errorf(fs.ErrInvalid, "cannot unmount the root"))
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("unmount", p, err)
	}
	defer held.Unlock()
	return f.unmountLocked(p)
}

func (f *FS) unmountLocked(p string) error {
	in := f.lookupLoaded(p)
	if in == nil {
		return pathErr("unmount", p, fs.ErrNotExist)
	}
	if !in.IsMount() {
		return pathErr("unmount", p, ErrNotMountPoint)
	}
	if nested := f.mountsBelow(p, false); len(nested) > 0 {
		return pathErr("unmount", p, errorf(ErrMountPoint, "%s is mounted below; unmount it first", ufs.Rooted(nested[0].path)))
	}
	m := f.mounts.Load().byID[in.Dir().MountID.Load()]
	if f.persist != nil {
		f.persist.cancelUnder(p)
	}
	for _, sp := range f.syncPointsUnder(p) {
		_ = f.apply(&entry{Op: opRemoveSyncPoint, Path: sp}, nil)
	}
	if err := f.apply(&entry{Op: opUnmount, Path: p}, nil); err != nil {
		return err
	}
	if m != nil {
		if err := m.ufs.Close(); err != nil {
			f.log.Warn("unifiedfs: closing unmounted UFS", "path", ufs.Rooted(p), "uri", m.uri.String(), "err", err)
		}
	}
	return nil
}

func (f *FS) applyUnmount(e *entry) error {
	in := f.lookupLoaded(e.Path)
	if in == nil || !in.IsMount() || e.Path == ufs.Root {
		return pathErr("unmount", e.Path, ErrNotMountPoint)
	}
	id := in.Dir().MountID.Load()
	f.dropSubtree(in)
	dir, _ := ufs.Split(e.Path)
	f.lookupLoaded(dir).Dir().Delete(in.Name)
	f.mounts.Store(f.mounts.Load().without(id))
	f.absent.clear()
	return nil
}

// mountsBelow returns the mounts strictly below p (and p's own when self), sorted by path.
func (f *FS) mountsBelow(p string, self bool) []*mount {
	var out []*mount
	for _, m := range f.mounts.Load().byID {
		if ufs.IsWithin(m.path, p) && (self || m.path != p) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// Mounts returns the mount table sorted by path, secrets redacted.
func (f *FS) Mounts() []MountInfo {
	var out []MountInfo
	for _, m := range f.mountsBelow(ufs.Root, true) {
		out = append(out, MountInfo{Path: ufs.Rooted(m.path), UFS: m.uri.String(), ReadOnly: m.readOnly, Shared: m.shared,
			Options: ufs.RedactOptions(m.options), Kind: m.caps.Kind, Error: mountErr(m)})
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
