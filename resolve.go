package unifiedfs

import (
	"context"
	"errors"
	"io/fs"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// resolved is a path looked up in the namespace: the inode version seen, the mount that
// holds it and its path inside that mount's UFS.
type resolved struct {
	path    string
	node    *inode.Inode
	mount   *mount
	ufsPath string
}

// persisted reports whether the entry exists in its UFS.
func (r *resolved) persisted() bool { return r.node.Persist() == inode.Persisted }

// lookupOpts tune resolve.
type lookupOpts struct {
	noLoad bool // never ask the UFS (only what the namespace holds)
}

// resolve walks p from the root, loading metadata of entries the namespace has not seen
// yet from the UFS (never content): a missing child of a persisted directory that was
// never fully listed is looked up with one UFS Stat, and a miss is remembered (absent
// cache). Errors wrap fs.ErrNotExist (and ErrNotDir when a path element is a file).
func (f *FS) resolve(ctx context.Context, op, p string, o lookupOpts) (resolved, error) {
	cur := f.root.Load()
	m := f.rootMount.Load()
	if p == ufs.Root {
		return resolved{path: p, node: cur, mount: m, ufsPath: ufs.Root}, nil
	}
	for end := 0; ; {
		start := end
		for end < len(p) && p[end] != '/' {
			end++
		}
		name := p[start:end]
		d := cur.Dir()
		if d == nil {
			return resolved{}, pathErr(op, p, errorf(fs.ErrNotExist, "%s: %v", ufs.Rooted(p[:max(start-1, 0)]), ErrNotDir))
		}
		child := d.Lookup(name)
		if child == nil && !o.noLoad {
			parentPath := ufs.Root
			if start > 0 {
				parentPath = p[:start-1]
			}
			var err error
			if child, err = f.loadChild(ctx, op, cur, m, parentPath, p[:end]); err != nil {
				return resolved{}, err
			}
		}
		if child == nil {
			return resolved{}, pathErr(op, p, fs.ErrNotExist)
		}
		if child.IsMount() {
			m = f.mounts.Load().byID[child.Dir().MountID.Load()]
			if m == nil { // unmounted while we walked
				return resolved{}, pathErr(op, p, fs.ErrNotExist)
			}
		}
		cur = child
		if end == len(p) {
			return resolved{path: p, node: cur, mount: m, ufsPath: ufs.Rel(m.path, p)}, nil
		}
		end++ // skip '/'
	}
}

// loadChild looks up childPath in the UFS when its parent may hold entries the namespace
// has not loaded; nil (and no error) when it is absent.
func (f *FS) loadChild(ctx context.Context, op string, parent *inode.Inode, m *mount, parentPath, childPath string) (*inode.Inode, error) {
	if parent.Persist() != inode.Persisted || parent.Dir().SyncedAt.Load() != 0 || f.absent.has(childPath) {
		return nil, nil
	}
	if ufs.IsTempName(ufs.Base(childPath)) {
		return nil, nil
	}
	st, err := m.ufs.Stat(ctx, ufs.Rel(m.path, childPath))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNotDir) {
		f.absent.add(childPath)
		return nil, nil
	}
	if err != nil {
		return nil, pathErr(op, childPath, err)
	}
	st.Name = ufs.Base(childPath)
	if err := f.apply(&entry{Op: opLoad, Path: parentPath, Loaded: []ufs.Status{st}}, nil); err != nil {
		return nil, err
	}
	return parent.Dir().Lookup(st.Name), nil
}

// loadDir lists a persisted directory that was never fully loaded and adds its entries,
// page by page. Only a listing that reached its last page marks the directory loaded, so
// a failed listing is retried on the next access.
func (f *FS) loadDir(ctx context.Context, op string, r *resolved) error {
	d := r.node.Dir()
	if d == nil || r.node.Persist() != inode.Persisted || d.SyncedAt.Load() != 0 {
		return nil
	}
	opts := ufs.ListOptions{}
	for {
		page, err := r.mount.ufs.List(ctx, r.ufsPath, opts)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// Gone from the UFS (or an object-store prefix that emptied): nothing to load.
				return nil
			}
			return pathErr(op, r.path, err)
		}
		last := page.NextPageToken == ""
		e := &entry{Op: opLoad, Path: r.path, Loaded: page.Entries, Complete: last, SyncedAt: f.now().UnixNano()}
		if err := f.apply(e, nil); err != nil {
			return err
		}
		if last {
			return nil
		}
		opts.PageToken = page.NextPageToken
	}
}

// absentCache remembers namespace paths the UFS did not have, so repeated misses do not
// reach the UFS. It is bounded: when full it starts over.
type absentCache struct {
	mu sync.Mutex
	m  map[string]struct{}
}

const absentCacheMax = 100_000

func (a *absentCache) has(p string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.m[p]
	return ok
}

func (a *absentCache) add(p string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= absentCacheMax {
		a.m = map[string]struct{}{}
	}
	a.m[p] = struct{}{}
}

func (a *absentCache) forget(p string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, p)
}

func (a *absentCache) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m = nil
}
