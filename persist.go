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
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Persist writes the file at path, or every unpersisted file below the directory at path,
// to the UFS through its atomic Create, records the fingerprints and marks the ancestors
// persisted. It returns when everything is persisted, or the first error.
func (f *FS) Persist(ctx context.Context, path string) error {
	p, err := clean("persist", path)
	if err != nil {
		return err
	}
	if err := f.check(ctx, "persist", p); err != nil {
		return err
	}
	if peer := f.forwarder(ctx); peer != nil {
		return f.forwardOp(ctx, peer, opRequest{Op: "persist", Path: p})
	}
	if err := f.checkLeader("persist", p); err != nil {
		return err
	}
	r, err := f.resolve(ctx, "persist", p, lookupOpts{})
	if err != nil {
		return err
	}
	if err := writable("persist", p, &r); err != nil {
		return err
	}
	return f.persistTree(ctx, p, r.node)
}

func (f *FS) persistTree(ctx context.Context, p string, in *inode.Inode) error {
	if !in.IsDir() {
		if in.Persist() == inode.Persisted {
			return nil
		}
		return f.persistFile(ctx, p, in.ID)
	}
	if in.Persist() != inode.Persisted {
		if err := f.persistDir(ctx, p); err != nil {
			return err
		}
	}
	for _, c := range in.Dir().Children() {
		if c.IsMount() {
			continue
		}
		if err := f.persistTree(ctx, ufs.Join(p, c.Name), c); err != nil {
			return err
		}
	}
	return nil
}

func (f *FS) persistDir(ctx context.Context, p string) error {
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("persist", p, err)
	}
	defer held.Unlock()
	r, err := f.resolve(ctx, "persist", p, lookupOpts{noLoad: true})
	if err != nil || r.persisted() {
		return err
	}
	if err := writable("persist", p, &r); err != nil {
		return err
	}
	if err := r.mount.ufs.Mkdir(ctx, r.ufsPath); err != nil {
		return pathErr("persist", p, err)
	}
	return f.markAncestorsPersisted(ctx, p)
}

// persistFile uploads the cached content of the file at p, if it still has content id
// id and is not persisted. It holds p's lock during the upload, so a rename waits for it;
// Delete cancels ctx first (persister.cancel), which aborts the upload.
func (f *FS) persistFile(ctx context.Context, p string, id uint64) error {
	held, err := f.locks.Lock(ctx, p)
	if err != nil {
		return pathErr("persist", p, err)
	}
	defer held.Unlock()
	r, err := f.resolve(ctx, "persist", p, lookupOpts{noLoad: true})
	if err != nil {
		return err
	}
	in := r.node
	switch {
	case in.IsDir() || in.ID != id:
		return pathErr("persist", p, errorf(fs.ErrNotExist, "file was replaced"))
	case in.Persist() == inode.Persisted:
		return nil
	case in.Persist() == inode.Lost:
		return pathErr("persist", p, ErrLost)
	case in.Flags&inode.FlagOpen != 0:
		return pathErr("persist", p, errorf(fs.ErrInvalid, "file is being written"))
	}
	if err := writable("persist", p, &r); err != nil {
		return err
	}
	w, err := r.mount.ufs.Create(ctx, r.ufsPath, ufs.CreateOptions{Size: in.Size, SizeKnown: true, Mode: in.Owner.Mode})
	if err != nil {
		return pathErr("persist", p, err)
	}
	cr := f.cache.NewReader(cacheFile(in), f.remoteBlocks(in), cache.ReadCache)
	_, err = io.Copy(w, io.NewSectionReader(readerAtCtx{ctx, cr}, 0, in.Size))
	cr.Close()
	if err != nil {
		_ = w.Abort()
		if errors.Is(err, cache.ErrBlockLost) {
			f.markLost(p, in) // the path lock is held: p still holds this version
			return pathErr("persist", p, fmt.Errorf("%w: %w", ErrLost, err))
		}
		return pathErr("persist", p, err)
	}
	if in.Flags&inode.FlagShadow != 0 {
		f.holdReaders(ctx, p) // the upload replaces the older object they read
	}
	if err := w.Close(); err != nil {
		return pathErr("persist", p, err)
	}
	st, err := f.uploaded(ctx, r.mount, r.ufsPath, w)
	if err != nil {
		return pathErr("persist", p, err)
	}
	rec := &namespace.NodeRecord{ID: in.ID, Size: in.Size, Hash: st.ContentHash, Persist: inode.Persisted,
		Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode}
	if o, ok := statusOwner(st); ok {
		rec.Owner, rec.Group, rec.Mode = o.Owner, o.Group, o.Mode
	}
	if !st.ModTime.IsZero() {
		rec.MTime = st.ModTime.UnixNano()
	}
	if err := f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Node: rec}, nil); err != nil {
		_ = r.mount.ufs.Remove(context.WithoutCancel(ctx), r.ufsPath) // the version it described is gone
		return err
	}
	f.versions.persisted(f, p, in.ID)
	dir, _ := ufs.Split(p)
	return f.markAncestorsPersisted(ctx, dir)
}

// readerAtCtx adapts a cache.Reader to io.ReaderAt with a fixed context.
type readerAtCtx struct {
	ctx context.Context
	r   *cache.Reader
}

func (r readerAtCtx) ReadAt(p []byte, off int64) (int, error) { return r.r.ReadAt(r.ctx, p, off) }

// persister runs asynchronous persists (ASYNC_THROUGH) with retries and backoff.
type persister struct {
	f     *FS
	mu    sync.Mutex
	cond  *sync.Cond
	jobs  map[uint64]*persistJob // by content id
	queue []*persistJob
	busy  int
	wg    sync.WaitGroup
}

type persistJob struct {
	id        uint64
	path      string // current path; follows renames
	attempts  int
	notBefore time.Time
	cancel    context.CancelFunc // of the running attempt
	running   bool
	done      chan struct{} // closed when a running attempt ends
}

func newPersister(f *FS) *persister {
	p := &persister{f: f, jobs: map[uint64]*persistJob{}}
	p.cond = sync.NewCond(&p.mu)
	for i := 0; i < f.cfg.PersistWorkers; i++ {
		p.wg.Add(1)
		go p.worker()
	}
	go func() {
		<-f.ctx.Done()
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	return p
}

// enqueue schedules the persist of content id at path.
func (p *persister) enqueue(id uint64, path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.jobs[id]; ok {
		return
	}
	j := &persistJob{id: id, path: path}
	p.jobs[id] = j
	p.queue = append(p.queue, j)
	p.cond.Signal()
}

func (p *persister) worker() {
	defer p.wg.Done()
	f := p.f
	for {
		p.mu.Lock()
		var j *persistJob
		for j == nil {
			if f.ctx.Err() != nil {
				p.mu.Unlock()
				return
			}
			now := f.now()
			var wait time.Duration = -1
			for i, q := range p.queue {
				if !q.notBefore.After(now) {
					j = q
					p.queue = append(p.queue[:i], p.queue[i+1:]...)
					break
				}
				if d := q.notBefore.Sub(now); wait < 0 || d < wait {
					wait = d
				}
			}
			if j == nil {
				if wait >= 0 {
					t := time.AfterFunc(wait, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
					p.cond.Wait()
					t.Stop()
				} else {
					p.cond.Wait()
				}
			}
		}
		ctx, cancel := context.WithCancel(f.ctx)
		j.cancel, j.running, j.done = cancel, true, make(chan struct{})
		path := j.path
		p.busy++
		p.mu.Unlock()

		err := f.persistFile(ctx, path, j.id)
		cancel()

		p.mu.Lock()
		p.busy--
		j.running = false
		close(j.done)
		_, alive := p.jobs[j.id]
		switch {
		case !alive:
		case err == nil, errors.Is(err, fs.ErrNotExist) && j.path == path, errors.Is(err, ErrLost):
			delete(p.jobs, j.id)
			if err == nil {
				f.stats.persistsDone.Add(1)
			} else {
				f.stats.persistFailures.Add(1)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				f.log.Warn("unifiedfs: async persist gave up", "path", ufs.Rooted(path), "err", err)
			}
		default:
			// Retry with backoff (or at once when the file moved meanwhile).
			f.stats.persistFailures.Add(1)
			j.attempts++
			if j.path == path {
				d := f.cfg.PersistRetryBase << min(j.attempts-1, 10)
				d = min(d, time.Minute)
				j.notBefore = f.now().Add(d)
				f.log.Warn("unifiedfs: async persist failed; will retry", "path", ufs.Rooted(path), "attempt", j.attempts, "retry_in", d, "err", err)
			}
			p.queue = append(p.queue, j)
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// pending returns how many jobs wait or run.
func (p *persister) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs)
}

// cancel drops the job of content id and aborts its running attempt, waiting for it. It
// returns what it cancelled, for resume.
func (p *persister) cancel(id uint64) []*persistJob {
	p.mu.Lock()
	j := p.jobs[id]
	p.mu.Unlock()
	if j == nil {
		return nil
	}
	js := []*persistJob{j}
	p.cancelJobs(js)
	return js
}

// cancelUnder drops every job at or below path, aborting running attempts and waiting
// for them to end, so a delete never races an upload. It returns what it cancelled, for
// resume.
func (p *persister) cancelUnder(path string) []*persistJob {
	p.mu.Lock()
	var js []*persistJob
	for _, j := range p.jobs {
		if ufs.IsWithin(j.path, path) {
			js = append(js, j)
		}
	}
	p.mu.Unlock()
	p.cancelJobs(js)
	return js
}

// resume queues cancelled jobs again: the operation that cancelled them failed.
func (p *persister) resume(js []*persistJob) {
	for _, j := range js {
		p.mu.Lock()
		path := j.path
		p.mu.Unlock()
		p.enqueue(j.id, path)
	}
}

func (p *persister) cancelJobs(js []*persistJob) {
	p.mu.Lock()
	var wait []chan struct{}
	for _, j := range js {
		delete(p.jobs, j.id)
		for i, q := range p.queue {
			if q == j {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		if j.running {
			j.cancel()
			wait = append(wait, j.done)
		}
	}
	p.mu.Unlock()
	for _, c := range wait {
		<-c
	}
}

// renamed makes jobs below src follow the move to dst.
func (p *persister) renamed(src, dst string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.jobs {
		if ufs.IsWithin(j.path, src) {
			j.path = ufs.Join(dst, ufs.Rel(src, j.path))
			j.notBefore = time.Time{}
		}
	}
	p.cond.Broadcast()
}

// drain waits until no job is left or timeout passes; it reports the jobs left.
func (p *persister) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.jobs) > 0 && time.Now().Before(deadline) {
		t := time.AfterFunc(min(time.Until(deadline), 50*time.Millisecond), func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
		// Jobs waiting for a backoff are due now: the FS is closing.
		for _, j := range p.queue {
			j.notBefore = time.Time{}
		}
		p.cond.Broadcast()
		p.cond.Wait()
		t.Stop()
	}
	if n := len(p.jobs); n > 0 {
		var paths []string
		for _, j := range p.jobs {
			paths = append(paths, ufs.Rooted(j.path))
		}
		return fmt.Errorf("unifiedfs: %d asynchronous persist(s) did not finish before Close: %v", n, paths)
	}
	return nil
}

// wait waits for the workers to exit (after the FS context is cancelled).
func (p *persister) wait() { p.wg.Wait() }
