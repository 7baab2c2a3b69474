package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// cleanupTimeout bounds the AbortMultipartUpload sent after a failure, which runs even
// when the caller's context has ended.
const cleanupTimeout = 30 * time.Second

// Create implements ufs.UFS. Data is buffered; a file of at most the part size is sent by
// Close with one PutObject, a larger one becomes a multipart upload whose parts are sent
// in parallel (UploadThreads) while the caller writes, each part checksummed (CRC32) when
// the SDK's checksums are on. A failed or aborted multipart upload is aborted on S3, and
// Close returns the error. With a known size that would need more than 10000 parts, the
// part size grows to fit.
func (f *FS) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	c, err := f.begin(ctx, "create", p)
	if err != nil {
		return nil, err
	}
	if c == ufs.Root {
		return nil, errRoot("create", p)
	}
	partSize := f.opts.PartSize
	if opts.SizeKnown && opts.Size > partSize*maxParts {
		partSize = min((opts.Size+maxParts-1)/maxParts, maxPartSize)
	}
	w := &writer{f: f, ctx: ctx, path: p, key: f.key(c), partSize: int(partSize),
		sem: make(chan struct{}, f.opts.UploadThreads)}
	if opts.SizeKnown && opts.Size > 0 {
		w.buf = make([]byte, 0, min(opts.Size, partSize))
	}
	return w, nil
}

type writer struct {
	f        *FS
	ctx      context.Context
	path     string
	key      string
	partSize int
	buf      []byte // at most partSize bytes

	// Multipart state, set once the data outgrows one part.
	uploadID string
	partCtx  context.Context
	cancel   context.CancelFunc
	next     int32 // number of the last part sent
	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	parts    []types.CompletedPart
	partErr  error

	done   bool
	failed error

	size    int64      // bytes written
	written ufs.Status // after a successful Close
	ok      bool
}

// Written implements ufs.StatWriter: the ETag S3 returned is the content hash Stat
// reports.
func (w *writer) Written() (ufs.Status, bool) { return w.written, w.ok }

func (w *writer) record(etag *string) {
	if etag != nil {
		w.written = w.f.fileStatus(ufs.Base(w.path), w.size, nil, etag)
		w.ok = true
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.path, Err: fs.ErrClosed}
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.fail("write", err)
	}
	if err := w.firstPartErr(); err != nil {
		return 0, w.fail("write", err)
	}
	n := len(p)
	for len(p) > 0 {
		if len(w.buf) == w.partSize {
			// A full part and more data: it is a multipart upload.
			if w.uploadID == "" {
				if err := w.initiate(); err != nil {
					return 0, w.fail("write", err)
				}
			}
			if err := w.sendPart(w.buf); err != nil {
				return 0, w.fail("write", err)
			}
			w.buf = make([]byte, 0, w.partSize)
		}
		take := min(w.partSize-len(w.buf), len(p))
		w.grow(take)
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
	}
	w.size += int64(n)
	return n, nil
}

// grow makes room for n more bytes, doubling up to the part size.
func (w *writer) grow(n int) {
	if cap(w.buf)-len(w.buf) >= n {
		return
	}
	c := max(2*cap(w.buf), len(w.buf)+n, 64<<10)
	nb := make([]byte, len(w.buf), min(c, w.partSize))
	copy(nb, w.buf)
	w.buf = nb
}

// initiate starts the multipart upload.
func (w *writer) initiate() error {
	res, err := w.f.c.s3.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
		Bucket: &w.f.bucket, Key: &w.key, ChecksumAlgorithm: w.f.checksum, ServerSideEncryption: w.f.sse,
	})
	if err != nil {
		return err
	}
	w.uploadID = aws.ToString(res.UploadId)
	w.partCtx, w.cancel = context.WithCancel(w.ctx)
	return nil
}

// sendPart uploads one part in the background once a thread is free.
func (w *writer) sendPart(data []byte) error {
	if w.next >= maxParts {
		return fmt.Errorf("%w: the file exceeds %d parts of %d bytes (raise %s, or give its size to Create)", fs.ErrInvalid, maxParts, w.partSize, OptPartSize)
	}
	w.next++
	num := w.next
	select {
	case w.sem <- struct{}{}:
	case <-w.partCtx.Done():
		if err := w.firstPartErr(); err != nil {
			return err
		}
		return w.partCtx.Err()
	}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.sem; w.wg.Done() }()
		res, err := w.f.c.s3.UploadPart(w.partCtx, &s3.UploadPartInput{
			Bucket: &w.f.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
			ChecksumAlgorithm: w.f.checksum,
		})
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.partErr == nil {
				w.partErr = err
				w.cancel()
			}
			return
		}
		w.parts = append(w.parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: res.ETag, ChecksumCRC32: res.ChecksumCRC32})
	}()
	return nil
}

func (w *writer) firstPartErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.partErr
}

// fail aborts the upload and records err (for op) as the writer's final error.
func (w *writer) fail(op string, err error) error {
	if aerr := w.discard(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	w.failed = pathErr(w.ctx, op, w.path, err)
	return w.failed
}

// discard stops part uploads and aborts the multipart upload, if any.
func (w *writer) discard() error {
	w.buf = nil
	if w.uploadID == "" {
		return nil
	}
	w.cancel()
	w.wg.Wait()
	err := w.f.abortUpload(w.ctx, w.key, w.uploadID)
	w.uploadID = ""
	return err
}

// abortUpload aborts a multipart upload with a context of its own (the caller's may have
// ended). A failure is logged: the upload is left to CleanUploads.
func (f *FS) abortUpload(ctx context.Context, key, id string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := f.c.s3.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &f.bucket, Key: &key, UploadId: &id})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		f.log.Warn("unifiedfs: s3: aborting a failed multipart upload failed; it stays until cleaned ("+OptUploadCleanAge+")",
			"bucket", f.bucket, "key", key, "upload", id, "err", err)
		return fmt.Errorf("aborting multipart upload %s: %w", id, err)
	}
	return nil
}

// Close completes the upload: PutObject, or the last part and CompleteMultipartUpload.
func (w *writer) Close() error {
	if w.done {
		return &fs.PathError{Op: "close", Path: w.path, Err: fs.ErrClosed}
	}
	w.done = true
	if w.failed != nil {
		return w.failed
	}
	if err := w.ctx.Err(); err != nil {
		return w.fail("close", err)
	}
	if w.uploadID == "" {
		res, err := w.f.c.s3.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket: &w.f.bucket, Key: &w.key, Body: bytes.NewReader(w.buf),
			ContentLength: aws.Int64(int64(len(w.buf))), ServerSideEncryption: w.f.sse,
		})
		w.buf = nil
		if err != nil {
			w.failed = pathErr(w.ctx, "close", w.path, err)
			return w.failed
		}
		w.record(res.ETag)
		return nil
	}
	if err := w.sendPart(w.buf); err != nil {
		return w.fail("close", err)
	}
	w.buf = nil
	w.wg.Wait()
	if err := w.firstPartErr(); err != nil {
		return w.fail("close", err)
	}
	sort.Slice(w.parts, func(i, j int) bool { return *w.parts[i].PartNumber < *w.parts[j].PartNumber })
	res, err := w.f.c.s3.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &w.f.bucket, Key: &w.key, UploadId: &w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return w.fail("close", err)
	}
	w.cancel()
	w.uploadID = ""
	w.record(res.ETag)
	return nil
}

// Abort discards the upload; the multipart upload, if any, is aborted on S3.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.failed != nil {
		return nil
	}
	if err := w.discard(); err != nil {
		return pathErr(w.ctx, "abort", w.path, err)
	}
	return nil
}
