package unifiedfs

import (
	"context"
	"errors"
	"io/fs"
	"sort"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// errLimitReached stops a listing when the sync limit is reached.
var errLimitReached = errors.New("sync limit reached")

// syncCounter counts the entries a recursive sync has synced against its limit.
type syncCounter struct {
	limit     int // < 0: none
	succeeded int
	failed    int
}

// take counts one entry; false when the limit is reached.
func (c *syncCounter) take() bool {
	if c == nil {
		return true
	}
	if c.limit >= 0 && c.succeeded >= c.limit {
		return false
	}
	c.succeeded++
	return true
}

// pageSource yields a listing page by page; more is false after the last page. built,
// when not nil, holds inodes made in advance for entries the namespace lacked (parallel
// to page.Entries).
type pageSource func() (page ufs.ListPage, built []*inode.Inode, more bool, err error)

// pagesOf lists the directory r page by page, synchronously.
func (f *FS) pagesOf(ctx context.Context, r *resolved) pageSource {
	opts := ufs.ListOptions{}
	done := false
	return func() (ufs.ListPage, []*inode.Inode, bool, error) {
		if done {
			return ufs.ListPage{}, nil, false, nil
		}
		page, err := r.mount.ufs.List(ctx, r.ufsPath, opts)
		if err != nil {
			return ufs.ListPage{}, nil, false, err
		}
		opts.PageToken = page.NextPageToken
		done = page.NextPageToken == ""
		return page, nil, !done, nil
	}
}

// syncListing reconciles the children of the directory r with a UFS listing: new entries
// are added, changed ones updated, and, once the whole listing was read, persisted
// children the UFS no longer has are removed and the directory is marked synced. A failed
// or aborted listing changes nothing but what it already added or updated (so the next
// access lists again). cnt (may be nil) counts entries against a limit; onDir (may be
// nil) receives the paths of child directories, including nested mount points.
func (f *FS) syncListing(ctx context.Context, r *resolved, pages pageSource, cnt *syncCounter, onDir func(string)) error {
	d := r.node.Dir()
	snap := d.Children()
	seen := make([]uint64, (len(snap)+63)/64)
	listedAt := f.now().UnixNano()
	pos := 0
	var add []ufs.Status
	var addBuilt []*inode.Inode
	for {
		page, built, more, err := pages()
		if errors.Is(err, fs.ErrNotExist) && r.path != r.mount.Path {
			// The directory itself is gone from the UFS.
			f.syncGone(r.path)
			return nil
		}
		if err != nil {
			return err
		}
		add, addBuilt = add[:0], addBuilt[:0]
		f.stats.listedEntries.Add(int64(len(page.Entries)))
		for j, st := range page.Entries {
			if ufs.IsTempName(st.Name) {
				continue
			}
			if !cnt.take() {
				f.applyBuilt(r.path, add, addBuilt)
				return errLimitReached
			}
			var prebuilt *inode.Inode
			if built != nil {
				prebuilt = built[j]
			}
			// Listings come in (nearly) the snapshot's order: try the next slot first.
			i := pos
			if i >= len(snap) || snap[i].Name != st.Name {
				i = sort.Search(len(snap), func(i int) bool { return snap[i].Name >= st.Name })
			}
			if i < len(snap) && snap[i].Name == st.Name {
				pos = i + 1
				if seen[i/64]&(1<<(i%64)) != 0 {
					continue // a file and a directory share the name: the file came first and wins
				}
				seen[i/64] |= 1 << (i % 64)
				if inSync(snap[i], st) {
					// Unchanged since the snapshot: nothing to look up or apply.
				} else if cur := d.Lookup(st.Name); cur != nil {
					f.reconcile(r.path, cur, st)
				} else {
					add, addBuilt = append(add, st), append(addBuilt, prebuilt)
				}
				if st.IsDir && onDir != nil {
					onDir(ufs.Join(r.path, st.Name))
				}
				continue
			}
			add, addBuilt = append(add, st), append(addBuilt, prebuilt)
			if st.IsDir && onDir != nil {
				onDir(ufs.Join(r.path, st.Name))
			}
		}
		f.applyBuilt(r.path, add, addBuilt)
		if !more {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	for i, c := range snap {
		if c.IsMount() {
			if onDir != nil {
				onDir(ufs.Join(r.path, c.Name))
			}
			continue
		}
		if seen[i/64]&(1<<(i%64)) == 0 {
			f.syncGone(ufs.Join(r.path, c.Name))
		}
	}
	d.SyncedAt.Store(listedAt)
	f.sync.synced(r.path, listedAt)
	f.stats.listings.Add(1)
	return nil
}

// applyLoaded adds UFS statuses below dir (entries the namespace has are left alone).
func (f *FS) applyLoaded(dir string, sts []ufs.Status) {
	if len(sts) > 0 {
		_ = f.apply(&namespace.Entry{Op: namespace.OpLoad, Path: dir, Loaded: sts}, nil)
	}
}

// applyBuilt adds UFS statuses below dir, with the inodes already made for them.
func (f *FS) applyBuilt(dir string, sts []ufs.Status, built []*inode.Inode) {
	if len(sts) > 0 {
		_ = f.apply(&namespace.Entry{Op: namespace.OpLoad, Path: dir, Loaded: sts, Built: built}, nil)
	}
}

// loadedIDAt returns the content id of the version st describes at the namespace path p.
func (f *FS) loadedIDAt(p string, st ufs.Status) uint64 {
	m := f.mountByID(f.ns().MountOf(parentPath(p)))
	if m == nil {
		m = f.rootMount()
	}
	return namespace.LoadedID(m.URI.String(), ufs.Rel(m.Path, p), st.Size, st.ContentHash)
}

// statusOwner returns the owner triple a status implies, and whether it carries one.
func statusOwner(st ufs.Status) (inode.Owner, bool) {
	if st.Owner == "" && st.Group == "" && st.Mode == 0 {
		return inode.Owner{}, false
	}
	return inode.Owner{Owner: st.Owner, Group: st.Group, Mode: st.Mode.Perm()}, true
}

// inSync reports whether the entry cur already matches the UFS status st (nothing to
// apply), or is one the namespace owns. It allocates nothing.
func inSync(cur *inode.Inode, st ufs.Status) bool {
	if cur.IsMount() || cur.Flags&inode.FlagOpen != 0 || cur.Persist() != inode.Persisted {
		return true
	}
	if owner, ok := statusOwner(st); ok && owner != *cur.Owner {
		return false
	}
	return cur.IsDir() == st.IsDir && (st.IsDir || st.Size == cur.Size && cur.HashIs(st.ContentHash))
}

// reconcile brings the namespace entry cur (named cur.Name in the directory dir) in line
// with the UFS status st. Entries the namespace owns (unpersisted, being written, mount
// points) are left alone. An unchanged entry costs no allocation.
func (f *FS) reconcile(dir string, cur *inode.Inode, st ufs.Status) {
	if cur.IsMount() || cur.Flags&inode.FlagOpen != 0 || cur.Persist() != inode.Persisted {
		return
	}
	if inSync(cur, st) {
		return
	}
	owner, hasOwner := statusOwner(st)
	metaChanged := hasOwner && owner != *cur.Owner
	p := ufs.Join(dir, cur.Name)
	if cur.IsDir() != st.IsDir {
		if cur.IsDir() && namespace.OwnsEntries(cur) {
			return // the namespace holds entries only it has
		}
		if f.apply(f.goneEntry(p), nil) == nil {
			f.applyLoaded(dir, []ufs.Status{st})
		}
		return
	}
	if st.IsDir {
		if metaChanged {
			_ = f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Volatile: true, Node: &namespace.NodeRecord{Dir: true, Persist: inode.Persisted, Owner: owner.Owner, Group: owner.Group, Mode: owner.Mode}}, nil)
		}
		return
	}
	contentChanged := st.Size != cur.Size || cur.HasHash() && !cur.HashIs(st.ContentHash)
	adopt := !cur.HasHash() && st.ContentHash != ""
	if !contentChanged && !adopt && !metaChanged {
		return
	}
	rec := &namespace.NodeRecord{ID: cur.ID, Size: st.Size, Hash: st.ContentHash, Persist: inode.Persisted}
	if contentChanged {
		rec.NewID = f.loadedIDAt(p, st) // a new version: the old one is released
	}
	if !st.ModTime.IsZero() {
		rec.MTime = st.ModTime.UnixNano()
	}
	if hasOwner {
		rec.Owner, rec.Group, rec.Mode = owner.Owner, owner.Group, owner.Mode
	} else {
		rec.Owner, rec.Group, rec.Mode = cur.Owner.Owner, cur.Owner.Group, cur.Owner.Mode
	}
	_ = f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Volatile: true, Node: rec}, nil)
}

// syncGone handles an entry the UFS no longer has: persisted entries leave the
// namespace; entries only the namespace has (not persisted, being written, mount points)
// stay, and so do the directories holding them (marked not persisted).
func (f *FS) syncGone(p string) {
	cur := f.ns().Lookup(p)
	if cur == nil || cur.IsMount() || f.hasMountBelow(p) {
		return
	}
	if cur.Persist() != inode.Persisted || cur.Flags&inode.FlagOpen != 0 {
		return
	}
	if !namespace.OwnsEntries(cur) {
		_ = f.apply(f.goneEntry(p), nil)
		return
	}
	for _, c := range cur.Dir().Children() {
		f.syncGone(ufs.Join(p, c.Name))
	}
	_ = f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Node: &namespace.NodeRecord{Dir: true, Persist: inode.NotPersisted}}, nil)
}

// goneEntry removes the persisted entry at p that the UFS no longer has. It is derived
// from the UFS (volatile) unless it takes active-sync points with it, which are durable.
func (f *FS) goneEntry(p string) *namespace.Entry {
	e := &namespace.Entry{Op: namespace.OpDelete, Path: p, Volatile: true}
	for _, sp := range f.ns().SyncPoints() {
		if ufs.IsWithin(sp, p) {
			e.Volatile = false
		}
	}
	return e
}

func (f *FS) hasMountBelow(p string) bool { return len(f.mountsBelow(p, false)) > 0 }

// syncPath stats p (whose parent directory is parent, in mount m) in the UFS and brings
// the namespace in line; it returns the entry now at p (nil when absent).
func (f *FS) syncPath(ctx context.Context, op string, parent *inode.Inode, m *mount, p string) (*inode.Inode, error) {
	name := ufs.Base(p)
	if ufs.IsTempName(name) {
		return parent.Dir().Lookup(name), nil
	}
	st, err := m.ufs.Stat(ctx, ufs.Rel(m.Path, p))
	now := f.now().UnixNano()
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotDir) {
		f.absent.add(p, now)
		f.sync.synced(p, now)
		f.syncGone(p)
		return parent.Dir().Lookup(name), nil
	}
	if err != nil {
		return nil, pathErr(op, p, err)
	}
	f.sync.synced(p, now)
	st.Name = name
	if cur := parent.Dir().Lookup(name); cur != nil {
		f.reconcile(parentPath(p), cur, st)
	} else if err := f.apply(&namespace.Entry{Op: namespace.OpLoad, Path: parentPath(p), Loaded: []ufs.Status{st}}, nil); err != nil {
		return nil, err
	}
	return parent.Dir().Lookup(name), nil
}

func parentPath(p string) string { d, _ := ufs.Split(p); return d }

// prefetched is a listing running ahead of the traversal.
type prefetched struct {
	pages  chan pageResult
	cancel context.CancelFunc
}

type pageResult struct {
	page  ufs.ListPage
	built []*inode.Inode
	more  bool
	err   error
}
