package s3

import (
	"bytes"
	"context"
	"io/fs"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Mkdir implements ufs.UFS by writing the empty marker object "path/" (an existing marker
// is rewritten, which changes nothing but its time). Parents are implied.
func (f *FS) Mkdir(ctx context.Context, c string) error {
	var err error
	if c == ufs.Root {
		return err
	}
	_, err = call(ctx, f, func(ctx context.Context) (*s3.PutObjectOutput, error) {
		return f.c.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &f.bucket, Key: aws.String(f.dirKey(c)), Body: bytes.NewReader(nil),
			ContentLength: aws.Int64(0), ServerSideEncryption: f.sse,
		})
	})
	return err
}

// Remove implements ufs.UFS: the file at path if there is one, else the directory's
// marker when nothing else lies below it.
func (f *FS) Remove(ctx context.Context, c string) error {
	_, isFile, err := f.statFile(ctx, c)
	if err != nil {
		return err
	}
	if isFile {
		return f.deleteKey(ctx, f.key(c))
	}
	marker := f.dirKey(c)
	pg, err := f.listPage(ctx, marker, "", "", 2)
	if err != nil {
		return err
	}
	switch {
	case len(pg.objects) == 0:
		return fs.ErrNotExist
	case len(pg.objects) > 1 || pg.objects[0].key != marker:
		return ufs.ErrNotEmpty
	}
	return f.deleteKey(ctx, marker)
}

func (f *FS) deleteKey(ctx context.Context, key string) error {
	_, err := call(ctx, f, func(ctx context.Context) (*s3.DeleteObjectOutput, error) {
		return f.c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &key})
	})
	return err
}

// RemoveAll implements ufs.UFS: the file at path, then every key below "path/" in
// DeleteObjects batches of up to 1000 keys. Keys S3 refuses to delete do not stop the
// walk; they are reported together in a *DeleteError.
func (f *FS) RemoveAll(ctx context.Context, c string) error {
	if err := f.deleteKey(ctx, f.key(c)); err != nil {
		return err
	}
	failed := &DeleteError{}
	err := f.walkKeys(ctx, f.dirKey(c), func(objs []object) error {
		return f.deleteKeys(ctx, objs, failed)
	})
	if err == nil && len(failed.Keys) > 0 {
		err = failed
	}
	return err
}

// deleteKeys deletes objects with DeleteObjects requests of up to 1000 keys (quiet mode:
// S3 answers only with the keys it could not delete, which are added to failed).
func (f *FS) deleteKeys(ctx context.Context, objs []object, failed *DeleteError) error {
	for len(objs) > 0 {
		n := min(len(objs), maxDeleteKey)
		ids := make([]types.ObjectIdentifier, n)
		for i, o := range objs[:n] {
			ids[i] = types.ObjectIdentifier{Key: aws.String(o.key)}
		}
		res, err := call(ctx, f, func(ctx context.Context) (*s3.DeleteObjectsOutput, error) {
			return f.c.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: &f.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			})
		})
		if err != nil {
			return err
		}
		for _, e := range res.Errors {
			failed.add(KeyError{Key: aws.ToString(e.Key), Code: aws.ToString(e.Code), Message: aws.ToString(e.Message)})
		}
		objs = objs[n:]
	}
	return nil
}
