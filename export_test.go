package unifiedfs

import "context"

// ActiveSyncTick runs one active-sync interval now (tests drive it with an injected clock).
func (f *FS) ActiveSyncTick(ctx context.Context) { f.activeSyncTick(ctx) }
