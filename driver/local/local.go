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
// Open (the Opener of "file", through ufs.Open) and New return the directory guarded
// (ufs.Guard); the *FS under it (ufs.Unwrap) takes clean paths only.
//
// Import it for its side effect of registering "file":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/local"
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func init() { ufs.Register("file", Open) }

// FS is a local directory as a UFS.
type FS struct {
	root  *os.Root
	top   *os.File // the root directory itself, for openDirBeneath (nil: not open)
	topFd int
	dir   string
	fsync bool

	mu     sync.Mutex
	names  map[uint32]string // uid/gid -> name cache
	groups map[uint32]string
}

// Open is the ufs.Opener for file:// URIs: it opens the directory named by the URI's path,
// which must exist (see New).
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	if uri.Authority != "" && uri.Authority != "localhost" {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: file:// URI with host %q (want file:///abs/path)", fs.ErrInvalid, uri.Authority))
	}
	fsync, err := opts.Bool(OptFsync, true)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	return New(ctx, Options{Dir: ufs.Rooted(uri.Path), NoFsync: !fsync})
}

// OptFsync is the one option key the driver reads.
const OptFsync = "local.fsync"

// OptionKeys implements ufs.OptionKeyer.
func (l *FS) OptionKeys() []string { return []string{OptFsync} }

// Options configures New.
type Options struct {
	// Dir is the directory to mount (it must exist).
	Dir string
	// NoFsync leaves the durability of uploads to the kernel (local.fsync=false): no
	// fsync of each file before its rename, nor of its directory after.
	NoFsync bool
}

// New returns the directory o.Dir as a guarded UFS. A missing directory fails with an
// error satisfying fs.ErrNotExist, a file with ufs.ErrNotDir.
func New(ctx context.Context, o Options) (ufs.UFS, error) {
	uri := ufs.URI{Scheme: "file", Path: ufs.Root}
	if c, err := ufs.CleanPath(o.Dir); err == nil {
		uri.Path = c
	}
	if err := ctx.Err(); err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	fi, err := os.Stat(o.Dir)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if !fi.IsDir() {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: %s is not a directory", ufs.ErrNotDir, o.Dir))
	}
	r, err := os.OpenRoot(o.Dir)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	l := &FS{root: r, dir: o.Dir, fsync: !o.NoFsync, names: map[uint32]string{}, groups: map[uint32]string{}}
	if top, err := r.Open("."); err == nil {
		l.top, l.topFd = top, int(top.Fd())
	}
	return ufs.Guard(l), nil
}

// Capabilities implements ufs.UFS.
func (l *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "local", AtomicRename: true, Owners: true}
}

// Close implements ufs.UFS.
func (l *FS) Close() error {
	if l.top != nil {
		l.top.Close()
	}
	return l.root.Close()
}

// Classify implements ufs.Classifier: the errnos the contract names, and os.Root's escape
// as fs.ErrPermission (os's own sentinels already satisfy errors.Is).
func (l *FS) Classify(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOTDIR:
			return ufs.WrapErr(ufs.ErrNotDir, err)
		case syscall.EISDIR:
			return ufs.WrapErr(ufs.ErrIsDir, err)
		case syscall.ENAMETOOLONG:
			return ufs.WrapErr(fs.ErrInvalid, err)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, fs.ErrPermission) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && isEscape(err) {
		return ufs.WrapErr(fs.ErrPermission, err)
	}
	return err
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
	if uid, gid, ok := ownerIDs(fi); ok {
		st.Owner, st.Group = l.owner(uid, gid)
	}
	return st
}

// contentHash is a file's "len:<size>,mtime:<ns>".
func contentHash(fi fs.FileInfo) string { return ufs.SizeMTimeHash(fi.Size(), fi.ModTime().UnixNano()) }

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

// Stat implements ufs.UFS.
func (l *FS) Stat(ctx context.Context, c string) (ufs.Status, error) {
	fi, err := l.root.Stat(c)
	if err != nil {
		return ufs.Status{}, err
	}
	return l.status(ufs.Base(c), fi), nil
}

// List implements ufs.UFS. The page token is the last name returned. With PageSize 0 the
// whole directory is one page.
func (l *FS) List(ctx context.Context, c string, opts ufs.ListOptions) (ufs.ListPage, error) {
	dc := c
	if dc == "" {
		dc = "."
	}
	f, err := l.openDir(dc)
	if err != nil {
		return ufs.ListPage{}, err
	}
	// Readdir lstats each entry with one fstatat on the directory's descriptor, where
	// l.root.Lstat(c/name) would open and close every component of c again.
	infos, err := f.Readdir(-1)
	f.Close()
	if err != nil {
		return ufs.ListPage{}, err
	}
	slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	start := 0
	if opts.PageToken != "" {
		start, _ = slices.BinarySearchFunc(infos, opts.PageToken, func(fi fs.FileInfo, tok string) int { return strings.Compare(fi.Name(), tok) })
		if start < len(infos) && infos[start].Name() == opts.PageToken {
			start++
		}
	}
	var page ufs.ListPage
	for _, fi := range infos[start:] {
		if opts.PageSize > 0 && len(page.Entries) == opts.PageSize {
			page.NextPageToken = page.Entries[len(page.Entries)-1].Name
			break
		}
		if err := ctx.Err(); err != nil {
			return ufs.ListPage{}, err
		}
		name := fi.Name()
		if fi.Mode()&fs.ModeSymlink != 0 {
			// A link is followed as Stat follows it, confined to the UFS's root (it may
			// point outside this directory). Gone since the read, dangling, or leaving the
			// root: such an entry cannot be opened through this UFS, so it is not listed.
			if fi, err = l.root.Stat(ufs.Join(c, name)); err != nil {
				continue
			}
		}
		page.Entries = append(page.Entries, l.status(name, fi))
	}
	return page, nil
}

// openDir opens the directory c (a clean relative path, or ".") for reading.
func (l *FS) openDir(c string) (*os.File, error) {
	if l.top != nil && c != "." {
		if f, ok := openDirBeneath(l.topFd, c); ok {
			return f, nil
		}
	}
	return l.root.Open(c)
}

// OpenRange implements ufs.UFS.
func (l *FS) OpenRange(ctx context.Context, c string, off, n int64) (io.ReadCloser, error) {
	f, _, err := l.openFile(c)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = 1<<63 - 1 - off
	}
	return &rangeReader{f: f, sr: io.NewSectionReader(f, off, n)}, nil
}

// OpenVersion implements ufs.VersionReader. The hash is checked against the open
// descriptor (fstat), and the descriptor pins that version: Create replaces a file by
// renaming a new one over it, which leaves the open file's bytes alone. Only Append and
// Truncate change a file in place; appends leave a version's bytes alone, and a file cut
// under the reader ends its read with ErrChanged.
func (l *FS) OpenVersion(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	f, fi, err := l.openFile(c)
	if err != nil {
		return nil, err
	}
	if h := contentHash(fi); h != hash {
		f.Close()
		return nil, fmt.Errorf("%w: content hash %s, want %s", ufs.ErrChanged, h, hash)
	}
	size := fi.Size()
	start, end := min(off, size), size
	short := n >= 0 && off+n > size
	if n >= 0 && !short {
		end = off + n
	}
	return &rangeReader{f: f, sr: io.NewSectionReader(f, start, end-start), versioned: true, short: short}, nil
}

// openFile opens the file at c for reading and fstats it.
func (l *FS) openFile(c string) (*os.File, fs.FileInfo, error) {
	f, err := l.root.Open(c)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, ufs.ErrIsDir
	}
	return f, fi, nil
}

type rangeReader struct {
	f  *os.File
	sr *io.SectionReader

	// A version read (OpenVersion) ends with ErrChanged instead of io.EOF when the range
	// asked for reaches past the version's end (short) or the file ended early.
	versioned, short bool
	got              int64
}

func (r *rangeReader) Read(p []byte) (int, error) {
	n, err := r.sr.Read(p)
	r.got += int64(n)
	if err == io.EOF && r.versioned && (r.short || r.got < r.sr.Size()) {
		if n > 0 {
			return n, nil // the next Read reports it
		}
		return 0, fmt.Errorf("%w: the file is shorter than the version asked for", ufs.ErrChanged)
	}
	return n, err
}

func (r *rangeReader) Close() error { return r.f.Close() }

// Create implements ufs.UFS: the data goes to a temporary file in the target directory,
// renamed into place by Close.
func (l *FS) Create(ctx context.Context, c string, opts ufs.CreateOptions) (ufs.Writer, error) {
	if fi, err := l.root.Stat(c); err == nil && fi.IsDir() {
		return nil, ufs.ErrIsDir
	}
	dir, base := ufs.Split(c)
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp := ufs.TempPath(dir, base)
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, opts.Perm())
	if err != nil {
		return nil, err
	}
	return &writer{l: l, f: f, tmp: tmp, dst: c}, nil
}

// writer is an upload to a temporary file; the guard calls Close or Abort once.
type writer struct {
	l   *FS
	f   *os.File
	tmp string
	dst string

	written ufs.Status // after a successful Close
	ok      bool
}

func (w *writer) Write(p []byte) (int, error) { return w.f.Write(p) }

// discard closes and deletes the temporary file.
func (w *writer) discard() {
	_ = w.f.Close()
	_ = w.l.root.Remove(w.tmp)
}

func (w *writer) Close() error {
	if w.l.fsync {
		if err := w.f.Sync(); err != nil {
			w.discard()
			return err
		}
	}
	fi, statErr := w.f.Stat()
	if err := w.f.Close(); err != nil {
		_ = w.l.root.Remove(w.tmp)
		return err
	}
	if err := w.l.root.Rename(w.tmp, w.dst); err != nil {
		_ = w.l.root.Remove(w.tmp)
		return err
	}
	if w.l.fsync {
		// The rename is durable only once its directory is.
		dir, _ := ufs.Split(w.dst)
		if err := w.l.syncDir(dir); err != nil {
			return err
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
	w.discard()
	return nil
}

// Mkdir implements ufs.UFS.
func (l *FS) Mkdir(ctx context.Context, c string) error {
	if err := l.root.MkdirAll(c, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
			return ufs.WrapErr(fs.ErrExist, err)
		}
		return err
	}
	return nil
}

// Remove implements ufs.UFS.
func (l *FS) Remove(ctx context.Context, c string) error {
	err := l.root.Remove(c)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) { // rmdir says either
		return ufs.WrapErr(ufs.ErrNotEmpty, err)
	}
	return err
}

// RemoveAll implements ufs.UFS.
func (l *FS) RemoveAll(ctx context.Context, c string) error { return l.root.RemoveAll(c) }

// Rename implements ufs.UFS. The no-overwrite check and the rename are two steps: a
// concurrent writer of dst can slip between them (Linux's RENAME_NOREPLACE is not
// reachable through os.Root).
func (l *FS) Rename(ctx context.Context, s, d string) error {
	if _, err := l.root.Lstat(s); err != nil {
		return err
	}
	if _, err := l.root.Lstat(d); err == nil {
		return fmt.Errorf("%w: the destination %s exists", fs.ErrExist, ufs.Rooted(d))
	}
	if dir, _ := ufs.Split(d); dir != ufs.Root {
		if err := l.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return l.root.Rename(s, d)
}
