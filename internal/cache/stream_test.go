package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// heldStream yields data[:at] at once, then waits for release before the rest.
type heldStream struct {
	data    []byte
	at      int
	release chan struct{}
	err     error // returned instead of the rest, once released
}

func (s *heldStream) Read(p []byte) (int, error) {
	if s.at == 0 {
		<-s.release
		if s.err != nil {
			return 0, s.err
		}
		s.at = -1
	}
	if s.at > 0 {
		n := copy(p, s.data[:s.at])
		s.data, s.at = s.data[n:], s.at-n
		return n, nil
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func (s *heldStream) Close() error { return nil }

// The first block of a span reaches its reader while the stream still waits for the
// rest: a span costs its readers no wait beyond their own block.
func TestSpanBlockCompletesBeforeTheRestArrives(t *testing.T) {
	c := spanCache(t)
	src := newSource(16*8, 40)
	f := File{ID: 1, Gen: 1, Size: int64(len(src.data))}
	release := make(chan struct{})
	defer close(release)
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if off == 32 { // the span 2..5: block 2 now, 3..5 on release
			return &heldStream{data: bytes.Clone(src.data[off : off+n]), at: 16, release: release}, nil
		}
		return memFetcher(src.data)(ctx, off, n)
	}
	r := c.NewReader(f, fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, src, 16, 0)
	readBlock(t, r, src, 16, 1) // queues the span 2..5
	got := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		_, err := r.ReadAt(context.Background(), buf, 32)
		if err == nil && !bytes.Equal(buf, src.data[32:48]) {
			err = errors.New("wrong bytes")
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("block 2: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("block 2 waited for the rest of its span")
	}
	if c.Has(f, 3) {
		t.Fatal("block 3 cached before its bytes arrived")
	}
}

// A final error in the middle of a span fails the block it hit and the ones after it;
// the blocks before it are complete and cached.
func TestSpanErrorFailsOnlyTheRest(t *testing.T) {
	// No retries: the test's error is not final by retryable's rules.
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: 4, ReadAheadWorkers: 2, ReadAheadSpan: 4, FetchRetries: -1})
	src := newSource(16*8, 41)
	f := File{ID: 1, Gen: 1, Size: int64(len(src.data))}
	denied := errors.New("denied mid-stream")
	release := make(chan struct{})
	close(release)
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if off == 32 { // block 2, then an error in block 3
			return &heldStream{data: bytes.Clone(src.data[off : off+n]), at: 16 + 5, release: release, err: denied}, nil
		}
		return memFetcher(src.data)(ctx, off, n)
	}
	r := c.NewReader(f, fetch, ReadCache)
	defer r.Close()
	readBlock(t, r, src, 16, 0)
	readBlock(t, r, src, 16, 1)
	waitFor(t, "the span's fills", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := int64(2); i < 6; i++ {
			if c.inflight[key{1, 1, i}] != nil {
				return false
			}
		}
		return true
	})
	if !c.Has(f, 2) || c.Has(f, 3) || c.Has(f, 4) || c.Has(f, 5) {
		t.Fatalf("cached 2..5: %v %v %v %v, want only block 2", c.Has(f, 2), c.Has(f, 3), c.Has(f, 4), c.Has(f, 5))
	}
}

// A stream that yields more bytes than asked fails its last block: the Fetcher broke its
// contract (a version reader would report a grown file there).
func TestStreamYieldingMoreFailsTheLastBlock(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	src := newSource(64, 42)
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(src.data[off:])), nil // ignores n
	}
	f := File{ID: 1, Gen: 1, Size: 64}
	_, err := c.NewReader(f, fetch, ReadCache).ReadAt(context.Background(), make([]byte, 16), 0)
	if err == nil || c.Has(f, 0) {
		t.Fatalf("read over a stream of too many bytes: %v, cached %v; want an error, nothing cached", err, c.Has(f, 0))
	}
}

// A stream that breaks exactly at its last byte is still checked for its end: the cache
// opens an empty range there, where a version reader would report a grown file.
func TestBreakAtTheLastByteStillChecksTheEnd(t *testing.T) {
	c := newCache(t, Config{BlockSize: 16, ReadAheadBlocks: -1})
	src := newSource(16, 43)
	grown := errors.New("the file is longer than its version")
	var opens [][2]int64
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		opens = append(opens, [2]int64{off, n})
		if len(opens) == 1 { // all 16 bytes, then a break
			return &callStream{rest: bytes.Clone(src.data[off : off+n]), err: errReset}, nil
		}
		return &callStream{err: grown}, nil // the end check of the version finds more bytes
	}
	f := File{ID: 1, Gen: 1, Size: 16}
	_, err := c.NewReader(f, fetch, ReadCache).ReadAt(context.Background(), make([]byte, 16), 0)
	if !errors.Is(err, grown) || c.Has(f, 0) {
		t.Fatalf("read: %v, cached %v; want the end check's error, nothing cached", err, c.Has(f, 0))
	}
	if fmt.Sprint(opens) != "[[0 16] [16 0]]" {
		t.Fatalf("opens (offset, length) %v, want the block, then an empty range at its end", opens)
	}
}
