package kodo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/qiniu/go-sdk/v7/client"
	"github.com/qiniu/go-sdk/v7/storagev2/retrier"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// OpenRange implements ufs.UFS. It sends a GET with a Range header to the endpoint, naming
// the download domain in the Host header, with a private download token signed for
// "<scheme>://<downloadhost>/<key>?e=<deadline>". Failures before the body starts (5xx,
// resets) are retried like SDK calls.
func (f *FS) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	c, err := f.begin(ctx, "open", p)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, pathErr("open", p, ufs.ErrIsDir)
	}
	if off < 0 {
		return nil, pathErr("open", p, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, off))
	}
	if n == 0 {
		st, err := f.stat(ctx, c)
		if err != nil {
			return nil, mapErr(ctx, "open", p, err)
		}
		if st.IsDir {
			return nil, pathErr("open", p, ufs.ErrIsDir)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	resp, err := f.get(ctx, f.key(c), off, n)
	if err != nil {
		return nil, mapErr(ctx, "open", p, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != off {
			resp.Body.Close()
			return nil, pathErr("open", p, fmt.Errorf("kodo: asked for bytes from %d, got Content-Range %q", off, resp.Header.Get("Content-Range")))
		}
		return &rangeReader{ctx: ctx, body: resp.Body, left: n, path: p}, nil
	case http.StatusOK: // the range was ignored: skip to off
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			if errors.Is(err, io.EOF) {
				return io.NopCloser(strings.NewReader("")), nil
			}
			return nil, mapErr(ctx, "open", p, err)
		}
		return &rangeReader{ctx: ctx, body: resp.Body, left: n, path: p}, nil
	case http.StatusRequestedRangeNotSatisfiable: // off is at or past the end
		resp.Body.Close()
		return io.NopCloser(strings.NewReader("")), nil
	}
	rerr := client.ResponseError(resp) // closes the body
	if code := errCode(rerr); code == codeNotFound || code == codeNoSuchFile {
		if st, serr := f.stat(ctx, c); serr == nil && st.IsDir {
			return nil, pathErr("open", p, ufs.WrapErr(ufs.ErrIsDir, rerr))
		}
	}
	return nil, mapErr(ctx, "open", p, rerr)
}

// get sends the download request, retrying retryable failures; any response it returns
// has not been read.
func (f *FS) get(ctx context.Context, key string, off, n int64) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := f.downloadRequest(ctx, key, off, n)
		if err != nil {
			return nil, err
		}
		resp, err := f.c.http.Do(req)
		var uerr *url.Error
		if errors.As(err, &uerr) {
			uerr.URL = redactToken(uerr.URL) // the token grants reads: keep it out of messages
		}
		retry := false
		switch {
		case err != nil:
			retry = ctx.Err() == nil && retrier.IsErrorRetryable(err)
		case retrier.IsStatusCodeRetryable(resp.StatusCode):
			retry = true
		default:
			return resp, nil
		}
		if !retry || attempt >= f.cfg.retries {
			if err != nil {
				return nil, err
			}
			return nil, client.ResponseError(resp)
		}
		if resp != nil {
			_ = client.ResponseError(resp) // drain and close
		}
		wait := f.cfg.retryInterval << attempt
		if f.cfg.retryInterval == 0 {
			wait = 50 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
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

// rangeReader reads at most left bytes (all when left < 0) of a download body.
type rangeReader struct {
	ctx  context.Context
	body io.ReadCloser
	left int64
	path string
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, pathErr("read", r.path, err)
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
		r.left = 0
		return n, io.EOF
	}
	return n, mapErr(r.ctx, "read", r.path, err)
}

func (r *rangeReader) Close() error { return r.body.Close() }
