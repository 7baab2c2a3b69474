package unifiedfs

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"time"

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
	noLoad      bool          // never ask the UFS (only what the namespace holds)
	force       bool          // sync the path whatever the interval
	hasInterval bool          // interval overrides the configured sync interval
	interval    time.Duration //
}

// resolve walks p from the root, loading metadata of entries the namespace has not seen
// yet from the UFS (never content): a missing child of a persisted directory that was
// never fully listed is looked up with one UFS Stat, and a miss is remembered (absent
// cache). Errors wrap fs.ErrNotExist (and ErrNotDir when a path element is a file).
func (f *FS) resolve(ctx context.Context, op, p string, o lookupOpts) (resolved, error) {
	cur := f.ns().Root()
	m := f.rootMount()
	if p == ufs.Root {
		return resolved{path: p, node: cur, mount: m, ufsPath: ufs.Root}, nil
	}
	for end := 0; ; {
		start := end
		if i := strings.IndexByte(p[start:], '/'); i >= 0 {
			end = start + i
		} else {
			end = len(p)
		}
		name := p[start:end]
		d := cur.Dir()
		if d == nil {
			return resolved{}, pathErr(op, p, errorf(fs.ErrNotExist, "%s: %v", ufs.Rooted(p[:max(start-1, 0)]), ErrNotDir))
		}
		child := d.Lookup(name)
		last := end == len(p)
		if !o.noLoad && cur.Persist() == inode.Persisted && (child == nil || last && !f.sync.quiet(&o)) {
			var err error
			if child, err = f.loadChild(ctx, op, cur, child, m, p[:end], &o); err != nil {
				return resolved{}, err
			}
		}
		if child == nil {
			return resolved{}, pathErr(op, p, fs.ErrNotExist)
		}
		if child.IsMount() {
			m = f.mountByID(child.Dir().MountID.Load())
			if m == nil { // unmounted while we walked
				return resolved{}, pathErr(op, p, fs.ErrNotExist)
			}
		}
		cur = child
		if end == len(p) {
			return resolved{path: p, node: cur, mount: m, ufsPath: ufs.Rel(m.Path, p)}, nil
		}
		end++ // skip '/'
	}
}

// loadChild brings the child at childPath of the persisted directory parent in line with
// the UFS when that is needed: a child the namespace lacks is looked up (one UFS Stat)
// unless the parent's listing or a remembered miss still covers it; a child it has is
// re-synced when its sync interval says so. It returns the child now in the namespace.
func (f *FS) loadChild(ctx context.Context, op string, parent, child *inode.Inode, m *mount, childPath string, o *lookupOpts) (*inode.Inode, error) {
	listed := f.sync.listedAt(parent.Dir())
	quiet := f.sync.quiet(o)
	if child == nil {
		if quiet && listed != 0 {
			return nil, nil // fully listed and never re-synced
		}
		if at, ok := f.absent.get(childPath); ok && (quiet || !f.sync.due(childPath, max(at, listed), f.now().UnixNano(), o)) {
			return nil, nil
		}
		if listed != 0 && !quiet && !f.sync.due(childPath, f.sync.lastSync(childPath, listed), f.now().UnixNano(), o) {
			return nil, nil
		}
		return f.syncPath(ctx, op, parent, m, childPath)
	}
	if child.IsMount() || !f.sync.due(childPath, f.sync.lastSync(childPath, listed), f.now().UnixNano(), o) {
		return child, nil
	}
	return f.syncPath(ctx, op, parent, m, childPath)
}

// loadDir lists a persisted directory that was never fully loaded, or whose listing is
// due for a sync, and reconciles its entries. Only a listing that reached its last page
// marks the directory loaded, so a failed listing is retried on the next access.
func (f *FS) loadDir(ctx context.Context, op string, r *resolved) error {
	return f.syncDirIfDue(ctx, op, r, lookupOpts{})
}

// absentCache remembers namespace paths the UFS did not have, and when, so repeated
// misses do not reach the UFS until a sync is due. It is bounded: when full it starts
// over.
type absentCache struct {
	mu sync.Mutex
	m  map[string]int64
}

const absentCacheMax = 100_000

func (a *absentCache) get(p string) (int64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.m[p]
	return t, ok
}

func (a *absentCache) add(p string, at int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil || len(a.m) >= absentCacheMax {
		a.m = map[string]int64{}
	}
	a.m[p] = at
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
