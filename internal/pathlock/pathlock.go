// Package pathlock serialises namespace mutations that touch overlapping paths while they
// do UFS I/O, without blocking readers (which never lock) or mutations elsewhere.
//
// A mutation of path p takes p exclusively and every ancestor of p shared, so a rename or
// delete of a directory waits for, and blocks, mutations below it. Lock acquires every
// path of a request in one global order (sorted, ancestors first), so two requests can
// never deadlock.
package pathlock

import (
	"context"
	"sort"
	"sync"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Manager hands out path locks. The zero value is ready to use.
type Manager struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	readers int
	writer  bool
	wake    chan struct{} // made by the first waiter, closed by the next release
	refs    int           // holders and waiters
}

// free reports whether the lock can be taken, exclusively or not.
func (e *entry) free(excl bool) bool { return !e.writer && (!excl || e.readers == 0) }

// Held is a set of acquired locks; Unlock releases them.
type Held struct {
	m     *Manager
	paths []string // sorted
	excl  []bool
	buf   [6]string // paths of a request of up to 6 locks, without another allocation
	ebuf  [6]bool
}

func (h *Held) Len() int           { return len(h.paths) }
func (h *Held) Less(i, j int) bool { return h.paths[i] < h.paths[j] }
func (h *Held) Swap(i, j int) {
	h.paths[i], h.paths[j] = h.paths[j], h.paths[i]
	h.excl[i], h.excl[j] = h.excl[j], h.excl[i]
}

// add adds p to the request, exclusively if excl (a path asked both ways is exclusive).
func (h *Held) add(p string, excl bool) {
	for i, q := range h.paths {
		if q == p {
			h.excl[i] = h.excl[i] || excl
			return
		}
	}
	h.paths = append(h.paths, p)
	h.excl = append(h.excl, excl)
}

// Lock takes each clean path in exclusive exclusively and all their ancestors shared. It
// blocks until every lock is held or ctx is done (then nothing is held).
func (m *Manager) Lock(ctx context.Context, exclusive ...string) (*Held, error) {
	h := &Held{m: m}
	h.paths, h.excl = h.buf[:0], h.ebuf[:0]
	for _, p := range exclusive {
		h.add(p, true)
		for d := p; d != ufs.Root; {
			d, _ = ufs.Split(d)
			h.add(d, false)
		}
	}
	sort.Sort(h) // the one global order of every request
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = map[string]*entry{}
	}
	for i := 0; i < len(h.paths); {
		p, excl := h.paths[i], h.excl[i]
		e := m.locks[p]
		if e == nil {
			e = &entry{}
			m.locks[p] = e
		}
		if e.free(excl) {
			if excl {
				e.writer = true
			} else {
				e.readers++
			}
			e.refs++
			i++
			continue
		}
		if e.wake == nil {
			e.wake = make(chan struct{})
		}
		wake := e.wake
		e.refs++ // a waiter keeps the entry
		m.mu.Unlock()
		var err error
		select {
		case <-wake:
		case <-ctx.Done():
			err = ctx.Err()
		}
		m.mu.Lock()
		e.refs--
		if err != nil {
			m.drop(p, e)
			h.releaseLocked(i)
			return nil, err
		}
	}
	return h, nil
}

// drop forgets an unused entry; m.mu must be held.
func (m *Manager) drop(p string, e *entry) {
	if e.refs == 0 {
		delete(m.locks, p)
	}
}

// releaseLocked releases the first n locks of h; m.mu must be held.
func (h *Held) releaseLocked(n int) {
	m := h.m
	for i := n - 1; i >= 0; i-- {
		e := m.locks[h.paths[i]]
		if h.excl[i] {
			e.writer = false
		} else {
			e.readers--
		}
		if e.wake != nil {
			close(e.wake)
			e.wake = nil
		}
		e.refs--
		m.drop(h.paths[i], e)
	}
}

// Unlock releases every lock of h. It must be called exactly once.
func (h *Held) Unlock() {
	h.m.mu.Lock()
	h.releaseLocked(len(h.paths))
	h.m.mu.Unlock()
}
