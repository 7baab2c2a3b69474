package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/testpeer"
)

// source is an in-memory UFS file behind a Fetcher, with a call counter, an
// optional gate that holds every fetch until closed, and an injectable error.
type source struct {
	data  []byte
	calls atomic.Int64
	gate  chan struct{}

	mu   sync.Mutex
	err  error
	offs []int64
	lens []int // length asked by each call
}

func newSource(n int, seed uint64) *source {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return &source{data: b}
}

// callFetcher turns fill, which fills p in one call (fewer bytes only at the
// end of the file, with io.EOF or nil, or with an error), into a Fetcher: each
// stream makes one fill call of its whole length and yields what it
// delivered, then its error. A call that delivered nothing fails the open.
func callFetcher(fill func(ctx context.Context, off int64, p []byte) (int, error)) Fetcher {
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		p := make([]byte, n)
		m, err := fill(ctx, off, p)
		if m == 0 && err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if err == nil {
			err = io.EOF
		}
		return &callStream{rest: p[:m], err: err}, nil
	}
}

// callStream yields rest, then err.
type callStream struct {
	rest []byte
	err  error
}

func (s *callStream) Read(p []byte) (int, error) {
	if len(s.rest) == 0 {
		return 0, s.err
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

func (s *callStream) Close() error { return nil }

// fetch is s's Fetcher: a stream reads s.data without copying it first.
func (s *source) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.offs = append(s.offs, off)
	s.lens = append(s.lens, int(n))
	err := s.err
	s.mu.Unlock()
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return memFetcher(s.data)(ctx, off, n)
}

func (s *source) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// lengths returns the length each call asked for, in call order.
func (s *source) lengths() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.lens...)
}

func (s *source) offsets() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.offs...)
}

func newCache(t *testing.T, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads the whole file through r with reads of n bytes and checks it.
func readAll(t *testing.T, r *Reader, want []byte, n int) {
	t.Helper()
	got := make([]byte, 0, len(want))
	buf := make([]byte, n)
	for off := int64(0); ; {
		m, err := r.ReadAt(context.Background(), buf, off)
		got = append(got, buf[:m]...)
		off += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, content differs from the %d expected", len(got), len(want))
	}
}

// readBlock reads block idx through r and checks its content.
func readBlock(t *testing.T, r *Reader, s *source, bs, idx int64) {
	t.Helper()
	end := min((idx+1)*bs, int64(len(s.data)))
	buf := make([]byte, end-idx*bs)
	n, err := r.ReadAt(context.Background(), buf, idx*bs)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		t.Fatalf("ReadAt block %d: %v", idx, err)
	}
	if !bytes.Equal(buf[:n], s.data[idx*bs:end]) {
		t.Fatalf("block %d: wrong content", idx)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, what, 5*time.Second, cond)
}

func writeFile(t *testing.T, c *Cache, f File, pin bool, data []byte, chunk int) {
	t.Helper()
	w := c.NewWriter(f, pin)
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Writer.Close: %v", err)
	}
}
