package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// stream reads the n bytes at off of one fetch through a Fetcher, opening the
// stream on the first read and again, for the rest, after a retryable break.
type stream struct {
	c       *Cache
	ctx     context.Context
	fetch   Fetcher
	off, n  int64 // the fetch's range
	pos     int64 // bytes delivered so far
	rc      io.ReadCloser
	fresh   int64 // bytes the current rc delivered
	retried int
	eof     bool // the stream ended (at the end of the file)
}

// maxEmptyReads bounds consecutive reads that return neither bytes nor an error.
const maxEmptyReads = 100

// read fills p with the stream's next bytes. It returns fewer than len(p)
// only with an error, or with nil when the stream ended (at the end of the
// file).
func (s *stream) read(p []byte) (int, error) {
	got, empty := 0, 0
	for got < len(p) && !s.eof {
		if s.rc == nil {
			rc, err := s.fetch(s.ctx, s.off+s.pos, s.n-s.pos)
			if err != nil {
				return got, err
			}
			s.rc, s.fresh = rc, 0
		}
		m, err := s.rc.Read(p[got:])
		if m < 0 || m > len(p)-got {
			return got, fmt.Errorf("cache: fetch stream returned invalid count %d", m)
		}
		got += m
		s.pos += int64(m)
		s.fresh += int64(m)
		switch {
		case errors.Is(err, io.EOF):
			s.eof = true
		case err != nil:
			s.closeStream()
			if s.fresh == 0 || !s.c.retryAfter(s.ctx, err, &s.retried) {
				return got, err
			}
		case m == 0:
			if empty++; empty == maxEmptyReads {
				return got, io.ErrNoProgress
			}
			continue
		}
		empty = 0
	}
	return got, nil
}

// end checks that the stream ends after the bytes read so far, as its
// Fetcher promises (see ExpectEnd). A break found there, or one that closed
// the stream right at its last byte, is resumed as any other: an empty range
// is opened there and checked instead.
func (s *stream) end() error {
	if s.eof {
		return nil
	}
	s.eof = true
	for s.rc != nil {
		err := ExpectEnd(s.rc)
		if err == nil || s.fresh == 0 || !s.c.retryAfter(s.ctx, err, &s.retried) {
			return err
		}
		s.closeStream()
	}
	rc, err := s.fetch(s.ctx, s.off+s.pos, 0)
	if err != nil {
		return err
	}
	s.rc = rc
	return ExpectEnd(rc)
}

// ExpectEnd reads r once more where its bytes should have ended: nil at
// io.EOF, an error when r yields more bytes or fails (a reader of a version
// may check there that the file did not grow).
func ExpectEnd(r io.Reader) error {
	var one [1]byte
	for range maxEmptyReads {
		m, err := r.Read(one[:])
		switch {
		case m > 0:
			return errors.New("cache: a fetch stream yields more bytes than asked")
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// close closes the open stream, if any.
func (s *stream) closeStream() {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}
