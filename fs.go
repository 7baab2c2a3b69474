// Package unifiedfs gives an application one namespace over many storage systems: local
// disk, Aliyun OSS, Qiniu Kodo and HDFS mounted side by side under one tree, read and
// written through one io/fs-compatible API, with Alluxio's semantics: a mount table,
// transparent naming, metadata loaded lazily from the under storage (UFS), write types,
// read types, persist, and a block cache. Everything runs in-process.
//
//	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file:///var/data"})
//	...
//	defer fsys.Close()
//	err = fsys.Mount(ctx, "/mnt/oss", "oss://bucket/dir", unifiedfs.MountOptions{
//		Options: map[string]string{"fs.oss.endpoint": "...", "fs.oss.accessKeyId": "...", "fs.oss.accessKeySecret": "..."}})
//	data, err := fs.ReadFile(fsys, "mnt/oss/report.csv")
//
// The default write type is CacheThrough: a file is durable in its UFS when Close
// returns. Drivers are registered by blank import, like database/sql drivers:
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/local"
//
// # Paths
//
// The io/fs methods (Open, Stat, ReadDir, ReadFile, Sub, Glob) take fs.ValidPath names
// ("a/b", "." for the root). Every other method also accepts the rooted Alluxio form
// ("/a/b"). Errors are *fs.PathError values whose Path is in rooted form.
package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os/user"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/journal"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/internal/pathlock"
	"github.com/unifiedfs/unifiedfs/ufs"
	"golang.org/x/sync/singleflight"
)

// FS is a unified namespace. It is safe for concurrent use. Its io/fs methods use the
// context given to New; WithContext returns a view bound to another one.
type FS struct {
	cfg   Config
	ctx   context.Context // base context for io/fs methods and background work
	stop  context.CancelFunc
	reg   *ufs.Registry
	log   *slog.Logger
	now   func() time.Time
	cache *cache.Cache

	// applyMu serialises every change of namespace state (apply). Readers never take it.
	applyMu sync.Mutex
	nsp     atomic.Pointer[namespace.State]   // replaced only when a member rebuilds its state (HA)
	mounts  atomic.Pointer[map[uint32]*mount] // this member's UFS handles of ns's mounts, by id
	ids     idAllocator

	stats    counters
	locks    pathlock.Manager
	absent   absentCache
	writers  writerSet
	versions versionRefs

	persist         *persister
	jrn             atomic.Pointer[journal.Journal] // nil without a journal, and on an HA standby
	nsConfig        namespace.Config
	ha              *haMember // nil unless Config.HA is set
	remote          *peer     // a remote client (Dial): everything goes to the leader
	checkpointBytes int64
	checkpointing   atomic.Bool
	sync            *syncPolicy
	active          activeSync
	listings        singleflight.Group // directory listings in progress, by path
	activeOnce      sync.Once
	closed          atomic.Bool
	closeMu         sync.Mutex
}

// New opens the root UFS and returns a ready FS. ctx is the FS's base context: cancelling
// it cancels background work (as Close does).
func New(ctx context.Context, cfg Config) (*FS, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	policy, err := newSyncPolicy(cfg)
	if err != nil {
		return nil, err
	}
	f := &FS{cfg: cfg, reg: cfg.Registry, log: cfg.Logger, now: cfg.Clock, sync: policy}
	ra := readAheadBlocks(cfg.BlockSize)
	c, err := cache.New(cache.Config{BlockSize: cfg.BlockSize, MemCapacity: cfg.CacheCapacity, DiskDir: cfg.CacheDir, DiskCapacity: cfg.CacheDiskCapacity,
		ReadAheadBlocks: ra, ReadAheadSpan: ra})
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: block cache: %w", err)
	}
	f.cache = c
	f.mounts.Store(&map[uint32]*mount{})
	f.ctx, f.stop = context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			f.stop()
		case <-f.ctx.Done():
		}
	}()
	f.checkpointBytes = cfg.JournalCheckpointBytes
	fail := func(err error) (*FS, error) {
		f.stop()
		if j := f.jnl(); j != nil {
			_ = j.Close()
		}
		for _, m := range *f.mounts.Load() {
			_ = m.ufs.Close()
		}
		_ = c.Close()
		return nil, err
	}
	var rec *journal.Recovered
	if cfg.HA.enabled() && cfg.JournalDir != "" {
		return fail(errorf(fs.ErrInvalid, "unifiedfs: Config.JournalDir is for a single process; a highly available namespace keeps its journal at HAConfig.Journal"))
	}
	if cfg.JournalDir != "" {
		if rec, err = f.openJournal(cfg.JournalDir); err != nil {
			return fail(err)
		}
	}
	if err := f.mountRoot(ctx); err != nil {
		return fail(err)
	}
	f.persist = newPersister(f)
	if rec != nil {
		if err := f.replay(ctx, rec); err != nil {
			f.persist.drain(0)
			return fail(err)
		}
	}
	if cfg.HA.enabled() {
		if err := f.startHA(ctx); err != nil {
			f.persist.drain(0)
			return fail(err)
		}
	}
	f.startIDs()
	f.startTTLChecker()
	if rec != nil {
		f.recoverFiles()
		go f.reholdPinned()
		if len(f.ns().SyncPoints()) > 0 {
			f.startActiveLoop()
		}
	}
	return f, nil
}

// mountRoot opens Config.RootUFS and starts the namespace with it mounted at "/": the
// namespace's owners are the process's user, and the root's mtime is the UFS root's
// (stable across restarts, unlike the start time).
func (f *FS) mountRoot(ctx context.Context) error {
	cfg := f.cfg
	rootUFS, err := f.reg.Open(ctx, cfg.RootUFS, cfg.RootOptions)
	if err != nil {
		return &fs.PathError{Op: "mount", Path: "/", Err: err}
	}
	f.warnUnknownOptions(ufs.Root, rootUFS, cfg.RootOptions)
	var rootMTime int64
	if st, err := rootUFS.Stat(ctx, ufs.Root); err == nil && !st.ModTime.IsZero() {
		rootMTime = st.ModTime.UnixNano()
	}
	name := "unifiedfs"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	f.nsConfig = namespace.Config{
		FileOwner: inode.Owner{Owner: name, Group: name, Mode: 0o644},
		DirOwner:  inode.Owner{Owner: name, Group: name, Mode: 0o755},
		RootMTime: rootMTime,
		TTLBucket: int64(cfg.TTLCheckInterval),
	}
	f.nsp.Store(namespace.New(f.nsConfig))
	uri, _ := ufs.ParseURI(cfg.RootUFS)
	if err := f.apply(&namespace.Entry{Op: namespace.OpMount, Path: ufs.Root, Volatile: true, Mount: &namespace.MountRecord{
		ID: namespace.RootMountID, URI: uri.String(), Options: cfg.RootOptions, ReadOnly: cfg.RootReadOnly, Shared: cfg.RootShared,
	}}, rootUFS); err != nil {
		_ = rootUFS.Close()
		return err
	}
	return nil
}

// jnl returns the journal this member writes, or nil.
func (f *FS) jnl() *journal.Journal { return f.jrn.Load() }

// ns returns the namespace state.
func (f *FS) ns() *namespace.State { return f.nsp.Load() }

// rootMount returns the mount at "/".
func (f *FS) rootMount() *mount { return f.mountByID(namespace.RootMountID) }

// Close waits (up to Config.CloseTimeout) for queued asynchronous persists, stops
// background work, closes every UFS and the cache, and reports persists that did not
// finish. Methods called after Close fail with ErrClosed.
func (f *FS) Close() error {
	if f.remote != nil {
		return f.closeRemote()
	}
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	if f.closed.Swap(true) {
		return nil
	}
	var errs []error
	if err := f.persist.drain(f.cfg.CloseTimeout); err != nil {
		errs = append(errs, err)
	}
	if err := f.Checkpoint(); err != nil {
		errs = append(errs, fmt.Errorf("final journal checkpoint: %w", err))
	}
	if f.ha != nil {
		if err := f.ha.close(); err != nil { // hands leadership over
			f.log.Warn("unifiedfs: HA: leaving the election", "err", err)
		}
	}
	f.stop()
	f.persist.wait()
	if j := f.jrn.Swap(nil); j != nil {
		if err := j.Close(); err != nil && !errors.Is(err, journal.ErrFenced) {
			errs = append(errs, err)
		}
	}
	for _, m := range *f.mounts.Load() {
		if err := m.ufs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", m.URI, err))
		}
	}
	if err := f.cache.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// check fails when the FS is closed or ctx is done.
func (f *FS) check(ctx context.Context, op, p string) error {
	if f.closed.Load() {
		return pathErr(op, p, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return pathErr(op, p, err)
	}
	return nil
}

// clean validates a user path in either form.
func clean(op, p string) (string, error) {
	c, err := ufs.CleanPath(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	return c, nil
}

// readAheadBytes is how far a sequential reader reads ahead, in one stream per span of
// that length. On the object-store fakes (bench R4, 2 cores), spans of 16 MiB read a cold
// 256 MiB object 1.3-1.5x as fast as 8 parallel fetches of one block each: the cost is
// per request (signing, headers, a round trip) and per stream, not in the bytes. A remote
// store's latency is hidden by the next span starting while the reader is in this one.
const readAheadBytes = 16 << 20

// readAheadBlocks is readAheadBytes in blocks of bs bytes (0: the cache's default size).
func readAheadBlocks(bs int64) int {
	if bs <= 0 {
		bs = cache.DefaultBlockSize
	}
	return int(max(1, readAheadBytes/bs))
}
