package s3

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// OpenRange implements ufs.UFS with a ranged GetObject. An offset at or past the end
// (416 InvalidRange) is an empty read.
func (f *FS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, p, "", off, n)
}

// OpenVersion implements ufs.VersionReader: a ranged GetObject with If-Match: "<hash>"
// (the hash is the ETag), so that an object replaced since is refused by S3 (412
// PreconditionFailed) and reported as ufs.ErrChanged; the ETag of the response is checked
// too, for S3-compatible stores that ignore If-Match. A range the version does not have
// in full fails with ufs.ErrChanged at the Read that reaches its end.
func (f *FS) OpenVersion(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	if hash == "" {
		if _, err := f.begin(ctx, "open", p); err != nil {
			return nil, err
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: empty content hash", fs.ErrInvalid)}
	}
	return f.open(ctx, p, hash, off, n)
}

func (f *FS) open(ctx context.Context, p, hash string, off, n int64) (io.ReadCloser, error) {
	c, err := f.begin(ctx, "open", p)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, off)}
	}
	if c == ufs.Root {
		return nil, &fs.PathError{Op: "open", Path: p, Err: ufs.ErrIsDir}
	}
	var ifMatch *string
	if hash != "" {
		ifMatch = aws.String(`"` + hash + `"`)
	}
	key := f.key(c)
	if n == 0 {
		_, err := f.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key, IfMatch: ifMatch})
		if err != nil {
			return nil, f.openErr(ctx, p, c, err)
		}
		return io.NopCloser(eofReader{}), nil
	}
	if n > 0 && off > math.MaxInt64-n {
		n = -1
	}
	in := &s3.GetObjectInput{Bucket: &f.bucket, Key: &key, IfMatch: ifMatch}
	if off > 0 || n > 0 {
		r := "bytes=" + strconv.FormatInt(off, 10) + "-"
		if n > 0 {
			r += strconv.FormatInt(off+n-1, 10)
		}
		in.Range = &r
	}
	res, err := f.c.s3.GetObject(ctx, in)
	if err != nil {
		if _, status := errorCode(err); status == http.StatusRequestedRangeNotSatisfiable {
			// The object (the version asked for, when hash is set) has no byte at off.
			return &reader{ctx: ctx, body: io.NopCloser(eofReader{}), path: p, want: n, version: hash != ""}, nil
		}
		return nil, f.openErr(ctx, p, c, err)
	}
	if hash != "" && strings.Trim(aws.ToString(res.ETag), `"`) != hash {
		res.Body.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("%w: ETag %s, want %q", ufs.ErrChanged, aws.ToString(res.ETag), hash)}
	}
	return &reader{ctx: ctx, body: res.Body, path: p, want: n, version: hash != ""}, nil
}

// openErr maps a failed GetObject or HeadObject: 412 is another version (ufs.ErrChanged,
// by classify), a missing key is fs.ErrNotExist (or ErrIsDir for a directory).
func (f *FS) openErr(ctx context.Context, p, c string, err error) error {
	if isNotFound(err) {
		return f.missing(ctx, "open", p, c, err)
	}
	return pathErr(ctx, "open", p, err)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader is a GetObject body that fails Reads once its context ends, and for a version
// read, fails with ufs.ErrChanged when the body ends before the range asked for.
type reader struct {
	ctx     context.Context
	body    io.ReadCloser
	path    string
	want    int64 // bytes asked for; -1 to the end
	got     int64
	version bool
	err     error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if err := r.ctx.Err(); err != nil {
		r.err = &fs.PathError{Op: "read", Path: r.path, Err: err}
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.got += int64(n)
	switch {
	case err == io.EOF && r.version && r.want >= 0 && r.got < r.want:
		r.err = &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w: the file ends at %d bytes of the %d asked for", ufs.ErrChanged, r.got, r.want)}
	case err == io.EOF:
		r.err = io.EOF
	case err != nil:
		r.err = &fs.PathError{Op: "read", Path: r.path, Err: withCtx(r.ctx, err)}
	}
	return n, r.err
}

func (r *reader) Close() error { return r.body.Close() }
