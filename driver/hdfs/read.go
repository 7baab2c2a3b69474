package hdfs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// OpenRange implements ufs.UFS.
func (f *FS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, p, "", off, n)
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
func (f *FS) OpenVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, p, hash, off, n)
}

// open is OpenRange, or OpenVersion when hash is set.
func (f *FS) open(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	c, err := f.begin(ctx, "open", p)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, invalid("open", p, "negative offset %d", off)
	}
	abs := f.abs(c)
	fr, err := f.client.Open(abs)
	if err != nil {
		return nil, mapErr("open", p, err)
	}
	info := fr.Stat()
	if info.IsDir() {
		fr.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: ufs.ErrIsDir}
	}
	r := &reader{ctx: ctx, fr: fr, path: p}
	if hash != "" {
		if err := changed(p, status(ufs.Base(c), info.(*hdfs.FileInfo)), hash); err != nil {
			fr.Close()
			return nil, err
		}
		r.check = func() error {
			fi, err := f.client.Stat(abs)
			if err != nil {
				return mapErr("read", p, err)
			}
			return changed(p, status(ufs.Base(c), fi.(*hdfs.FileInfo)), hash)
		}
		r.short = n >= 0 && off+n > info.Size()
	}
	size := info.Size()
	r.remaining = size - off
	if n >= 0 && n < r.remaining {
		r.remaining = n
	}
	if r.remaining <= 0 {
		fr.Close()
		if r.short {
			return io.NopCloser(errReader{shorter(p)}), nil
		}
		return io.NopCloser(eofReader{}), nil
	}
	if _, err := fr.Seek(off, io.SeekStart); err != nil {
		fr.Close()
		return nil, mapErr("open", p, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = fr.SetDeadline(dl)
	}
	r.step = f.defaults.BytesPerChecksum / 2
	if r.step <= 0 {
		r.step = 256
	}
	return r, nil
}

// changed returns an error wrapping ufs.ErrChanged unless st has the content hash want.
func changed(p string, st ufs.Status, want string) error {
	if st.ContentHash == want {
		return nil
	}
	return &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: content hash %s, want %s", ufs.ErrChanged, st.ContentHash, want)}
}

func shorter(p string) error {
	return &fs.PathError{Op: "read", Path: p, Err: fmt.Errorf("%w: the file is shorter than the version asked for", ufs.ErrChanged)}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader reads a byte range of a file.
//
// It asks the client for at most half a checksum chunk per call. The client verifies a
// chunk's CRC before copying it out when the caller's buffer is smaller than a chunk,
// but when the buffer spans whole chunks it copies them first and, on a mismatch,
// returns the bytes read so far — corrupt chunk included — with a nil error, failing
// only on the next call. Small calls never hand out an unverified byte; the DataNode
// connection is buffered (bufConn) so they cost no extra system calls.
//
// A version read (OpenVersion) runs check (is the file still that version?) after its
// first read, before returning any byte, and after a failed read; it ends with
// ErrChanged instead of io.EOF when the range asked for reaches past the version's end
// (short) or the file ends early.
type reader struct {
	ctx       context.Context
	fr        *hdfs.FileReader
	path      string
	remaining int64
	step      int
	err       error
	closed    bool
	check     func() error
	verified  bool
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
		k, err := r.fr.Read(p[n:min(len(p), n+r.step)])
		n += k
		r.remaining -= int64(k)
		if r.check != nil && !r.verified {
			// The client fetched the block locations for this first read.
			r.verified = true
			if verr := r.check(); verr != nil {
				r.err = verr
				return 0, r.err
			}
		}
		if err == io.EOF && r.remaining > 0 {
			if r.check != nil {
				r.err = shorter(r.path)
				break
			}
			err = fmt.Errorf("file ended %d bytes early: %w", r.remaining, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			r.err = mapErr("read", r.path, err)
			if r.check != nil {
				if cerr := r.check(); cerr != nil { // replaced or deleted under the read
					r.err = &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w (the read failed: %w)", cerr, err)}
				}
			}
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
	return r.fr.Close()
}

// bufConn is a DataNode connection with buffered reads.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func newBufConn(c net.Conn) net.Conn { return &bufConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)} }

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
