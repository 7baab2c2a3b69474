package unifiedfs

import (
	"context"
	"errors"
	"io/fs"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// writeType resolves the zero value to the FS default.
func (f *FS) writeType(w WriteType) WriteType {
	if w == WriteDefault {
		return f.cfg.WriteType
	}
	return w
}

// writable fails under a read-only mount.
func writable(op string, r *resolved) error {
	if r.mount.readOnly {
		return pathErr(op, r.path, errorf(ErrReadOnly, "%s is under the read-only mount %s", ufs.Rooted(r.path), ufs.Rooted(r.mount.path)))
	}
	return nil
}

// Mkdir creates the directory path; its parent must exist. With the FS write type
// MustCache the directory lives only in the namespace (NotPersisted) until something
// below it is persisted; otherwise it is created in the UFS first. An existing path fails
// with fs.ErrExist.
func (f *FS) Mkdir(ctx context.Context, path string) error {
	p, err := clean("mkdir", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "mkdir", p); err != nil {
		return err
	}
	if p == ufs.Root {
		return pathErr("mkdir", p, fs.ErrExist)
	}
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("mkdir", p, err)
	}
	defer held.Unlock()
	return f.mkdirLocked(ctx, p)
}

func (f *FS) mkdirLocked(ctx context.Context, p string) error {
	dir, _ := ufs.Split(p)
	parent, err := f.resolve(ctx, "mkdir", dir, lookupOpts{})
	if err != nil {
		return err
	}
	if !parent.node.IsDir() {
		return pathErr("mkdir", dir, ErrNotDir)
	}
	if err := writable("mkdir", &parent); err != nil {
		return err
	}
	if _, err := f.resolve(ctx, "mkdir", p, lookupOpts{}); err == nil {
		return pathErr("mkdir", p, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ps := inode.NotPersisted
	if f.cfg.WriteType != MustCache {
		if err := parent.mount.ufs.Mkdir(ctx, ufs.Join(parent.ufsPath, ufs.Base(p))); err != nil {
			return pathErr("mkdir", p, err)
		}
		ps = inode.Persisted
	}
	if err := f.apply(&entry{Op: opCreate, Path: p, Node: &nodeRecord{Dir: true, MTime: f.now().UnixNano(), Persist: ps}}, nil); err != nil {
		return err
	}
	if ps == inode.Persisted {
		f.markNewDirLoaded(p)
		return f.markAncestorsPersisted(ctx, dir)
	}
	return nil
}

// markNewDirLoaded records that a directory we just created holds nothing we have not
// seen, so lookups below it need not ask the UFS.
func (f *FS) markNewDirLoaded(p string) {
	if in := f.lookupLoaded(p); in != nil && in.IsDir() {
		in.Dir().SyncedAt.CompareAndSwap(0, f.now().UnixNano())
	}
}

// markAncestorsPersisted marks p and its ancestors up to their mount point as persisted
// (the UFS created them as parents of a persisted entry).
func (f *FS) markAncestorsPersisted(ctx context.Context, p string) error {
	for {
		in := f.lookupLoaded(p)
		if in == nil || in.IsMount() || in.Persist() == inode.Persisted {
			return nil
		}
		if err := f.apply(&entry{Op: opUpdate, Path: p, Node: &nodeRecord{Dir: true, Persist: inode.Persisted}}, nil); err != nil {
			return err
		}
		f.markNewDirLoaded(p)
		if p == ufs.Root {
			return nil
		}
		p, _ = ufs.Split(p)
	}
}

// MkdirAll creates path and any missing parents; existing directories are fine.
func (f *FS) MkdirAll(ctx context.Context, path string) error {
	p, err := clean("mkdir", path)
	if err != nil {
		return err
	}
	if p == ufs.Root {
		return nil
	}
	for walked, rest := ufs.Root, p; ; {
		name, tail, more := cut(rest)
		walked = ufs.Join(walked, name)
		r, err := f.resolve(ctx, "mkdir", walked, lookupOpts{})
		switch {
		case err == nil && !r.node.IsDir():
			return pathErr("mkdir", walked, ErrNotDir)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := f.Mkdir(ctx, walked); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			return err
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// WriteFile creates (or, with opts.Overwrite, replaces) path with data and closes it.
func (f *FS) WriteFile(ctx context.Context, path string, data []byte, opts CreateOptions) error {
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

// Create starts writing a new file at path with the given write type (see WriteType). The
// parent must exist unless opts.Recursive; an existing file fails with fs.ErrExist unless
// opts.Overwrite. The file is visible as incomplete while written; Close completes it
// and reports any failure of the write type's synchronous part (the UFS upload for
// CacheThrough and Through), in which case nothing is left at the path.
func (f *FS) Create(ctx context.Context, path string, opts CreateOptions) (_ *Writer, err error) {
	p, err := clean("create", path)
	if err != nil {
		return nil, err
	}
	if err := f.check(ctx, "create", p); err != nil {
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
	parent, err := f.resolve(ctx, "create", dir, lookupOpts{})
	if err != nil {
		return nil, err
	}
	if !parent.node.IsDir() {
		return nil, pathErr("create", dir, ErrNotDir)
	}
	if err := writable("create", &parent); err != nil {
		return nil, err
	}
	existing, err := f.resolve(ctx, "create", p, lookupOpts{})
	switch {
	case err == nil && existing.node.IsDir():
		return nil, pathErr("create", p, ErrIsDir)
	case err == nil && !opts.Overwrite:
		return nil, pathErr("create", p, fs.ErrExist)
	case err == nil && existing.node.Persist() != inode.Persisted && f.openWriters.has(p):
		return nil, pathErr("create", p, errorf(fs.ErrExist, "file is being written"))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err == nil && f.persist != nil {
		cancelled := f.persist.cancel(existing.node.ID)
		defer func() {
			if err != nil { // the old file stays: so does its persist
				f.persist.resume(cancelled)
			}
		}()
	}
	mode := opts.Mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	w := &Writer{f: f, ctx: ctx, path: p, wt: wt, mount: parent.mount, ufsPath: ufs.Join(parent.ufsPath, ufs.Base(p)), id: f.newID(), mode: mode}
	if wt == CacheThrough || wt == Through {
		uw, err := parent.mount.ufs.Create(ctx, w.ufsPath, ufs.CreateOptions{Mode: mode})
		if err != nil {
			return nil, pathErr("create", p, err)
		}
		w.uw = uw
	} else if err == nil && existing.persisted() {
		// The new content lives only in the cache for now: the old object must not
		// outlive the overwrite in the UFS.
		if err := parent.mount.ufs.Remove(ctx, existing.ufsPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, pathErr("create", p, err)
		}
	}
	pinned := wt == MustCache || wt == AsyncThrough
	if wt != Through {
		w.cw = f.cache.NewWriter(cache.File{ID: w.id}, pinned)
	}
	rec := &nodeRecord{ID: w.id, MTime: f.now().UnixNano(), Mode: mode, Owner: f.defOwner.Owner, Group: f.defOwner.Group, Open: true, Pinned: pinned}
	// Only the completion of a file is journaled (with its whole record): a file still being
	// written when the process dies is removed on recovery anyway. An overwrite is
	// journaled, since it replaces what was there.
	if err := f.apply(&entry{Op: opCreate, Path: p, Node: rec, Overwrite: opts.Overwrite, Volatile: !opts.Overwrite}, nil); err != nil {
		w.discard()
		return nil, err
	}
	f.openWriters.add(p)
	w.tracked = true
	return w, nil
}

// Writer is a file being written; see Create. It is not safe for concurrent use.
type Writer struct {
	f       *FS
	ctx     context.Context
	path    string
	wt      WriteType
	mount   *mount
	ufsPath string
	id      uint64
	mode    fs.FileMode
	cw      *cache.Writer
	uw      ufs.Writer
	n       int64
	done    bool
	err     error
	tracked bool // counted in FS.openWriters
}

func (w *Writer) untrack() {
	if w.tracked {
		w.tracked = false
		w.f.openWriters.remove(w.path)
	}
}

// Write appends p. After an error (ErrNoSpace, a failed UFS write) the file is abandoned:
// nothing is left at the path and Close returns the error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, pathErr("write", w.path, fs.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.cw != nil {
		if _, err := w.cw.Write(p); err != nil {
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
	w.removeIncomplete()
}

func (w *Writer) discard() {
	if w.cw != nil {
		w.cw.Abort()
	}
	if w.uw != nil {
		_ = w.uw.Abort()
	}
}

// removeIncomplete deletes the incomplete inode, if it is still ours.
func (w *Writer) removeIncomplete() {
	f := w.f
	w.untrack()
	held, err := f.locks.Lock(context.WithoutCancel(w.ctx), w.path)
	if err != nil {
		return
	}
	defer held.Unlock()
	if in := f.lookupLoaded(w.path); in != nil && in.ID == w.id {
		_ = f.apply(&entry{Op: opDelete, Path: w.path}, nil)
	}
}

// Abort abandons the file: nothing is left at the path. It is a no-op after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	if w.err == nil {
		w.fail(pathErr("write", w.path, errorf(fs.ErrClosed, "aborted")))
	}
}

// Close completes the file. For CacheThrough and Through it returns once the UFS upload
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
	f := w.f
	defer w.untrack()
	if w.cw != nil {
		if err := w.cw.Close(); err != nil {
			w.fail(pathErr("close", w.path, err))
			return w.err
		}
	}
	rec := &nodeRecord{ID: w.id, Size: w.n, MTime: f.now().UnixNano(), Persist: inode.NotPersisted, Pinned: w.wt == MustCache || w.wt == AsyncThrough,
		Owner: f.defOwner.Owner, Group: f.defOwner.Group, Mode: w.mode}
	if w.uw != nil {
		if err := w.uw.Close(); err != nil {
			w.uw = nil
			w.fail(pathErr("close", w.path, err))
			return w.err
		}
		st, err := f.uploaded(w.ctx, w.mount, w.ufsPath, w.uw)
		if err != nil {
			w.fail(pathErr("close", w.path, err))
			return w.err
		}
		rec.Persist, rec.Hash = inode.Persisted, st.ContentHash
		if o, ok := statusOwner(st); ok { // as the UFS will report it: a sync sees no change
			rec.Owner, rec.Group, rec.Mode = o.Owner, o.Group, o.Mode
		}
		if !st.ModTime.IsZero() {
			rec.MTime = st.ModTime.UnixNano()
		}
	}
	if w.wt == AsyncThrough {
		rec.Persist = inode.ToBePersisted
	}
	held, err := f.locks.Lock(context.WithoutCancel(w.ctx), w.path)
	if err != nil {
		return pathErr("close", w.path, err)
	}
	defer held.Unlock()
	cur := f.lookupLoaded(w.path)
	if cur == nil || cur.ID != w.id {
		// Deleted (or replaced) while being written: the UFS copy must not outlive it.
		if w.uw != nil && cur == nil {
			_ = w.mount.ufs.Remove(context.WithoutCancel(w.ctx), w.ufsPath)
		}
		f.cache.Drop(w.id)
		return pathErr("close", w.path, errorf(fs.ErrNotExist, "file was removed while being written"))
	}
	if err := f.apply(&entry{Op: opComplete, Path: w.path, Node: rec}, nil); err != nil {
		return err
	}
	if rec.Persist == inode.Persisted {
		dir, _ := ufs.Split(w.path)
		if err := f.markAncestorsPersisted(w.ctx, dir); err != nil {
			return err
		}
	}
	if w.wt == AsyncThrough {
		f.persist.enqueue(w.id, w.path)
	}
	return nil
}

// openSet counts files being written, by path.
type openSet struct {
	mu sync.Mutex
	m  map[string]int
}

func (o *openSet) add(p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]int{}
	}
	o.m[p]++
}

func (o *openSet) remove(p string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m[p]--; o.m[p] <= 0 {
		delete(o.m, p)
	}
}

func (o *openSet) has(p string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[p] > 0
}

// under reports whether any file at or below p is being written.
func (o *openSet) under(p string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for q := range o.m {
		if ufs.IsWithin(q, p) {
			return true
		}
	}
	return false
}

// uploaded returns the status of what a completed upload stored: from the writer when it
// knows (ufs.StatWriter), else with one Stat.
func (f *FS) uploaded(ctx context.Context, m *mount, ufsPath string, uw ufs.Writer) (ufs.Status, error) {
	if sw, ok := uw.(ufs.StatWriter); ok {
		if st, ok := sw.Written(); ok {
			return st, nil
		}
	}
	return m.ufs.Stat(ctx, ufsPath)
}
