package testpeer

import (
	"sync/atomic"
	"testing"
	"time"
)

type fault struct {
	name string
	seen int
}

func TestFaults(t *testing.T) {
	var l Faults[fault]
	removeA := l.Inject(fault{name: "a"})
	l.Inject(fault{name: "b"})
	names := func() (out string) {
		l.Each(func(f *fault) { f.seen++; out += f.name })
		return out
	}
	if got := names(); got != "ab" {
		t.Fatalf("faults %q, want ab in injection order", got)
	}
	removeA()
	removeA() // a second removal is a no-op
	if got := names(); got != "b" {
		t.Fatalf("after removing a: %q", got)
	}
	var seen int
	l.Each(func(f *fault) { seen = f.seen })
	if seen != 2 {
		t.Fatalf("b seen %d times, want its counter kept across calls (2)", seen)
	}
	l.Clear()
	if got := names(); got != "" {
		t.Fatalf("after Clear: %q", got)
	}
}

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	go func() {
		for n.Load() < 3 {
			n.Add(1)
		}
	}()
	WaitFor(t, "the counter to reach 3", 10*time.Second, func() bool { return n.Load() >= 3 })
	ft := &fakeT{TB: t}
	func() {
		defer func() { _ = recover() }()
		WaitFor(ft, "never", 10*time.Millisecond, func() bool { return false })
	}()
	if !ft.failed {
		t.Fatal("WaitFor did not fail when its condition never held")
	}
}

// fakeT records Fatalf instead of ending the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
