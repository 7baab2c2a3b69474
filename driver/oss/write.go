package oss

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"sync"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Create implements ufs.UFS. Data is buffered; a file that stays within
// fs.oss.multipart.threshold is sent by Close with one PutObject, a larger one becomes a
// multipart upload whose parts are sent in parallel while the caller writes.
func (f *FS) Create(ctx context.Context, c string, opts ufs.CreateOptions) (ufs.Writer, error) {
	w := &writer{f: f, ctx: ctx, clean: c, key: f.key(c), sem: make(chan struct{}, f.cfg.threads)}
	if opts.SizeKnown && opts.Size > 0 && opts.Size <= f.cfg.threshold {
		w.buf = make([]byte, 0, opts.Size)
	}
	return w, nil
}

// writer is an upload in progress; the guard calls Close or Abort once, and Abort after a
// failed Write.
type writer struct {
	f     *FS
	ctx   context.Context
	clean string
	key   string
	buf   []byte

	// Multipart state, set once the buffer outgrows the threshold.
	uploadID string
	started  time.Time // the server's Date when the upload was initiated
	partCtx  context.Context
	cancel   context.CancelFunc
	next     int32 // number of the next part
	sem      chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	parts    []sdk.UploadPart
	partErr  error

	size    int64      // bytes written
	written ufs.Status // after a successful Close
	ok      bool
}

// Written implements ufs.StatWriter: the ETag OSS returned is the content hash Stat
// reports.
func (w *writer) Written() (ufs.Status, bool) { return w.written, w.ok }

// record keeps what the upload stored, when OSS said.
func (w *writer) record(etag *string) {
	if etag != nil {
		w.written = fileStatus(ufs.Base(w.clean), w.size, nil, etag)
		w.ok = true
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.firstPartErr(); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	w.size += int64(len(p))
	if w.uploadID == "" && int64(len(w.buf)) > w.f.cfg.threshold {
		if err := w.initiate(); err != nil {
			return 0, err
		}
	}
	if w.uploadID != "" {
		if err := w.flushParts(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// initiate starts the multipart upload.
func (w *writer) initiate() error {
	res, err := call(w.ctx, w.f, func(ctx context.Context) (*sdk.InitiateMultipartUploadResult, error) {
		return w.f.client.InitiateMultipartUpload(ctx, &sdk.InitiateMultipartUploadRequest{
			Bucket: &w.f.bucket, Key: &w.key, DisableAutoDetectMimeType: true,
		})
	})
	if err != nil {
		return err
	}
	w.uploadID = sdk.ToString(res.UploadId)
	w.started = time.Now().Add(-time.Minute) // when the server does not say
	if t, err := http.ParseTime(res.Headers.Get("Date")); err == nil {
		w.started = t
	}
	w.partCtx, w.cancel = context.WithCancel(w.ctx)
	return nil
}

// flushParts sends every whole part in the buffer, and the rest too when last.
func (w *writer) flushParts(last bool) error {
	size := int(w.f.cfg.partSize)
	data := w.buf
	for len(data) >= size || last && len(data) > 0 {
		n := min(size, len(data))
		if err := w.sendPart(data[:n:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	// The sent parts keep the old array; the remainder moves to a new one.
	w.buf = append(make([]byte, 0, size), data...)
	return nil
}

// sendPart uploads one part in the background once a thread is free.
func (w *writer) sendPart(data []byte) error {
	if w.next >= maxParts {
		return fmt.Errorf("%w: file exceeds %d parts of %d bytes (raise %s)", fs.ErrInvalid, maxParts, w.f.cfg.partSize, keyPartSize)
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
		res, err := transfer(w.partCtx, w.f, func(ctx context.Context) (*sdk.UploadPartResult, error) {
			return w.f.client.UploadPart(ctx, &sdk.UploadPartRequest{
				Bucket: &w.f.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: num,
				Body: bytes.NewReader(data), ContentLength: sdk.Ptr(int64(len(data))),
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
		w.parts = append(w.parts, sdk.UploadPart{PartNumber: num, ETag: res.ETag})
	}()
	return nil
}

func (w *writer) firstPartErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.partErr
}

// fail discards the upload after err, the failure of Close.
func (w *writer) fail(err error) error {
	w.discard()
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
// why the upload failed) and bounded by unifiedfs.abort.timeout. An upload that is already
// gone is not an error.
func (f *FS) abortUpload(ctx context.Context, key, id string) error {
	actx, cancel := f.cleanupContext(ctx)
	defer cancel()
	_, err := call(actx, f, func(ctx context.Context) (*sdk.AbortMultipartUploadResult, error) {
		return f.client.AbortMultipartUpload(ctx, &sdk.AbortMultipartUploadRequest{
			Bucket: &f.bucket, Key: &key, UploadId: &id,
		})
	})
	if err != nil && !hasCode(err, "NoSuchUpload") {
		return err
	}
	return nil
}

// Close completes the upload: PutObject, or the last part and CompleteMultipartUpload.
func (w *writer) Close() error {
	if w.uploadID == "" {
		res, err := transfer(w.ctx, w.f, func(ctx context.Context) (*sdk.PutObjectResult, error) {
			return w.f.client.PutObject(ctx, &sdk.PutObjectRequest{
				Bucket: &w.f.bucket, Key: &w.key, Body: bytes.NewReader(w.buf),
				ContentLength: sdk.Ptr(int64(len(w.buf))),
			})
		})
		w.buf = nil
		if err != nil {
			return err
		}
		w.record(res.ETag)
		return nil
	}
	if err := w.flushParts(true); err != nil {
		return w.fail(err)
	}
	w.wg.Wait()
	if err := w.firstPartErr(); err != nil {
		return w.fail(err)
	}
	sort.Slice(w.parts, func(i, j int) bool { return w.parts[i].PartNumber < w.parts[j].PartNumber })
	res, err := call(w.ctx, w.f, func(ctx context.Context) (*sdk.CompleteMultipartUploadResult, error) {
		return w.f.client.CompleteMultipartUpload(ctx, &sdk.CompleteMultipartUploadRequest{
			Bucket: &w.f.bucket, Key: &w.key, UploadId: &w.uploadID,
			CompleteMultipartUpload: &sdk.CompleteMultipartUpload{Parts: w.parts},
		})
	})
	var etag *string
	switch {
	case err == nil:
		etag = res.ETag
	case hasCode(err, "NoSuchUpload") && retry.Retried(err):
		// An earlier attempt may have completed the upload and lost its answer.
		st, found, serr := w.f.statFile(w.ctx, w.clean)
		if serr != nil || !found || st.Size != w.size || st.ModTime.Before(w.started.Truncate(time.Second)) {
			return w.fail(err)
		}
		etag = &st.ContentHash
	default:
		return w.fail(err)
	}
	w.cancel()
	w.uploadID = ""
	w.record(etag)
	return nil
}

// Abort discards the upload; the multipart upload, if any, is aborted on the server.
func (w *writer) Abort() error { return w.discard() }
