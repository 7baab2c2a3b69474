package unifiedfs

import (
	"io/fs"
	"log/slog"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Defaults of Config's zero fields.
const (
	DefaultPersistWorkers          = 4
	DefaultPersistRetryBase        = 100 * time.Millisecond
	DefaultCloseTimeout            = 30 * time.Second
	DefaultSyncConcurrency         = 32
	DefaultActiveSyncInterval      = 30 * time.Second
	DefaultActiveSyncMaxActivities = 10
	DefaultActiveSyncMaxAge        = 10
	DefaultTTLCheckInterval        = time.Hour // Alluxio's alluxio.master.ttl.checker.interval
	// DefaultCacheDiskCapacity is the disk tier's size when Config.CacheDir is set and
	// Config.CacheDiskCapacity is zero.
	DefaultCacheDiskCapacity = 1 << 30
	// DefaultJournalCheckpointBytes triggers a checkpoint when the journal grew this much.
	DefaultJournalCheckpointBytes = 16 << 20
)

// withDefaults returns cfg with every zero field set to its default, or the reason cfg is
// invalid.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.RootUFS == "" {
		return cfg, errorf(fs.ErrInvalid, "Config.RootUFS is required (e.g. file:///var/data)")
	}
	if cfg.WriteType == WriteDefault {
		cfg.WriteType = CacheThrough
	}
	if cfg.ReadType == ReadDefault {
		cfg.ReadType = Cache
	}
	if cfg.WriteType > AsyncThrough || cfg.ReadType > CachePromote {
		return cfg, errorf(fs.ErrInvalid, "invalid WriteType %v or ReadType %v", cfg.WriteType, cfg.ReadType)
	}
	setDefault(&cfg.PersistWorkers, DefaultPersistWorkers)
	setDefault(&cfg.PersistRetryBase, DefaultPersistRetryBase)
	setDefault(&cfg.CloseTimeout, DefaultCloseTimeout)
	if cfg.SyncLimit == 0 {
		cfg.SyncLimit = DefaultSyncLimit
	}
	setDefault(&cfg.SyncConcurrency, DefaultSyncConcurrency)
	setDefault(&cfg.ActiveSyncInterval, DefaultActiveSyncInterval)
	setDefault(&cfg.ActiveSyncMaxActivities, DefaultActiveSyncMaxActivities)
	setDefault(&cfg.ActiveSyncMaxAge, DefaultActiveSyncMaxAge)
	if cfg.CacheDir != "" {
		setDefault(&cfg.CacheDiskCapacity, DefaultCacheDiskCapacity)
	}
	setDefault(&cfg.JournalCheckpointBytes, DefaultJournalCheckpointBytes)
	setDefault(&cfg.TTLCheckInterval, DefaultTTLCheckInterval)
	if cfg.Registry == nil {
		cfg.Registry = ufs.Default
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return cfg, nil
}

// setDefault sets *v to def when it is zero or negative.
func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Config configures an FS. The zero value of every field means its default, so
// Config{RootUFS: "file:///var/data"} is a useful configuration.
type Config struct {
	// RootUFS is mounted at "/" (Alluxio's alluxio.master.mount.table.root.ufs). Required.
	RootUFS string
	// RootOptions are the root mount's driver options (root.option.*), e.g. credentials.
	RootOptions  map[string]string
	RootReadOnly bool
	RootShared   bool

	// WriteType is the default for Create and Mkdir; zero means CacheThrough.
	WriteType WriteType
	// ReadType is the default for reads; zero means Cache.
	ReadType ReadType

	// BlockSize of the cache; zero lets the cache choose.
	BlockSize int64
	// CacheCapacity bounds the memory tier in bytes; zero lets the cache choose.
	CacheCapacity int64
	// CacheDir enables a disk tier of CacheDiskCapacity bytes (zero: 1 GiB). Pinned blocks
	// of unpersisted files then live there, and every block there survives restarts.
	CacheDir          string
	CacheDiskCapacity int64

	// PersistWorkers run asynchronous persists (default 4).
	PersistWorkers int
	// PersistRetryBase is the first retry delay of a failed async persist; it doubles up
	// to one minute (default 100ms).
	PersistRetryBase time.Duration
	// CloseTimeout bounds how long Close waits for queued persists (default 30s).
	CloseTimeout time.Duration

	// SyncInterval says when metadata is re-synced with the UFS (Alluxio's
	// alluxio.user.file.metadata.sync.interval): SyncNever (the zero value; Alluxio's -1)
	// loads metadata once and never again; SyncAlways (Alluxio's 0) syncs on every
	// operation; d > 0 syncs a path when its last sync is older than d.
	SyncInterval time.Duration
	// PathSyncIntervals override SyncInterval for subtrees (path configuration); the
	// longest matching prefix wins. Keys are namespace paths in either form.
	PathSyncIntervals map[string]time.Duration
	// SyncLimit bounds a recursive sync (alluxio.user.file.metadata.sync.limit): zero means
	// 1,000,000; negative means no limit.
	SyncLimit int
	// SyncTraversal is the order of recursive syncs: BFS (the default) or DFS.
	SyncTraversal Traversal
	// SyncConcurrency is the number of UFS listings a sync runs in parallel (default 32).
	SyncConcurrency int
	// ActiveSyncInterval is how often sync points are checked (default 30s);
	// ActiveSyncMaxActivities (default 10) and ActiveSyncMaxAge (default 10 intervals) are
	// Alluxio's quiet-period rule.
	ActiveSyncInterval      time.Duration
	ActiveSyncMaxActivities int
	ActiveSyncMaxAge        int

	// JournalDir makes namespace state durable: mounts (with their options, secrets
	// included: the files are created 0600), unpersisted files, persist states, the
	// async-persist queue and sync points survive a restart. Empty: state lives in memory.
	JournalDir string
	// JournalCheckpointBytes is how much the journal may grow before a checkpoint
	// compacts it (default 16 MiB).
	JournalCheckpointBytes int64

	// HA makes this FS one member of a highly available namespace (ZooKeeper election, a
	// journal on shared storage); the zero value is a single process. See HAConfig.
	HA HAConfig

	// Registry resolves UFS URIs; nil means ufs.Default (drivers' init registrations).
	Registry *ufs.Registry
	// Logger receives warnings (failed background persists, ...); nil discards them.
	// Secrets are never logged.
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now. Tests inject one.
	Clock func() time.Time

	// CreateTTL gives every file created through the FS a TTL, with CreateTTLAction
	// (Alluxio's alluxio.user.file.create.ttl and .ttl.action); zero: none.
	CreateTTL       time.Duration
	CreateTTLAction TTLAction
	// TTLCheckInterval is how often expired TTLs are applied, and the width of the
	// expiry buckets (Alluxio's alluxio.master.ttl.checker.interval); zero: one hour.
	TTLCheckInterval time.Duration
}
