package s3

import (
	"context"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Stat implements ufs.UFS: HeadObject for a file, then a one-key listing of "path/" for
// a directory (marker or prefix). Directories have no ModTime.
func (f *FS) Stat(ctx context.Context, c string) (ufs.Status, error) {
	if c == ufs.Root {
		return f.dirStatus(ufs.Root), nil
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
	return f.dirStatus(ufs.Base(c)), nil
}

// statFile reports the file at clean path c; found is false when no object has its key.
func (f *FS) statFile(ctx context.Context, c string) (st ufs.Status, found bool, err error) {
	res, err := call(ctx, f, func(ctx context.Context) (*s3.HeadObjectOutput, error) {
		return f.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: aws.String(f.key(c))})
	})
	if err != nil {
		if isNotFound(err) {
			return ufs.Status{}, false, nil
		}
		return ufs.Status{}, false, err
	}
	return f.fileStatus(ufs.Base(c), aws.ToInt64(res.ContentLength), res.LastModified, res.ETag), true, nil
}

// isDir reports whether a marker "c/" or any key below it exists.
func (f *FS) isDir(ctx context.Context, c string) (bool, error) {
	pg, err := f.listPage(ctx, f.dirKey(c), "", "", 1)
	if err != nil {
		return false, err
	}
	return len(pg.objects) > 0 || len(pg.prefixes) > 0, nil
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
