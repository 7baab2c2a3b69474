package pathlock

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestExclusiveBlocksDescendantsAndAncestors(t *testing.T) {
	var m Manager
	ctx := context.Background()
	h, err := m.Lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a", "a/b", "a/b/c"} {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		if _, err := m.Lock(short, p); err == nil {
			t.Fatalf("%s locked while a is held exclusively", p)
		}
		cancel()
	}
	// Siblings are free.
	h2, err := m.Lock(ctx, "b/c", "ab")
	if err != nil {
		t.Fatal(err)
	}
	h2.Unlock()
	h.Unlock()
	h3, err := m.Lock(ctx, "a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.Lock(short, "a"); err == nil {
		t.Fatal("a locked while a/b/c is held")
	}
	h3.Unlock()
	if len(m.locks) != 0 {
		t.Fatalf("entries leak: %v", m.locks)
	}
}

// TestNoDeadlockOnCrossedRenames runs renames a->b/x and b->a/y concurrently many times.
func TestNoDeadlockOnCrossedRenames(t *testing.T) {
	var m Manager
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var inside atomic.Int32
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				paths := []string{"a", "b/x"}
				if g%2 == 1 {
					paths = []string{"b", "a/y"}
				}
				h, err := m.Lock(ctx, paths...)
				if err != nil {
					t.Error("deadlock or timeout:", err)
					return
				}
				if inside.Add(1) != 1 {
					t.Error("two conflicting holders at once")
				}
				inside.Add(-1)
				h.Unlock()
			}
		}(g)
	}
	wg.Wait()
}
