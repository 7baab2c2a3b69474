// Package hdfs is the hdfs:// UFS driver, on github.com/colinmarc/hdfs/v2.
//
// URIs name a NameNode and a directory: "hdfs://nn:8020/dir", "hdfs://nn1:8020,nn2:8020/dir"
// (HA: the client fails over between them), or "hdfs://<nameservice>/dir" resolved from the
// Hadoop configuration (dfs.ha.namenodes.<ns>, dfs.namenode.rpc-address.<ns>.<nn>) read
// from the files named by alluxio.underfs.hdfs.configuration or from HADOOP_CONF_DIR. The
// UFS root is the URI's path, which must be an existing directory.
//
// Options (case-insensitive; see the Opt* constants): hdfs.namenodes, hdfs.user (else
// HADOOP_USER_NAME, else the OS user), Kerberos through hdfs.kerberos.principal with
// hdfs.kerberos.keytab or hdfs.kerberos.ccache (gokrb5), hdfs.use.datanode.hostname,
// hdfs.data.transfer.protection, and any Hadoop property ("dfs.*", "fs.*", "hadoop.*")
// overriding the configuration files. An unknown "hdfs.*" key or a malformed value is an
// error naming the key.
//
// Create writes to a temporary name (ufs.TempName) in the target directory, closes it —
// retrying with backoff while the NameNode answers that the last block is still being
// replicated, as the Java client does — and renames it into place. The client renews the
// leases of its open files every second for as long as the UFS is open, so slow writers
// keep their lease (TestLongWriteKeepsLease). Reads are verified against the DataNode's
// CRC32C chunk checksums before any byte is returned (see reader).
//
// Status carries owner, group and mode; the content hash of a file is
// "len:<size>,mtime:<ms>,id:<file id>": Alluxio's HDFS fingerprint plus the inode id,
// which tells apart two same-length writes within a millisecond (each upload is a new
// file). OpenVersion checks that hash (see its guarantee). Java exceptions from the
// NameNode map to the fs sentinels by class name (see mapErr); AlreadyBeingCreated and
// RecoveryInProgress (another writer's lease) map to ufs.ErrBusy.
//
// FS implements ufs.Appender (Append, Truncate) and ufs.Sealer (Seal: recoverLease) for
// logs such as a shared journal: an AppendWriter has a client and lease of its own, and
// its Sync is hflush+hsync (see Append and pipelines). The NameNode calls the client has
// no method for (fsync, recoverLease, isFileClosed) go through its connection; see
// rpc.go.
//
// Every NameNode call the driver makes runs under the shared retry policy of package
// ufs/retry (options unifiedfs.*, hdfs.connect.timeout an alias of
// unifiedfs.connect.timeout): refused or broken connections, timeouts, StandbyException,
// RetriableException and SafeModeException are retried, after the client's connection is
// reset (see reconnector); AccessControlException and other exceptions are final. A
// retry after a lost answer checks the outcome: a removed file, a rename whose target is
// the inode that was moved, a completed file. NameNode connections fail a stalled read or
// write after unifiedfs.idle.timeout; DataNode reads and writes get the same bound (or
// the context's earlier deadline) around each call. A read whose DataNode connection
// breaks resumes at the first byte not delivered, if the file is still the same version
// (ufs.ErrChanged otherwise). A failed upload's temporary file is deleted on a context
// detached from the caller's, bounded by unifiedfs.abort.timeout.
//
// Limits inherited from the client: a NameNode call cannot be interrupted, so a
// cancelled context is noticed before each call and between reads and writes, not
// during a call; the client's own NameNode calls inside Write (addBlock) are not retried
// and a broken DataNode pipeline is not recovered: either fails the upload, which then
// leaves nothing; the ack reader of a failed block stream is never released (one parked
// goroutine per failed upload); appenders (Append) have clients of their own whose calls
// are not under the retry policy; Rename checks that the
// destination is free and then renames with overwrite, so a concurrent creator of the
// destination can lose its file; with hdfs.data.transfer.protection set, the client
// caches the data encryption key on first use without a lock, so the first concurrent
// reads and writes race on it.
//
// Open (the Opener of "hdfs", through ufs.Open) and New (typed Options) return the UFS
// guarded (ufs.Guard); the *FS under it (ufs.Unwrap) takes clean paths only.
//
// Import it for its side effect of registering "hdfs":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/hdfs"
package hdfs

import (
	"context"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

func init() { ufs.Register("hdfs", Open) }

// FS is a directory of an HDFS cluster as a UFS.
type FS struct {
	client   *hdfs.Client
	root     string // absolute HDFS path of the UFS root
	set      settings
	defaults hdfs.ServerDefaults
	closed   atomic.Bool
	nn       namenode // calls the client has no method for (see rpc.go)
	nnErr    error    // why nn is unavailable: Append, Truncate's wait and Seal fail with it
	conn     *reconnector

	stats retry.Stats
	ctl   *retry.Policy // NameNode calls: capped by unifiedfs.request.timeout
	data  *retry.Policy // reads: bounded by the idle timeout only

	listMu    sync.Mutex
	listCache map[string]*listing // by absolute directory path
}

// Open is the ufs.Opener for hdfs:// URIs. It connects to the NameNode(s) and checks
// that the root directory exists: a missing root wraps fs.ErrNotExist, a file ufs.ErrNotDir,
// refused access fs.ErrPermission; bad options wrap fs.ErrInvalid. The UFS is guarded
// (ufs.Guard).
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	set, err := parseSettings(uri, opts)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	f := &FS{root: ufs.Rooted(uri.Path), set: set, listCache: map[string]*listing{}}
	f.ctl = &f.set.net.Policy
	f.ctl.Inspect, f.ctl.Codes, f.ctl.Stats = inspect, retryCodes, &f.stats
	f.data = f.ctl.Unbounded()
	// The client connects as it is made; a NameNode that refuses is retried.
	client, err := retry.Value(ctx, f.ctl, func(context.Context) (*hdfs.Client, error) { return hdfs.NewClient(set.client) })
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	f.client = client
	f.nn, f.nnErr = namenodeOf(client)
	if f.conn, err = reconnectorOf(client); err != nil {
		client.Close()
		return nil, ufs.OpenError(uri, err)
	}
	// Fetch the server defaults now: the client caches them in an unguarded field on
	// first use, which must not happen concurrently.
	if f.defaults, err = nnValue(ctx, f, client.ServerDefaults); err != nil {
		client.Close()
		return nil, ufs.OpenError(uri, mapErr("open", "/", err))
	}
	st, err := f.Stat(ctx, ufs.Root)
	if err == nil && !st.IsDir {
		err = ufs.ErrNotDir
	}
	if err != nil {
		client.Close()
		return nil, ufs.OpenError(uri, mapErr("stat", f.root, err))
	}
	return ufs.Guard(f), nil
}

// RetryStats implements retry.Reporter.
func (f *FS) RetryStats() *retry.Stats { return &f.stats }

// OptionKeys implements ufs.OptionKeyer: the keys the driver reads (unknown "hdfs.*" keys
// are refused by Open).
func (f *FS) OptionKeys() []string { return slices.Clone(f.set.keys) }

// nnValue runs a NameNode call (one client method, which takes no context) under the
// mount's retry policy. A failure worth retrying resets the client's NameNode connection
// first (see reconnector); a call cannot be interrupted, so ctx and the request timeout
// are noticed between attempts, and a stalled call ends after the idle timeout.
func nnValue[T any](ctx context.Context, f *FS, op func() (T, error)) (T, error) {
	return retry.Value(ctx, f.ctl, func(context.Context) (T, error) {
		v, err := op()
		f.afterFailure(err)
		return v, err
	})
}

// nnDo is nnValue for a call without a result.
func nnDo(ctx context.Context, f *FS, op func() error) error {
	_, err := nnValue(ctx, f, func() (struct{}, error) { return struct{}{}, op() })
	return err
}

// afterFailure resets the NameNode connection after a failure that may have left it
// broken or out of step (anything but an answer the NameNode gave).
func (f *FS) afterFailure(err error) {
	if err != nil && f.ctl.Classify(err) != retry.Final {
		f.conn.reset()
	}
}

// cleanupContext returns a context for the cleanup of a failed upload: detached from ctx
// (the caller's may be what ended) and bounded by unifiedfs.abort.timeout.
func (f *FS) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), f.set.net.AbortTimeout)
}

// idleDeadline is the deadline of the next DataNode read or write: the idle timeout from
// now, or ctx's deadline when that comes first.
func (f *FS) idleDeadline(ctx context.Context) time.Time {
	t := time.Now().Add(f.set.net.IdleTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		return dl
	}
	return t
}

// Capabilities implements ufs.UFS.
func (f *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "hdfs", AtomicRename: true, Owners: true}
}

// Close implements ufs.UFS: it closes the NameNode connection and stops lease renewal;
// writers still open lose their lease.
func (f *FS) Close() error {
	if f.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: f.root, Err: fs.ErrClosed}
	}
	return f.client.Close()
}

// abs returns the absolute HDFS path of the clean UFS path p.
func (f *FS) abs(p string) string {
	if p == ufs.Root {
		return f.root
	}
	if f.root == "/" {
		return "/" + p
	}
	return f.root + "/" + p
}

func status(name string, fi *hdfs.FileInfo) ufs.Status {
	st := ufs.Status{Name: name, IsDir: fi.IsDir(), ModTime: fi.ModTime(), Owner: fi.Owner(),
		Group: fi.OwnerGroup(), Mode: fi.Mode().Perm()}
	if !st.IsDir {
		st.Size = fi.Size()
		ms, id := fi.ModTime().UnixMilli(), uint64(0)
		if raw, ok := fi.Sys().(*hdfs.FileStatus); ok {
			ms, id = int64(raw.GetModificationTime()), raw.GetFileId()
		}
		// Two same-length writes within a millisecond share length and mtime; a write is
		// a new file (temporary name, rename), so the file id tells them apart.
		st.ContentHash = "len:" + strconv.FormatInt(st.Size, 10) + ",mtime:" + strconv.FormatInt(ms, 10) + ",id:" + strconv.FormatUint(id, 10)
	}
	return st
}

// Root returns the absolute HDFS path of the UFS root.
func (f *FS) Root() string { return f.root }
