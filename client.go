package unifiedfs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/election"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// ClientConfig configures a remote client of a highly available namespace (Dial).
type ClientConfig struct {
	// ZooKeeper, ElectionPath and LeaderPath are the cluster's (see HAConfig): the client
	// finds the leader there.
	ZooKeeper                []string
	ElectionPath, LeaderPath string
	SessionTimeout           time.Duration
	// Secret is the cluster's shared secret (see HAConfig.Secret).
	Secret []byte
	// TLS: the members serve HTTPS; TLSCA is the PEM file of the CA to trust (empty: the
	// system's).
	TLS   bool
	TLSCA string
	// LeaderTimeout bounds how long a call waits for a leader during a failover (default
	// 30s) before it fails with ErrNoLeader.
	LeaderTimeout time.Duration
	Logger        *slog.Logger
}

// Dial returns a remote client of the highly available namespace cfg names: an *FS with
// the same API (io/fs and the mutation methods) that keeps no state of its own. Metadata
// and content come from the leader, which reads unpersisted content from the member
// holding it; mutations go to the leader and are retried, exactly once, across failovers.
// Methods about this process's own cache (Load, Free) ask the leader's. Close releases it.
func Dial(ctx context.Context, cfg ClientConfig) (*FS, error) {
	if len(cfg.ZooKeeper) == 0 {
		return nil, errorf(fs.ErrInvalid, "unifiedfs: Dial needs the cluster's ZooKeeper servers")
	}
	if len(cfg.Secret) == 0 {
		return nil, errorf(fs.ErrInvalid, "unifiedfs: Dial needs the cluster secret")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ecfg := election.Config{Servers: cfg.ZooKeeper, ElectionPath: cfg.ElectionPath, LeaderPath: cfg.LeaderPath,
		SessionTimeout: cfg.SessionTimeout, Logger: log}
	w, err := election.NewWatcher(ecfg)
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: Dial: %w", err)
	}
	hc := HAConfig{Secret: cfg.Secret, TLSCA: cfg.TLSCA}
	if cfg.TLS && hc.TLSCA == "" {
		hc.TLSCert = "system" // only to select https
	}
	client, err := newRPCClient(hc)
	if err != nil {
		w.Close()
		return nil, err
	}
	timeout := cfg.LeaderTimeout
	if timeout <= 0 {
		timeout = DefaultForwardTimeout
	}
	f := &FS{log: log, now: time.Now, remote: &peer{watcher: w, zk: ecfg, rpc: client, timeout: timeout}}
	f.ctx, f.stop = context.WithCancel(context.WithoutCancel(ctx))
	return f, nil
}

// closeRemote ends a remote client.
func (f *FS) closeRemote() error {
	if !f.closed.Swap(true) {
		f.stop()
		f.remote.watcher.Close()
	}
	return nil
}

// remoteCall runs a read call against the leader (retrying across failovers).
func (f *FS) remoteCall(ctx context.Context, op, p, path string, q url.Values, resp any) error {
	return f.remote.toLeader(ctx, op, p, func(ctx context.Context, addr string) error {
		return f.remote.rpc.Call(ctx, addr, "GET", path, q, nil, resp)
	})
}

func (f *FS) remoteStat(ctx context.Context, p string) (*FileStatus, error) {
	var st FileStatus
	if err := f.remoteCall(ctx, "stat", p, "/stat", url.Values{"path": {ufs.Rooted(p)}}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (f *FS) remoteList(ctx context.Context, p string) ([]fs.DirEntry, error) {
	var sts []*FileStatus
	if err := f.remoteCall(ctx, "readdir", p, "/list", url.Values{"path": {ufs.Rooted(p)}}, &sts); err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, len(sts))
	for i, st := range sts {
		out[i] = remoteInfo{st}
	}
	return out, nil
}

func (f *FS) remoteOpen(ctx context.Context, p string) (fs.File, error) {
	st, err := f.remoteStat(ctx, p)
	if err != nil {
		return nil, err
	}
	if st.IsDir {
		ents, err := f.remoteList(ctx, p)
		if err != nil {
			return nil, err
		}
		return &remoteDir{p: p, info: remoteInfo{st}, entries: ents}, nil
	}
	if st.Incomplete {
		return nil, pathErr("open", p, errorf(ErrIncomplete, "%s is still being written; open it once its writer closed it", ufs.Rooted(p)))
	}
	return &File{fs: f, remote: &remoteFile{f: f, ctx: ctx, p: p, st: st}}, nil
}

// remoteInfo is an fs.FileInfo and fs.DirEntry of a remote entry.
type remoteInfo struct{ st *FileStatus }

func (i remoteInfo) Name() string { return i.st.Name }
func (i remoteInfo) Size() int64  { return i.st.Size }
func (i remoteInfo) Mode() fs.FileMode {
	if i.st.IsDir {
		return fs.ModeDir | i.st.Mode
	}
	return i.st.Mode
}
func (i remoteInfo) ModTime() time.Time         { return i.st.ModTime }
func (i remoteInfo) IsDir() bool                { return i.st.IsDir }
func (i remoteInfo) Sys() any                   { return i.st }
func (i remoteInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i remoteInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i remoteInfo) String() string             { return fs.FormatFileInfo(i) }

type remoteDir struct {
	p       string // the internal (unrooted) path
	info    remoteInfo
	entries []fs.DirEntry
	pos     int
}

func (d *remoteDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *remoteDir) Read([]byte) (int, error)   { return 0, pathErr("read", d.p, ErrIsDir) }
func (d *remoteDir) Close() error               { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *remoteDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.pos += n
	return rest[:n:n], nil
}

// remoteFile reads one version of a remote file: each read names the version opened, so
// that an overwrite makes it fail with ErrChanged rather than mix two versions.
type remoteFile struct {
	f   *FS
	ctx context.Context
	p   string // the internal (unrooted) path
	st  *FileStatus

	mu     sync.Mutex
	off    int64
	stream io.ReadCloser
	sOff   int64
}

func (r *remoteFile) Stat() (fs.FileInfo, error) { return remoteInfo{r.st}, nil }

func (r *remoteFile) open(off, n int64) (io.ReadCloser, error) {
	q := url.Values{"path": {r.st.Path}, "id": {strconv.FormatUint(r.st.Version, 10)},
		"off": {strconv.FormatInt(off, 10)}, "n": {strconv.FormatInt(n, 10)}}
	var rc io.ReadCloser
	err := r.f.remote.toLeader(r.ctx, "read", r.p, func(ctx context.Context, addr string) error {
		// ctx ends when the call returns; the stream outlives it, so it gets its own
		// context, which a leader change cancels only while the stream opens.
		sctx, cancel := context.WithCancel(r.ctx)
		stop := context.AfterFunc(ctx, cancel)
		body, err := r.f.remote.rpc.Open(sctx, addr, "/read", q)
		if !stop() {
			if err == nil {
				body.Close()
			}
			cancel()
			return ctx.Err()
		}
		if err != nil {
			cancel()
			return err
		}
		rc = cancelOnClose{body, cancel}
		return nil
	})
	return rc, err
}

// cancelOnClose is a stream whose Close also releases its context.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// ReadAt implements io.ReaderAt.
func (r *remoteFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.st.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.st.Size-off)
	rc, err := r.open(off, want)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		return n, pathErr("read", r.p, err)
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader, streaming from the current offset.
func (r *remoteFile) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off >= r.st.Size {
		return 0, io.EOF
	}
	if r.stream == nil || r.sOff != r.off {
		if r.stream != nil {
			r.stream.Close()
		}
		rc, err := r.open(r.off, -1)
		if err != nil {
			return 0, err
		}
		r.stream, r.sOff = rc, r.off
	}
	n, err := r.stream.Read(p[:min(int64(len(p)), r.st.Size-r.off)])
	r.off += int64(n)
	r.sOff += int64(n)
	if err == io.EOF && r.off < r.st.Size {
		return n, pathErr("read", r.p, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		return n, pathErr("read", r.p, err)
	}
	return n, nil
}

// Seek implements io.Seeker.
func (r *remoteFile) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.st.Size
	}
	if offset < 0 {
		return 0, pathErr("seek", r.p, errorf(fs.ErrInvalid, "negative position"))
	}
	r.off = offset
	return offset, nil
}

func (r *remoteFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
	return nil
}

// remoteLocal asks the leader to do something with its own cache or metadata view.
func (f *FS) remoteLocal(ctx context.Context, req localRequest) error {
	return f.remote.toLeader(ctx, req.Op, req.Path, func(ctx context.Context, addr string) error {
		return f.remote.rpc.Call(ctx, addr, "POST", "/local", nil, req, nil)
	})
}
