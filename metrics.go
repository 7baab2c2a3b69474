package unifiedfs

import (
	"sync/atomic"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/namespace"
)

// Metrics is a snapshot of an FS's counters and gauges. Taking it costs no walk of the
// namespace: every count is kept as things happen.
type Metrics struct {
	Cache   CacheMetrics
	Files   FileCounts
	Mounts  int
	Reads   ReadMetrics
	Sync    SyncMetrics
	Persist PersistMetrics
	Journal JournalMetrics
	Role    RoleInfo
}

// CacheMetrics are the block cache's counters (blocks) and sizes (bytes).
type CacheMetrics struct {
	Hits, DiskHits, Misses, Fetches, ReadAheads int64
	Evictions, DiskEvictions, Corrupt           int64
	MemBytes, DiskBytes, PinnedBytes            int64
	MemCapacity, DiskCapacity, BlockSize        int64
}

// FileCounts counts the namespace's entries (those loaded so far) by kind.
type FileCounts struct {
	NotPersisted, ToBePersisted, Persisted, Lost int64 // files, by persist state
	Incomplete                                   int64 // files being written
	Dirs                                         int64
}

// ReadMetrics count the bytes files were read with: all of them, and those that came
// from a UFS (the rest came from the cache).
type ReadMetrics struct {
	Bytes, BytesFromUFS int64
}

// SyncMetrics count metadata syncs: directory listings reconciled, and the UFS entries
// they brought.
type SyncMetrics struct {
	Listings, Entries int64
}

// PersistMetrics count asynchronous persists.
type PersistMetrics struct {
	Queued              int // waiting or running now
	Completed, Failures int64
}

// JournalMetrics describe the journal this member writes (zero without one).
type JournalMetrics struct {
	LastSeq, DurableSeq uint64
	SizeSinceCheckpoint int64
	// Group commits: batches written and synced, the entries in them, and the time spent
	// writing and syncing them (FlushTime ÷ Flushes is the journal's fsync latency as it
	// sees it, under the process's load).
	Flushes, FlushedEntries uint64
	FlushTime               time.Duration
}

// counters are the FS's own counts behind Metrics.
type counters struct {
	readBytes, ufsBytes           atomic.Int64
	listings, listedEntries       atomic.Int64
	persistsDone, persistFailures atomic.Int64
}

// Metrics returns a snapshot of the FS's counters.
func (f *FS) Metrics() Metrics {
	if f.remote != nil {
		return Metrics{Role: f.Role()}
	}
	cs := f.cache.Stats()
	memCap, diskCap := f.cache.Capacity()
	counts := f.ns().Counts()
	m := Metrics{
		Cache: CacheMetrics{Hits: cs.Hits, DiskHits: cs.DiskHits, Misses: cs.Misses, Fetches: cs.Fetches, ReadAheads: cs.ReadAheads,
			Evictions: cs.Evictions, DiskEvictions: cs.DiskEvictions, Corrupt: cs.Corrupt, MemBytes: cs.MemBytes, DiskBytes: cs.DiskBytes,
			PinnedBytes: cs.PinnedBytes, MemCapacity: memCap, DiskCapacity: diskCap, BlockSize: f.cache.BlockSize()},
		Files: FileCounts{NotPersisted: counts[namespace.CountNotPersisted], ToBePersisted: counts[namespace.CountToBePersisted],
			Persisted: counts[namespace.CountPersisted], Lost: counts[namespace.CountLost], Incomplete: counts[namespace.CountIncomplete],
			Dirs: counts[namespace.CountDirs]},
		Mounts:  len(*f.mounts.Load()),
		Reads:   ReadMetrics{Bytes: f.stats.readBytes.Load(), BytesFromUFS: f.stats.ufsBytes.Load()},
		Sync:    SyncMetrics{Listings: f.stats.listings.Load(), Entries: f.stats.listedEntries.Load()},
		Persist: PersistMetrics{Completed: f.stats.persistsDone.Load(), Failures: f.stats.persistFailures.Load()},
		Role:    f.Role(),
	}
	if f.persist != nil {
		m.Persist.Queued = f.persist.pending()
	}
	if j := f.jnl(); j != nil {
		st := j.Stats()
		m.Journal = JournalMetrics{LastSeq: j.LastSeq(), DurableSeq: j.DurableSeq(), SizeSinceCheckpoint: j.SizeSinceCheckpoint(),
			Flushes: st.Flushes, FlushedEntries: st.Entries, FlushTime: st.FlushTime}
	}
	return m
}
