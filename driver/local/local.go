// Package local is the file:// UFS driver: a directory of the local filesystem.
//
// Every access goes through an os.Root, so no path (symbolic links included) can reach
// outside the mounted directory. Create writes a temporary file in the target directory,
// fsyncs it, renames it into place and fsyncs the directory. The content hash is
// "len:<size>,mtime:<ns>". FS implements ufs.VersionReader and ufs.Appender (see
// Append); it cannot implement ufs.Sealer: no process can take a file away from another
// that has it open.
//
// Options (case-insensitive):
//
//	local.fsync   "true" (default) fsyncs each uploaded file before it is renamed into
//	              place, and its directory after; "false" leaves durability to the
//	              kernel (a journal on file:// needs the default)
//
// Import it for its side effect of registering "file":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/local"
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"sort"
	"strconv"
	"sync"
	"syscall"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func init() { ufs.Register("file", Open) }

// FS is a local directory as a UFS.
type FS struct {
	root  *os.Root
	dir   string
	fsync bool

	mu     sync.Mutex
	names  map[uint32]string // uid/gid -> name cache
	groups map[uint32]string
}

// Open is the ufs.Opener for file:// URIs: it opens the directory named by the URI's path,
// which must exist.
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	if uri.Authority != "" && uri.Authority != "localhost" {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: file:// URI with host %q (want file:///abs/path)", fs.ErrInvalid, uri.Authority))
	}
	fsync, err := opts.Bool(OptFsync, true)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	dir := ufs.Rooted(uri.Path)
	l, err := New(dir)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	l.fsync = fsync
	return l, nil
}

// OptFsync is the one option key the driver reads.
const OptFsync = "local.fsync"

// OptionKeys implements ufs.OptionKeyer.
func (l *FS) OptionKeys() []string { return []string{OptFsync} }

// New returns the directory dir (which must exist) as a UFS, fsyncing uploads.
func New(dir string) (*FS, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ufs.ErrNotDir, dir)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &FS{root: r, dir: dir, fsync: true, names: map[uint32]string{}, groups: map[uint32]string{}}, nil
}

// Capabilities implements ufs.UFS.
func (l *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "local", AtomicRename: true, Owners: true}
}

// Close implements ufs.UFS.
func (l *FS) Close() error { return l.root.Close() }

// mapErr turns an os error into the ufs contract's error for op on path p.
func mapErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOTEMPTY, syscall.EEXIST:
			if op == "remove" {
				return &fs.PathError{Op: op, Path: p, Err: ufs.WrapErr(ufs.ErrNotEmpty, err)}
			}
		case syscall.ENOTDIR:
			return &fs.PathError{Op: op, Path: p, Err: ufs.WrapErr(ufs.ErrNotDir, err)}
		case syscall.EISDIR:
			return &fs.PathError{Op: op, Path: p, Err: ufs.WrapErr(ufs.ErrIsDir, err)}
		case syscall.ENAMETOOLONG:
			return &fs.PathError{Op: op, Path: p, Err: ufs.WrapErr(fs.ErrInvalid, err)}
		}
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrPermission) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && isEscape(err) {
		err = ufs.WrapErr(fs.ErrPermission, err)
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// isEscape reports whether err is os.Root refusing a path that leaves the root (through a
// symbolic link); os does not export a sentinel for it.
func isEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}

func (l *FS) status(name string, fi fs.FileInfo) ufs.Status {
	st := ufs.Status{Name: name, IsDir: fi.IsDir(), ModTime: fi.ModTime(), Mode: fi.Mode().Perm()}
	if !st.IsDir {
		st.Size = fi.Size()
		st.ContentHash = contentHash(fi)
	}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Owner, st.Group = l.owner(sys.Uid, sys.Gid)
	}
	return st
}

// contentHash is a file's "len:<size>,mtime:<ns>".
func contentHash(fi fs.FileInfo) string {
	return "len:" + strconv.FormatInt(fi.Size(), 10) + ",mtime:" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

func (l *FS) owner(uid, gid uint32) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.names[uid]
	if !ok {
		u = strconv.FormatUint(uint64(uid), 10)
		if usr, err := user.LookupId(u); err == nil {
			u = usr.Username
		}
		l.names[uid] = u
	}
	g, ok := l.groups[gid]
	if !ok {
		g = strconv.FormatUint(uint64(gid), 10)
		if grp, err := user.LookupGroupId(g); err == nil {
			g = grp.Name
		}
		l.groups[gid] = g
	}
	return u, g
}

func begin(ctx context.Context, op, p string) (string, error) {
	c, err := ufs.CheckPath(op, p)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	return c, nil
}

// Stat implements ufs.UFS.
func (l *FS) Stat(ctx context.Context, p string) (ufs.Status, error) {
	c, err := begin(ctx, "stat", p)
	if err != nil {
		return ufs.Status{}, err
	}
	fi, err := l.root.Stat(c)
	if err != nil {
		return ufs.Status{}, mapErr("stat", p, err)
	}
	return l.status(ufs.Base(c), fi), nil
}

// List implements ufs.UFS. The page token is the last name returned. With PageSize 0 the
// whole directory is one page.
func (l *FS) List(ctx context.Context, dir string, opts ufs.ListOptions) (ufs.ListPage, error) {
	c, err := begin(ctx, "list", dir)
	if err != nil {
		return ufs.ListPage{}, err
	}
	f, err := l.root.Open(c)
	if err != nil {
		return ufs.ListPage{}, mapErr("list", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return ufs.ListPage{}, mapErr("list", dir, err)
	}
	sort.Strings(names)
	start := 0
	if opts.PageToken != "" {
		start = sort.SearchStrings(names, opts.PageToken)
		if start < len(names) && names[start] == opts.PageToken {
			start++
		}
	}
	var page ufs.ListPage
	for i := start; i < len(names); i++ {
		if opts.PageSize > 0 && len(page.Entries) == opts.PageSize {
			page.NextPageToken = page.Entries[len(page.Entries)-1].Name
			break
		}
		if err := ctx.Err(); err != nil {
			return ufs.ListPage{}, &fs.PathError{Op: "list", Path: dir, Err: err}
		}
		name := names[i]
		fi, err := l.root.Stat(ufs.Join(c, name))
		if err != nil {
			// Gone since the read, a dangling link, or a link leaving the root: such an
			// entry cannot be opened through this UFS, so it is not listed.
			continue
		}
		page.Entries = append(page.Entries, l.status(name, fi))
	}
	return page, nil
}

// OpenRange implements ufs.UFS.
func (l *FS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	f, _, err := l.openFile(ctx, p, off)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = 1<<63 - 1 - off
	}
	return &rangeReader{ctx: ctx, f: f, sr: io.NewSectionReader(f, off, n), path: p}, nil
}

// OpenVersion implements ufs.VersionReader. The hash is checked against the open
// descriptor (fstat), and the descriptor pins that version: Create replaces a file by
// renaming a new one over it, which leaves the open file's bytes alone. Only Append and
// Truncate change a file in place; appends leave a version's bytes alone, and a file cut
// under the reader ends its read with ErrChanged.
func (l *FS) OpenVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	f, fi, err := l.openFile(ctx, p, off)
	if err != nil {
		return nil, err
	}
	if h := contentHash(fi); h != hash {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: content hash %s, want %s", ufs.ErrChanged, h, hash)}
	}
	size := fi.Size()
	start, end := min(off, size), size
	short := n >= 0 && off+n > size
	if n >= 0 && !short {
		end = off + n
	}
	return &rangeReader{ctx: ctx, f: f, sr: io.NewSectionReader(f, start, end-start), path: p, versioned: true, short: short}, nil
}

// openFile opens the file at p for reading and fstats it.
func (l *FS) openFile(ctx context.Context, p string, off int64) (*os.File, fs.FileInfo, error) {
	c, err := begin(ctx, "open", p)
	if err != nil {
		return nil, nil, err
	}
	if off < 0 {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, off)}
	}
	f, err := l.root.Open(c)
	if err != nil {
		return nil, nil, mapErr("open", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, mapErr("open", p, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: ufs.ErrIsDir}
	}
	return f, fi, nil
}

type rangeReader struct {
	ctx  context.Context
	f    *os.File
	sr   *io.SectionReader
	path string

	// A version read (OpenVersion) ends with ErrChanged instead of io.EOF when the range
	// asked for reaches past the version's end (short) or the file ended early.
	versioned, short bool
	got              int64
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, &fs.PathError{Op: "read", Path: r.path, Err: err}
	}
	n, err := r.sr.Read(p)
	r.got += int64(n)
	if err == io.EOF && r.versioned && (r.short || r.got < r.sr.Size()) {
		if n > 0 {
			return n, nil // the next Read reports it
		}
		return 0, &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w: the file is shorter than the version asked for", ufs.ErrChanged)}
	}
	return n, err
}

func (r *rangeReader) Close() error { return r.f.Close() }

// Create implements ufs.UFS.
func (l *FS) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	c, err := begin(ctx, "create", p)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, &fs.PathError{Op: "create", Path: p, Err: fmt.Errorf("%w: cannot create the root", fs.ErrInvalid)}
	}
	if fi, err := l.root.Stat(c); err == nil && fi.IsDir() {
		return nil, &fs.PathError{Op: "create", Path: p, Err: ufs.ErrIsDir}
	}
	dir, base := ufs.Split(c)
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		return nil, mapErr("create", p, err)
	}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	tmp := ufs.Join(dir, ufs.TempName(base, hex.EncodeToString(tok[:])))
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return nil, mapErr("create", p, err)
	}
	return &writer{l: l, ctx: ctx, f: f, tmp: tmp, dst: c, path: p}, nil
}

type writer struct {
	l      *FS
	ctx    context.Context
	f      *os.File
	tmp    string
	dst    string
	path   string
	done   bool
	failed error

	written ufs.Status // after a successful Close
	ok      bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.path, Err: fs.ErrClosed}
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if err := w.ctx.Err(); err != nil {
		w.failed = &fs.PathError{Op: "write", Path: w.path, Err: err}
		w.discard()
		return 0, w.failed
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.failed = mapErr("write", w.path, err)
		w.discard()
	}
	return n, w.failed
}

func (w *writer) discard() {
	_ = w.f.Close()
	_ = w.l.root.Remove(w.tmp)
}

func (w *writer) Close() error {
	if w.done {
		return &fs.PathError{Op: "close", Path: w.path, Err: fs.ErrClosed}
	}
	w.done = true
	if w.failed != nil {
		return w.failed
	}
	if err := w.ctx.Err(); err != nil {
		w.discard()
		return &fs.PathError{Op: "close", Path: w.path, Err: err}
	}
	if w.l.fsync {
		if err := w.f.Sync(); err != nil {
			w.discard()
			return mapErr("close", w.path, err)
		}
	}
	fi, statErr := w.f.Stat()
	if err := w.f.Close(); err != nil {
		_ = w.l.root.Remove(w.tmp)
		return mapErr("close", w.path, err)
	}
	if err := w.l.root.Rename(w.tmp, w.dst); err != nil {
		_ = w.l.root.Remove(w.tmp)
		return mapErr("close", w.path, err)
	}
	if w.l.fsync {
		// The rename is durable only once its directory is.
		dir, _ := ufs.Split(w.dst)
		if err := w.l.syncDir(dir); err != nil {
			return mapErr("close", w.path, err)
		}
	}
	if statErr == nil { // rename keeps size and mtime: this is what Stat will say
		w.written, w.ok = w.l.status(ufs.Base(w.dst), fi), true
	}
	return nil
}

// Written implements ufs.StatWriter.
func (w *writer) Written() (ufs.Status, bool) { return w.written, w.ok }

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.failed == nil {
		w.discard()
	}
	return nil
}

// Mkdir implements ufs.UFS.
func (l *FS) Mkdir(ctx context.Context, p string) error {
	c, err := begin(ctx, "mkdir", p)
	if err != nil {
		return err
	}
	if err := l.root.MkdirAll(c, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "mkdir", Path: p, Err: ufs.WrapErr(fs.ErrExist, err)}
		}
		return mapErr("mkdir", p, err)
	}
	return nil
}

// Remove implements ufs.UFS.
func (l *FS) Remove(ctx context.Context, p string) error {
	c, err := begin(ctx, "remove", p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return &fs.PathError{Op: "remove", Path: p, Err: fmt.Errorf("%w: cannot remove the root", fs.ErrInvalid)}
	}
	return mapErr("remove", p, l.root.Remove(c))
}

// RemoveAll implements ufs.UFS.
func (l *FS) RemoveAll(ctx context.Context, p string) error {
	c, err := begin(ctx, "removeall", p)
	if err != nil {
		return err
	}
	if c == ufs.Root {
		return &fs.PathError{Op: "removeall", Path: p, Err: fmt.Errorf("%w: cannot remove the root", fs.ErrInvalid)}
	}
	return mapErr("removeall", p, l.root.RemoveAll(c))
}

// Rename implements ufs.UFS. The no-overwrite check and the rename are two steps: a
// concurrent writer of dst can slip between them (Linux's RENAME_NOREPLACE is not
// reachable through os.Root).
func (l *FS) Rename(ctx context.Context, src, dst string) error {
	s, err := begin(ctx, "rename", src)
	if err != nil {
		return err
	}
	d, err := ufs.CheckTarget("rename", s, dst)
	if err != nil {
		return err
	}
	if _, err := l.root.Lstat(s); err != nil {
		return mapErr("rename", src, err)
	}
	if _, err := l.root.Lstat(d); err == nil {
		return &fs.PathError{Op: "rename", Path: dst, Err: fs.ErrExist}
	}
	if dir, _ := ufs.Split(d); dir != ufs.Root {
		if err := l.root.MkdirAll(dir, 0o755); err != nil {
			return mapErr("rename", dst, err)
		}
	}
	return mapErr("rename", src, l.root.Rename(s, d))
}
