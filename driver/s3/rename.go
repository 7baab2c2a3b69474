package s3

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Rename implements ufs.UFS. It is not atomic: a file is copied (CopyObject, or
// UploadPartCopy above the copy threshold, with x-amz-copy-source-if-match so that only
// the version seen is copied) and then deleted; a directory is renamed page by page, each
// page of keys copied in parallel (UploadThreads) and deleted with DeleteObjects only
// once all its copies exist. A failure leaves the move half done but loses no data; keys
// S3 refused to delete are reported in a *DeleteError.
func (f *FS) Rename(ctx context.Context, s, d string) error {
	st, isFile, err := f.statFile(ctx, s)
	if err != nil {
		return err
	}
	if !isFile {
		isDir, err := f.isDir(ctx, s)
		if err != nil {
			return err
		}
		if !isDir {
			return fs.ErrNotExist
		}
	}
	if _, err := f.Stat(ctx, d); err == nil {
		return fmt.Errorf("%w: the destination %s exists", fs.ErrExist, ufs.Rooted(d))
	} else if !isNotExist(err) {
		return err
	}
	if isFile {
		if err := f.copyKey(ctx, f.key(s), f.key(d), st.Size, st.ContentHash); err != nil {
			return err
		}
		return f.deleteKey(ctx, f.key(s))
	}
	from, to := f.dirKey(s), f.dirKey(d)
	failed := &DeleteError{}
	err = f.walkKeys(ctx, from, func(objs []object) error {
		err := f.parallel(ctx, len(objs), func(ctx context.Context, i int) error {
			o := objs[i]
			return f.copyKey(ctx, o.key, to+o.key[len(from):], o.size, trimETag(o.etag))
		})
		if err != nil {
			return err
		}
		return f.deleteKeys(ctx, objs, failed)
	})
	if err == nil && len(failed.Keys) > 0 {
		err = failed
	}
	return err
}

func trimETag(e *string) string {
	if e == nil {
		return ""
	}
	s := *e
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// copySource is the x-amz-copy-source of a key: "bucket/key", URL-encoded.
func (f *FS) copySource(key string) *string {
	return aws.String(escapePath(f.bucket + "/" + key))
}

// escapePath percent-encodes every byte but RFC 3986's unreserved ones and '/'.
func escapePath(s string) string {
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// copyKey copies one object of the given size and ETag (without quotes; "" for any
// version): CopyObject up to the copy threshold, UploadPartCopy above it.
func (f *FS) copyKey(ctx context.Context, from, to string, size int64, etag string) error {
	var ifMatch *string
	if etag != "" {
		ifMatch = aws.String(`"` + etag + `"`)
	}
	if size <= f.opts.CopyThreshold {
		// A retry after a lost answer copies the same version again (if-match).
		_, err := call(ctx, f, func(ctx context.Context) (*s3.CopyObjectOutput, error) {
			return f.c.s3.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket: &f.bucket, Key: &to, CopySource: f.copySource(from), CopySourceIfMatch: ifMatch,
				ServerSideEncryption: f.sse, ChecksumAlgorithm: f.checksum,
			})
		})
		return err
	}
	init, err := f.createUpload(ctx, to)
	if err != nil {
		return err
	}
	partSize := f.opts.CopyPartSize
	n := int((size + partSize - 1) / partSize)
	if n > maxParts {
		partSize = (size + maxParts - 1) / maxParts
		n = int((size + partSize - 1) / partSize)
	}
	parts := make([]types.CompletedPart, n)
	err = f.parallel(ctx, n, func(ctx context.Context, i int) error {
		first := int64(i) * partSize
		last := min(first+partSize, size) - 1
		res, err := call(ctx, f, func(ctx context.Context) (*s3.UploadPartCopyOutput, error) {
			return f.c.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket: &f.bucket, Key: &to, UploadId: &init.id, PartNumber: aws.Int32(int32(i + 1)),
				CopySource: f.copySource(from), CopySourceIfMatch: ifMatch,
				CopySourceRange: aws.String("bytes=" + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10)),
			})
		})
		if err != nil {
			return err
		}
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1))}
		if r := res.CopyPartResult; r != nil {
			parts[i].ETag, parts[i].ChecksumCRC32 = r.ETag, r.ChecksumCRC32
		}
		return nil
	})
	if err == nil {
		_, err = f.completeUpload(ctx, to, init, parts, size)
	}
	if err != nil {
		_ = f.abortUpload(ctx, to, init.id)
	}
	return err
}

// parallel runs fn(0..n-1) on up to UploadThreads goroutines and returns the first error;
// the context given to fn is cancelled after an error.
func (f *FS) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(f.opts.UploadThreads)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}
