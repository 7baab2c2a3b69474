package unifiedfs

import (
	"context"
	"fmt"
	"time"
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

// LoadMetadata syncs path (and, with opts.Recursive, its subtree) with the UFS.
func (f *FS) LoadMetadata(ctx context.Context, path string, opts LoadMetadataOptions) error {
	return pathErr("loadMetadata", path, ErrNotSupported) // replaced by the sync engine
}

// StartSync registers path as an active-sync point.
func (f *FS) StartSync(ctx context.Context, path string) error {
	return pathErr("startSync", path, ErrNotSupported)
}

// StopSync removes the active-sync point at path.
func (f *FS) StopSync(ctx context.Context, path string) error {
	return pathErr("stopSync", path, ErrNotSupported)
}

// SyncPoints returns the active-sync points.
func (f *FS) SyncPoints() []SyncPoint { return nil }

// InvalidateSync makes the next access of path re-sync it, even with SyncNever.
func (f *FS) InvalidateSync(path string) {}

// WithSyncInterval returns an io/fs view whose operations use interval d.
func (f *FS) WithSyncInterval(d time.Duration) *View { return f.WithContext(f.ctx) }
