package unifiedfs

import (
	"context"
	"errors"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// syncTree syncs the subtree at r (a directory) in the configured traversal order,
// keeping up to Config.SyncConcurrency listings in flight, within limit (< 0: none).
func (f *FS) syncTree(ctx context.Context, r *resolved, limit int, lo lookupOpts) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(f.ctx, cancel)() // Close stops a running sync too
	start := f.now().UnixNano()
	w := &treeWalk{f: f, ctx: ctx, dfs: f.cfg.SyncTraversal == DFS, window: f.cfg.SyncConcurrency,
		cnt: &syncCounter{limit: limit}, todo: []string{r.path}, inflight: map[string]*prefetched{}}
	defer w.stop()
	var firstErr error
	for len(w.todo) > 0 {
		p := w.pop()
		err := w.visit(p)
		if errors.Is(err, errLimitReached) {
			return &SyncLimitError{Path: ufs.Rooted(r.path), Succeeded: w.cnt.succeeded, Failed: w.cnt.failed, Limit: limit}
		}
		if err != nil {
			if ctx.Err() != nil {
				return pathErr("loadMetadata", r.path, ctx.Err())
			}
			w.cnt.failed++
			if firstErr == nil {
				firstErr = pathErr("loadMetadata", p, err)
			}
		}
	}
	if firstErr == nil {
		f.sync.treeSynced(r.path, start)
	}
	return firstErr
}

// treeWalk is one syncTree traversal: directories still to visit in traversal order (BFS:
// a queue taken from the front; DFS: a stack taken from the back), and the listings
// already running ahead of the visit, up to window of them.
type treeWalk struct {
	f        *FS
	ctx      context.Context
	dfs      bool
	window   int
	cnt      *syncCounter
	todo     []string
	inflight map[string]*prefetched
	wg       sync.WaitGroup
}

// pop takes the next directory to visit.
func (w *treeWalk) pop() string {
	var p string
	if w.dfs {
		p, w.todo = w.todo[len(w.todo)-1], w.todo[:len(w.todo)-1]
	} else {
		p, w.todo = w.todo[0], w.todo[1:]
	}
	return p
}

// push adds the subdirectories of a visited directory, in listing order, so that they are
// visited in that order.
func (w *treeWalk) push(children []string) {
	if !w.dfs {
		w.todo = append(w.todo, children...)
		return
	}
	for i := len(children) - 1; i >= 0; i-- {
		w.todo = append(w.todo, children[i])
	}
}

// prefetch starts the listings of the next directories in traversal order.
func (w *treeWalk) prefetch() {
	for i := 0; i < w.window-1 && i < len(w.todo) && len(w.inflight) < w.window; i++ {
		if w.dfs {
			w.listing(w.todo[len(w.todo)-1-i])
		} else {
			w.listing(w.todo[i])
		}
	}
}

// visit syncs directory p against its listing and queues its subdirectories. A path that
// is no longer a persisted directory is skipped.
func (w *treeWalk) visit(p string) error {
	pf := w.listing(p)
	w.prefetch()
	defer func() {
		pf.cancel()
		delete(w.inflight, p)
	}()
	res, err := w.f.resolve(w.ctx, "loadMetadata", p, lookupOpts{noLoad: true})
	if err != nil || !res.node.IsDir() || res.node.Persist() != inode.Persisted {
		return nil
	}
	var children []string
	pages := func() (ufs.ListPage, []*inode.Inode, bool, error) {
		pr, ok := <-pf.pages
		if !ok {
			return ufs.ListPage{}, nil, false, w.ctx.Err()
		}
		return pr.page, pr.built, pr.more, pr.err
	}
	if err := w.f.syncListing(w.ctx, &res, pages, w.cnt, func(c string) { children = append(children, c) }); err != nil {
		return err
	}
	w.push(children)
	return nil
}

// listing returns the running listing of p, starting it if needed: its pages, with the
// inodes of entries the namespace lacks made off the apply lock, in parallel with the walk.
func (w *treeWalk) listing(p string) *prefetched {
	if pf := w.inflight[p]; pf != nil {
		return pf
	}
	f := w.f
	res, err := f.resolve(w.ctx, "loadMetadata", p, lookupOpts{noLoad: true})
	lctx, lcancel := context.WithCancel(w.ctx)
	pf := &prefetched{pages: make(chan pageResult, 2), cancel: lcancel}
	w.inflight[p] = pf
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(pf.pages)
		if err != nil {
			pf.pages <- pageResult{err: err}
			return
		}
		if !res.node.IsDir() || res.node.Persist() != inode.Persisted {
			pf.pages <- pageResult{}
			return
		}
		next := f.pagesOf(lctx, &res)
		d := res.node.Dir()
		for {
			page, _, more, err := next()
			built := f.inodesFromStatuses(res.mount, res.path, page.Entries, func(j int) bool {
				name := page.Entries[j].Name
				return d.Lookup(name) == nil && !ufs.IsTempName(name)
			})
			select {
			case pf.pages <- pageResult{page, built, more, err}:
			case <-lctx.Done():
				return
			}
			if !more || err != nil {
				return
			}
		}
	}()
	return pf
}

// stop cancels the listings still running and waits for them.
func (w *treeWalk) stop() {
	for _, pf := range w.inflight {
		pf.cancel()
	}
	w.wg.Wait()
}
