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
	c, err := f.begin(ctx, "open", p)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, invalid("open", p, "negative offset %d", off)
	}
	fr, err := f.client.Open(f.abs(c))
	if err != nil {
		return nil, mapErr("open", p, err)
	}
	info := fr.Stat()
	if info.IsDir() {
		fr.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: ufs.ErrIsDir}
	}
	size := info.Size()
	remaining := size - off
	if n >= 0 && n < remaining {
		remaining = n
	}
	if remaining <= 0 {
		fr.Close()
		return io.NopCloser(eofReader{}), nil
	}
	if _, err := fr.Seek(off, io.SeekStart); err != nil {
		fr.Close()
		return nil, mapErr("open", p, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = fr.SetDeadline(dl)
	}
	step := f.defaults.BytesPerChecksum / 2
	if step <= 0 {
		step = 256
	}
	return &reader{ctx: ctx, fr: fr, path: p, remaining: remaining, step: step}, nil
}

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
type reader struct {
	ctx       context.Context
	fr        *hdfs.FileReader
	path      string
	remaining int64
	step      int
	err       error
	closed    bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, &fs.PathError{Op: "read", Path: r.path, Err: fs.ErrClosed}
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.remaining <= 0 {
		return 0, io.EOF
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
		if err == io.EOF && r.remaining > 0 {
			err = fmt.Errorf("file ended %d bytes early: %w", r.remaining, io.ErrUnexpectedEOF)
		}
		if err != nil && err != io.EOF {
			r.err = mapErr("read", r.path, err)
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
		return 0, io.EOF
	}
	return 0, nil
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
