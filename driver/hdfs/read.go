package hdfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// OpenRange implements ufs.UFS.
func (f *FS) OpenRange(ctx context.Context, c string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, c, "", off, n)
}

// OpenVersion implements ufs.VersionReader. The content hash (length, modification time
// and file id) is compared with the file that opens (getFileInfo), and again after the
// first read from the DataNode, which comes after the client fetched the block locations
// (getBlockLocations) and before any byte is handed out: the locations read are those of
// the version asked for. Create writes a new file (new id) and a file's blocks are never
// reused, so every byte returned belongs to that version; a read that fails because the
// file was replaced or deleted under it reports ErrChanged. The one case outside this
// guarantee is a file cut by Truncate and appended to again while a version of it is
// being read: the blocks are rewritten in place.
func (f *FS) OpenVersion(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, c, hash, off, n)
}

// open is OpenRange, or OpenVersion when hash is set. A read whose DataNode connection
// breaks mid-way resumes (retry.Resume): it reopens the file at the first byte not yet
// delivered and goes on only if the file is still the version it was reading (the
// content hash, which includes the file id, checked as OpenVersion checks it); otherwise
// the read fails with ufs.ErrChanged.
func (f *FS) open(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	abs := f.abs(c)
	fr, err := nnValue(ctx, f, func() (*hdfs.FileReader, error) { return f.client.Open(abs) })
	if err != nil {
		return nil, err
	}
	info := fr.Stat()
	if info.IsDir() {
		fr.Close()
		return nil, ufs.ErrIsDir
	}
	st := status(ufs.Base(c), info.(*hdfs.FileInfo))
	r := &reader{ctx: ctx, path: c, version: hash != ""}
	if hash != "" {
		if err := changed(st, hash); err != nil {
			fr.Close()
			return nil, err
		}
		r.short = n >= 0 && off+n > info.Size()
	}
	size := info.Size()
	end := size // first byte after the range
	if n >= 0 && n < size-off {
		end = off + n
	}
	r.remaining = end - off
	if r.remaining <= 0 {
		fr.Close()
		if r.short {
			return io.NopCloser(errReader{shorter(c)}), nil
		}
		return io.NopCloser(eofReader{}), nil
	}
	if _, err := fr.Seek(off, io.SeekStart); err != nil {
		fr.Close()
		return nil, err
	}
	want := st.ContentHash // every segment reads this version
	first := &segment{f: f, ctx: ctx, fr: fr, left: end - off}
	if hash != "" {
		first.check = f.versionCheck(ctx, abs, c, want)
	}
	src := func(ctx context.Context, pos int64) (io.ReadCloser, error) {
		if pos >= end {
			return io.NopCloser(eofReader{}), nil
		}
		fr, err := f.client.Open(abs)
		if err != nil {
			f.afterFailure(err)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: the file is gone: %w", ufs.ErrChanged, err)
			}
			return nil, err
		}
		if err := changed(status(ufs.Base(c), fr.Stat().(*hdfs.FileInfo)), want); err != nil {
			fr.Close()
			return nil, err
		}
		if _, err := fr.Seek(pos, io.SeekStart); err != nil {
			fr.Close()
			return nil, err
		}
		return &segment{f: f, ctx: ctx, fr: fr, left: end - pos, check: f.versionCheck(ctx, abs, c, want)}, nil
	}
	r.body = retry.Resume(ctx, f.data, first, off, src)
	if hash != "" {
		r.check = f.versionCheck(ctx, abs, c, want)
	}
	r.step = f.defaults.BytesPerChecksum / 2
	if r.step <= 0 {
		r.step = 256
	}
	return r, nil
}

// versionCheck returns a check that the file at abs (clean path c) is still version
// want, for after a reader's first read: the client fetched the block locations for it.
func (f *FS) versionCheck(ctx context.Context, abs, c, want string) func() error {
	return func() error {
		fi, err := f.stat(ctx, abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w: the file is gone: %w", ufs.ErrChanged, err)
			}
			return err
		}
		return changed(status(ufs.Base(c), fi.(*hdfs.FileInfo)), want)
	}
}

// changed returns an error wrapping ufs.ErrChanged unless st has the content hash want.
func changed(st ufs.Status, want string) error {
	if st.ContentHash == want {
		return nil
	}
	return fmt.Errorf("%w: content hash %s, want %s", ufs.ErrChanged, st.ContentHash, want)
}

func shorter(p string) error {
	return &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("%w: the file is shorter than the version asked for", ufs.ErrChanged)}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// segment reads the next left bytes of one FileReader, returning the client's errors as
// they are (for retry.Resume to judge). Each Read has the idle timeout (or ctx's earlier
// deadline) to receive something. check, when set, runs after the first read from the
// DataNode and before any byte is handed out: the block locations read are those of the
// version being read.
type segment struct {
	f       *FS
	ctx     context.Context
	fr      *hdfs.FileReader
	left    int64
	check   func() error
	rearmAt time.Time // when to move the deadline forward again
}

func (s *segment) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	// The deadline moves forward every quarter of the idle timeout, not at every small
	// read: a read that receives nothing fails after 3/4 to all of the idle timeout.
	if now := time.Now(); now.After(s.rearmAt) {
		_ = s.fr.SetDeadline(s.f.idleDeadline(s.ctx))
		s.rearmAt = now.Add(s.f.set.net.IdleTimeout / 4)
	}
	n, err := s.fr.Read(p)
	s.left -= int64(n)
	if s.check != nil {
		check := s.check
		s.check = nil
		if cerr := check(); cerr != nil {
			return 0, retry.Permanent(cerr)
		}
	}
	if err == io.EOF && s.left > 0 {
		err = fmt.Errorf("file ended %d bytes early: %w", s.left, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (s *segment) Close() error { return s.fr.Close() }

// reader reads a byte range of a file.
//
// It asks for at most half a checksum chunk per call. The client verifies a chunk's CRC
// before copying it out when the caller's buffer is smaller than a chunk, but when the
// buffer spans whole chunks it copies them first and, on a mismatch, returns the bytes
// read so far — corrupt chunk included — with a nil error, failing only on the next
// call. Small calls never hand out an unverified byte; the DataNode connection is
// buffered (bufConn) so they cost no extra system calls.
//
// A version read (OpenVersion) ends with ErrChanged instead of io.EOF when the range asked
// for reaches past the version's end (short) or the file ends early, and after a failed
// read checks whether the file was replaced under it.
type reader struct {
	ctx       context.Context
	body      io.ReadCloser // segments, resumed
	path      string
	remaining int64
	step      int
	err       error
	closed    bool
	version   bool
	check     func() error
	short     bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, &fs.PathError{Op: "read", Path: r.path, Err: fs.ErrClosed}
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.remaining <= 0 {
		return 0, r.eof()
	}
	if int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	n := 0
	for i := 0; n < len(p); i++ {
		if i%64 == 0 {
			if err := r.ctx.Err(); err != nil {
				r.err = &fs.PathError{Op: "read", Path: r.path, Err: err}
				break
			}
		}
		k, err := r.body.Read(p[n:min(len(p), n+r.step)])
		n += k
		r.remaining -= int64(k)
		if err == io.EOF && r.remaining > 0 {
			if r.version {
				r.err = shorter(r.path)
				break
			}
			err = fmt.Errorf("file ended %d bytes early: %w", r.remaining, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			r.err = r.readErr(err)
			break
		}
		if err == io.EOF || k == 0 {
			break
		}
	}
	if n > 0 {
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.remaining <= 0 {
		return 0, r.eof()
	}
	return 0, nil
}

// readErr maps a failed read; for a version read, a file replaced or deleted under it
// reports ErrChanged.
func (r *reader) readErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, ufs.ErrChanged) {
		return &fs.PathError{Op: "read", Path: r.path, Err: err}
	}
	if r.check != nil && !errors.Is(err, ufs.ErrChanged) {
		if cerr := r.check(); cerr != nil && errors.Is(cerr, ufs.ErrChanged) {
			return &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w (the read failed: %w)", cerr, err)}
		}
	}
	if errors.Is(err, ufs.ErrChanged) {
		return &fs.PathError{Op: "read", Path: r.path, Err: err}
	}
	return mapErr("read", r.path, err)
}

func (r *reader) eof() error {
	if r.short {
		return shorter(r.path)
	}
	return io.EOF
}

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.body.Close()
}

// bufConn is a DataNode connection with buffered reads.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func newBufConn(c net.Conn) net.Conn { return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)} }

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
