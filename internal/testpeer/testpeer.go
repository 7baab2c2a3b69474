// Package testpeer holds what the test peers (ufstest's MemFS, the osstest, kodotest and
// s3test fakes, the hdfstest cluster) and the driver tests share: a list of injected
// faults and a polled wait with a deadline. It is test support; no driver imports it.
package testpeer

import (
	"sync"
	"testing"
	"time"
)

// Faults is a list of injected faults of one peer's fault type F, in the order they were
// injected. The zero value is empty and ready; it is safe for concurrent use.
type Faults[F any] struct {
	mu   sync.Mutex
	list []*F
}

// Inject adds f and returns a function that removes it (a no-op once it is gone).
func (l *Faults[F]) Inject(f F) (remove func()) {
	fp := &f
	l.mu.Lock()
	l.list = append(l.list, fp)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, g := range l.list {
			if g == fp {
				l.list = append(l.list[:i], l.list[i+1:]...)
				return
			}
		}
	}
}

// Clear removes every fault.
func (l *Faults[F]) Clear() {
	l.mu.Lock()
	l.list = nil
	l.mu.Unlock()
}

// Each calls fn with every fault in injection order, holding the list's lock: fn may
// update the fault's own counters, and must not call Inject, Clear or Each.
func (l *Faults[F]) Each(fn func(f *F)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.list {
		fn(f)
	}
}

// PollInterval is how soon WaitFor and Eventually check their condition again at first;
// the interval doubles up to MaxPollInterval, so that a condition that is costly to check
// (a dump of another process's namespace) is not checked in a busy loop.
const (
	PollInterval    = time.Millisecond
	MaxPollInterval = 50 * time.Millisecond
)

// WaitFor polls cond until it holds, failing the test (naming what it waited for) when it
// still does not after within.
func WaitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	if !Eventually(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Eventually polls cond until it holds (true) or within has passed
// (false), for a caller that reports the failure itself, with what it last saw. It is the
// one polled wait of the tests: a condition of another process or of the runtime (its
// goroutine count) that sends no signal.
func Eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for wait := PollInterval; !cond(); wait = min(2*wait, MaxPollInterval) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait) // the polling interval of cond, not a wait for another goroutine
	}
	return true
}

// Clock is a settable clock for a Config.Clock (intervals, TTLs): Now returns the time it
// was set to, moved by Add. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
