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
	waiters int
	wake    chan struct{} // closed and replaced when the lock is released
	refs    int
}

// Held is a set of acquired locks; Unlock releases them.
type Held struct {
	m     *Manager
	paths []string
	excl  []bool
}

// Lock takes each clean path in exclusive exclusively and all their ancestors shared. It
// blocks until every lock is held or ctx is done (then nothing is held).
func (m *Manager) Lock(ctx context.Context, exclusive ...string) (*Held, error) {
	want := map[string]bool{}
	for _, p := range exclusive {
		want[p] = true
		for d := p; d != ufs.Root; {
			d, _ = ufs.Split(d)
			if _, ok := want[d]; !ok {
				want[d] = false
			}
		}
	}
	h := &Held{m: m}
	for p := range want {
		h.paths = append(h.paths, p)
	}
	sort.Strings(h.paths) // "." sorts before letters; ancestors before descendants
	for _, p := range h.paths {
		h.excl = append(h.excl, want[p])
	}
	for i, p := range h.paths {
		if err := m.acquire(ctx, p, h.excl[i]); err != nil {
			h.release(i)
			return nil, err
		}
	}
	return h, nil
}

func (m *Manager) acquire(ctx context.Context, p string, excl bool) error {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*entry{}
	}
	e := m.locks[p]
	if e == nil {
		e = &entry{wake: make(chan struct{})}
		m.locks[p] = e
	}
	e.refs++
	for {
		free := !e.writer && (!excl || e.readers == 0)
		if free {
			if excl {
				e.writer = true
			} else {
				e.readers++
			}
			m.mu.Unlock()
			return nil
		}
		wake := e.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			m.mu.Lock()
			e.refs--
			m.drop(p, e)
			m.mu.Unlock()
			return ctx.Err()
		}
		m.mu.Lock()
	}
}

// drop forgets an unused entry; m.mu must be held.
func (m *Manager) drop(p string, e *entry) {
	if e.refs == 0 {
		delete(m.locks, p)
	}
}

func (h *Held) release(n int) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := n - 1; i >= 0; i-- {
		e := m.locks[h.paths[i]]
		if h.excl[i] {
			e.writer = false
		} else {
			e.readers--
		}
		close(e.wake)
		e.wake = make(chan struct{})
		e.refs--
		m.drop(h.paths[i], e)
	}
}

// Unlock releases every lock of h. It must be called exactly once.
func (h *Held) Unlock() { h.release(len(h.paths)) }
