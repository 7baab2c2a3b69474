package kodo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qiniu/go-sdk/v7/client"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// OpenRange implements ufs.UFS. It sends a GET with a Range header to the endpoint, naming
// the download domain in the Host header, with a private download token signed for
// "<scheme>://<downloadhost>/<key>?e=<deadline>". Requests are retried under the mount's
// policy; a body that breaks mid-way is re-requested from the first byte not yet
// delivered, and the re-requested response must carry the ETag (Kodo's hash) of the first
// one: Kodo's download hosts do not promise If-Match, so the version is checked on the
// answer instead, and another version fails the read with ufs.ErrChanged.
func (f *FS) OpenRange(ctx context.Context, c string, off, n int64) (io.ReadCloser, error) {
	return f.open(ctx, c, "", off, n)
}

// OpenVersion implements ufs.VersionReader: the download's ETag must be hash (Kodo's hash
// of the content), else the read fails with ufs.ErrChanged before any byte is returned.
func (f *FS) OpenVersion(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	if hash == "" {
		return nil, fmt.Errorf("%w: empty content hash", fs.ErrInvalid)
	}
	return f.open(ctx, c, hash, off, n)
}

// open reads n bytes (n < 0: to the end) from off of the object at c; of the version
// whose hash is hash when hash is not empty.
func (f *FS) open(ctx context.Context, c, hash string, off, n int64) (io.ReadCloser, error) {
	if n == 0 {
		st, err := f.stat(ctx, c)
		switch {
		case err != nil:
			return nil, err
		case st.IsDir:
			return nil, ufs.ErrIsDir
		case hash != "" && st.ContentHash != hash:
			return nil, changed(st.ContentHash, hash)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	if n > 0 && off > math.MaxInt64-n {
		n = -1
	}
	key := f.key(c)
	resp, err := transfer(ctx, f, func(ctx context.Context) (*http.Response, error) {
		return f.download(ctx, key, off, n)
	})
	if err != nil {
		if code := errCode(err); code == codeNotFound || code == codeNoSuchFile {
			if st, serr := f.stat(ctx, c); serr == nil && st.IsDir {
				return nil, ufs.WrapErr(ufs.ErrIsDir, err)
			}
		}
		return nil, err
	}
	etag := etagOf(resp)
	if hash != "" && etag != hash {
		resp.Body.Close()
		return nil, changed(etag, hash)
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable { // off is at or past the end
		resp.Body.Close()
		if hash != "" && n > 0 {
			return nil, fmt.Errorf("%w: the object ends before byte %d", ufs.ErrChanged, off)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	body, err := atOffset(resp, off)
	if errors.Is(err, io.EOF) { // a 200 shorter than off: nothing to read
		return io.NopCloser(strings.NewReader("")), nil
	}
	if err != nil {
		return nil, err
	}
	end := int64(-1) // first byte after the range; -1: the object's end
	if n > 0 {
		end = off + n
	}
	src := func(ctx context.Context, pos int64) (io.ReadCloser, error) {
		if etag == "" {
			return nil, retry.Permanent(errors.New("kodo: the download had no ETag to resume the read with"))
		}
		count := int64(-1)
		if end >= 0 {
			count = end - pos
		}
		resp, err := f.download(ctx, key, pos, count)
		if err != nil {
			return nil, err
		}
		if got := etagOf(resp); got != etag {
			resp.Body.Close()
			return nil, changed(got, etag)
		}
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: the object ends before byte %d", ufs.ErrChanged, pos)
		}
		return atOffset(resp, pos)
	}
	return &rangeReader{body: retry.Resume(ctx, f.data, body, off, src), left: n, versioned: hash != ""}, nil
}

// etagOf returns the unquoted ETag of a download: the object's Kodo hash.
func etagOf(resp *http.Response) string {
	return strings.Trim(resp.Header.Get("ETag"), `"`)
}

// changed is the error for an object that is no longer version want.
func changed(got, want string) error {
	return fmt.Errorf("%w: want hash %s, the object has %q", ufs.ErrChanged, want, got)
}

// atOffset returns the body of a 206 that starts at off, or of a 200 (the range was
// ignored) skipped to off.
func atOffset(resp *http.Response, off int64) (io.ReadCloser, error) {
	if resp.StatusCode == http.StatusOK {
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp.Body, nil
	}
	if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
		resp.Body.Close()
		return nil, retry.Permanent(fmt.Errorf("kodo: asked for bytes from %d, got Content-Range %q", off, resp.Header.Get("Content-Range")))
	}
	return resp.Body, nil
}

// download sends one download request for n bytes from off (n < 0: to the end). It returns
// the unread response of a 200, 206 or 416, and an error for any other answer.
func (f *FS) download(ctx context.Context, key string, off, n int64) (*http.Response, error) {
	req, err := f.downloadRequest(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	resp, err := f.c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			uerr.URL = redactToken(uerr.URL) // the token grants reads: keep it out of messages
		}
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
		return resp, nil
	}
	info, _ := client.ResponseError(resp).(*client.ErrorInfo) // drains and closes the body
	return nil, &downloadError{info: info, header: resp.Header}
}

// downloadRequest builds a signed GET for key. The signed URL names the download domain;
// the request goes to the endpoint with that domain in the Host header. Both use Go's own
// escaping of the key, so the path signed is the path sent.
func (f *FS) downloadRequest(ctx context.Context, key string, off, n int64) (*http.Request, error) {
	base, err := url.Parse(f.cfg.endpoint)
	if err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: base.Scheme, Host: base.Host, Path: "/" + key}
	deadline := time.Now().Add(f.cfg.tokenTTL).Unix()
	query := "e=" + strconv.FormatInt(deadline, 10)
	signed := base.Scheme + "://" + f.cfg.downloadHost + u.EscapedPath() + "?" + query
	u.RawQuery = query + "&token=" + f.c.creds.Sign([]byte(signed))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Host = f.cfg.downloadHost
	switch {
	case n > 0:
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10))
	case off > 0:
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	return req, nil
}

// redactToken cuts the download token off a URL.
func redactToken(u string) string {
	if i := strings.Index(u, "&token="); i >= 0 {
		return u[:i] + "&token=" + ufs.Redacted
	}
	return u
}

// contentRangeStart parses the first byte of "bytes a-b/size".
func contentRangeStart(h string) (int64, bool) {
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

// rangeReader reads at most left bytes (all when left < 0) of a download body. A body
// that ends before left bytes ran past the object's end: io.EOF, or for a version read
// ufs.ErrChanged (the version asked for had those bytes).
type rangeReader struct {
	body      io.ReadCloser
	left      int64
	versioned bool
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.body.Read(p)
	if r.left > 0 {
		r.left -= int64(n)
		if r.left == 0 {
			return n, io.EOF
		}
	}
	switch {
	case err == nil || errors.Is(err, io.EOF) && r.left < 0:
		return n, err
	case errors.Is(err, io.EOF):
		// A 206 reply shorter than the range asked: the range ran past the end.
		if r.versioned {
			return n, fmt.Errorf("%w: the object ends %d bytes before the range", ufs.ErrChanged, r.left)
		}
		r.left = 0
		return n, io.EOF
	}
	return n, err
}

func (r *rangeReader) Close() error { return r.body.Close() }
