// Package osstest is a fake Aliyun OSS server for tests, written from the public OSS REST
// API reference. It speaks path-style HTTP on loopback and is strict where OSS is strict:
//
//   - every request must carry a valid V4 (OSS4-HMAC-SHA256) or V1 (OSS) signature made with
//     the server's key pair (and its STS token when one is configured); a wrong secret is
//     403 SignatureDoesNotMatch, an unknown key id 403 InvalidAccessKeyId, a clock more than
//     15 minutes off 403 RequestTimeTooSkewed;
//   - errors are OSS's XML documents (<Error><Code>NoSuchKey</Code>...) with the
//     x-oss-request-id header, and HEAD errors carry the document base64-encoded in x-oss-err;
//   - ETags are the upper-case hex MD5 of the content in quotes, and "<MD5 of the part
//     MD5s>-<parts>" for multipart objects; every response that describes content carries
//     x-oss-hash-crc64ecma (CRC-64/ECMA-182 as Go's hash/crc64 ECMA table computes it);
//   - Content-MD5 is checked when sent; multipart parts other than the last must be at least
//     100 KiB and CompleteMultipartUpload checks the part list (order, ETags, sizes);
//   - GetObject ignores an unsatisfiable Range (returning the whole object) unless the
//     request sets x-oss-range-behavior: standard, as OSS does.
//
// Implemented operations: PutObject, GetObject, HeadObject, DeleteObject, CopyObject
// (x-oss-copy-source, x-oss-forbid-overwrite, x-oss-metadata-directive), ListObjectsV2
// (prefix, delimiter, max-keys, continuation-token, start-after, encoding-type=url,
// fetch-owner), DeleteMultipleObjects, GetBucketInfo, PutBucket, DeleteBucket, and the
// multipart family (InitiateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads, ListParts).
//
// GetObject and HeadObject honour If-Match (412 PreconditionFailed when the ETag differs,
// checked before the range) and If-None-Match (304).
//
// Faults (Server.Inject) make chosen requests fail with a status (and headers such as
// Retry-After), wait, drop the connection or cut a response body short; DenyDelete makes
// keys undeletable, so that single keys of a DeleteMultipleObjects fail.
package osstest

import (
	"github.com/unifiedfs/unifiedfs/internal/testpeer"

	"bytes"
	"fmt"
	"hash/crc64"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Default credentials and region of a Server.
const (
	DefaultAccessKeyID     = "LTAI5tFakeOssTestKeyID"
	DefaultAccessKeySecret = "fake-oss-test-secret-0123456789"
	DefaultRegion          = "cn-hangzhou"
)

// MinPartSize is the smallest size OSS accepts for a multipart part other than the last.
const MinPartSize = 100 * 1024

var crcTable = crc64.MakeTable(crc64.ECMA)

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the key pair requests must be signed with.
func WithCredentials(id, secret string) Option {
	return func(s *Server) { s.AccessKeyID, s.AccessKeySecret = id, secret }
}

// WithSecurityToken makes the server require this STS token (x-oss-security-token).
func WithSecurityToken(token string) Option { return func(s *Server) { s.SecurityToken = token } }

// WithRegion sets the region V4 signatures must be scoped to.
func WithRegion(region string) Option { return func(s *Server) { s.Region = region } }

// WithClock sets the server's clock (signature freshness checks and Last-Modified).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithBuckets creates the named buckets at start.
func WithBuckets(names ...string) Option {
	return func(s *Server) { s.initial = append(s.initial, names...) }
}

// Server is a running fake OSS endpoint. Its exported fields are read-only after NewServer.
type Server struct {
	URL             string // endpoint, "http://127.0.0.1:<port>"
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string // required on every request when not empty
	Region          string

	srv     *httptest.Server
	now     func() time.Time
	initial []string
	reqSeq  atomic.Uint64
	idSeq   atomic.Uint64

	mu      sync.Mutex
	buckets map[string]*bucket
	uploads map[string]*upload // by upload id
	faults  testpeer.Faults[Fault]
	denied  []*denial
	counts  map[string]int
	stats   Stats
	dropped atomic.Int64
}

// Stats counts notable events since the server started.
type Stats struct {
	// OutOfOrderParts counts UploadPart requests whose part number was lower than one
	// already received for the same upload.
	OutOfOrderParts int
	// CompletedMultipart counts successful CompleteMultipartUpload requests.
	CompletedMultipart int
	// AbortedMultipart counts successful AbortMultipartUpload requests.
	AbortedMultipart int
	// CopiedParts counts successful UploadPartCopy requests.
	CopiedParts int
	// Dropped counts connections closed by a Drop or TruncateBody fault.
	Dropped int
}

type bucket struct {
	name    string
	created time.Time
	objs    map[string]*object
	sorted  []string // sorted keys; nil when stale
}

type object struct {
	data        []byte
	etag        string // with quotes
	crc         uint64
	mtime       time.Time
	contentType string
	kind        string // "Normal" or "Multipart"
	meta        map[string]string
}

// NewServer starts a fake OSS server; it is closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	s := &Server{
		AccessKeyID:     DefaultAccessKeyID,
		AccessKeySecret: DefaultAccessKeySecret,
		Region:          DefaultRegion,
		now:             time.Now,
		buckets:         map[string]*bucket{},
		uploads:         map[string]*upload{},
		counts:          map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	for _, b := range s.initial {
		s.CreateBucket(b)
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.CloseClientConnections(); s.srv.Close() }

// Endpoint returns the endpoint's host:port (no scheme).
func (s *Server) Endpoint() string { return strings.TrimPrefix(s.URL, "http://") }

// CreateBucket creates an empty bucket (no-op when it exists). Names follow OSS's rules
// (3-63 characters of a-z, 0-9 and '-'); an invalid name panics, being a test's mistake.
func (s *Server) CreateBucket(name string) {
	if !validBucketName(name) {
		panic(fmt.Sprintf("osstest: invalid bucket name %q", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[name]; !ok {
		s.buckets[name] = &bucket{name: name, created: s.now().UTC(), objs: map[string]*object{}}
	}
}

// Options returns the mount options (fs.oss.* keys) that reach this server.
func (s *Server) Options() map[string]string {
	m := map[string]string{
		"fs.oss.endpoint":            s.URL,
		"fs.oss.accessKeyId":         s.AccessKeyID,
		"fs.oss.accessKeySecret":     s.AccessKeySecret,
		"fs.oss.region":              s.Region,
		"unifiedfs.retry.base.delay": "1ms",
		"unifiedfs.retry.max.delay":  "20ms",
	}
	if s.SecurityToken != "" {
		m["fs.oss.securityToken"] = s.SecurityToken
	}
	return m
}

// URI returns "oss://bucket/dir" (dir may be empty for the bucket root).
func (s *Server) URI(bucket, dir string) string {
	return "oss://" + bucket + "/" + strings.Trim(dir, "/")
}

// PutObject stores an object directly (no request, no faults).
func (s *Server) PutObject(bucketName, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		panic("osstest: no bucket " + bucketName)
	}
	b.put(key, newObject(bytes.Clone(data), s.now(), "application/octet-stream"))
}

// Object returns an object's content directly.
func (s *Server) Object(bucketName, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil, false
	}
	o, ok := b.objs[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(o.data), true
}

// ETag returns an object's ETag (with quotes) directly.
func (s *Server) ETag(bucketName, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucketName]; b != nil {
		if o, ok := b.objs[key]; ok {
			return o.etag, true
		}
	}
	return "", false
}

// Keys returns the bucket's keys, sorted.
func (s *Server) Keys(bucketName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil
	}
	return append([]string(nil), b.keys()...)
}

// Uploads returns the number of multipart uploads in progress in the bucket.
func (s *Server) Uploads(bucketName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, u := range s.uploads {
		if u.bucket == bucketName {
			n++
		}
	}
	return n
}

// Requests returns how many requests of the operation (e.g. "PutObject") the server has
// received, counting rejected ones.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// Stats returns a copy of the event counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Dropped = int(s.dropped.Load())
	return st
}

func newObject(data []byte, now time.Time, contentType string) *object {
	return &object{
		data:        data,
		etag:        quotedMD5(data),
		crc:         crc64.Checksum(data, crcTable),
		mtime:       now.UTC(),
		contentType: contentType,
		kind:        "Normal",
	}
}

func (b *bucket) put(key string, o *object) {
	if _, ok := b.objs[key]; !ok {
		b.sorted = nil
	}
	b.objs[key] = o
}

func (b *bucket) del(key string) {
	if _, ok := b.objs[key]; ok {
		delete(b.objs, key)
		b.sorted = nil
	}
}

func (b *bucket) keys() []string {
	if b.sorted == nil {
		b.sorted = make([]string, 0, len(b.objs))
		for k := range b.objs {
			b.sorted = append(b.sorted, k)
		}
		sort.Strings(b.sorted)
	}
	return b.sorted
}

func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
