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
