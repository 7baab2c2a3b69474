package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
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
	if f.remote != nil {
		return f.remoteOpen(ctx, p)
	}
	for attempt := 0; ; attempt++ {
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
		switch in := r.node; {
		case in.Flags&inode.FlagOpen != 0:
			return nil, pathErr("open", p, errorf(ErrIncomplete, "%s is still being written; open it once its writer closed it", ufs.Rooted(p)))
		case in.Persist() == inode.Lost:
			return nil, pathErr("open", p, ErrLost)
		}
		cur, pinned := f.versions.acquire(f, p, r.node, r.mount)
		if cur == nil {
			// Replaced between the lookup and the registration: look again.
			if attempt < 100 {
				lo.force = false
				continue
			}
			return nil, pathErr("open", p, errorf(ErrBusy, "%s keeps being replaced", ufs.Rooted(p)))
		}
		r.node = cur
		var fetch cache.Fetcher
		fromUFS := !pinned && cur.Persist() == inode.Persisted
		switch {
		case fromUFS:
			fetch = f.fetcher(r.mount, r.path, cur)
		case cur.Persist() != inode.Persisted:
			fetch = f.remoteBlocks(cur) // held by another member, or nil
		}
		rt := f.readType(opts.ReadType)
		cr := f.cache.NewReader(cacheFile(cur), fetch, cacheMode(rt))
		fl := &File{fs: f, ctx: ctx, r: &r, cr: cr, pinned: pinned}
		switch {
		case rt == NoCache && fromUFS:
			fl.seq = fetch
		case rt == NoCache && fetch != nil:
			fl.seq = f.holderRange(cur) // without the time bound of a fill
		}
		return fl, nil
	}
}

// fetcher reads blocks of the persisted version in (at ufsPath in m) from the UFS: that
// version and no other. With a content hash and a ufs.VersionReader the store itself
// checks the version; otherwise only the length can tell, and a file found shorter, or
// longer at its last block, is reported changed. Either way a change fails with ErrChanged
// instead of returning bytes of two versions.
// The version is read where it is now: a rename while it is open moves the object.
func (f *FS) fetcher(m *mount, p string, in *inode.Inode) cache.Fetcher {
	return f.versionFetcher(m, p, in, true)
}

// versionFetcher is fetcher; with followMoves false it does not look for a version whose
// object is gone (movedFrom), which is how a caller holding the path's lock fetches.
func (f *FS) versionFetcher(opened *mount, p string, in *inode.Inode, followMoves bool) cache.Fetcher {
	hashed := in.HasHash()
	id, hash, size := in.ID, in.Hash(), in.Size
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		// The mount as it is now: a file opened before an UpdateMount fetches through the
		// UFS with the new options, not the one being drained (closed after mountDrain).
		m := f.liveMount(opened)
		vr, versioned := m.ufs.(ufs.VersionReader)
		versioned = versioned && hashed
		at := f.versions.pathOf(id, p)
		vs, err := openVersion(ctx, m.ufs, vr, versioned, ufs.Rel(m.Path, at), hash, size, off, n)
		if followMoves && errors.Is(err, fs.ErrNotExist) {
			if moved, ok := f.movedFrom(ctx, id, at); ok {
				vs, err = openVersion(ctx, m.ufs, vr, versioned, ufs.Rel(m.Path, moved), hash, size, off, n)
			}
		}
		if err != nil {
			return nil, goneErr(err)
		}
		vs.counted = &f.stats.ufsBytes
		return vs, nil
	}
}

// goneErr reports a version whose object the UFS no longer has (deleted or replaced
// behind a reader that opened it) as changed: the file may well exist, as another version.
func goneErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ufs.ErrChanged, err)
	}
	return err
}

// movedFrom is asked when the UFS has no object where a held version was (at): a rename
// moves the object before the namespace follows, so it waits out any mutation of at (its
// path lock) and returns where the version is now, if that is elsewhere.
func (f *FS) movedFrom(ctx context.Context, id uint64, at string) (string, bool) {
	// Bounded: a commit holding at's lock may be waiting for this very fill (it holds the
	// readers' versions before replacing their object); then the version is just gone.
	ctx, cancel := context.WithTimeout(ctx, movedFromWait)
	defer cancel()
	held, err := f.locks.Lock(ctx, at)
	if err != nil {
		return "", false
	}
	held.Unlock()
	now := f.versions.pathOf(id, at)
	return now, now != at
}

// movedFromWait bounds how long a fetch waits out a mutation of the path it reads.
const movedFromWait = 10 * time.Second

// openVersion opens the n bytes at off of the version (hash, size) of the file at ufsPath;
// see fetcher.
func openVersion(ctx context.Context, u ufs.UFS, vr ufs.VersionReader, versioned bool, ufsPath, hash string, size, off, n int64) (*versionStream, error) {
	vs := &versionStream{ufsPath: ufsPath, off: off, left: n, size: size, probe: !versioned && off+n >= size}
	var err error
	switch {
	case versioned:
		vs.rc, err = vr.OpenVersion(ctx, ufsPath, hash, off, n)
	case vs.probe:
		vs.rc, err = u.OpenRange(ctx, ufsPath, off, n+1) // one byte more tells whether the file grew
	default:
		vs.rc, err = u.OpenRange(ctx, ufsPath, off, n)
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// versionStream yields the bytes of one version of a UFS file that a range of it opened.
// Where the store does not check the version itself it checks the length: a stream that
// ends early reports ErrChanged, and so does one byte beyond the version's size (probe:
// the range was asked one byte longer). A break mid-transfer is reported as such, to be
// resumed.
type versionStream struct {
	rc        io.ReadCloser
	ufsPath   string
	off, left int64 // the next byte's offset, bytes still to yield
	size      int64
	probe     bool
	end       error         // what Read returns once left is 0
	counted   *atomic.Int64 // adds the bytes read from the UFS
}

func (s *versionStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		if s.end == nil {
			s.end = s.finish()
		}
		return 0, s.end
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.rc.Read(p)
	s.off += int64(n)
	s.left -= int64(n)
	if s.counted != nil {
		s.counted.Add(int64(n))
	}
	switch {
	case err == io.EOF && s.left > 0:
		return n, changedErr(s.ufsPath, fmt.Sprintf("the UFS file ends at byte %d, its version has %d", s.off, s.size))
	case err == io.EOF:
		s.end = io.EOF // the store ended the range at the version's size: nothing beyond it
		return n, nil
	case err != nil:
		return n, goneErr(err)
	}
	return n, nil
}

// finish reports what follows the version's bytes: io.EOF, or ErrChanged when the file
// goes on beyond the version's size.
func (s *versionStream) finish() error {
	if !s.probe {
		return io.EOF
	}
	var one [1]byte
	switch m, err := io.ReadFull(s.rc, one[:]); {
	case m > 0:
		return changedErr(s.ufsPath, fmt.Sprintf("the UFS file is longer than its version's %d bytes", s.size))
	case err == io.EOF:
		return io.EOF
	default:
		return goneErr(err)
	}
}

func (s *versionStream) Close() error { return s.rc.Close() }

func changedErr(ufsPath, why string) error {
	return &fs.PathError{Op: "read", Path: ufsPath, Err: fmt.Errorf("%w: %s", ufs.ErrChanged, why)}
}

// File is an open file: an fs.File, io.ReaderAt and io.Seeker. ReadAt is safe for
// concurrent use; Read and Seek share an offset.
type File struct {
	fs     *FS
	ctx    context.Context
	r      *resolved
	cr     *cache.Reader
	pinned bool        // holds the version's pin (see versionRefs)
	remote *remoteFile // a remote client's file: every method is its

	mu     sync.Mutex
	off    int64
	closed bool

	// NO_CACHE reads of blocks that are not cached come straight from one stream into the
	// caller's buffer (no block copy, no request per block) while reads are sequential:
	// of the UFS version, or of another member's blocks.
	seq   cache.Fetcher // nil: every read goes through the cache
	smu   sync.Mutex
	sr    io.ReadCloser
	srOff int64
}

// readSeq reads p at off from a stream opened by seq, opening it where off is when it is
// not there already. At the file's end the stream must end too: a stream of a version
// checks there that the UFS file did not grow.
func (fl *File) readSeq(p []byte, off int64) (int, error) {
	fl.smu.Lock()
	defer fl.smu.Unlock()
	size := fl.r.node.Size
	if fl.sr == nil || fl.srOff != off {
		fl.closeSeq()
		sr, err := fl.seq(fl.ctx, off, size-off)
		if err != nil {
			return 0, err
		}
		fl.sr, fl.srOff = sr, off
	}
	want := min(int64(len(p)), size-off)
	n, err := io.ReadFull(fl.sr, p[:want])
	fl.srOff += int64(n)
	if err == nil && fl.srOff == size {
		err = cache.ExpectEnd(fl.sr)
	}
	if err != nil {
		fl.closeSeq()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// closeSeq closes the sequential stream, if one is open. fl.smu must be held.
func (fl *File) closeSeq() {
	if fl.sr != nil {
		fl.sr.Close()
		fl.sr = nil
	}
}

// Stat describes the file as it was when opened.
func (fl *File) Stat() (fs.FileInfo, error) {
	if fl.remote != nil {
		return fl.remote.Stat()
	}
	return fl.fs.info(fl.r), nil
}

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (fl *File) ReadAt(p []byte, off int64) (int, error) {
	if fl.remote != nil {
		return fl.remote.ReadAt(p, off)
	}
	if off < 0 {
		return 0, pathErr("read", fl.r.path, errorf(fs.ErrInvalid, "negative offset"))
	}
	if off >= fl.r.node.Size {
		return 0, io.EOF
	}
	var n int
	var err error
	switch {
	case fl.seq != nil && !fl.fs.cache.Has(cacheFile(fl.r.node), off/fl.fs.cache.BlockSize()):
		n, err = fl.readSeq(p, off)
	default:
		n, err = fl.cr.ReadAt(fl.ctx, p, off)
	}
	fl.fs.stats.readBytes.Add(int64(n))
	if err != nil && err != io.EOF {
		err = fl.readErr(err)
	}
	return n, err
}

func (fl *File) readErr(err error) error {
	f, p := fl.fs, fl.r.path
	switch {
	case errors.Is(err, cache.ErrBlockLost):
		// A reader holds its version's blocks (versionRefs), so a missing pinned block is
		// truly gone (a damaged disk tier): the file is lost if p still holds this version.
		if in := f.ns().Lookup(p); in != nil && !in.IsDir() && in.ID == fl.r.node.ID {
			f.markLost(p, in)
		}
		return pathErr("read", p, fmt.Errorf("%w: %w", ErrLost, err))
	case errors.Is(err, ufs.ErrChanged):
		// Replaced behind the namespace: sync the path so that the next open reads the new
		// version.
		f.resyncFile(fl.ctx, p, fl.r.node.ID)
		return pathErr("read", p, errorf(ErrChanged, "%s changed in the UFS since it was opened (%v); open it again", ufs.Rooted(p), err))
	case errors.Is(err, cache.ErrClosed):
		return pathErr("read", p, fmt.Errorf("%w: %w", ErrClosed, err))
	}
	return pathErr("read", p, err)
}

// resyncFile syncs the metadata of the file at p with the UFS when the namespace still
// holds version id there.
func (f *FS) resyncFile(ctx context.Context, p string, id uint64) {
	if in := f.ns().Lookup(p); in == nil || in.ID != id {
		return
	}
	_, _ = f.resolve(ctx, "read", p, lookupOpts{force: true})
}

// Read reads from the current offset (io.Reader).
func (fl *File) Read(p []byte) (int, error) {
	if fl.remote != nil {
		return fl.remote.Read(p)
	}
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
	if fl.remote != nil {
		return fl.remote.Seek(offset, whence)
	}
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
	if fl.remote != nil {
		return fl.remote.Close()
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return pathErr("close", fl.r.path, fs.ErrClosed)
	}
	fl.closed = true
	fl.smu.Lock()
	fl.closeSeq()
	fl.smu.Unlock()
	err := fl.cr.Close()
	fl.fs.versions.release(fl.fs, fl.r.node.ID, fl.pinned)
	return err
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
