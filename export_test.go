package unifiedfs

import (
	"context"
	"time"
)

// ActiveSyncTick runs one active-sync interval now (tests drive it with an injected clock).
func (f *FS) ActiveSyncTick(ctx context.Context) { f.activeSyncTick(ctx) }

// SetAfterCommitHook makes a member call hook with the path of every mutation it served
// for another process, after the mutation is journaled and before it answers (tests kill
// the member there).
func SetAfterCommitHook(hook func(path string)) { afterCommitHook = hook }

// SetMountDrain sets how long UpdateMount keeps the replaced UFS open; the returned func
// restores it.
func SetMountDrain(d time.Duration) (restore func()) {
	old := mountDrain
	mountDrain = d
	return func() { mountDrain = old }
}

// ListingsStale does what a member does when a new leader's epoch begins.
func (f *FS) ListingsStale() { f.listingsStale() }
