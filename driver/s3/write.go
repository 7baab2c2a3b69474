package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Create implements ufs.UFS. Data is buffered; a file of at most the part size is sent by
// Close with one PutObject, a larger one becomes a multipart upload whose parts are sent
// in parallel (UploadThreads) while the caller writes, each part checksummed (CRC32) when
// the SDK's checksums are on. A failed or aborted multipart upload is aborted on S3, and
// Close returns the error. With a known size that would need more than 10000 parts, the
// part size grows to fit.
func (f *FS) Create(ctx context.Context, c string, opts ufs.CreateOptions) (ufs.Writer, error) {
	partSize := f.opts.PartSize
	if opts.SizeKnown && opts.Size > partSize*maxParts {
		partSize = min((opts.Size+maxParts-1)/maxParts, maxPartSize)
	}
	w := &writer{f: f, ctx: ctx, clean: c, key: f.key(c), partSize: int(partSize),
		sem: make(chan struct{}, f.opts.UploadThreads)}
	if opts.SizeKnown && opts.Size > 0 {
		w.buf = make([]byte, 0, min(opts.Size, partSize))
	}
	return w, nil
}

// writer is an upload in progress; the guard calls Close or Abort once, and Abort after a
// failed Write.
type writer struct {
	f        *FS
	ctx      context.Context
	clean    string
	key      string
	partSize int
	buf      []byte // at most partSize bytes

	// Multipart state, set once the data outgrows one part.
	upload   upload
	uploadID string
	partCtx  context.Context
	cancel   context.CancelFunc
	next     int32 // number of the last part sent
	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	parts    []types.CompletedPart
	partErr  error

	size    int64      // bytes written
	written ufs.Status // after a successful Close
	ok      bool
}

// Written implements ufs.StatWriter: the ETag S3 returned is the content hash Stat
// reports.
func (w *writer) Written() (ufs.Status, bool) { return w.written, w.ok }

func (w *writer) record(etag *string) {
	if etag != nil {
		w.written = w.f.fileStatus(ufs.Base(w.clean), w.size, nil, etag)
		w.ok = true
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.firstPartErr(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if len(w.buf) == w.partSize {
			// A full part and more data: it is a multipart upload.
			if w.uploadID == "" {
				if err := w.initiate(); err != nil {
					return 0, err
				}
			}
			if err := w.sendPart(w.buf); err != nil {
				return 0, err
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
	up, err := w.f.createUpload(w.ctx, w.key)
	if err != nil {
		return err
	}
	w.upload, w.uploadID = up, up.id
	w.partCtx, w.cancel = context.WithCancel(w.ctx)
	return nil
}

// upload is a multipart upload S3 created.
type upload struct {
	id      string
	started time.Time // before it was created
}

// createUpload starts a multipart upload of key. When an attempt's answer is lost, the
// upload it created stays behind, never visible, until CleanUploads.
func (f *FS) createUpload(ctx context.Context, key string) (upload, error) {
	started := time.Now()
	res, err := call(ctx, f, func(ctx context.Context) (*s3.CreateMultipartUploadOutput, error) {
		return f.c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: &f.bucket, Key: &key, ChecksumAlgorithm: f.checksum, ServerSideEncryption: f.sse,
		})
	})
	if err != nil {
		return upload{}, err
	}
	return upload{id: aws.ToString(res.UploadId), started: started}, nil
}

// completeUpload completes upload up of key from parts (size bytes in all) and returns
// the object's ETag. An attempt whose answer was lost may have completed it: when a retry
// then finds no such upload, the object at key is taken as this upload's if its ETag is
// the one S3 gives these parts (the MD5 of their MD5s), or, for stores whose part ETags
// are not MD5s, if it has the size and was written since the upload began.
func (f *FS) completeUpload(ctx context.Context, key string, up upload, parts []types.CompletedPart, size int64) (*string, error) {
	res, err := call(ctx, f, func(ctx context.Context) (*s3.CompleteMultipartUploadOutput, error) {
		return f.c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &f.bucket, Key: &key, UploadId: &up.id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	})
	if err == nil {
		return res.ETag, nil
	}
	if !hasCode(err, "NoSuchUpload") || !retry.Retried(err) {
		return nil, err
	}
	head, herr := call(ctx, f, func(ctx context.Context) (*s3.HeadObjectOutput, error) {
		return f.c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &key})
	})
	if herr != nil {
		return nil, err
	}
	got := trimETag(head.ETag)
	if want, ok := multipartETag(parts); ok {
		if got == want {
			return head.ETag, nil
		}
		return nil, err
	}
	if aws.ToInt64(head.ContentLength) == size && head.LastModified != nil && !head.LastModified.Before(up.started.Truncate(time.Second)) {
		return head.ETag, nil
	}
	return nil, err
}

// multipartETag returns the ETag S3 gives an object completed from parts: the hex MD5 of
// the parts' binary MD5s, "-", the number of parts. It reports false when a part's ETag
// is not an MD5.
func multipartETag(parts []types.CompletedPart) (string, bool) {
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(trimETag(p.ETag))
		if err != nil || len(sum) != md5.Size {
			return "", false
		}
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
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
		res, err := transfer(w.partCtx, w.f, func(ctx context.Context) (*s3.UploadPartOutput, error) {
			return w.f.c.s3.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: &w.f.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: aws.Int32(num),
				Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
				ChecksumAlgorithm: w.f.checksum,
			})
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

// fail discards the upload after err, the failure of Close; an abort that fails too is
// reported with it.
func (w *writer) fail(err error) error {
	if aerr := w.discard(); aerr != nil {
		err = errors.Join(err, aerr)
	}
	return err
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

// abortUpload aborts a multipart upload on a context detached from ctx (whose end may be
// why the upload failed) and bounded by unifiedfs.abort.timeout. A failure is logged: the
// upload is left to CleanUploads.
func (f *FS) abortUpload(ctx context.Context, key, id string) error {
	actx, cancel := f.cleanupContext(ctx)
	defer cancel()
	_, err := call(actx, f, func(ctx context.Context) (*s3.AbortMultipartUploadOutput, error) {
		return f.c.s3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &f.bucket, Key: &key, UploadId: &id})
	})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		f.log.Warn("unifiedfs: s3: aborting a failed multipart upload failed; it stays until cleaned ("+OptUploadCleanAge+")",
			"bucket", f.bucket, "key", key, "upload", id, "err", err)
		return fmt.Errorf("aborting multipart upload %s: %w", id, err)
	}
	return nil
}

// Close completes the upload: PutObject, or the last part and CompleteMultipartUpload.
func (w *writer) Close() error {
	if w.uploadID == "" {
		res, err := transfer(w.ctx, w.f, func(ctx context.Context) (*s3.PutObjectOutput, error) {
			return w.f.c.s3.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &w.f.bucket, Key: &w.key, Body: bytes.NewReader(w.buf),
				ContentLength: aws.Int64(int64(len(w.buf))), ServerSideEncryption: w.f.sse,
			})
		})
		w.buf = nil
		if err != nil {
			return err
		}
		w.record(res.ETag)
		return nil
	}
	if err := w.sendPart(w.buf); err != nil {
		return w.fail(err)
	}
	w.buf = nil
	w.wg.Wait()
	if err := w.firstPartErr(); err != nil {
		return w.fail(err)
	}
	sort.Slice(w.parts, func(i, j int) bool { return *w.parts[i].PartNumber < *w.parts[j].PartNumber })
	etag, err := w.f.completeUpload(w.ctx, w.key, w.upload, w.parts, w.size)
	if err != nil {
		return w.fail(err)
	}
	w.cancel()
	w.uploadID = ""
	w.record(etag)
	return nil
}

// Abort discards the upload; the multipart upload, if any, is aborted on S3.
func (w *writer) Abort() error { return w.discard() }
