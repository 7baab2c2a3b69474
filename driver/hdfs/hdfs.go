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
// Limits inherited from the client: a NameNode call cannot be interrupted, so a
// cancelled context is noticed before each call and between reads and writes, not
// during a call (a DataNode read honours the context's deadline); Rename checks that the
// destination is free and then renames with overwrite, so a concurrent creator of the
// destination can lose its file; with hdfs.data.transfer.protection set, the client
// caches the data encryption key on first use without a lock, so the first concurrent
// reads and writes race on it.
//
// Import it for its side effect of registering "hdfs":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/hdfs"
package hdfs

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"sync/atomic"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
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

	listMu    sync.Mutex
	listCache map[string]*listing // by absolute directory path
}

// Open is the ufs.Opener for hdfs:// URIs. It connects to the NameNode(s) and checks
// that the root directory exists: a missing root wraps fs.ErrNotExist, a file ufs.ErrNotDir,
// refused access fs.ErrPermission; bad options wrap fs.ErrInvalid.
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	set, err := parseSettings(uri, opts)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	client, err := hdfs.NewClient(set.client)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	f := &FS{client: client, root: ufs.Rooted(uri.Path), set: set, listCache: map[string]*listing{}}
	f.nn, f.nnErr = namenodeOf(client)
	// Fetch the server defaults now: the client caches them in an unguarded field on
	// first use, which must not happen concurrently.
	if f.defaults, err = client.ServerDefaults(); err != nil {
		client.Close()
		return nil, ufs.OpenError(uri, mapErr("open", "/", err))
	}
	st, err := f.Stat(ctx, ufs.Root)
	if err == nil && !st.IsDir {
		err = &fs.PathError{Op: "open", Path: f.root, Err: ufs.ErrNotDir}
	}
	if err != nil {
		client.Close()
		return nil, ufs.OpenError(uri, err)
	}
	return f, nil
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

// begin validates p and checks that the UFS is open and ctx live.
func (f *FS) begin(ctx context.Context, op, p string) (string, error) {
	c, err := ufs.CheckPath(op, p)
	if err != nil {
		return "", err
	}
	if f.closed.Load() {
		return "", &fs.PathError{Op: op, Path: p, Err: fs.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	return c, nil
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

func invalid(op, p, format string, a ...any) error {
	return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("%w: "+format, append([]any{fs.ErrInvalid}, a...)...)}
}

// Root returns the absolute HDFS path of the UFS root.
func (f *FS) Root() string { return f.root }
