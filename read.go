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
		fl := &File{fs: f, ctx: ctx, r: &r, cr: cr, pinned: pinned, stream: rt == NoCache && fromUFS}
		if rt == NoCache && !fromUFS && fetch != nil {
			fl.held = f.holderRange(cur)
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
func (f *FS) versionFetcher(m *mount, p string, in *inode.Inode, followMoves bool) cache.Fetcher {
	vr, versioned := m.ufs.(ufs.VersionReader)
	versioned = versioned && in.HasHash()
	id, hash, size := in.ID, in.Hash(), in.Size
	return func(ctx context.Context, off int64, b []byte) (int, error) {
		at := f.versions.pathOf(id, p)
		n, err := readVersion(ctx, m.ufs, vr, versioned, ufs.Rel(m.Path, at), hash, size, off, b)
		f.stats.ufsBytes.Add(int64(n))
		if followMoves && errors.Is(err, fs.ErrNotExist) {
			if moved, ok := f.movedFrom(ctx, id, at); ok {
				n, err = readVersion(ctx, m.ufs, vr, versioned, ufs.Rel(m.Path, moved), hash, size, off, b)
			}
		}
		return n, goneErr(err)
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

// readVersion fills b with the bytes at off of the version (hash, size) of the file at
// ufsPath; see fetcher.
func readVersion(ctx context.Context, u ufs.UFS, vr ufs.VersionReader, versioned bool, ufsPath, hash string, size, off int64, b []byte) (int, error) {
	want := int64(len(b))
	ask := want
	last := off+want >= size
	var rc io.ReadCloser
	var err error
	if versioned {
		rc, err = vr.OpenVersion(ctx, ufsPath, hash, off, want)
	} else {
		if last {
			ask++ // one byte more tells whether the file grew
		}
		rc, err = u.OpenRange(ctx, ufsPath, off, ask)
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, b)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF && n < len(b):
		return n, changedErr(ufsPath, fmt.Sprintf("the UFS file ends at byte %d, its version has %d", off+int64(n), size))
	case err != nil:
		return n, err
	case !versioned && last:
		var one [1]byte
		if m, err := rc.Read(one[:]); m > 0 {
			return n, changedErr(ufsPath, fmt.Sprintf("the UFS file is longer than its version's %d bytes", size))
		} else if err != nil && err != io.EOF {
			return n, err
		}
	}
	return n, nil
}

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

	// NO_CACHE reads of blocks that are not cached come straight from one UFS stream into
	// the caller's buffer (no block copy, no request per block) while reads are sequential.
	stream bool
	smu    sync.Mutex
	sr     io.ReadCloser
	srOff  int64

	// NO_CACHE reads of another member's blocks stream them from it likewise (under smu).
	held  func(ctx context.Context, off, n int64) (io.ReadCloser, error)
	hr    io.ReadCloser
	hrOff int64
}

// readHeld reads p at off from a stream of the holder's blocks (see held), reopening it
// when off is not where the stream is.
func (fl *File) readHeld(p []byte, off int64) (int, error) {
	fl.smu.Lock()
	defer fl.smu.Unlock()
	size := fl.r.node.Size
	if fl.hr == nil || fl.hrOff != off {
		if fl.hr != nil {
			fl.hr.Close()
		}
		hr, err := fl.held(fl.ctx, off, size-off)
		if err != nil {
			fl.hr = nil
			return 0, err
		}
		fl.hr, fl.hrOff = hr, off
	}
	want := min(int64(len(p)), size-off)
	n, err := io.ReadFull(fl.hr, p[:want])
	fl.hrOff += int64(n)
	if err != nil {
		fl.hr.Close()
		fl.hr = nil
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

// readStream reads p at off from the UFS stream, reopening it when off is not where the
// stream is. The stream is of the file's version (see fetcher): without a
// ufs.VersionReader it asks for one byte more than the version has, to tell a file that
// grew.
func (fl *File) readStream(p []byte, off int64) (int, error) {
	fl.smu.Lock()
	defer fl.smu.Unlock()
	in, u := fl.r.node, fl.r.mount.ufs
	vr, versioned := u.(ufs.VersionReader)
	versioned = versioned && in.HasHash()
	if fl.sr == nil || fl.srOff != off {
		if fl.sr != nil {
			fl.sr.Close()
		}
		at := fl.fs.versions.pathOf(in.ID, fl.r.path)
		open := func(at string) (io.ReadCloser, error) {
			ufsPath := ufs.Rel(fl.r.mount.Path, at)
			if versioned {
				return vr.OpenVersion(fl.ctx, ufsPath, in.Hash(), off, in.Size-off)
			}
			return u.OpenRange(fl.ctx, ufsPath, off, in.Size-off+1)
		}
		sr, err := open(at)
		if errors.Is(err, fs.ErrNotExist) {
			if moved, ok := fl.fs.movedFrom(fl.ctx, in.ID, at); ok {
				sr, err = open(moved)
			}
		}
		if err != nil {
			fl.sr = nil
			return 0, goneErr(err)
		}
		fl.sr, fl.srOff = sr, off
	}
	want := min(int64(len(p)), in.Size-off)
	n, err := io.ReadFull(fl.sr, p[:want])
	fl.srOff += int64(n)
	fl.fs.stats.ufsBytes.Add(int64(n))
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF && int64(n) < want:
		return n, changedErr(fl.r.ufsPath, fmt.Sprintf("the UFS file ends at byte %d, its version has %d", off+int64(n), in.Size))
	case err != nil:
		return n, err
	}
	if fl.srOff == in.Size && !versioned {
		var one [1]byte
		if m, err := fl.sr.Read(one[:]); m > 0 {
			return n, changedErr(fl.r.ufsPath, fmt.Sprintf("the UFS file is longer than its version's %d bytes", in.Size))
		} else if err != nil && err != io.EOF {
			return n, err
		}
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
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
	case (fl.stream || fl.held != nil) && !fl.fs.cache.Has(cacheFile(fl.r.node), off/fl.fs.cache.BlockSize()):
		if fl.stream {
			n, err = fl.readStream(p, off)
		} else {
			n, err = fl.readHeld(p, off)
		}
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
	if fl.sr != nil {
		fl.sr.Close()
		fl.sr = nil
	}
	if fl.hr != nil {
		fl.hr.Close()
		fl.hr = nil
	}
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
