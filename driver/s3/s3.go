package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

func init() { ufs.Register("s3", Open) }

// FS is a directory of an S3 bucket as a UFS.
type FS struct {
	c      *client
	opts   Options // with defaults filled in
	uri    ufs.URI
	bucket string
	prefix string // key prefix of the root: "" or "dir/"
	log    *slog.Logger
	// Owner, group and mode of every entry, from the bucket ACL (InheritACL).
	owner string
	mode  fs.FileMode
	// checksum is the algorithm of multipart uploads ("" when checksums are off).
	checksum types.ChecksumAlgorithm
	sse      types.ServerSideEncryption
	closed   atomic.Bool

	stats retry.Stats
	ctl   *retry.Policy // requests that move no file data: capped by unifiedfs.request.timeout
	data  *retry.Policy // requests that move file data: bounded by the idle timeout only
}

// RetryStats implements retry.Reporter.
func (f *FS) RetryStats() *retry.Stats { return &f.stats }

// OptionKeys implements ufs.OptionKeyer: the keys ParseOptions reads.
func (f *FS) OptionKeys() []string { return slices.Clone(optionKeys) }

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
	return context.WithTimeout(context.WithoutCancel(ctx), f.opts.Retry.AbortTimeout)
}

// Open is the ufs.Opener for s3:// URIs: ParseOptions (warnings go to slog.Default()),
// then New.
func Open(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
	o, warnings, err := ParseOptions(uri, opts)
	for _, w := range warnings {
		slog.Default().Warn("unifiedfs: "+w, "uri", uri.String())
	}
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	return New(ctx, o)
}

// New opens the bucket directory o describes and returns it guarded (ufs.Guard; the *FS
// under it, for CleanUploads and Client, is ufs.Unwrap's). It checks that the bucket exists and that
// the credentials may list it, returning errors that satisfy fs.ErrNotExist (missing
// bucket) or fs.ErrPermission (rejected or missing credentials); bad options wrap
// fs.ErrInvalid. With InheritACL it reads the bucket ACL, and with CleanUploadsOlderThan
// it aborts stale multipart uploads below the prefix; failures of those two are logged,
// not fatal.
func New(ctx context.Context, o Options) (ufs.UFS, error) {
	uri, err := ufs.NewURI("s3", o.Bucket, o.Prefix)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if err := fillDefaults(&o); err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	if !validBucket(o.Bucket, o.PathStyle) {
		return nil, ufs.OpenError(uri, fmt.Errorf("%w: %q is not an S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-')", fs.ErrInvalid, o.Bucket))
	}
	c, err := newClient(ctx, &o)
	if err != nil {
		return nil, ufs.OpenError(uri, err)
	}
	f := &FS{c: c, opts: o, uri: uri, bucket: o.Bucket, log: o.Logger}
	pol := o.Retry.Policy
	f.ctl = &pol
	f.ctl.Inspect, f.ctl.Codes, f.ctl.Stats = inspect, retryCodes, &f.stats
	f.data = f.ctl.Unbounded()
	if uri.Path != ufs.Root {
		f.prefix = uri.Path + "/"
	}
	if c.checksums {
		f.checksum = types.ChecksumAlgorithmCrc32
	}
	if o.ServerSideEncryption {
		f.sse = types.ServerSideEncryptionAes256
	}
	if _, err := f.listPage(ctx, f.prefix, "", "", 1); err != nil {
		c.close()
		return nil, ufs.OpenError(uri, withCtx(ctx, classify(err)))
	}
	if o.InheritACL {
		f.inheritACL(ctx)
	}
	if o.CleanUploadsOlderThan > 0 {
		n, err := f.CleanUploads(ctx, o.CleanUploadsOlderThan)
		switch {
		case err != nil:
			f.log.Warn("unifiedfs: s3: cleaning stale multipart uploads failed", "uri", uri.String(), "err", err)
		case n > 0:
			f.log.Info("unifiedfs: s3: aborted stale multipart uploads", "uri", uri.String(), "count", n)
		}
	}
	return ufs.Guard(f), nil
}

// fillDefaults replaces zero fields with their defaults and checks ranges.
func fillDefaults(o *Options) error {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.PartSize, DefaultPartSize)
	def(&o.CopyThreshold, maxCopySize)
	def(&o.CopyPartSize, DefaultCopyPartSize)
	defInt(&o.UploadThreads, DefaultUploadThreads)
	defInt(&o.ListPageSize, maxListKeys)
	if o.Retry.Policy.Attempts == 0 {
		var err error
		if o.Retry, err = retry.Parse(ufs.Options{}, retry.Aliases{}); err != nil {
			return err
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.PartSize < minPartSize || o.PartSize > maxPartSize:
		return fmt.Errorf("%w: part size %d out of range [%d, %d]", fs.ErrInvalid, o.PartSize, minPartSize, maxPartSize)
	case o.CopyPartSize < minPartSize || o.CopyPartSize > maxPartSize:
		return fmt.Errorf("%w: copy part size %d out of range [%d, %d]", fs.ErrInvalid, o.CopyPartSize, minPartSize, maxPartSize)
	case o.CopyThreshold < 0 || o.CopyThreshold > maxCopySize:
		return fmt.Errorf("%w: copy threshold %d out of range (at most %d, S3's CopyObject limit)", fs.ErrInvalid, o.CopyThreshold, maxCopySize)
	case o.UploadThreads < 1 || o.Retry.Policy.Attempts < 1 || o.ListPageSize < 1 || o.ListPageSize > maxListKeys:
		return fmt.Errorf("%w: upload threads, attempts and list page size must be positive (page size at most %d)", fs.ErrInvalid, maxListKeys)
	case (o.AccessKeyID == "") != (o.SecretKey == ""):
		return fmt.Errorf("%w: the access key id and the secret key must be given together", fs.ErrInvalid)
	}
	if o.Endpoint != "" {
		if _, err := endpointURL(o.Endpoint, o.PlainHTTP); err != nil {
			return fmt.Errorf("%w: endpoint %q: %v", fs.ErrInvalid, o.Endpoint, err)
		}
	}
	return nil
}

// validBucket applies S3's bucket naming rules; with path-style addressing the legacy
// names of us-east-1 (upper case, '_', up to 255 characters) are accepted too.
func validBucket(b string, pathStyle bool) bool {
	if len(b) < 3 || len(b) > 255 || !pathStyle && len(b) > 63 || strings.Contains(b, "..") {
		return false
	}
	for i, c := range b {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		legacy := pathStyle && (c >= 'A' && c <= 'Z' || c == '_')
		edge := i == 0 || i == len(b)-1
		if !alnum && !legacy && (edge || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// inheritACL derives every entry's owner and mode from the bucket ACL as Alluxio does:
// the owner's display name (or canonical ID) as owner and group, and owner bits from the
// grants held by the owner or by everyone (READ: r-x, WRITE: -w-, FULL_CONTROL: rwx).
func (f *FS) inheritACL(ctx context.Context) {
	res, err := call(ctx, f, func(ctx context.Context) (*s3.GetBucketAclOutput, error) {
		return f.c.s3.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &f.bucket})
	})
	if err != nil {
		f.log.Warn("unifiedfs: s3: bucket ACL not readable; entries have no owner", "uri", f.uri.String(), "err", err)
		return
	}
	if res.Owner == nil {
		return
	}
	ownerID := aws.ToString(res.Owner.ID)
	var mode fs.FileMode
	for _, g := range res.Grants {
		if g.Grantee == nil {
			continue
		}
		uri := aws.ToString(g.Grantee.URI)
		mine := aws.ToString(g.Grantee.ID) == ownerID && ownerID != "" ||
			strings.HasSuffix(uri, "/global/AllUsers") || strings.HasSuffix(uri, "/global/AuthenticatedUsers")
		if !mine {
			continue
		}
		switch g.Permission {
		case types.PermissionRead:
			mode |= 0o500
		case types.PermissionWrite:
			mode |= 0o200
		case types.PermissionFullControl:
			mode |= 0o700
		}
	}
	f.owner = aws.ToString(res.Owner.DisplayName)
	if f.owner == "" {
		f.owner = ownerID
	}
	f.mode = mode
}

// Capabilities implements ufs.UFS.
func (f *FS) Capabilities() ufs.Capabilities {
	return ufs.Capabilities{Kind: "s3", ObjectStore: true, Owners: f.owner != ""}
}

// Close implements ufs.UFS: later calls fail with fs.ErrClosed.
func (f *FS) Close() error {
	if !f.closed.Swap(true) {
		f.c.close()
	}
	return nil
}

// Client returns the SDK client under f, for operations the UFS interface lacks.
func (f *FS) Client() *s3.Client { return f.c.s3 }

// key returns the object key of clean path p (not Root).
func (f *FS) key(p string) string { return f.prefix + p }

// dirKey returns the key prefix of the entries below clean path p.
func (f *FS) dirKey(p string) string {
	if p == ufs.Root {
		return f.prefix
	}
	return f.prefix + p + "/"
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// fileStatus builds a file's Status. Times are truncated to seconds so that HeadObject
// (HTTP date) and listings (milliseconds) agree.
func (f *FS) fileStatus(name string, size int64, mtime *time.Time, etag *string) ufs.Status {
	st := ufs.Status{Name: name, Size: size, Owner: f.owner, Group: f.owner, Mode: f.mode}
	if mtime != nil {
		st.ModTime = mtime.Truncate(time.Second)
	}
	if etag != nil {
		st.ContentHash = strings.Trim(*etag, `"`)
	}
	return st
}

func (f *FS) dirStatus(name string) ufs.Status {
	return ufs.Status{Name: name, IsDir: true, Owner: f.owner, Group: f.owner, Mode: f.mode}
}
