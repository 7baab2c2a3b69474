package kodo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/qiniu/go-sdk/v7/storagev2/apis"
	complete "github.com/qiniu/go-sdk/v7/storagev2/apis/resumable_upload_v2_complete_multipart_upload"
	httpclient "github.com/qiniu/go-sdk/v7/storagev2/http_client"
	"github.com/qiniu/go-sdk/v7/storagev2/uptoken"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// Create implements ufs.UFS. Up to fs.kodo.upload.threshold bytes are buffered and sent by
// one form upload at Close; beyond it a resumable upload v2 starts and parts of
// fs.kodo.upload.partsize bytes are uploaded in parallel while Write continues (at most
// alluxio.underfs.kodo.requests.max at once, so memory stays bounded). The object appears
// only when Close succeeds; a failure aborts the upload and Close reports it.
func (f *FS) Create(ctx context.Context, c string, opts ufs.CreateOptions) (ufs.Writer, error) {
	w := &writer{f: f, ctx: ctx, clean: c, key: f.key(c), partSize: f.cfg.partSize}
	if opts.SizeKnown && opts.Size > 0 && opts.Size <= f.cfg.threshold {
		w.buf = make([]byte, 0, opts.Size)
	}
	if opts.SizeKnown && opts.Size > w.partSize*maxParts {
		// Grow the parts (in whole MiB) so the file fits in Kodo's 10000 parts.
		need := (opts.Size + maxParts - 1) / maxParts
		w.partSize = min((need+minPartSize-1)/minPartSize*minPartSize, maxPartSize)
	}
	return w, nil
}

// upToken returns an upload token allowing key to be written (and overwritten).
func (f *FS) upToken(key string) (uptoken.Provider, error) {
	policy, err := uptoken.NewPutPolicyWithKey(f.bucket, key, time.Now().Add(f.cfg.tokenTTL))
	if err != nil {
		return nil, err
	}
	return uptoken.NewSigner(policy, f.c.creds), nil
}

// formUpload uploads data to key in one request and returns the stored object's hash.
func (f *FS) formUpload(ctx context.Context, key string, data []byte) (string, error) {
	tok, err := f.upToken(key)
	if err != nil {
		return "", err
	}
	var ret struct {
		Hash string `json:"hash"`
		Key  string `json:"key"`
	}
	crc := int64(crc32.ChecksumIEEE(data))
	_, err = transfer(ctx, f, func(ctx context.Context) (*apis.PostObjectResponse, error) {
		return f.c.storage.PostObject(ctx, &apis.PostObjectRequest{
			ObjectName:  &key,
			UploadToken: tok,
			Crc32:       crc,
			File: httpclient.MultipartFormBinaryData{
				Data:        nopCloser{bytes.NewReader(data)},
				Name:        "data",
				ContentType: "application/octet-stream",
			},
			ResponseBody: &ret,
		}, nil)
	})
	return ret.Hash, err
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// writer is an upload in progress. Write and Close are called by one goroutine; the part
// uploads it starts report through mp. The guard calls Close or Abort once, and Abort after
// a failed Write.
type writer struct {
	f     *FS
	ctx   context.Context
	clean string
	key   string

	partSize int64
	buf      []byte
	mp       *multipart

	size    int64      // bytes written
	written ufs.Status // after a successful Close
	ok      bool
}

// Written implements ufs.StatWriter: Kodo's upload response carries the object's hash.
func (w *writer) Written() (ufs.Status, bool) { return w.written, w.ok }

func (w *writer) record(hash string) {
	if hash != "" {
		w.written, w.ok = ufs.Status{Name: ufs.Base(w.clean), Size: w.size, ContentHash: hash}, true
	}
}

// multipart is a resumable upload v2 in progress.
type multipart struct {
	id      string
	started time.Time // local clock when the upload was initiated
	token   uptoken.Provider
	ctx     context.Context // cancelled when the upload fails or is aborted
	cancel  context.CancelFunc
	next    int64
	sem     chan struct{}
	wg      sync.WaitGroup

	mu    sync.Mutex
	parts []complete.PartInfo
	err   error
}

func (w *writer) Write(p []byte) (int, error) {
	n := len(p)
	w.size += int64(n)
	cfg := w.f.cfg
	for len(p) > 0 {
		if w.mp == nil && int64(len(w.buf)+len(p)) <= cfg.threshold {
			w.buf = append(w.buf, p...)
			break
		}
		if w.mp == nil {
			if err := w.start(); err != nil {
				return 0, err
			}
		}
		k := min(len(p), int(w.partSize)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if int64(len(w.buf)) == w.partSize {
			if err := w.dispatch(w.buf); err != nil {
				return 0, err
			}
			w.buf = make([]byte, 0, w.partSize)
		}
	}
	return n, nil
}

// start initiates the resumable upload and queues the buffered bytes as parts.
func (w *writer) start() error {
	f := w.f
	tok, err := f.upToken(w.key)
	if err != nil {
		return err
	}
	resp, err := call(w.ctx, f, func(ctx context.Context) (*apis.ResumableUploadV2InitiateMultipartUploadResponse, error) {
		return f.c.storage.ResumableUploadV2InitiateMultipartUpload(ctx, &apis.ResumableUploadV2InitiateMultipartUploadRequest{
			BucketName: f.bucket, ObjectName: &w.key, UpToken: tok,
		}, nil)
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.mp = &multipart{id: resp.UploadId, started: time.Now(), token: tok, ctx: ctx, cancel: cancel, next: 1, sem: make(chan struct{}, f.cfg.concurrency)}
	ps := int(w.partSize)
	for len(w.buf) >= ps {
		if err := w.dispatch(w.buf[:ps:ps]); err != nil {
			return err
		}
		w.buf = w.buf[ps:]
	}
	w.buf = append(make([]byte, 0, ps), w.buf...)
	return nil
}

// dispatch uploads data as the next part in the background, waiting while too many parts
// are in flight. data must not be modified afterwards.
func (w *writer) dispatch(data []byte) error {
	mp := w.mp
	if mp.next > maxParts {
		return fmt.Errorf("%w: more than %d parts: raise %s", fs.ErrInvalid, maxParts, OptPartSize)
	}
	select {
	case mp.sem <- struct{}{}:
	case <-mp.ctx.Done():
		return w.partErr()
	}
	if err := w.partErr(); err != nil {
		<-mp.sem
		return err
	}
	num := mp.next
	mp.next++
	mp.wg.Add(1)
	go func() {
		defer mp.wg.Done()
		defer func() { <-mp.sem }()
		sum := md5.Sum(data)
		resp, err := transfer(mp.ctx, w.f, func(ctx context.Context) (*apis.ResumableUploadV2UploadPartResponse, error) {
			return w.f.c.storage.ResumableUploadV2UploadPart(ctx, &apis.ResumableUploadV2UploadPartRequest{
				BucketName: w.f.bucket, ObjectName: &w.key, UploadId: mp.id, PartNumber: num,
				Md5: hex.EncodeToString(sum[:]), UpToken: mp.token, Body: nopCloser{bytes.NewReader(data)},
			}, nil)
		})
		mp.mu.Lock()
		defer mp.mu.Unlock()
		if err != nil {
			if mp.err == nil {
				mp.err = fmt.Errorf("part %d: %w", num, err)
				mp.cancel()
			}
			return
		}
		mp.parts = append(mp.parts, complete.PartInfo{PartNumber: num, Etag: resp.Etag})
	}()
	return nil
}

// partErr returns the first part failure, or the context's error once it is done.
func (w *writer) partErr() error {
	mp := w.mp
	mp.mu.Lock()
	err := mp.err
	mp.mu.Unlock()
	if err == nil && mp.ctx.Err() != nil {
		err = w.ctx.Err()
		if w.ctx.Err() == nil {
			err = mp.ctx.Err()
		}
	}
	return err
}

// discard cancels part uploads and aborts the resumable upload, if any.
func (w *writer) discard() {
	mp := w.mp
	if mp == nil {
		return
	}
	mp.cancel()
	mp.wg.Wait()
	ctx, cancel := w.f.cleanupContext(w.ctx)
	defer cancel()
	_, _ = call(ctx, w.f, func(ctx context.Context) (*apis.ResumableUploadV2AbortMultipartUploadResponse, error) {
		return w.f.c.storage.ResumableUploadV2AbortMultipartUpload(ctx, &apis.ResumableUploadV2AbortMultipartUploadRequest{
			BucketName: w.f.bucket, ObjectName: &w.key, UploadId: mp.id, UpToken: mp.token,
		}, nil)
	})
}

func (w *writer) Close() error {
	if w.mp == nil {
		hash, err := w.f.formUpload(w.ctx, w.key, w.buf)
		if err != nil {
			return err
		}
		w.record(hash)
		return nil
	}
	mp := w.mp
	if len(w.buf) > 0 {
		if err := w.dispatch(w.buf); err != nil {
			w.discard()
			return err
		}
		w.buf = nil
	}
	mp.wg.Wait()
	if err := w.partErr(); err != nil {
		w.discard()
		return err
	}
	sort.Slice(mp.parts, func(i, j int) bool { return mp.parts[i].PartNumber < mp.parts[j].PartNumber })
	var ret struct {
		Hash string `json:"hash"`
		Key  string `json:"key"`
	}
	_, err := call(w.ctx, w.f, func(ctx context.Context) (*apis.ResumableUploadV2CompleteMultipartUploadResponse, error) {
		return w.f.c.storage.ResumableUploadV2CompleteMultipartUpload(ctx, &apis.ResumableUploadV2CompleteMultipartUploadRequest{
			BucketName: w.f.bucket, ObjectName: &w.key, UploadId: mp.id, UpToken: mp.token,
			Parts: mp.parts, ResponseBody: &ret,
		}, nil)
	})
	if err != nil && isCode(err, codeNoSuchFile) && retry.Retried(err) {
		// An earlier attempt may have completed the upload and lost its answer: the
		// object is there with our size, stored after the upload began (a minute of
		// slack for the clocks; Kodo's answers carry no time the SDK exposes).
		if st, serr := w.f.stat(w.ctx, w.clean); serr == nil && !st.IsDir && st.Size == w.size &&
			!st.ModTime.Before(mp.started.Add(-time.Minute)) {
			ret.Hash, err = st.ContentHash, nil
		}
	}
	if err != nil {
		w.discard()
		return err
	}
	mp.cancel()
	w.record(ret.Hash)
	return nil
}

func (w *writer) Abort() error {
	w.discard()
	w.buf = nil
	return nil
}
