package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// readType resolves the zero value to the FS default.
func (f *FS) readType(r ReadType) ReadType {
	if r == ReadDefault {
		return f.cfg.ReadType
	}
	return r
}

func cacheMode(r ReadType) cache.ReadMode {
	switch r {
	case NoCache:
		return cache.ReadNoCache
	case CachePromote:
		return cache.ReadPromote
	}
	return cache.ReadCache
}

// OpenFile opens path for reading with the given read type. A file is an fs.File that is
// also an io.ReaderAt and an io.Seeker; a directory is an fs.ReadDirFile. Metadata is
// loaded from the UFS as needed; content is read (and cached per the read type) only on
// Read.
func (f *FS) OpenFile(ctx context.Context, path string, opts OpenOptions) (fs.File, error) {
	p, err := clean("open", path)
	if err != nil {
		return nil, err
	}
	return f.open(ctx, p, opts, lookupOpts{})
}

func (f *FS) open(ctx context.Context, p string, opts OpenOptions, lo lookupOpts) (fs.File, error) {
	if err := f.check(ctx, "open", p); err != nil {
		return nil, err
	}
	r, err := f.resolve(ctx, "open", p, lo)
	if err != nil {
		return nil, err
	}
	if r.node.IsDir() {
		if err := f.syncDirIfDue(ctx, "open", &r, lo); err != nil {
			return nil, err
		}
		return &dirFile{info: f.info(&r), entries: f.entries(&r)}, nil
	}
	in := r.node
	if in.Persist() == inode.Lost {
		return nil, pathErr("open", p, ErrLost)
	}
	var fetch cache.Fetcher
	if in.Persist() == inode.Persisted {
		u, up := r.mount.ufs, r.ufsPath
		fetch = func(ctx context.Context, off int64, b []byte) (int, error) {
			rc, err := u.OpenRange(ctx, up, off, int64(len(b)))
			if err != nil {
				return 0, err
			}
			defer rc.Close()
			n, err := io.ReadFull(rc, b)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return n, err
		}
	}
	rt := f.readType(opts.ReadType)
	cr := f.cache.NewReader(cache.File{ID: in.ID, Size: in.Size}, fetch, cacheMode(rt))
	return &File{fs: f, ctx: ctx, r: &r, cr: cr, stream: rt == NoCache && fetch != nil}, nil
}

// File is an open file: an fs.File, io.ReaderAt and io.Seeker. ReadAt is safe for
// concurrent use; Read and Seek share an offset.
type File struct {
	fs  *FS
	ctx context.Context
	r   *resolved
	cr  *cache.Reader

	mu     sync.Mutex
	off    int64
	closed bool

	// NO_CACHE reads of blocks that are not cached come straight from one UFS stream into
	// the caller's buffer (no block copy, no request per block) while reads are sequential.
	stream bool
	smu    sync.Mutex
	sr     io.ReadCloser
	srOff  int64
}

// readStream reads p at off from the UFS stream, reopening it when off is not where the
// stream is.
func (fl *File) readStream(p []byte, off int64) (int, error) {
	fl.smu.Lock()
	defer fl.smu.Unlock()
	if fl.sr == nil || fl.srOff != off {
		if fl.sr != nil {
			fl.sr.Close()
		}
		sr, err := fl.r.mount.ufs.OpenRange(fl.ctx, fl.r.ufsPath, off, -1)
		if err != nil {
			fl.sr = nil
			return 0, err
		}
		fl.sr, fl.srOff = sr, off
	}
	n, err := io.ReadFull(fl.sr, p)
	fl.srOff += int64(n)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return n, io.EOF
	}
	return n, err
}

// Stat describes the file as it was when opened.
func (fl *File) Stat() (fs.FileInfo, error) { return fl.fs.info(fl.r), nil }

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (fl *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("read", fl.r.path, errorf(fs.ErrInvalid, "negative offset"))
	}
	if off >= fl.r.node.Size {
		return 0, io.EOF
	}
	var n int
	var err error
	if fl.stream && !fl.fs.cache.Has(cache.File{ID: fl.r.node.ID, Size: fl.r.node.Size}, off/fl.fs.cache.BlockSize()) {
		n, err = fl.readStream(p, off)
	} else {
		n, err = fl.cr.ReadAt(fl.ctx, p, off)
	}
	if err != nil && err != io.EOF {
		err = fl.readErr(err)
	}
	return n, err
}

func (fl *File) readErr(err error) error {
	if errors.Is(err, cache.ErrBlockLost) {
		f := fl.fs
		p := fl.r.path
		if in := f.lookupLoaded(p); in != nil && in.ID == fl.r.node.ID && in.Persist() != inode.Persisted {
			_ = f.apply(&entry{Op: opUpdate, Path: p, Volatile: true, Node: &nodeRecord{ID: in.ID, Size: in.Size, MTime: in.MTime, Persist: inode.Lost}}, nil)
		}
		return pathErr("read", p, fmt.Errorf("%w: %w", ErrLost, err))
	}
	if errors.Is(err, cache.ErrClosed) {
		return pathErr("read", fl.r.path, fmt.Errorf("%w: %w", ErrClosed, err))
	}
	return pathErr("read", fl.r.path, err)
}

// Read reads from the current offset (io.Reader).
func (fl *File) Read(p []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return 0, pathErr("read", fl.r.path, fs.ErrClosed)
	}
	n, err := fl.ReadAt(p, fl.off)
	fl.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek sets the offset for the next Read (io.Seeker).
func (fl *File) Seek(offset int64, whence int) (int64, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += fl.off
	case io.SeekEnd:
		offset += fl.r.node.Size
	default:
		return 0, pathErr("seek", fl.r.path, errorf(fs.ErrInvalid, "whence %d", whence))
	}
	if offset < 0 {
		return 0, pathErr("seek", fl.r.path, errorf(fs.ErrInvalid, "negative position"))
	}
	fl.off = offset
	return offset, nil
}

// Close releases the file (and stops its read-ahead).
func (fl *File) Close() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return pathErr("close", fl.r.path, fs.ErrClosed)
	}
	fl.closed = true
	fl.smu.Lock()
	if fl.sr != nil {
		fl.sr.Close()
		fl.sr = nil
	}
	fl.smu.Unlock()
	return fl.cr.Close()
}

// dirFile is an open directory.
type dirFile struct {
	info    *fileInfo
	entries []fs.DirEntry
	pos     int
	closed  bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, pathErr("read", d.info.path(), ErrIsDir)
}

func (d *dirFile) Close() error {
	if d.closed {
		return pathErr("close", d.info.path(), fs.ErrClosed)
	}
	d.closed = true
	return nil
}

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n:n], nil
}

// fileInfo is an fs.FileInfo and fs.DirEntry over one inode version.
type fileInfo struct {
	f   *FS
	dir string // clean path of the parent (shared by every entry of a listing)
	in  *inode.Inode
	m   *mount
}

func (f *FS) info(r *resolved) *fileInfo {
	dir, _ := ufs.Split(r.path)
	if r.path == ufs.Root {
		dir = ""
	}
	return &fileInfo{f: f, dir: dir, in: r.node, m: r.mount}
}

// entries returns the children of the directory r, sorted, with one allocation for the
// infos and one for the slice.
func (f *FS) entries(r *resolved) []fs.DirEntry {
	kids := r.node.Dir().Children()
	infos := make([]fileInfo, len(kids))
	out := make([]fs.DirEntry, len(kids))
	mounts := f.mounts.Load()
	for i, c := range kids {
		m := r.mount
		if c.IsMount() {
			if cm := mounts.byID[c.Dir().MountID.Load()]; cm != nil {
				m = cm
			}
		}
		infos[i] = fileInfo{f: f, dir: r.path, in: c, m: m}
		out[i] = &infos[i]
	}
	return out
}

func (fi *fileInfo) path() string {
	if fi.dir == "" {
		return ufs.Root
	}
	return ufs.Join(fi.dir, fi.in.Name)
}

func (fi *fileInfo) Name() string {
	if fi.dir == "" {
		return "."
	}
	return fi.in.Name
}

func (fi *fileInfo) Size() int64 {
	if fi.in.IsDir() {
		return 0
	}
	return fi.in.Size
}

func (fi *fileInfo) perm() fs.FileMode {
	m := fi.in.Owner.Mode.Perm()
	if fi.m.shared {
		u := (m >> 6) & 7
		m |= u<<3 | u
	}
	return m
}

func (fi *fileInfo) Mode() fs.FileMode {
	if fi.in.IsDir() {
		return fs.ModeDir | fi.perm()
	}
	return fi.perm()
}

func (fi *fileInfo) Type() fs.FileMode          { return fi.Mode().Type() }
func (fi *fileInfo) Info() (fs.FileInfo, error) { return fi, nil }
func (fi *fileInfo) IsDir() bool                { return fi.in.IsDir() }
func (fi *fileInfo) String() string             { return fs.FormatFileInfo(fi) }

func (fi *fileInfo) ModTime() time.Time {
	if fi.in.MTime == 0 {
		return time.Time{}
	}
	return time.Unix(0, fi.in.MTime)
}

// Sys returns a *FileStatus.
func (fi *fileInfo) Sys() any {
	in, m := fi.in, fi.m
	p := fi.path()
	st := &FileStatus{
		Path: ufs.Rooted(p), Name: fi.Name(), IsDir: in.IsDir(), Size: fi.Size(), ModTime: fi.ModTime(),
		Mode: fi.perm(), Owner: in.Owner.Owner, Group: in.Owner.Group, PersistState: in.Persist(),
		UFSPath: m.ufsURI(p), MountPoint: ufs.Rooted(m.path), IsMountPoint: in.IsMount(),
		Incomplete: in.Flags&inode.FlagOpen != 0, ReadOnly: m.readOnly, Pinned: in.Flags&inode.FlagPinned != 0,
	}
	if d := in.Dir(); d != nil {
		st.Children = d.Len()
	}
	if !in.IsDir() {
		st.CachedBytes = fi.f.cache.CachedBytes(cache.File{ID: in.ID, Size: in.Size})
		if in.Persist() == inode.Persisted {
			st.Fingerprint = ufs.Fingerprint{Type: ufs.TypeFile, UFS: m.caps.Kind, Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode, ContentHash: in.Hash}.String()
		}
	}
	return st
}
