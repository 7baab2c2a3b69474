package unifiedfs

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// The write path: Mkdir, Create and the Writer that commits a file.
//
// A file being written is invisible to readers until Close commits it. A new file shows
// up at once as incomplete (Stat and ReadDir list it; Open fails with ErrIncomplete); an
// overwrite leaves the complete old version in place, readable, until the new version's
// Close replaces it in one step — the atomic replace the drivers already do in the UFS.
// The commit (the UFS upload's completion and the namespace entry) happens under the
// file's path lock, after checking that the write still owns the path: a file removed,
// unmounted or replaced while it was written leaves nothing behind, in the namespace or
// in the UFS.

// writeType resolves the zero value to the FS default.
func (f *FS) writeType(w WriteType) WriteType {
	if w == WriteDefault {
		return f.cfg.WriteType
	}
	return w
}

// writable fails under a read-only mount. The error names p, the caller's path.
func writable(op, p string, r *resolved) error {
	if r.mount.ReadOnly {
		return pathErr(op, p, errorf(ErrReadOnly, "%s is under the read-only mount %s", ufs.Rooted(p), ufs.Rooted(r.mount.Path)))
	}
	return nil
}

// WriteFile creates (or, with opts.Overwrite, replaces) path with data and closes it.
func (f *FS) WriteFile(ctx context.Context, path string, data []byte, opts CreateOptions) error {
	if peer := f.forwarder(ctx); peer != nil {
		p, err := clean("create", path)
		if err != nil {
			return err
		}
		if err := f.check(ctx, "create", p); err != nil {
			return err
		}
		return f.forwardWriteFile(ctx, peer, p, data, opts)
	}
	w, err := f.Create(ctx, path, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// Create starts writing a file at path with the given write type (see WriteType). The
// parent must exist unless opts.Recursive. Nothing is visible to readers until Close
// commits the file: a new file appears as incomplete (Open fails with ErrIncomplete), and
// with opts.Overwrite an existing file stays readable, unchanged, until Close replaces it
// at once. Close reports any failure of the write type's synchronous part (the UFS upload
// of CacheThrough and Through), and then nothing is left at the path.
//
// One writer per file: Create fails with fs.ErrExist when the file exists and
// opts.Overwrite is false (or it is a new file still being written), and with ErrBusy when
// opts.Overwrite is true while another writer of the file is open. A file removed,
// unmounted or renamed over while being written fails its Close and leaves nothing in the
// namespace or the UFS.
func (f *FS) Create(ctx context.Context, path string, opts CreateOptions) (_ *Writer, err error) {
	if strings.HasSuffix(path, "/") && path != "/" {
		return nil, pathErr("create", strings.TrimSuffix(path, "/"), errorf(fs.ErrInvalid, "%q ends in a slash: a file name cannot", path))
	}
	p, err := clean("create", path)
	if err != nil {
		return nil, err
	}
	if err := f.check(ctx, "create", p); err != nil {
		return nil, err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardCreate(ctx, peer, p, opts), nil
	}
	if err := f.checkLeader("create", p); err != nil {
		return nil, err
	}
	if p == ufs.Root {
		return nil, pathErr("create", p, ErrIsDir)
	}
	wt := f.writeType(opts.WriteType)
	if wt > AsyncThrough {
		return nil, pathErr("create", p, errorf(fs.ErrInvalid, "invalid write type %v", wt))
	}
	dir, _ := ufs.Split(p)
	if opts.Recursive {
		if err := f.MkdirAll(ctx, dir); err != nil {
			return nil, err
		}
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return nil, pathErr("create", p, err)
	}
	defer held.Unlock()
	parent, err := f.resolveParent(ctx, "create", p)
	if err != nil {
		return nil, err
	}
	if err := writable("create", p, &parent); err != nil {
		return nil, err
	}
	existing, err := f.resolve(ctx, "create", p, lookupOpts{})
	exists := err == nil
	switch {
	case exists && existing.node.IsDir():
		return nil, pathErr("create", p, ErrIsDir)
	case f.writers.has(p) || exists && existing.node.Flags&inode.FlagOpen != 0:
		if opts.Overwrite {
			return nil, pathErr("create", p, errorf(ErrBusy, "another writer of %s is open", ufs.Rooted(p)))
		}
		return nil, pathErr("create", p, errorf(fs.ErrExist, "%s is being written", ufs.Rooted(p)))
	case exists && !opts.Overwrite:
		return nil, pathErr("create", p, fs.ErrExist)
	case !exists && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	id, err := f.newID()
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, ctx: ctx, path: p, wt: wt, mount: parent.mount, ufsPath: ufs.Join(parent.ufsPath, ufs.Base(p)), id: id, mode: mode, replaces: exists}
	if wt == CacheThrough || wt == Through {
		uw, err := parent.mount.ufs.Create(ctx, w.ufsPath, ufs.CreateOptions{Mode: mode})
		if err != nil {
			return nil, pathErr("create", p, err)
		}
		w.uw = uw
	}
	pinned := wt == MustCache || wt == AsyncThrough
	if wt != Through {
		w.cw = f.cache.NewWriter(cache.File{ID: w.id}, pinned)
	}
	if !exists {
		owner := f.ns().DefaultOwner(false)
		rec := &namespace.NodeRecord{ID: w.id, MTime: f.now().UnixNano(), Mode: mode, Owner: owner.Owner, Group: owner.Group, Open: true, Pinned: pinned}
		// Volatile: a write dies with its process, so only its completion is journaled.
		if err := f.apply(&namespace.Entry{Op: namespace.OpCreate, Path: p, Node: rec, Volatile: true}, nil); err != nil {
			w.discard()
			return nil, err
		}
	}
	f.writers.add(w)
	return w, nil
}

// Writer is a file being written; see Create. It is not safe for concurrent use.
type Writer struct {
	f        *FS
	ctx      context.Context
	path     string
	wt       WriteType
	mount    *mount
	ufsPath  string
	id       uint64
	mode     fs.FileMode
	replaces bool           // an overwrite: the old version stays until Close
	fwd      *forwardWriter // the content streams to the leader (a standby, a remote client)
	cw       *cache.Writer
	uw       ufs.Writer
	n        int64
	done     bool
	err      error
	// cancelled holds why the write was cancelled (its file removed, unmounted or
	// replaced; the member losing its leadership), or nothing.
	cancelled atomic.Pointer[error]
}

// cancelErr returns why the write was cancelled, or nil.
func (w *Writer) cancelErr() error {
	if e := w.cancelled.Load(); e != nil {
		return *e
	}
	return nil
}

func (w *Writer) cancel(err error) { w.cancelled.CompareAndSwap(nil, &err) }

func errRemovedWhileWritten(p string) error {
	return pathErr("close", p, errorf(fs.ErrNotExist, "%s was removed while being written", ufs.Rooted(p)))
}

// Write appends p. After an error (ErrNoSpace, a failed UFS write, the file removed) the
// file is abandoned: nothing is left at the path and Close returns the error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, pathErr("write", w.path, fs.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.fwd != nil {
		return w.forwardWrite(p)
	}
	if err := w.cancelErr(); err != nil {
		w.fail(pathErr("write", w.path, err))
		return 0, w.err
	}
	if w.cw != nil {
		if _, err := w.cw.Write(p); err != nil {
			if cerr := w.cancelErr(); cerr != nil {
				err = cerr
			}
			w.fail(pathErr("write", w.path, err))
			return 0, w.err
		}
	}
	if w.uw != nil {
		if _, err := w.uw.Write(p); err != nil {
			w.fail(pathErr("write", w.path, err))
			return 0, w.err
		}
	}
	w.n += int64(len(p))
	return len(p), nil
}

// fail abandons the file after an error.
func (w *Writer) fail(err error) {
	w.err = err
	w.discard()
	w.abandon()
}

// discard drops what was written (cache blocks and the UFS upload).
func (w *Writer) discard() {
	if w.cw != nil {
		w.cw.Abort()
		w.f.cache.Drop(w.id)
	}
	if w.uw != nil {
		_ = w.uw.Abort()
	}
}

// abandon removes the write from the namespace: its incomplete entry (a new file) and its
// claim on the path.
func (w *Writer) abandon() {
	f := w.f
	held, err := f.locks.Lock(context.WithoutCancel(w.ctx), w.path)
	if err != nil {
		return
	}
	defer held.Unlock()
	w.abandonLocked()
}

func (w *Writer) abandonLocked() {
	f := w.f
	owned := f.writers.remove(w)
	if in := f.ns().Lookup(w.path); owned && !w.replaces && in != nil && !in.IsDir() && in.ID == w.id {
		_ = f.apply(&namespace.Entry{Op: namespace.OpDelete, Path: w.path, Volatile: true}, nil)
	}
}

// Abort abandons the file: nothing is left at the path (an overwritten file keeps its old
// version). It is a no-op after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.fwd != nil {
		w.forwardAbort()
		return
	}
	if w.err == nil {
		w.fail(pathErr("write", w.path, errorf(fs.ErrClosed, "aborted")))
	}
}

// Close commits the file. For CacheThrough and Through it returns once the UFS upload
// succeeded, or its error (and then nothing is left at the path); for AsyncThrough it
// queues the persist; for MustCache the file stays in the cache only.
func (w *Writer) Close() error {
	if w.done {
		if w.err != nil {
			return w.err
		}
		return pathErr("close", w.path, fs.ErrClosed)
	}
	w.done = true
	if w.err != nil {
		return w.err
	}
	if w.fwd != nil {
		return w.forwardClose()
	}
	f := w.f
	if w.cw != nil {
		if err := w.cw.Close(); err != nil {
			if cerr := w.cancelErr(); cerr != nil { // its blocks went with the file
				err = cerr
			}
			w.fail(pathErr("close", w.path, err))
			return w.err
		}
	}
	held, err := f.locks.Lock(context.WithoutCancel(w.ctx), w.path)
	if err != nil {
		w.fail(pathErr("close", w.path, err))
		return w.err
	}
	defer held.Unlock()
	if err := w.commitLocked(); err != nil {
		w.err = err
		w.discard()
		w.abandonLocked()
		return err
	}
	if w.wt == AsyncThrough {
		f.persist.enqueue(w.id, w.path)
	}
	return nil
}

// commitLocked completes the UFS upload and publishes the file, if the write still owns
// its path; the path lock is held.
func (w *Writer) commitLocked() error {
	f := w.f
	if err := w.cancelErr(); err != nil {
		return pathErr("close", w.path, err)
	}
	if !f.writers.owns(w) {
		return errRemovedWhileWritten(w.path)
	}
	cur := f.ns().Lookup(w.path)
	if !w.replaces && (cur == nil || cur.IsDir() || cur.ID != w.id) {
		return errRemovedWhileWritten(w.path)
	}
	if w.replaces && cur != nil && cur.IsDir() {
		return pathErr("close", w.path, errorf(ErrIsDir, "%s became a directory while being written", ufs.Rooted(w.path)))
	}
	owner := f.ns().DefaultOwner(false)
	rec := &namespace.NodeRecord{ID: w.id, Size: w.n, MTime: f.now().UnixNano(), Persist: inode.NotPersisted,
		Pinned: w.wt == MustCache || w.wt == AsyncThrough, Owner: owner.Owner, Group: owner.Group, Mode: w.mode}
	if w.uw != nil {
		if cur != nil {
			f.holdReaders(w.ctx, w.path) // the upload replaces the object they read
		}
		uw := w.uw
		w.uw = nil // committed or failed: nothing to abort any more
		if err := uw.Close(); err != nil {
			return pathErr("close", w.path, err)
		}
		st, err := f.uploaded(w.ctx, w.mount, w.ufsPath, uw)
		if err != nil {
			// The upload landed but cannot be described: take it back.
			_ = w.mount.ufs.Remove(context.WithoutCancel(w.ctx), w.ufsPath)
			return pathErr("close", w.path, err)
		}
		rec.Persist, rec.Hash = inode.Persisted, st.ContentHash
		if o, ok := statusOwner(st); ok { // as the UFS will report it: a sync sees no change
			rec.Owner, rec.Group, rec.Mode = o.Owner, o.Group, o.Mode
		}
		if !st.ModTime.IsZero() {
			rec.MTime = st.ModTime.UnixNano()
		}
	} else if cur != nil && cur.ID != w.id && (cur.Persist() == inode.Persisted || cur.Flags&inode.FlagShadow != 0) {
		// The new content lives only in the cache for now; the UFS keeps the old object at
		// the path until a persist replaces it (readers of the old version still read it),
		// and whoever removes or moves this file removes that object.
		rec.Shadow = true
	}
	if w.wt == AsyncThrough {
		rec.Persist = inode.ToBePersisted
	}
	if rec.Persist != inode.Persisted && f.ha != nil {
		rec.Holder = f.ha.cfg.Address // other members read its blocks from here
	}
	if cur != nil && cur.ID != w.id && f.persist != nil {
		f.persist.cancel(cur.ID) // the old version is replaced: its persist is moot
	}
	if err := f.apply(&namespace.Entry{Op: namespace.OpComplete, Path: w.path, Node: rec, ReqID: reqIDOf(w.ctx), Attr: f.createAttr()}, nil); err != nil {
		if rec.Persist == inode.Persisted {
			_ = w.mount.ufs.Remove(context.WithoutCancel(w.ctx), w.ufsPath)
		}
		return err
	}
	f.writers.remove(w)
	if rec.Persist == inode.Persisted {
		dir, _ := ufs.Split(w.path)
		return f.markAncestorsPersisted(w.ctx, dir)
	}
	return nil
}

// writerSet holds the open writers, one per path.
type writerSet struct {
	mu sync.Mutex
	m  map[string]*Writer
}

func (s *writerSet) add(w *Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*Writer{}
	}
	s.m[w.path] = w
}

// remove drops w's claim on its path; it reports whether w still held it.
func (s *writerSet) remove(w *Writer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[w.path] != w {
		return false
	}
	delete(s.m, w.path)
	return true
}

func (s *writerSet) has(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[p] != nil
}

func (s *writerSet) owns(w *Writer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[w.path] == w
}

// under reports whether a file at or below p is being written.
func (s *writerSet) under(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range s.m {
		if ufs.IsWithin(q, p) {
			return true
		}
	}
	return false
}

// cancelUnder ends the claim of every writer at or below p (the path is being removed):
// their Close fails and leaves nothing behind.
func (s *writerSet) cancelUnder(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, w := range s.m {
		if ufs.IsWithin(q, p) {
			w.cancel(errorf(fs.ErrNotExist, "%s was removed while being written", ufs.Rooted(q)))
			delete(s.m, q)
		}
	}
}

// cancelAll ends every write with err (this member lost its leadership).
func (s *writerSet) cancelAll(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, w := range s.m {
		w.cancel(err)
		delete(s.m, q)
	}
}

// uploaded returns the status of what a completed upload stored (ufs.WrittenStatus).
func (f *FS) uploaded(ctx context.Context, m *mount, ufsPath string, uw ufs.Writer) (ufs.Status, error) {
	return ufs.WrittenStatus(ctx, m.ufs, ufsPath, uw)
}
