package s3

import (
	"context"
	"errors"
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
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// OpenRange implements ufs.UFS with a ranged GetObject. An offset at or past the end
// (416 InvalidRange) is an empty read.
func (f *FS) OpenRange(ctx context.Context, c string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, c, "", off, n)
}

// OpenVersion implements ufs.VersionReader: a ranged GetObject with If-Match: "<hash>"
// (the hash is the ETag), so that an object replaced since is refused by S3 (412
// PreconditionFailed) and reported as ufs.ErrChanged; the ETag of the response is checked
// too, for S3-compatible stores that ignore If-Match. A range the version does not have
// in full fails with ufs.ErrChanged at the Read that reaches its end.
func (f *FS) OpenVersion(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	if hash == "" {
		return nil, fmt.Errorf("%w: empty content hash", fs.ErrInvalid)
	}
	return f.open(ctx, c, hash, off, n)
}

// open reads n bytes (n < 0: to the end) from off of the object at p; of the version
// whose ETag is hash when hash is not empty. A body that breaks mid-way is re-requested
// from the first byte not yet delivered with If-Match on the ETag of the first response
// (retry.Resume), so a read never mixes two versions: an object replaced meanwhile fails
// the read with ufs.ErrChanged.
func (f *FS) open(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	var ifMatch *string
	if hash != "" {
		ifMatch = aws.String(`"` + hash + `"`)
	}
	key := f.key(c)
	if n == 0 {
		_, err := call(ctx, f, func(ctx context.Context) (*s3.HeadObjectOutput, error) {
			return f.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key, IfMatch: ifMatch})
		})
		if err != nil {
			return nil, f.openErr(ctx, c, err)
		}
		return io.NopCloser(eofReader{}), nil
	}
	if n > 0 && off > math.MaxInt64-n {
		n = -1
	}
	end := int64(-1) // first byte after the range; -1: the object's end
	if n > 0 {
		end = off + n
	}
	res, err := transfer(ctx, f, func(ctx context.Context) (*s3.GetObjectOutput, error) {
		return f.get(ctx, key, ifMatch, off, end)
	})
	if err != nil {
		if _, status := errorCode(err); status == http.StatusRequestedRangeNotSatisfiable {
			// The object (the version asked for, when hash is set) has no byte at off.
			return &reader{body: io.NopCloser(eofReader{}), want: n, version: hash != ""}, nil
		}
		return nil, f.openErr(ctx, c, err)
	}
	etag := aws.ToString(res.ETag)
	if hash != "" && strings.Trim(etag, `"`) != hash {
		res.Body.Close()
		return nil, fmt.Errorf("%w: ETag %s, want %q", ufs.ErrChanged, etag, hash)
	}
	src := func(ctx context.Context, pos int64) (io.ReadCloser, error) {
		if etag == "" {
			return nil, retry.Permanent(errors.New("s3: the response had no ETag to resume the read with"))
		}
		if end >= 0 && pos >= end {
			return io.NopCloser(eofReader{}), nil
		}
		r, err := f.get(ctx, key, &etag, pos, end)
		if _, status := errorCode(err); status == http.StatusRequestedRangeNotSatisfiable {
			return io.NopCloser(eofReader{}), nil // the body broke after its last byte
		}
		if err != nil {
			return nil, err
		}
		if got := aws.ToString(r.ETag); got != etag {
			r.Body.Close()
			return nil, fmt.Errorf("%w: resuming at byte %d, ETag %s, want %s", ufs.ErrChanged, pos, got, etag)
		}
		if start, ok := rangeStart(aws.ToString(r.ContentRange)); !ok || start != pos {
			r.Body.Close()
			return nil, retry.Permanent(fmt.Errorf("s3: asked for bytes from %d, got Content-Range %q", pos, aws.ToString(r.ContentRange)))
		}
		return r.Body, nil
	}
	body := retry.Resume(ctx, f.data, res.Body, off, src)
	return &reader{body: body, want: n, version: hash != ""}, nil
}

// get sends one GetObject of the bytes from off to end (exclusive; -1: the object's end),
// with If-Match when ifMatch is set; a 412 becomes an error wrapping ufs.ErrChanged.
func (f *FS) get(ctx context.Context, key string, ifMatch *string, off, end int64) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: &f.bucket, Key: &key, IfMatch: ifMatch}
	if off > 0 || end >= 0 {
		r := "bytes=" + strconv.FormatInt(off, 10) + "-"
		if end >= 0 {
			r += strconv.FormatInt(end-1, 10)
		}
		in.Range = &r
	}
	res, err := f.c.s3.GetObject(ctx, in)
	if _, status := errorCode(err); status == http.StatusPreconditionFailed {
		return nil, fmt.Errorf("%w: want ETag %s: %w", ufs.ErrChanged, aws.ToString(ifMatch), err)
	}
	return res, err
}

// rangeStart parses the first byte of a Content-Range "bytes a-b/size".
func rangeStart(h string) (int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(a, 10, 64)
	return v, err == nil
}

// openErr maps a failed GetObject or HeadObject: 412 is another version (ufs.ErrChanged,
// by classify), a missing key is fs.ErrNotExist (or ErrIsDir for a directory).
func (f *FS) openErr(ctx context.Context, c string, err error) error {
	if isNotFound(err) {
		return f.missing(ctx, c, err)
	}
	return err
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader is a GetObject body (resumed as needed) that, for a version read, fails with
// ufs.ErrChanged when the body ends before the range asked for.
type reader struct {
	body    io.ReadCloser
	want    int64 // bytes asked for; -1 to the end
	got     int64
	version bool
	err     error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	r.got += int64(n)
	switch {
	case err == io.EOF && r.version && r.want >= 0 && r.got < r.want:
		r.err = fmt.Errorf("%w: the file ends at %d bytes of the %d asked for", ufs.ErrChanged, r.got, r.want)
	case err == io.EOF:
		r.err = io.EOF
	case err != nil:
		r.err = err
	}
	return n, r.err
}

func (r *reader) Close() error { return r.body.Close() }
