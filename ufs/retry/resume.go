package retry

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// Source opens the bytes of one version of an object from byte off (absolute, at or after
// the offset the read started at) to the end of the range being read. It makes one
// attempt. When the object is no longer the version being read it fails with an error
// wrapping ufs.ErrChanged (If-Match answered 412, or another ETag came back).
type Source func(ctx context.Context, off int64) (io.ReadCloser, error)

// Resume returns a reader of body, which delivers an object's bytes from off, that
// survives a body breaking mid-way: when a Read fails with a retryable error (reset or
// dropped connection, unexpected EOF, idle timeout) and ctx is live, it waits as p says
// and re-opens src at the first byte not yet delivered, so the caller sees every byte
// once, in order. It gives up, returning the last error wrapped in *Error, after
// p.MaxResumes re-opens or p.Attempts consecutive failures without a delivered byte; a
// Final error (ErrChanged among them) ends the read at once. Close closes the current body.
func Resume(ctx context.Context, p *Policy, body io.ReadCloser, off int64, src Source) io.ReadCloser {
	return &resumer{ctx: ctx, p: p, body: body, pos: off, src: src}
}

type resumer struct {
	ctx context.Context
	p   *Policy
	src Source

	mu      sync.Mutex
	body    io.ReadCloser // nil after a failed re-open
	closed  bool
	pos     int64 // offset of the next byte to deliver
	pending error // a failure that came with bytes, handled at the next Read
	fails   int   // failures since the last delivered byte
	resumes int
	err     error // final
}

func (r *resumer) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(b) == 0 {
		return 0, nil
	}
	for {
		var err error
		if r.pending != nil {
			err, r.pending = r.pending, nil
		} else {
			r.mu.Lock()
			body, closed := r.body, r.closed
			r.mu.Unlock()
			if closed {
				r.err = fs.ErrClosed
				return 0, r.err
			}
			if body != nil {
				var n int
				n, err = body.Read(b)
				r.pos += int64(n)
				if n > 0 {
					r.fails = 0
				}
				switch {
				case err == nil || err == io.EOF:
					if err == io.EOF {
						r.err = io.EOF
					}
					return n, err
				case n > 0:
					r.pending = err
					return n, nil
				}
			}
		}
		if err != nil {
			if rerr := r.reopen(err); rerr != nil {
				r.err = rerr
				return 0, rerr
			}
		}
	}
}

// reopen handles failure err of the current body (or of the last re-open): it closes the
// body and opens the next one, or returns the final error.
func (r *resumer) reopen(err error) error {
	r.mu.Lock()
	if r.body != nil {
		_ = r.body.Close()
		r.body = nil
	}
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return fs.ErrClosed
	}
	if r.ctx.Err() != nil {
		return err
	}
	class := r.p.Classify(err)
	if class == Final {
		return err
	}
	r.fails++
	if r.resumes >= r.p.MaxResumes {
		return r.p.giveUp(r.resumes+1, fmt.Sprintf("broke at byte %d; no read resumes left", r.pos), err)
	}
	if r.fails >= r.p.attempts() {
		return r.p.giveUp(r.fails, fmt.Sprintf("broke at byte %d; re-opens delivered nothing", r.pos), err)
	}
	r.resumes++
	if err := r.p.wait(r.ctx, Event{Attempt: r.fails, Class: class, Err: err, Resume: true, Offset: r.pos}); err != nil {
		return err
	}
	body, err := r.src(r.ctx, r.pos)
	if err != nil {
		if r.p.Classify(err) == Final || r.ctx.Err() != nil {
			return err
		}
		return r.reopen(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = body.Close()
		return fs.ErrClosed
	}
	r.body = body
	return nil
}

func (r *resumer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
