package oss

import (
	"context"
	"io/fs"
	"strings"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Stat implements ufs.UFS: HeadObject for a file, then a one-key listing of "path/" for
// a directory (marker or prefix); for the root a one-key listing of the root's prefix
// (which checks the bucket and the credentials). Directories have no ModTime.
func (f *FS) Stat(ctx context.Context, c string) (ufs.Status, error) {
	if c == ufs.Root {
		// The root needs no marker, but the bucket must exist and the credentials must
		// reach it, as for every other call.
		if err := f.checkRoot(ctx); err != nil {
			return ufs.Status{}, err
		}
		return ufs.Status{Name: ufs.Root, IsDir: true}, nil
	}
	st, found, err := f.statFile(ctx, c)
	if err != nil || found {
		return st, err
	}
	found, err = f.isDir(ctx, c)
	if err != nil {
		return ufs.Status{}, err
	}
	if !found {
		return ufs.Status{}, fs.ErrNotExist
	}
	return ufs.Status{Name: ufs.Base(c), IsDir: true}, nil
}

// statFile reports the file at clean path c; found is false when no object has its key.
func (f *FS) statFile(ctx context.Context, c string) (st ufs.Status, found bool, err error) {
	res, err := call(ctx, f, func(ctx context.Context) (*sdk.HeadObjectResult, error) {
		return f.client.HeadObject(ctx, &sdk.HeadObjectRequest{Bucket: &f.bucket, Key: sdk.Ptr(f.key(c))})
	})
	if err != nil {
		if isNotFound(err) {
			return ufs.Status{}, false, nil
		}
		return ufs.Status{}, false, err
	}
	return fileStatus(ufs.Base(c), res.ContentLength, res.LastModified, res.ETag), true, nil
}

// isDir reports whether a marker "c/" or any key below it exists.
func (f *FS) isDir(ctx context.Context, c string) (bool, error) {
	res, err := call(ctx, f, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) {
		return f.client.ListObjectsV2(ctx, &sdk.ListObjectsV2Request{
			Bucket: &f.bucket, Prefix: sdk.Ptr(f.dirKey(c)), MaxKeys: 1,
		})
	})
	if err != nil {
		return false, err
	}
	return len(res.Contents) > 0 || len(res.CommonPrefixes) > 0, nil
}

// fileStatus builds a file's Status. Times are truncated to seconds so that HeadObject
// (HTTP date) and listings (milliseconds) agree.
func fileStatus(name string, size int64, mtime *time.Time, etag *string) ufs.Status {
	st := ufs.Status{Name: name, Size: size}
	if mtime != nil {
		st.ModTime = mtime.Truncate(time.Second)
	}
	if etag != nil {
		st.ContentHash = strings.Trim(*etag, `"`)
	}
	return st
}

// missing returns the error for a clean path c that has no object: ErrIsDir when it is a
// directory (for operations that need a file), else fs.ErrNotExist keeping cause.
func (f *FS) missing(ctx context.Context, c string, cause error) error {
	if c == ufs.Root {
		return ufs.ErrIsDir
	}
	dir, err := f.isDir(ctx, c)
	if err != nil {
		return err
	}
	if dir {
		return ufs.ErrIsDir
	}
	if cause == nil {
		cause = fs.ErrNotExist
	}
	return ufs.WrapErr(fs.ErrNotExist, cause)
}
