// Package kodo is the kodo:// UFS driver: a directory of a Qiniu Kodo bucket, spoken to
// through github.com/qiniu/go-sdk/v7 (the storagev2 API clients, pinned at v7.27.0).
//
// A URI kodo://<bucket>/<dir> mounts the keys below "<dir>/" of the bucket. Directories are
// key prefixes; Mkdir writes a "<dir>/" marker object. Stat uses /stat (the content hash is
// Kodo's hash, the modification time its putTime); List uses /list with the delimiter "/"
// and Kodo's marker as page token; reads go through a signed private download URL sent to
// the endpoint with "Host: <downloadhost>", as Alluxio does; Create buffers up to a
// threshold and then form-uploads, or switches to resumable upload v2 with parts uploaded in
// parallel (Close returns the upload's error and aborts the upload on failure); RemoveAll
// and directory Rename use /batch.
//
// Options (case-insensitive; the first four are required, as in Alluxio's Kodo guide):
//
//	fs.kodo.accesskey                    access key
//	fs.kodo.secretkey                    secret key
//	alluxio.underfs.kodo.downloadhost    the bucket's download domain
//	alluxio.underfs.kodo.endpoint        IO endpoint downloads connect to: a host
//	                                     (iovip-z1.qbox.me), an http(s) URL, or a region
//	                                     abbreviation z0 z1 z2 na0 as0
//	fs.kodo.usehttps                     "true" (default): https for hosts given without
//	                                     a scheme (UC, RS, RSF, UP, endpoint)
//	fs.kodo.uchost                       comma-separated UC hosts for the bucket's region
//	                                     query (default: the SDK's uc.qiniuapi.com, ...)
//	fs.kodo.rshost, fs.kodo.rsfhost,     comma-separated hosts overriding those /v4/query
//	fs.kodo.uphost, fs.kodo.apihost      returns; with rs, rsf and up all set, UC is not used
//	alluxio.underfs.kodo.requests.max    parallel part uploads of one Create (default 4)
//	fs.kodo.upload.threshold             larger files use resumable upload v2 (default 4MB)
//	fs.kodo.upload.partsize              part size of resumable uploads (default 4MB,
//	                                     1MB to 1GB)
//	fs.kodo.list.pagesize                most entries per List page (default 1000, max 1000)
//	fs.kodo.token.ttl                    lifetime of upload and download tokens (default 24h)
//	fs.kodo.cachedir                     directory of the SDK's region-query cache
//	                                     (default: $TMPDIR/qiniu-golang-sdk)
//
// Retries and timeouts are the shared unifiedfs.* options of every driver, documented in
// package github.com/unifiedfs/unifiedfs/ufs/retry (unifiedfs.retry.attempts,
// unifiedfs.retry.base.delay, unifiedfs.retry.max.delay, unifiedfs.read.resume.max,
// unifiedfs.connect.timeout, unifiedfs.response.timeout, unifiedfs.idle.timeout,
// unifiedfs.request.timeout, unifiedfs.abort.timeout). Kodo's older keys are aliases:
// alluxio.underfs.kodo.connect.timeout (connect), fs.kodo.response.timeout (response),
// fs.kodo.retries (retries after the first attempt), fs.kodo.retry.interval (base delay).
// The SDK's own retries are off; 573 (too many requests) is throttling, the other 6xx codes
// are final. Downloads that break mid-body resume from the first byte not delivered; the
// resumed response must carry the first one's ETag (Kodo's hash), since download domains
// do not promise If-Match, and another version fails the read with ufs.ErrChanged.
// OpenVersion (ufs.VersionReader) checks the ETag of the first response the same way.
//
// Importing the package disables the SDK's upload logging ("uplog"), which would otherwise
// buffer logs under os.TempDir() and send them to Qiniu.
//
// Open (the Opener of "kodo", through ufs.Open) and New (typed Options) return the UFS
// guarded (ufs.Guard); the *FS under it (ufs.Unwrap) takes clean paths only.
//
// Import it for its side effect of registering "kodo":
//
//	import _ "github.com/unifiedfs/unifiedfs/driver/kodo"
package kodo

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sync/atomic"
	"time"

	"github.com/qiniu/go-sdk/v7/storagev2/apis"
	"github.com/qiniu/go-sdk/v7/storagev2/uplog"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

func init() {
	uplog.DisableUplog()
	ufs.Register("kodo", Open)
}

// FS is a directory of a Kodo bucket as a UFS.
type FS struct {
	cfg    *config
	bucket string
	prefix string // key prefix of the root: "" or "dir/"
	c      *clients
	closed atomic.Bool

	stats retry.Stats
	ctl   *retry.Policy // requests that move no file data: capped by unifiedfs.request.timeout
	data  *retry.Policy // requests that move file data: bounded by the idle timeout only
}

// OptionKeys implements ufs.OptionKeyer: the keys the driver reads.
func (f *FS) OptionKeys() []string { return slices.Clone(optionKeys) }

// RetryStats implements retry.Reporter.
func (f *FS) RetryStats() *retry.Stats { return &f.stats }

// call runs one SDK request that moves no file data under the mount's retry policy.
func call[T any](ctx context.Context, f *FS, op func(ctx context.Context) (T, error)) (T, error) {
	return retry.Value(ctx, f.ctl, op)
}

// transfer runs one request that moves file data (an upload body, or a download whose body
// is read after it returns) under the mount's retry policy, without the request cap.
func transfer[T any](ctx context.Context, f *FS, op func(ctx context.Context) (T, error)) (T, error) {
	return retry.Value(ctx, f.data, op)
}

// cleanupContext returns a context for the abort of a failed upload: detached from ctx (the
// caller's may be what ended) and bounded by unifiedfs.abort.timeout.
func (f *FS) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), f.cfg.net.AbortTimeout)
}

// Open is the ufs.Opener for kodo://<bucket>/<dir> URIs. It checks that the bucket exists
// and the keys work by listing one key of the root: a missing bucket yields an error
// satisfying fs.ErrNotExist, rejected keys fs.ErrPermission. The root directory itself need
// not exist (an empty prefix is a valid, empty directory). The UFS is guarded (ufs.Guard).
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	f, err := newFS(uri, opts)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if _, err := f.listOnce(ctx, f.prefix, "", "", 1); err != nil {
		f.Close()
		if cerr := ctx.Err(); cerr != nil {
			err = ufs.WrapErr(cerr, err)
		}
		return nil, ufs.OpenError(uri, classify(err))
	}
	return ufs.Guard(f), nil
}

// newFS returns the driver for uri without contacting Kodo.
func newFS(uri ufs.URI, opts ufs.Options) (*FS, error) {
	if uri.Authority == "" {
		return nil, fmt.Errorf("%w: kodo URI %s has no bucket (want kodo://bucket/dir)", fs.ErrInvalid, uri)
	}
	cfg, err := parseConfig(uri, opts)
	if err != nil {
		return nil, err
	}
	c, err := newClients(cfg, uri.Authority)
	if err != nil {
		return nil, err
	}
	f := &FS{cfg: cfg, bucket: uri.Authority, c: c}
	f.ctl = &cfg.net.Policy
	f.ctl.Inspect, f.ctl.Codes, f.ctl.Stats = inspect, retryCodes, &f.stats
	f.data = f.ctl.Unbounded()
	if uri.Path != ufs.Root {
		f.prefix = uri.Path + "/"
	}
	return f, nil
}

// Capabilities implements ufs.UFS.
func (f *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "kodo", ObjectStore: true}
}

// Close implements ufs.UFS.
func (f *FS) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.c.http.CloseIdleConnections()
	return nil
}

// key returns the object key of clean path c (not Root).
func (f *FS) key(c string) string { return f.prefix + c }

// dirPrefix returns the key prefix of the entries below directory c.
func (f *FS) dirPrefix(c string) string {
	if c == ufs.Root {
		return f.prefix
	}
	return f.prefix + c + "/"
}

func (f *FS) entry(key string) string { return f.bucket + ":" + key }

// listOnce lists one page of keys.
func (f *FS) listOnce(ctx context.Context, prefix, delimiter, marker string, limit int) (*apis.GetObjectsResponse, error) {
	return call(ctx, f, func(ctx context.Context) (*apis.GetObjectsResponse, error) {
		return f.c.storage.GetObjects(ctx, &apis.GetObjectsRequest{
			Bucket: f.bucket, Prefix: prefix, Delimiter: delimiter, Marker: marker, Limit: int64(limit),
		}, nil)
	})
}

// putTime converts Kodo's putTime (100 ns units) to a time.
func putTime(t int64) time.Time { return time.Unix(0, t*100) }
