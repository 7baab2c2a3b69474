package unifiedfs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// syncPoint is this member's soft state of one active-sync point; the set of points is
// namespace state (namespace.State.SyncPoints).
type syncPoint struct {
	path     string
	activity int    // Alluxio's heuristic: each interval, activity/10 + new events
	age      int    // intervals since the last sync
	cursor   uint64 // ChangeCounter position
	lastSync time.Time
	lastErr  error
}

// activeSync owns the soft state of the sync points and the background loop.
type activeSync struct {
	mu     sync.Mutex
	points map[string]*syncPoint
	tick   sync.Mutex // one tick at a time
}

// syncPointStates returns the soft state of the namespace's sync points, sorted by path,
// creating it for points it has not seen and forgetting removed ones.
func (f *FS) syncPointStates() []*syncPoint {
	a := &f.active
	paths := f.ns().SyncPoints()
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[string]*syncPoint, len(paths))
	out := make([]*syncPoint, 0, len(paths))
	for _, p := range paths {
		sp := a.points[p]
		if sp == nil {
			sp = &syncPoint{path: p}
		}
		next[p] = sp
		out = append(out, sp)
	}
	a.points = next
	return out
}

// StartSync makes path (a directory) an active-sync point, as Alluxio's startSync: it
// syncs the whole subtree now (no limit), then, every Config.ActiveSyncInterval, syncs it
// again when the UFS is quiet (activity below ActiveSyncMaxActivities) or when
// ActiveSyncMaxAge intervals passed since the last sync. It returns the first full
// sync's error; the point stays registered and is retried.
func (f *FS) StartSync(ctx context.Context, path string) error {
	p, err := clean("startSync", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "startSync", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "startSync", Path: p})
	}
	if err := f.checkLeader("startSync", p); err != nil {
		return err
	}
	r, err := f.resolve(ctx, "startSync", p, lookupOpts{})
	if err != nil {
		return err
	}
	if !r.node.IsDir() {
		return pathErr("startSync", p, ErrNotDir)
	}
	if err := f.apply(&namespace.Entry{Op: namespace.OpAddSyncPoint, Path: p, ReqID: reqIDOf(ctx)}, nil); err != nil {
		return err
	}
	f.startActiveLoop()
	return f.syncPointNow(ctx, p)
}

// StopSync removes the active-sync point at path (fs.ErrNotExist when there is none).
func (f *FS) StopSync(ctx context.Context, path string) error {
	p, err := clean("stopSync", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "stopSync", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "stopSync", Path: p})
	}
	if err := f.checkLeader("stopSync", p); err != nil {
		return err
	}
	return f.apply(&namespace.Entry{Op: namespace.OpRemoveSyncPoint, Path: p, ReqID: reqIDOf(ctx)}, nil)
}

// SyncPoints returns the active-sync points sorted by path (Alluxio's getSyncPathList).
func (f *FS) SyncPoints() []SyncPoint {
	if f.remote != nil {
		var out []SyncPoint
		if err := f.remoteCall(f.ctx, "syncpoints", ufs.Root, "/syncpoints", nil, &out); err != nil {
			f.log.Warn("unifiedfs: the leader's sync points", "err", err)
		}
		return out
	}
	var out []SyncPoint
	for _, sp := range f.syncPointStates() {
		f.active.mu.Lock()
		out = append(out, SyncPoint{Path: ufs.Rooted(sp.path), LastSync: sp.lastSync})
		f.active.mu.Unlock()
	}
	return out
}

// syncPointNow runs a full, forced, unlimited sync of the point.
func (f *FS) syncPointNow(ctx context.Context, p string) error {
	err := f.LoadMetadata(ctx, p, LoadMetadataOptions{Recursive: true, Force: true, Limit: -1})
	f.syncPointStates()
	f.active.mu.Lock()
	if sp := f.active.points[p]; sp != nil {
		sp.lastErr = err
		if err == nil {
			sp.lastSync = f.now()
		}
		sp.age = 0
	}
	f.active.mu.Unlock()
	return err
}

// startActiveLoop starts the background loop once.
func (f *FS) startActiveLoop() {
	f.activeOnce.Do(func() {
		go func() {
			t := time.NewTicker(f.cfg.ActiveSyncInterval)
			defer t.Stop()
			for {
				select {
				case <-f.ctx.Done():
					return
				case <-t.C:
					f.activeSyncTick(f.ctx)
				}
			}
		}()
	})
}

// activeSyncTick is one interval of active sync: it measures each point's activity and
// syncs the quiet (or overdue) ones. Errors are logged and kept on the point.
func (f *FS) activeSyncTick(ctx context.Context) {
	f.active.tick.Lock()
	defer f.active.tick.Unlock()
	for _, sp := range f.syncPointStates() {
		if ctx.Err() != nil {
			return
		}
		events := 0
		if r, err := f.resolve(ctx, "activeSync", sp.path, lookupOpts{noLoad: true}); err == nil {
			if cc, ok := r.mount.ufs.(ufs.ChangeCounter); ok {
				f.active.mu.Lock()
				cursor := sp.cursor
				f.active.mu.Unlock()
				n, now, err := cc.ChangesSince(ctx, r.ufsPath, cursor)
				if err == nil {
					events = n
					f.active.mu.Lock()
					sp.cursor = now
					f.active.mu.Unlock()
				}
			}
		}
		f.active.mu.Lock()
		sp.activity = sp.activity/10 + events
		sp.age++
		run := sp.activity < f.cfg.ActiveSyncMaxActivities || sp.age >= f.cfg.ActiveSyncMaxAge
		f.active.mu.Unlock()
		if !run {
			continue
		}
		if err := f.syncPointNow(ctx, sp.path); err != nil && !errors.Is(err, context.Canceled) {
			f.log.Warn("unifiedfs: active sync failed", "path", ufs.Rooted(sp.path), "err", err)
		}
	}
}
