package web

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/unifiedfs/unifiedfs"
)

// NewCollector returns a prometheus.Collector over fsys's own counters (FS.Metrics and
// FS.MountStats): a scrape costs a snapshot of counters, never a walk of the namespace.
// An embedding application may register it in its own registry. The metrics:
//
//	unifiedfs_info{version}                               1
//	unifiedfs_cache_hits_total{tier}                      block reads served from memory or disk
//	unifiedfs_cache_misses_total                          block reads that waited for a fetch
//	unifiedfs_cache_fetches_total                         fills of one block or one read-ahead span
//	unifiedfs_cache_read_ahead_blocks_total               blocks queued by read-ahead
//	unifiedfs_cache_evictions_total{tier}                 blocks evicted
//	unifiedfs_cache_corrupt_blocks_total                  disk blocks found corrupt and removed
//	unifiedfs_cache_used_bytes{tier}                      bytes held (pinned included)
//	unifiedfs_cache_capacity_bytes{tier}                  the tier's bound
//	unifiedfs_cache_pinned_bytes                          bytes pinned (the only copy)
//	unifiedfs_cache_block_size_bytes                      the cache's block size
//	unifiedfs_files{persist_state}                        files loaded in the namespace
//	unifiedfs_files_incomplete                            files being written
//	unifiedfs_directories                                 directories loaded
//	unifiedfs_mounts                                      mounts, the root included
//	unifiedfs_read_bytes_total                            bytes files returned to readers
//	unifiedfs_ufs_read_bytes_total                        bytes fetched from UFSs (block fills, read-ahead, streams)
//	unifiedfs_sync_listings_total                         directory listings reconciled
//	unifiedfs_sync_entries_total                          UFS entries those listings brought
//	unifiedfs_persist_queue_length                        asynchronous persists waiting or running
//	unifiedfs_persist_completed_total, _failures_total    asynchronous persists done, failed attempts
//	unifiedfs_journal_sequence{state}                     the last entry "appended" and "durable"
//	unifiedfs_journal_since_checkpoint_bytes              journal bytes a checkpoint would compact
//	unifiedfs_ha_role{role}                               1 for this member's role, 0 for the others
//	unifiedfs_ha_epoch                                    the leader term led (or last led)
//	unifiedfs_ha_applied_sequence, _journal_sequence      replay position and journal end as known
//	unifiedfs_ha_replay_lag_entries                       their difference
//	unifiedfs_ufs_retries_total{mount,kind}               retries after transient UFS failures
//	unifiedfs_ufs_throttled_total{mount,kind}             retries after throttling
//	unifiedfs_ufs_resumed_reads_total{mount,kind}         reads re-opened after their body broke
//	unifiedfs_ufs_gave_up_total{mount,kind}               calls that failed after retrying
//	unifiedfs_ufs_calls_total{mount,kind,op}              calls made to the UFS, per operation
//	unifiedfs_ufs_errors_total{mount,kind,op}             of those, the ones that returned an error
//
// The four retry metrics exist for mounts whose driver has a retry policy; calls and
// errors for every reachable mount (ufs.CallStats), for each operation its UFS offers.
func NewCollector(fsys *unifiedfs.FS) prometheus.Collector {
	return &collector{fsys: fsys, version: moduleVersion()}
}

type collector struct {
	fsys    *unifiedfs.FS
	version string
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("unifiedfs_"+name, help, labels, nil)
}

var mountLabels = []string{"mount", "kind"}

var (
	descInfo            = desc("info", "unifiedfs build information.", "version")
	descCacheHits       = desc("cache_hits_total", "Block reads served from the cache without a fetch, by tier.", "tier")
	descCacheMisses     = desc("cache_misses_total", "Block reads that waited for a fetch from the UFS.")
	descCacheFetches    = desc("cache_fetches_total", "Cache fills through the UFS, of one block or one read-ahead span.")
	descCacheReadAheads = desc("cache_read_ahead_blocks_total", "Blocks queued for filling by read-ahead.")
	descCacheEvictions  = desc("cache_evictions_total", "Blocks evicted from the cache, by tier.", "tier")
	descCacheCorrupt    = desc("cache_corrupt_blocks_total", "Disk-tier block files found corrupt or truncated and removed.")
	descCacheUsed       = desc("cache_used_bytes", "Bytes held in the cache, by tier (pinned included).", "tier")
	descCacheCapacity   = desc("cache_capacity_bytes", "Capacity of each cache tier.", "tier")
	descCachePinned     = desc("cache_pinned_bytes", "Bytes pinned in the cache: the only copy of files not yet persisted.")
	descCacheBlockSize  = desc("cache_block_size_bytes", "Block size of the cache.")
	descFiles           = desc("files", "Files loaded in the namespace, by persist state.", "persist_state")
	descIncomplete      = desc("files_incomplete", "Files being written.")
	descDirs            = desc("directories", "Directories loaded in the namespace.")
	descMounts          = desc("mounts", "Mounts of the namespace, the root included.")
	descReadBytes       = desc("read_bytes_total", "Bytes files returned to their readers.")
	descUFSReadBytes    = desc("ufs_read_bytes_total", "Bytes fetched from UFSs: block fills, read-ahead and streamed reads.")
	descSyncListings    = desc("sync_listings_total", "Directory listings of the UFS reconciled with the namespace.")
	descSyncEntries     = desc("sync_entries_total", "UFS entries brought by metadata sync listings.")
	descPersistQueue    = desc("persist_queue_length", "Asynchronous persists waiting or running.")
	descPersistDone     = desc("persist_completed_total", "Asynchronous persists completed.")
	descPersistFailed   = desc("persist_failures_total", "Failed attempts of asynchronous persists (each is retried).")
	descJournalSeq      = desc("journal_sequence", "Sequence number of the last journal entry appended, and of the last durable one.", "state")
	descJournalSince    = desc("journal_since_checkpoint_bytes", "Journal bytes appended since the last checkpoint.")
	descJournalFlushes  = desc("journal_flushes_total", "Group commits written and synced.")
	descJournalFlushed  = desc("journal_flushed_entries_total", "Journal entries in those group commits.")
	descJournalFlushSec = desc("journal_flush_seconds_total", "Time spent writing and syncing group commits.")
	descRole            = desc("ha_role", "This member's role in the namespace: 1 for the current one.", "role")
	descEpoch           = desc("ha_epoch", "The leader term this member leads or last led (0 if never).")
	descApplied         = desc("ha_applied_sequence", "The last journal entry this member applied.")
	descKnown           = desc("ha_journal_sequence", "The last journal entry this member knows of.")
	descLag             = desc("ha_replay_lag_entries", "Journal entries known but not yet applied by this member.")
	descRetries         = desc("ufs_retries_total", "UFS requests retried after a transient failure.", mountLabels...)
	descThrottled       = desc("ufs_throttled_total", "UFS requests retried after the store throttled them.", mountLabels...)
	descResumed         = desc("ufs_resumed_reads_total", "UFS reads re-opened after their body broke.", mountLabels...)
	descGaveUp          = desc("ufs_gave_up_total", "UFS requests that failed after retrying.", mountLabels...)
	descUFSCalls        = desc("ufs_calls_total", "Calls made to the UFS, per operation.", "mount", "kind", "op")
	descUFSErrors       = desc("ufs_errors_total", "Calls to the UFS that returned an error (not found included), per operation.", "mount", "kind", "op")
)

var allDescs = []*prometheus.Desc{descInfo, descCacheHits, descCacheMisses, descCacheFetches, descCacheReadAheads,
	descCacheEvictions, descCacheCorrupt, descCacheUsed, descCacheCapacity, descCachePinned, descCacheBlockSize,
	descFiles, descIncomplete, descDirs, descMounts, descReadBytes, descUFSReadBytes, descSyncListings, descSyncEntries,
	descPersistQueue, descPersistDone, descPersistFailed, descJournalSeq, descJournalSince,
	descJournalFlushes, descJournalFlushed, descJournalFlushSec,
	descRole, descEpoch, descApplied, descKnown, descLag, descRetries, descThrottled, descResumed, descGaveUp, descUFSCalls, descUFSErrors}

// roles are the values of the ha_role label, every one exported so a change of role is a
// change of value, not of series.
var roles = []unifiedfs.MemberRole{unifiedfs.Single, unifiedfs.Leader, unifiedfs.Standby, unifiedfs.Suspended}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := c.fsys.Metrics()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descInfo, 1, c.version)

	cm := m.Cache
	counter(descCacheHits, cm.Hits-cm.DiskHits, "memory")
	counter(descCacheHits, cm.DiskHits, "disk")
	counter(descCacheMisses, cm.Misses)
	counter(descCacheFetches, cm.Fetches)
	counter(descCacheReadAheads, cm.ReadAheads)
	counter(descCacheEvictions, cm.Evictions, "memory")
	counter(descCacheEvictions, cm.DiskEvictions, "disk")
	counter(descCacheCorrupt, cm.Corrupt)
	gauge(descCacheUsed, float64(cm.MemBytes), "memory")
	gauge(descCacheUsed, float64(cm.DiskBytes), "disk")
	gauge(descCacheCapacity, float64(cm.MemCapacity), "memory")
	gauge(descCacheCapacity, float64(cm.DiskCapacity), "disk")
	gauge(descCachePinned, float64(cm.PinnedBytes))
	gauge(descCacheBlockSize, float64(cm.BlockSize))

	fc := m.Files
	gauge(descFiles, float64(fc.Persisted), unifiedfs.Persisted.String())
	gauge(descFiles, float64(fc.ToBePersisted), unifiedfs.ToBePersisted.String())
	gauge(descFiles, float64(fc.NotPersisted), unifiedfs.NotPersisted.String())
	gauge(descFiles, float64(fc.Lost), unifiedfs.Lost.String())
	gauge(descIncomplete, float64(fc.Incomplete))
	gauge(descDirs, float64(fc.Dirs))
	gauge(descMounts, float64(m.Mounts))

	// Two counters, not a split: UFS bytes fill whole blocks and read ahead, so they are
	// no part of the bytes returned.
	counter(descReadBytes, m.Reads.Bytes)
	counter(descUFSReadBytes, m.Reads.BytesFromUFS)
	counter(descSyncListings, m.Sync.Listings)
	counter(descSyncEntries, m.Sync.Entries)
	gauge(descPersistQueue, float64(m.Persist.Queued))
	counter(descPersistDone, m.Persist.Completed)
	counter(descPersistFailed, m.Persist.Failures)
	gauge(descJournalSeq, float64(m.Journal.LastSeq), "appended")
	gauge(descJournalSeq, float64(m.Journal.DurableSeq), "durable")
	gauge(descJournalSince, float64(m.Journal.SizeSinceCheckpoint))
	counter(descJournalFlushes, int64(m.Journal.Flushes))
	counter(descJournalFlushed, int64(m.Journal.FlushedEntries))
	ch <- prometheus.MustNewConstMetric(descJournalFlushSec, prometheus.CounterValue, m.Journal.FlushTime.Seconds())

	ri := m.Role
	for _, r := range roles {
		v := 0.0
		if ri.Role == r {
			v = 1
		}
		gauge(descRole, v, r.String())
	}
	gauge(descEpoch, float64(ri.Epoch))
	gauge(descApplied, float64(ri.AppliedSeq))
	gauge(descKnown, float64(ri.JournalSeq))
	gauge(descLag, float64(ri.Lag))

	for _, ms := range c.fsys.MountStats() {
		for _, oc := range ms.Calls {
			counter(descUFSCalls, oc.Calls, ms.Path, ms.Kind, oc.Op)
			counter(descUFSErrors, oc.Errors, ms.Path, ms.Kind, oc.Op)
		}
		if !ms.HasRetry {
			continue
		}
		counter(descRetries, ms.Retries, ms.Path, ms.Kind)
		counter(descThrottled, ms.Throttled, ms.Path, ms.Kind)
		counter(descResumed, ms.Resumed, ms.Path, ms.Kind)
		counter(descGaveUp, ms.GaveUp, ms.Path, ms.Kind)
	}
}
