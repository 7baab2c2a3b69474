package oss

import (
	"context"
	"fmt"
	"io/fs"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Mkdir implements ufs.UFS by writing the marker object "path/" (with
// x-oss-forbid-overwrite, so an existing marker keeps its time). Parents are implied.
func (f *FS) Mkdir(ctx context.Context, c string) error {
	if c == ufs.Root {
		return nil
	}
	_, err := call(ctx, f, func(ctx context.Context) (*sdk.PutObjectResult, error) {
		return f.client.PutObject(ctx, &sdk.PutObjectRequest{
			Bucket: &f.bucket, Key: sdk.Ptr(f.dirKey(c)), ForbidOverwrite: sdk.Ptr("true"),
			ContentLength: sdk.Ptr(int64(0)),
		})
	})
	if err != nil && !hasCode(err, "FileAlreadyExists") {
		return err
	}
	return nil
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
	res, err := call(ctx, f, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) {
		return f.client.ListObjectsV2(ctx, &sdk.ListObjectsV2Request{
			Bucket: &f.bucket, Prefix: &marker, MaxKeys: 2,
		})
	})
	if err != nil {
		return err
	}
	switch {
	case len(res.Contents) == 0:
		return fs.ErrNotExist
	case len(res.Contents) > 1 || sdk.ToString(res.Contents[0].Key) != marker:
		return ufs.ErrNotEmpty
	}
	return f.deleteKey(ctx, marker)
}

func (f *FS) deleteKey(ctx context.Context, key string) error {
	_, err := call(ctx, f, func(ctx context.Context) (*sdk.DeleteObjectResult, error) {
		return f.client.DeleteObject(ctx, &sdk.DeleteObjectRequest{Bucket: &f.bucket, Key: &key})
	})
	return err
}

// RemoveAll implements ufs.UFS: the file at path, then every key below "path/" in
// DeleteObjects batches of up to 1000 keys.
func (f *FS) RemoveAll(ctx context.Context, c string) error {
	if err := f.deleteKey(ctx, f.key(c)); err != nil {
		return err
	}
	return f.walkKeys(ctx, f.dirKey(c), func(objs []sdk.ObjectProperties) error {
		return f.deleteKeys(ctx, objs)
	})
}

// walkKeys calls fn with every page of keys below prefix (no delimiter), in key order.
// Pages continue by position, so fn may delete the keys it is given.
func (f *FS) walkKeys(ctx context.Context, prefix string, fn func([]sdk.ObjectProperties) error) error {
	var token *string
	for {
		res, err := call(ctx, f, func(ctx context.Context) (*sdk.ListObjectsV2Result, error) {
			return f.client.ListObjectsV2(ctx, &sdk.ListObjectsV2Request{
				Bucket: &f.bucket, Prefix: &prefix, MaxKeys: maxListKeys, ContinuationToken: token,
			})
		})
		if err != nil {
			return err
		}
		if len(res.Contents) > 0 {
			if err := fn(res.Contents); err != nil {
				return err
			}
		}
		if !res.IsTruncated || res.NextContinuationToken == nil {
			return nil
		}
		token = res.NextContinuationToken
	}
}

// deleteKeys deletes objs with DeleteMultipleObjects requests of up to maxDeleteKey keys.
// The verbose answer lists the keys OSS deleted (quiet mode says nothing at all); a key it
// left out was not deleted, so it is deleted alone, which reports why it fails. The first
// such failure is returned, naming its key.
func (f *FS) deleteKeys(ctx context.Context, objs []sdk.ObjectProperties) error {
	for len(objs) > 0 {
		n := min(len(objs), maxDeleteKey)
		del := make([]sdk.DeleteObject, n)
		for i, o := range objs[:n] {
			del[i] = sdk.DeleteObject{Key: o.Key}
		}
		res, err := call(ctx, f, func(ctx context.Context) (*sdk.DeleteMultipleObjectsResult, error) {
			return f.client.DeleteMultipleObjects(ctx, &sdk.DeleteMultipleObjectsRequest{
				Bucket: &f.bucket, Objects: del,
			})
		})
		if err != nil {
			return err
		}
		deleted := make(map[string]bool, len(res.DeletedObjects))
		for _, d := range res.DeletedObjects {
			deleted[sdk.ToString(d.Key)] = true
		}
		for _, d := range del {
			key := sdk.ToString(d.Key)
			if deleted[key] {
				continue
			}
			if err := f.deleteKey(ctx, key); err != nil {
				return &keyError{key: key, err: err}
			}
		}
		objs = objs[n:]
	}
	return nil
}

// keyError is the failure of one key of a batch.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return fmt.Sprintf("key %q not deleted: %v", e.key, e.err) }
func (e *keyError) Unwrap() error { return e.err }
