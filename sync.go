package unifiedfs

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Sync intervals with a meaning of their own (see Config.SyncInterval).
const (
	// SyncNever loads metadata once and never re-syncs (Alluxio's interval -1).
	SyncNever time.Duration = 0
	// SyncAlways re-syncs on every operation (Alluxio's interval 0).
	SyncAlways time.Duration = -1
)

// Traversal is the order of a recursive sync.
type Traversal uint8

// Traversal orders, as alluxio.master.metadata.sync.traversal.order.
const (
	// BFS lists the root, then each child directory in turn, level by level.
	BFS Traversal = iota
	// DFS finishes one directory's subtree before the next (less memory for huge flat
	// directories, fewer listings wasted when the limit aborts a sync).
	DFS
)

func (t Traversal) String() string {
	if t == DFS {
		return "DFS"
	}
	return "BFS"
}

// DefaultSyncLimit is the recursive sync limit when Config.SyncLimit is zero.
const DefaultSyncLimit = 1_000_000

// LoadMetadataOptions tune LoadMetadata.
type LoadMetadataOptions struct {
	// Recursive syncs the whole subtree (-R).
	Recursive bool
	// Force syncs now whatever the interval says (-F).
	Force bool
	// Limit bounds a recursive sync: zero means Config.SyncLimit; negative means none.
	Limit int
}

// SyncLimitError reports a recursive sync aborted for passing its limit. It satisfies
// errors.Is(err, ErrSyncLimit). What was loaded before the abort stays loaded.
type SyncLimitError struct {
	Path      string // rooted path of the sync's root
	Succeeded int
	Failed    int
	Limit     int
}

func (e *SyncLimitError) Error() string {
	return fmt.Sprintf("Recursive sync on dir %s is aborted prematurely for being oversized. succeeded=%d, failed=%d and the limit is %d.",
		e.Path, e.Succeeded, e.Failed, e.Limit)
}

// Is makes errors.Is(err, ErrSyncLimit) true.
func (e *SyncLimitError) Is(target error) bool { return target == ErrSyncLimit }

// SyncPoint is one active-sync point.
type SyncPoint struct {
	Path     string    // rooted namespace path
	LastSync time.Time // zero until the first full sync finished
}

// syncPolicy decides when a path is synced. Its hot path (SyncNever, no path intervals,
// no invalidation) is one atomic load.
type syncPolicy struct {
	def      time.Duration
	prefixes []pathInterval // longest first
	trivial  bool           // def == SyncNever and no prefixes

	mu       sync.Mutex
	paths    map[string]int64 // last individual sync of a path (Unix ns)
	trees    map[string]int64 // last complete recursive sync of a subtree
	invalid  map[string]int64 // InvalidateSync times
	nInvalid atomic.Int64
	// stale is when every listing made before became stale (Unix ns; 0: never): a new
	// leader's epoch began (see FS.listingsStale).
	stale atomic.Int64
}

type pathInterval struct {
	path string
	d    time.Duration
}

// syncTimesMax bounds the per-path sync-time map; when full it starts over (paths then
// look due once more, which costs a UFS call, never correctness).
const syncTimesMax = 1 << 20

func newSyncPolicy(cfg Config) (*syncPolicy, error) {
	p := &syncPolicy{def: cfg.SyncInterval, paths: map[string]int64{}, trees: map[string]int64{}, invalid: map[string]int64{}}
	if cfg.SyncInterval < SyncAlways {
		return nil, errorf(fs.ErrInvalid, "unifiedfs: SyncInterval %v (want SyncNever, SyncAlways or > 0)", cfg.SyncInterval)
	}
	for k, d := range cfg.PathSyncIntervals {
		c, err := ufs.CleanPath(k)
		if err != nil {
			return nil, fmt.Errorf("unifiedfs: PathSyncIntervals: %w", err)
		}
		if d < SyncAlways {
			return nil, errorf(fs.ErrInvalid, "unifiedfs: PathSyncIntervals[%q] = %v", k, d)
		}
		p.prefixes = append(p.prefixes, pathInterval{c, d})
	}
	sort.Slice(p.prefixes, func(i, j int) bool { return len(p.prefixes[i].path) > len(p.prefixes[j].path) })
	p.trivial = p.def == SyncNever && len(p.prefixes) == 0
	return p, nil
}

// interval returns the effective interval of p: the override, else the longest matching
// path configuration, else the default.
func (s *syncPolicy) interval(p string, o *lookupOpts) time.Duration {
	if o.hasInterval {
		return o.interval
	}
	for _, pi := range s.prefixes {
		if ufs.IsWithin(p, pi.path) {
			return pi.d
		}
	}
	return s.def
}

// quiet reports that no path can be due: nothing to check on this lookup.
func (s *syncPolicy) quiet(o *lookupOpts) bool {
	return !o.hasInterval && !o.force && s.trivial && s.nInvalid.Load() == 0
}

// due reports whether p, last synced at last (Unix ns, 0 unknown), must be synced now.
func (s *syncPolicy) due(p string, last, now int64, o *lookupOpts) bool {
	if o.force {
		return true
	}
	if s.nInvalid.Load() > 0 && s.invalidAfter(p) > last {
		return true
	}
	switch d := s.interval(p, o); {
	case d == SyncNever:
		return false
	case d == SyncAlways:
		return true
	default:
		return now-last >= int64(d)
	}
}

// lastSync returns when p was last synced: by itself, by a listing of its parent
// (listedAt), or by a recursive sync of an ancestor.
func (s *syncPolicy) lastSync(p string, listedAt int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := max(listedAt, s.paths[p])
	for a := p; ; a, _ = ufs.Split(a) {
		last = max(last, s.trees[a])
		if a == ufs.Root {
			return last
		}
	}
}

func (s *syncPolicy) invalidAfter(p string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t int64
	for a := p; ; a, _ = ufs.Split(a) {
		t = max(t, s.invalid[a])
		if a == ufs.Root {
			return t
		}
	}
}

func (s *syncPolicy) synced(p string, at int64) {
	if s.trivial {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.paths) >= syncTimesMax {
		s.paths = map[string]int64{}
	}
	s.paths[p] = at
}

func (s *syncPolicy) treeSynced(p string, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trees[p] = at
}

// listedAt returns when directory d was last listed in full, or 0 when it never was or
// that listing went stale since.
func (s *syncPolicy) listedAt(d *inode.Dir) int64 {
	t := d.SyncedAt.Load()
	if t != 0 && t < s.stale.Load() {
		return 0
	}
	return t
}

// listingsStale makes every directory listed so far be listed again at its next access,
// and every remembered miss be looked up again: called when a new leader's epoch begins
// (on the new leader, and on each standby when it reads the new epoch's first entry). The
// deposed leader may have changed the UFS without journaling it (an object made, moved or
// deleted by an operation it never acknowledged), and each member's loads are its own:
// without this a member that listed a directory before would not see such an orphan until
// its sync interval, while a member listing it afresh would.
func (f *FS) listingsStale() {
	f.sync.stale.Store(f.now().UnixNano())
	f.absent.clear()
}

func (s *syncPolicy) invalidate(p string, at int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.invalid[p]; !ok {
		s.nInvalid.Add(1)
	}
	s.invalid[p] = at
}

// InvalidateSync makes the next access of path, or of anything below it, re-sync with
// the UFS, whatever the interval (Alluxio's needsSync). Invalid paths are ignored.
func (f *FS) InvalidateSync(path string) {
	p, err := ufs.CleanPath(path)
	if err != nil {
		return
	}
	if f.remote != nil {
		_ = f.remoteLocal(f.ctx, localRequest{Op: "invalidateSync", Path: ufs.Rooted(p)})
		return
	}
	f.sync.invalidate(p, f.now().UnixNano())
}

// WithSyncInterval returns an io/fs view whose operations use the sync interval d
// (SyncNever, SyncAlways or d > 0) instead of the configured ones.
func (f *FS) WithSyncInterval(d time.Duration) *View {
	return f.WithContext(f.ctx).WithSyncInterval(d)
}

// WithSyncInterval returns a copy of the view that uses the sync interval d.
func (v *View) WithSyncInterval(d time.Duration) *View {
	c := *v
	c.lo.hasInterval, c.lo.interval = true, d
	return &c
}

// LoadMetadata syncs path with the UFS now when its interval says so, or always with
// opts.Force (Alluxio's loadMetadata [-F]): new UFS entries are added (metadata only),
// changed ones updated (a content change frees cached blocks), vanished persisted ones
// removed. With opts.Recursive the whole subtree is synced, in Config.SyncTraversal order
// with Config.SyncConcurrency listings in flight; when the number of entries synced
// passes the limit it stops and returns a *SyncLimitError, keeping what it loaded.
func (f *FS) LoadMetadata(ctx context.Context, path string, opts LoadMetadataOptions) error {
	p, err := clean("loadMetadata", path)
	if err != nil {
		return err
	}
	if f.remote != nil {
		return f.remoteLocal(ctx, localRequest{Op: "loadMetadata", Path: ufs.Rooted(p), Recursive: opts.Recursive, Force: opts.Force})
	}
	if err := f.check(ctx, "loadMetadata", p); err != nil {
		return err
	}
	lo := lookupOpts{force: opts.Force}
	if !opts.Force {
		// Without -F, loadMetadata loads what was never loaded and syncs what is due.
		lo.hasInterval, lo.interval = true, f.sync.interval(p, &lookupOpts{})
	}
	r, err := f.resolve(ctx, "loadMetadata", p, lo)
	if err != nil {
		return err
	}
	if !r.node.IsDir() {
		return nil
	}
	if !opts.Recursive {
		return f.syncDirIfDue(ctx, "loadMetadata", &r, lo)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = f.cfg.SyncLimit
	}
	return f.syncTree(ctx, &r, limit, lo)
}

// syncDirIfDue lists the directory r and reconciles its children when it was never
// listed or its listing is due.
func (f *FS) syncDirIfDue(ctx context.Context, op string, r *resolved, lo lookupOpts) error {
	d := r.node.Dir()
	if d == nil || r.node.Persist() != inode.Persisted {
		return nil
	}
	listed := f.sync.listedAt(d)
	if listed != 0 && (f.sync.quiet(&lo) || !f.sync.due(r.path, f.sync.lastSync(r.path, listed), f.now().UnixNano(), &lo)) {
		return nil
	}
	// Concurrent accesses of one directory share one listing, which no single caller's
	// cancellation stops (FS Close does); each caller waits only as long as its ctx lets it.
	list := func() (any, error) {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(f.ctx, cancel)()
		return nil, f.syncListing(lctx, r, f.pagesOf(lctx, r), nil, nil)
	}
	if done := ctx.Done(); done == nil || done == f.ctx.Done() {
		// Only Close ends this caller's wait, and Close ends the listing too: list in this
		// goroutine (the io/fs methods' case), which saves two goroutine switches a directory.
		if _, err, _ := f.listings.Do(r.path, list); err != nil {
			return pathErr(op, r.path, err)
		}
		return nil
	}
	ch := f.listings.DoChan(r.path, list)
	select {
	case res := <-ch:
		if res.Err != nil {
			return pathErr(op, r.path, res.Err)
		}
		return nil
	case <-ctx.Done():
		return pathErr(op, r.path, ctx.Err())
	}
}
