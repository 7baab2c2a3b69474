package oss

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/crc64"
	"io"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"strings"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// ErrCorrupt is wrapped by a read whose data does not match the CRC-64 OSS reported.
var ErrCorrupt = errors.New("oss: downloaded data does not match the object's CRC-64")

// OpenRange implements ufs.UFS with a ranged GetObject (x-oss-range-behavior: standard, so
// an offset past the end is an empty read rather than the whole object). Whole-object
// reads are checked against x-oss-hash-crc64ecma at EOF. A body that breaks mid-way is
// re-requested from the first byte not yet delivered with If-Match on the ETag of the
// first response, so a read never mixes two versions (see retry.Resume); an object
// replaced meanwhile fails the read with ufs.ErrChanged.
func (f *FS) OpenRange(ctx context.Context, c string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, c, "", off, n)
}

// OpenVersion implements ufs.VersionReader: GetObject with If-Match on hash (OSS answers
// 412 for another version), and resumes as OpenRange.
func (f *FS) OpenVersion(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	if hash == "" {
		return nil, fmt.Errorf("%w: empty content hash", fs.ErrInvalid)
	}
	return f.open(ctx, c, hash, off, n)
}

// open reads n bytes (n < 0: to the end) from off of the object at c; of the version
// whose ETag is hash when hash is not empty.
func (f *FS) open(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	if n == 0 {
		st, found, err := f.statFile(ctx, c)
		switch {
		case err != nil:
			return nil, err
		case !found:
			return nil, f.missing(ctx, c, nil)
		case hash != "" && st.ContentHash != hash:
			return nil, changed(st.ContentHash, hash, nil)
		}
		return io.NopCloser(eofReader{}), nil
	}
	if n > 0 && off > math.MaxInt64-n {
		n = -1
	}
	key := f.key(c)
	res, err := transfer(ctx, f, func(ctx context.Context) (*sdk.GetObjectResult, error) {
		return f.get(ctx, key, hash, off, n, off == 0 && n < 0)
	})
	if err != nil {
		se, ok := serviceError(err)
		switch {
		case ok && se.StatusCode == http.StatusRequestedRangeNotSatisfiable:
			// The object exists and off is at or past its end: an empty read, or for a
			// version asked to have bytes there, a changed file.
			if hash != "" && n > 0 {
				return nil, fmt.Errorf("%w: the object ends before byte %d", ufs.ErrChanged, off)
			}
			return io.NopCloser(eofReader{}), nil
		case errors.Is(err, ufs.ErrChanged):
			return nil, err
		case isNotFound(err):
			return nil, f.missing(ctx, c, err)
		}
		return nil, err
	}
	etag := sdk.ToString(res.ETag)
	end := int64(-1) // first byte after the range; -1: the object's end
	if n > 0 {
		end = off + n
	}
	src := func(ctx context.Context, pos int64) (io.ReadCloser, error) {
		if etag == "" {
			return nil, retry.Permanent(errors.New("oss: the response had no ETag to resume the read with"))
		}
		count := int64(-1)
		if end >= 0 {
			count = end - pos
		}
		r, err := f.get(ctx, key, strings.Trim(etag, `"`), pos, count, false)
		if err != nil {
			return nil, err
		}
		if start, ok := rangeStart(sdk.ToString(r.ContentRange)); !ok || start != pos {
			r.Body.Close()
			return nil, retry.Permanent(fmt.Errorf("oss: asked for bytes from %d, got Content-Range %q", pos, sdk.ToString(r.ContentRange)))
		}
		return r.Body, nil
	}
	r := &reader{ctx: ctx, body: retry.Resume(ctx, f.data, res.Body, off, src), path: c}
	if hash != "" && n > 0 {
		r.want = n
	}
	if off == 0 && n < 0 && res.HashCRC64 != nil {
		if sum, err := strconv.ParseUint(*res.HashCRC64, 10, 64); err == nil {
			r.crc, r.sum = crc64.New(crcTable), sum
		}
	}
	return r, nil
}

// get sends one GetObject of count bytes from off (count < 0: to the end; whole: no Range
// at all), with If-Match when hash is set; a 412 becomes an error wrapping ufs.ErrChanged.
func (f *FS) get(ctx context.Context, key, hash string, off, count int64, whole bool) (*sdk.GetObjectResult, error) {
	req := &sdk.GetObjectRequest{Bucket: &f.bucket, Key: &key}
	if !whole {
		r := sdk.HTTPRange{Offset: off}
		if count > 0 {
			r.Count = count
		}
		req.Range = r.FormatHTTPRange()
		req.RangeBehavior = sdk.Ptr("standard")
	}
	if hash != "" {
		req.IfMatch = sdk.Ptr(`"` + hash + `"`)
	}
	res, err := f.client.GetObject(ctx, req)
	if se, ok := serviceError(err); ok && se.StatusCode == http.StatusPreconditionFailed {
		return nil, changed("", hash, err)
	}
	return res, err
}

// changed is the error for an object that is no longer version want (got: its ETag, when
// known), keeping OSS's answer when there is one.
func changed(got, want string, cause error) error {
	if got != "" {
		return fmt.Errorf("%w: want ETag %s, the object has %s", ufs.ErrChanged, want, got)
	}
	return fmt.Errorf("%w: want ETag %s: %w", ufs.ErrChanged, want, cause)
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

var crcTable = crc64.MakeTable(crc64.ECMA)

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader is a GetObject body (resumed as needed) that fails Reads once its context ends,
// checks the whole-object CRC, and for a version read ends with ErrChanged when the object
// is shorter than the range asked for.
type reader struct {
	ctx  context.Context
	body io.ReadCloser
	path string
	crc  hash.Hash64 // nil when not checked
	sum  uint64
	want int64 // bytes the version must have from the offset; 0: not checked
	got  int64
	err  error
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
	if r.crc != nil {
		r.crc.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if r.crc != nil && r.crc.Sum64() != r.sum {
			r.err = &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w: got %d, OSS says %d", ErrCorrupt, r.crc.Sum64(), r.sum)}
			return n, r.err
		}
		if r.got < r.want {
			r.err = &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("%w: the object ends %d bytes into a range of %d", ufs.ErrChanged, r.got, r.want)}
			return n, r.err
		}
		r.err = io.EOF
	case err != nil:
		r.err = &fs.PathError{Op: "read", Path: r.path, Err: withCtx(r.ctx, classify(err))}
	}
	return n, r.err
}

func (r *reader) Close() error { return r.body.Close() }
