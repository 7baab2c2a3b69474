package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// TTLAction is what happens to a file when its TTL expires.
type TTLAction uint8

// TTL actions, as Alluxio's.
const (
	// TTLDelete deletes the entry from the namespace and its UFS, as Delete (a directory
	// with everything below it).
	TTLDelete TTLAction = iota
	// TTLFree only drops the entry's cached blocks, as Free; the TTL is then cleared.
	TTLFree
)

func (a TTLAction) String() string {
	switch a {
	case TTLDelete:
		return "DELETE"
	case TTLFree:
		return "FREE"
	}
	return fmt.Sprintf("TTLAction(%d)", uint8(a))
}

// ParseTTLAction parses "delete" or "free", case-insensitively.
func ParseTTLAction(s string) (TTLAction, error) {
	for a := TTLDelete; a <= TTLFree; a++ {
		if strings.EqualFold(s, a.String()) {
			return a, nil
		}
	}
	return 0, errorf(fs.ErrInvalid, "unknown TTL action %q (want DELETE or FREE)", s)
}

// SetAttributeOptions say which attributes SetAttribute changes; nil fields are left
// as they are.
type SetAttributeOptions struct {
	// Recursive applies the change to every entry below a directory too (Alluxio's -R);
	// the entries are those that exist when the call runs (listings are loaded as needed).
	Recursive bool
	// TTL sets a time to live, counted from when it is set (see FileStatus.TTL); it must
	// be positive. nil: unchanged.
	TTL *time.Duration
	// TTLAction is what happens at expiry. nil: unchanged, or TTLDelete when the entry had
	// no TTL yet.
	TTLAction *TTLAction
	// UnsetTTL removes the TTL (Alluxio's unsetTtl); it cannot be combined with TTL.
	UnsetTTL bool
	// Pinned pins (true) or unpins (false) a file's blocks in the cache: pinned blocks are
	// never evicted. Pinning loads the file into the cache first, failing with ErrNoSpace
	// when the pinned bytes would exceed the cache's capacity.
	Pinned *bool
	// Mode sets the permission bits, Owner and Group the owner and group. Where the UFS
	// keeps permissions (local disk, HDFS) it is changed first, and its refusal (a
	// non-root process giving a local file away: fs.ErrPermission) is the call's error;
	// elsewhere (object stores) they are the namespace's metadata, journaled. They are
	// refused under a read-only mount (ErrReadOnly).
	Mode  *fs.FileMode
	Owner *string
	Group *string
}

// SetAttribute changes the attributes of the entry at path (and, with Recursive, of
// those below it) in one journaled change. Alluxio's setTtl, unsetTtl, pin, unpin, chmod,
// chown and chgrp. The attributes belong to the entry, as Alluxio's to the inode: a
// rename moves them with it; an overwrite (a new file, as Alluxio's delete and create) and
// a remove drop them; a file being written keeps those set on it when it completes. Stat
// reports an entry with its own attributes (one namespace state).
func (f *FS) SetAttribute(ctx context.Context, path string, opts SetAttributeOptions) error {
	const op = "setAttribute"
	p, err := clean(op, path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, op, p); err != nil {
		return err
	}
	if err := validAttrs(op, p, opts); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: op, Path: p, Attr: &opts})
	}
	if err := f.checkLeader(op, p); err != nil {
		return err
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr(op, p, err)
	}
	defer held.Unlock()
	r, err := f.resolve(ctx, op, p, lookupOpts{})
	if err != nil {
		return err
	}
	perms := opts.Mode != nil || opts.Owner != nil || opts.Group != nil
	if perms {
		if err := writable(op, p, &r); err != nil {
			return err
		}
	}
	all := []resolved{r}
	if opts.Recursive && r.node.IsDir() {
		if all, err = f.subtree(ctx, op, r); err != nil {
			return err
		}
	}
	if perms {
		if err := f.setUFSPerms(ctx, op, all, opts); err != nil {
			return err
		}
	}
	var pinned []resolved // the pins this call adds, undone when it fails
	if opts.Pinned != nil && *opts.Pinned {
		for _, e := range all {
			if e.node.IsDir() {
				continue
			}
			if err := f.hold(ctx, op, e); err != nil {
				f.unpinAll(pinned)
				return err
			}
			if !f.attrsOf(e.path).Pinned {
				pinned = append(pinned, e)
			}
		}
	}
	rec := f.attrRecord(p, opts)
	e := &namespace.Entry{Op: namespace.OpSetAttr, Path: p, Attr: rec, ReqID: reqIDOf(ctx)}
	for _, c := range all[1:] {
		e.Targets = append(e.Targets, c.path)
	}
	if err := f.apply(e, nil); err != nil {
		f.unpinAll(pinned)
		return err
	}
	if opts.Pinned != nil && !*opts.Pinned {
		f.unpinAll(all)
	}
	return nil
}

func validAttrs(op, p string, o SetAttributeOptions) error {
	switch {
	case o.TTL != nil && o.UnsetTTL:
		return pathErr(op, p, errorf(fs.ErrInvalid, "set and unset a TTL at once"))
	case o.TTL != nil && *o.TTL <= 0:
		return pathErr(op, p, errorf(fs.ErrInvalid, "TTL %v is not positive", *o.TTL))
	case o.TTLAction != nil && *o.TTLAction > TTLFree:
		return pathErr(op, p, errorf(fs.ErrInvalid, "unknown TTL action %d", *o.TTLAction))
	case o.Mode != nil && *o.Mode&^fs.ModePerm != 0:
		return pathErr(op, p, errorf(fs.ErrInvalid, "mode %v has bits beyond the permissions", *o.Mode))
	case o.Owner != nil && *o.Owner == "", o.Group != nil && *o.Group == "":
		return pathErr(op, p, errorf(fs.ErrInvalid, "empty owner or group"))
	}
	return nil
}

// attrRecord is the change opts make to the entry at p. A new TTL counts from now: the
// namespace records no creation time for entries loaded from the UFS.
func (f *FS) attrRecord(p string, o SetAttributeOptions) *namespace.AttrRecord {
	rec := &namespace.AttrRecord{}
	if o.UnsetTTL {
		rec.Set |= namespace.AttrUnsetTTL
	}
	if o.TTL != nil {
		rec.Set |= namespace.AttrTTL
		rec.TTL, rec.TTLBase = int64(*o.TTL), f.now().UnixNano()
		if cur, _ := f.ns().AttrOf(p); cur.TTL == 0 && o.TTLAction == nil {
			rec.Set |= namespace.AttrTTLAction // a first TTL: DELETE
		}
	}
	if o.TTLAction != nil {
		rec.Set |= namespace.AttrTTLAction
		rec.TTLAction = uint8(*o.TTLAction)
	}
	if o.Pinned != nil {
		rec.Set |= namespace.AttrPinned
		rec.Pinned = *o.Pinned
	}
	if o.Mode != nil {
		rec.Set |= namespace.AttrMode
		rec.Mode = *o.Mode
	}
	if o.Owner != nil {
		rec.Set |= namespace.AttrOwner
		rec.Owner = *o.Owner
	}
	if o.Group != nil {
		rec.Set |= namespace.AttrGroup
		rec.Group = *o.Group
	}
	return rec
}

// subtree returns r and every entry below it, parents first, loading listings.
func (f *FS) subtree(ctx context.Context, op string, r resolved) ([]resolved, error) {
	out := []resolved{r}
	for i := 0; i < len(out); i++ {
		d := out[i]
		if !d.node.IsDir() {
			continue
		}
		if err := f.loadDir(ctx, op, &d); err != nil {
			return nil, err
		}
		for _, c := range d.node.Dir().Children() {
			cr, err := f.resolve(ctx, op, ufs.Join(d.path, c.Name), lookupOpts{noLoad: true})
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone meanwhile
			}
			if err != nil {
				return nil, err
			}
			out = append(out, cr)
		}
	}
	return out, nil
}

// setUFSPerms changes mode, owner and group in the UFS of each persisted entry whose
// store keeps them, before the namespace records them.
func (f *FS) setUFSPerms(ctx context.Context, op string, all []resolved, o SetAttributeOptions) error {
	for _, e := range all {
		if !e.persisted() || e.node.IsMount() && e.path != all[0].path {
			continue
		}
		a := ufs.AttributerOf(e.mount.ufs)
		if a == nil {
			continue
		}
		if o.Mode != nil {
			if err := a.Chmod(ctx, e.ufsPath, *o.Mode); err != nil {
				return pathErr(op, e.path, err)
			}
		}
		if o.Owner != nil || o.Group != nil {
			owner, group := e.node.Owner.Owner, e.node.Owner.Group
			if cur, ok := f.ns().AttrOf(e.path); ok {
				owner, group = cmpOr(cur.Owner, owner), cmpOr(cur.Group, group)
			}
			if o.Owner != nil {
				owner = *o.Owner
			}
			if o.Group != nil {
				group = *o.Group
			}
			if err := a.Chown(ctx, e.ufsPath, owner, group); err != nil {
				return pathErr(op, e.path, err)
			}
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// hold makes the blocks of the file e resident and unevictable; e's path lock is held.
func (f *FS) hold(ctx context.Context, op string, e resolved) error {
	if e.node.Flags&inode.FlagOpen != 0 {
		return pathErr(op, e.path, ErrIncomplete)
	}
	f.versions.keepPinned(e.node.ID) // before Hold: an unpin that ran first is undone
	if err := f.cache.Hold(ctx, cacheFile(e.node), f.fetcher(e.mount, e.path, e.node)); err != nil {
		return pathErr(op, e.path, err)
	}
	return nil
}

// unpinAll makes the blocks of the persisted files among es evictable again, once the
// readers that opened them while pinned are gone (the blocks of unpersisted files stay
// pinned: the cache holds their only copy; their persist unpins them).
func (f *FS) unpinAll(es []resolved) {
	for _, e := range es {
		if !e.node.IsDir() && e.persisted() {
			f.versions.unpinAfterHolders(f, e.node.ID)
		}
	}
}

// attrsOf returns the attributes SetAttribute recorded for p (the zero Attr for none).
func (f *FS) attrsOf(p string) namespace.Attr {
	ns := f.ns()
	if !ns.HasAttrs() {
		return namespace.Attr{}
	}
	a, _ := ns.AttrOf(p)
	return a
}

// withAttrs overlays the attributes a (other than the mode: fileInfo.permOf) on st.
func withAttrs(st *FileStatus, a namespace.Attr) {
	st.TTL, st.TTLAction = time.Duration(a.TTL), TTLAction(a.TTLAction)
	st.Pinned = st.Pinned || a.Pinned
	if a.Owner != "" {
		st.Owner = a.Owner
	}
	if a.Group != "" {
		st.Group = a.Group
	}
}

// stableInfo returns the status of the entry r resolved, read with its attributes as one
// namespace state (applied, the count of entries applied before r was resolved): a
// status never pairs a file with the attributes of another (one renamed to its path
// since, or the version that replaced it), nor shows part of a SetAttribute. An entry
// gone since r was resolved is not there any more.
func (f *FS) stableInfo(r *resolved, ns *namespace.State, applied uint64) (*fileInfo, error) {
	fi := f.info(r)
	if applied&1 == 0 && f.ns() == ns {
		a, ok := namespace.Attr{}, false
		if ns.HasAttrs() {
			a, ok = ns.AttrOf(r.path)
		}
		if ns.Applied() == applied { // nothing changed since the walk: the common case
			fi.attr = attrRef(a, ok)
			return fi, nil
		}
	}
	ns = f.ns()
	var a namespace.Attr
	var ok bool
	var cur *inode.Inode
	ns.Stable(func() {
		cur = ns.Lookup(r.path)
		a, ok = ns.AttrOf(r.path)
	})
	if cur == nil {
		return nil, pathErr("stat", r.path, fs.ErrNotExist)
	}
	fi.in, fi.attr = cur, attrRef(a, ok)
	return fi, nil
}

// noAttrs stands for the attributes of every entry that has none (no allocation).
var noAttrs = &namespace.Attr{}

func attrRef(a namespace.Attr, ok bool) *namespace.Attr {
	if !ok {
		return noAttrs
	}
	p := new(namespace.Attr)
	*p = a
	return p
}

// reholdPinned pins again, after a restart, the blocks of the files SetAttribute pinned
// (the attribute is journaled; the memory tier is not), loading them from the UFS.
func (f *FS) reholdPinned() {
	ns := f.ns()
	if !ns.HasAttrs() {
		return
	}
	for _, p := range ns.AttrPaths(ufs.Root) {
		if a, _ := ns.AttrOf(p); !a.Pinned {
			continue
		}
		r, err := f.resolve(f.ctx, "pin", p, lookupOpts{})
		if err != nil || r.node.IsDir() {
			continue
		}
		if err := f.hold(f.ctx, "pin", r); err != nil && f.ctx.Err() == nil {
			f.log.Warn("unifiedfs: pinning again after a restart", "path", ufs.Rooted(p), "err", err)
		}
	}
}

// ErrPinned is wrapped by Free's error for a file SetAttribute pinned (without
// FreeOptions.Force).
var ErrPinned = errors.New("file is pinned")

// FreeOptions tune Free.
type FreeOptions struct {
	// Force frees pinned files too (their blocks go; they stay pinned, so a later read
	// caches them again), as Alluxio's free -f.
	Force bool
}

func freeForced(opts []FreeOptions) bool {
	for _, o := range opts {
		if o.Force {
			return true
		}
	}
	return false
}

// checkUnpinned fails with ErrPinned when a file at or below p is pinned and no option
// forces the free.
func (f *FS) checkUnpinned(p string, opts []FreeOptions) error {
	if freeForced(opts) {
		return nil
	}
	ns := f.ns()
	if !ns.HasAttrs() {
		return nil
	}
	for _, q := range ns.AttrPaths(p) {
		if a, _ := ns.AttrOf(q); a.Pinned {
			return pathErr("free", q, errorf(ErrPinned, "%s is pinned: unpin it, or force the free", ufs.Rooted(q)))
		}
	}
	return nil
}
