package oss

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sync/atomic"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

func init() { ufs.Register("oss", Open) }

// FS is a directory of an OSS bucket as a UFS.
type FS struct {
	client *sdk.Client
	http   *http.Client
	cfg    *config
	bucket string
	prefix string // key prefix of the root: "" or "dir/"
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

// transfer runs one SDK request that moves file data (an upload body, or a download whose
// body is read after it returns) under the mount's retry policy, without the request cap.
func transfer[T any](ctx context.Context, f *FS, op func(ctx context.Context) (T, error)) (T, error) {
	return retry.Value(ctx, f.data, op)
}

// cleanupContext returns a context for the abort of a failed upload: detached from ctx (the
// caller's may be what ended) and bounded by unifiedfs.abort.timeout.
func (f *FS) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), f.cfg.net.AbortTimeout)
}

// Open is the ufs.Opener for oss:// URIs. It checks that the bucket exists and that the
// credentials may list it, returning errors that satisfy fs.ErrNotExist (missing bucket)
// or fs.ErrPermission (rejected credentials); bad or missing options wrap fs.ErrInvalid and
// name the key. The UFS is guarded (ufs.Guard).
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	if !validBucket(uri.Authority) {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: %q is not an OSS bucket name (3-63 characters of a-z, 0-9 and '-')", fs.ErrInvalid, uri.Authority))
	}
	cfg, err := parseConfig(uri, opts)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	client, hc := newClient(cfg)
	f := &FS{client: client, http: hc, cfg: cfg, bucket: uri.Authority}
	f.ctl = &cfg.net.Policy
	f.ctl.Inspect, f.ctl.Codes, f.ctl.Stats = inspect, retryCodes, &f.stats
	f.data = f.ctl.Unbounded()
	if uri.Path != ufs.Root {
		f.prefix = uri.Path + "/"
	}
	if err := f.checkRoot(ctx); err != nil {
		hc.CloseIdleConnections()
		return nil, ufs.OpenError(uri, withCtx(ctx, classify(err)))
	}
	return ufs.Guard(f), nil
}

// checkRoot lists one key of the root: it fails when the bucket is missing or the
// credentials may not list it.
func (f *FS) checkRoot(ctx context.Context) error {
	_, err := call(ctx, f, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) {
		return f.client.ListObjectsV2(ctx, &sdk.ListObjectsV2Request{
			Bucket: &f.bucket, Prefix: sdk.Ptr(f.prefix), MaxKeys: 1,
		})
	})
	return err
}

func validBucket(b string) bool {
	return sdk.IsValidBucketName(&b)
}

// Capabilities implements ufs.UFS.
func (f *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "oss", ObjectStore: true}
}

// Close implements ufs.UFS: later calls fail with fs.ErrClosed.
func (f *FS) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.http.CloseIdleConnections()
	return nil
}

// key returns the object key of clean path p (not Root).
func (f *FS) key(p string) string { return f.prefix + p }

// dirKey returns the key prefix of the entries below clean path p.
func (f *FS) dirKey(p string) string {
	if p == ufs.Root {
		return f.prefix
	}
	return f.prefix + p + "/"
}

// Classify implements ufs.Classifier: OSS error codes and statuses to sentinels.
func (f *FS) Classify(err error) error { return classify(err) }

// withCtx keeps ctx's error in the chain when the context ended.
func withCtx(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return ufs.WrapErr(cerr, err)
	}
	return err
}
