package oss

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Rename implements ufs.UFS. It is not atomic: a file is copied (with
// x-oss-forbid-overwrite) and then deleted; a directory is renamed page by page, each page
// of keys copied in parallel (fs.oss.copy.threads) and deleted only once all its copies
// exist. A failure leaves the move half done but loses no data.
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
		if err := f.copyKey(ctx, f.key(s), f.key(d), st.Size, true); err != nil {
			return err
		}
		return f.deleteKey(ctx, f.key(s))
	}
	from, to := f.dirKey(s), f.dirKey(d)
	err = f.walkKeys(ctx, from, func(objs []sdk.ObjectProperties) error {
		err := f.parallel(ctx, len(objs), func(ctx context.Context, i int) error {
			k := sdk.ToString(objs[i].Key)
			return f.copyKey(ctx, k, to+k[len(from):], objs[i].Size, true)
		})
		if err != nil {
			return err
		}
		return f.deleteKeys(ctx, objs)
	})
	return err
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// copyKey copies one object of the given size: CopyObject up to fs.oss.copy.threshold,
// UploadPartCopy above it.
func (f *FS) copyKey(ctx context.Context, from, to string, size int64, noOverwrite bool) error {
	var forbid *string
	if noOverwrite {
		forbid = sdk.Ptr("true")
	}
	if size <= f.cfg.copyThreshold {
		_, err := call(ctx, f, func(ctx context.Context) (*sdk.CopyObjectResult, error) {
			return f.client.CopyObject(ctx, &sdk.CopyObjectRequest{
				Bucket: &f.bucket, Key: &to, SourceKey: &from, ForbidOverwrite: forbid,
			})
		})
		return err
	}
	init, err := call(ctx, f, func(ctx context.Context) (*sdk.InitiateMultipartUploadResult, error) {
		return f.client.InitiateMultipartUpload(ctx, &sdk.InitiateMultipartUploadRequest{
			Bucket: &f.bucket, Key: &to, ForbidOverwrite: forbid, DisableAutoDetectMimeType: true,
		})
	})
	if err != nil {
		return err
	}
	partSize := f.cfg.copyPartSize
	n := int((size + partSize - 1) / partSize)
	if n > maxParts {
		partSize = (size + maxParts - 1) / maxParts
		n = int((size + partSize - 1) / partSize)
	}
	parts := make([]sdk.UploadPart, n)
	err = f.parallel(ctx, n, func(ctx context.Context, i int) error {
		r := sdk.HTTPRange{Offset: int64(i) * partSize, Count: min(partSize, size-int64(i)*partSize)}
		res, err := call(ctx, f, func(ctx context.Context) (*sdk.UploadPartCopyResult, error) {
			return f.client.UploadPartCopy(ctx, &sdk.UploadPartCopyRequest{
				Bucket: &f.bucket, Key: &to, UploadId: init.UploadId, PartNumber: int32(i + 1),
				SourceKey: &from, Range: r.FormatHTTPRange(),
			})
		})
		if err != nil {
			return err
		}
		parts[i] = sdk.UploadPart{PartNumber: int32(i + 1), ETag: res.ETag}
		return nil
	})
	if err == nil {
		_, err = call(ctx, f, func(ctx context.Context) (*sdk.CompleteMultipartUploadResult, error) {
			return f.client.CompleteMultipartUpload(ctx, &sdk.CompleteMultipartUploadRequest{
				Bucket: &f.bucket, Key: &to, UploadId: init.UploadId, ForbidOverwrite: forbid,
				CompleteMultipartUpload: &sdk.CompleteMultipartUpload{Parts: parts},
			})
		})
	}
	if err != nil {
		_ = f.abortUpload(ctx, to, sdk.ToString(init.UploadId))
	}
	return err
}

// parallel runs fn(0..n-1) on up to fs.oss.copy.threads goroutines and returns the first
// error; the context given to fn is cancelled after an error.
func (f *FS) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(n, f.cfg.copyThreads) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
