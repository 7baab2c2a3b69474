// Package s3test is a fake Amazon S3 server for tests, written from the public S3 REST API
// reference. It serves HTTP (or HTTPS, WithTLS) on loopback, keeps objects in memory, and
// is strict where S3 is strict:
//
//   - every request must be signed with Signature Version 4 by the server's key pair, in the
//     Authorization header or as a presigned URL (query parameters): an unknown key id is 403
//     InvalidAccessKeyId, a wrong secret 403 SignatureDoesNotMatch, a signature scoped to
//     another region 400 AuthorizationHeaderMalformed (AuthorizationQueryParametersError for
//     presigned URLs, as S3 answers), a clock more than 15 minutes off 403
//     RequestTimeTooSkewed, an expired presigned URL 403 AccessDenied, an x-amz-* header that
//     is not signed 403 AccessDenied; the STS token is checked when one is configured;
//   - payloads are checked: x-amz-content-sha256 (a hex digest, UNSIGNED-PAYLOAD, or
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER with aws-chunked bodies and trailing checksums),
//     Content-MD5 and x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256};
//   - errors are S3's XML documents (<Error><Code>NoSuchKey</Code>...) with
//     x-amz-request-id; HEAD errors have no body, as S3's;
//   - ETags are the quoted hex MD5 of the content, and "<MD5 of the part MD5s>-<parts>" for
//     multipart objects; parts other than the last must be at least MinPartSize (5 MiB,
//     WithMinPartSize for tests) and CompleteMultipartUpload checks the part list
//     (InvalidPartOrder, InvalidPart, EntityTooSmall); an upload created with a checksum
//     algorithm requires that checksum on every part and in the part list, and one created
//     without refuses part checksums (as S3 does);
//   - CopyObject refuses sources above 5 GiB (WithMaxCopySize for tests), so larger copies
//     must use UploadPartCopy;
//   - conditional requests: If-Match (412 PreconditionFailed), If-None-Match (304, or 412
//     on writes), If-(Un)Modified-Since and the x-amz-copy-source-if-* family; a single Range
//     (416 InvalidRange when unsatisfiable).
//
// Both path-style (http://127.0.0.1:port/bucket/key) and virtual-hosted-style
// (http://bucket.<Domain>:port/key) addressing are served; DialContext connects any host
// under Domain to the server.
//
// Implemented operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
// GetBucketLocation, GetBucketAcl, ListObjectsV2 and ListObjects (prefix, delimiter,
// max-keys, continuation-token, start-after, marker, encoding-type=url, fetch-owner),
// DeleteObjects (with per-key errors), PutObject, GetObject, HeadObject, DeleteObject,
// CopyObject, CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload,
// AbortMultipartUpload, ListMultipartUploads and ListParts. Other subresources answer 501
// NotImplemented.
//
// Faults (Server.Inject) make chosen requests fail with a status and code, wait, drop the
// connection, cut a response body short, or answer 200 with an error document.
package s3test

import (
	"github.com/unifiedfs/unifiedfs/internal/testpeer"

	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Default credentials, region and owner of a Server.
const (
	DefaultAccessKeyID     = "AKIAS3TESTFAKEKEY001"
	DefaultSecretAccessKey = "s3test/fake+secret/0123456789abcdefghijklmn"
	DefaultRegion          = "us-east-1"
	DefaultDomain          = "s3.unifiedfs.test"
	DefaultOwnerID         = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	DefaultOwnerName       = "s3test-owner"
)

// Limits S3 imposes.
const (
	MinPartSize    = 5 << 20 // smallest part other than the last
	MaxPartSize    = 5 << 30
	MaxCopySize    = 5 << 30 // largest CopyObject source
	MaxParts       = 10000
	maxClockSkew   = 15 * time.Minute
	maxPresignSecs = 7 * 24 * 3600
)

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the key pair requests must be signed with.
func WithCredentials(id, secret string) Option {
	return func(s *Server) { s.AccessKeyID, s.SecretAccessKey = id, secret }
}

// WithSessionToken makes the server require this STS session token (x-amz-security-token).
func WithSessionToken(token string) Option { return func(s *Server) { s.SessionToken = token } }

// WithRegion sets the region signatures must be scoped to.
func WithRegion(region string) Option { return func(s *Server) { s.Region = region } }

// WithClock sets the server's clock (signature freshness, Last-Modified, upload times).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithBuckets creates the named buckets at start.
func WithBuckets(names ...string) Option {
	return func(s *Server) { s.initial = append(s.initial, names...) }
}

// WithMinPartSize sets the smallest size of a multipart part other than the last, so that
// tests can use tiny parts. S3's is MinPartSize.
func WithMinPartSize(n int64) Option { return func(s *Server) { s.MinPartSize = n } }

// WithMaxCopySize sets the largest source CopyObject accepts (S3: MaxCopySize).
func WithMaxCopySize(n int64) Option { return func(s *Server) { s.MaxCopySize = n } }

// WithDomain sets the domain of virtual-hosted-style requests (bucket.<domain>).
func WithDomain(d string) Option { return func(s *Server) { s.Domain = d } }

// WithTLS serves HTTPS with a certificate for 127.0.0.1 (see CertPEM).
func WithTLS() Option { return func(s *Server) { s.tls = true } }

// Server is a running fake S3 endpoint. Its exported fields are read-only after NewServer.
type Server struct {
	URL             string // endpoint, "http://127.0.0.1:<port>" (https with WithTLS)
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // required on every request when not empty
	Region          string
	Domain          string // virtual-hosted-style requests are to <bucket>.<Domain>
	OwnerID         string // canonical id of the account owning every bucket
	OwnerName       string
	MinPartSize     int64
	MaxCopySize     int64

	srv     *httptest.Server
	tls     bool
	now     func() time.Time
	initial []string
	reqSeq  atomic.Uint64
	idSeq   atomic.Uint64

	mu      sync.Mutex
	buckets map[string]*bucket
	uploads map[string]*upload // by upload id
	faults  testpeer.Faults[Fault]
	counts  map[string]int
	stats   Stats
	dropped atomic.Int64 // Stats.Dropped
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
	// AuthFailures counts requests refused for their signature, key, token or time.
	AuthFailures int
}

// Grant is one entry of a bucket ACL: a grantee (a canonical user ID, or the URI of a
// group such as AllUsersGroup) and a permission (FULL_CONTROL, READ, WRITE, READ_ACP,
// WRITE_ACP).
type Grant struct {
	ID, URI    string
	Permission string
}

// Group grantee URIs.
const (
	AllUsersGroup           = "http://acs.amazonaws.com/groups/global/AllUsers"
	AuthenticatedUsersGroup = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
)

type bucket struct {
	name    string
	created time.Time
	objs    map[string]*object
	sorted  []string // sorted keys; nil when stale
	acl     []Grant
}

type object struct {
	data         []byte // never modified once stored
	etag         string // with quotes
	mtime        time.Time
	contentType  string
	meta         map[string]string
	sse          string
	checksumAlg  string // "CRC32", ... or ""
	checksum     string // base64, "-N" suffixed for composite checksums
	checksumType string // "FULL_OBJECT" or "COMPOSITE"
	parts        int    // parts of a multipart object; 0 for a single upload
}

// NewServer starts a fake S3 server; it is closed when the test ends (t may be nil: then
// call Close).
func NewServer(t testing.TB, opts ...Option) *Server {
	s := &Server{
		AccessKeyID:     DefaultAccessKeyID,
		SecretAccessKey: DefaultSecretAccessKey,
		Region:          DefaultRegion,
		Domain:          DefaultDomain,
		OwnerID:         DefaultOwnerID,
		OwnerName:       DefaultOwnerName,
		MinPartSize:     MinPartSize,
		MaxCopySize:     MaxCopySize,
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
	s.srv = httptest.NewUnstartedServer(s)
	if s.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.CloseClientConnections(); s.srv.Close() }

// Addr returns the listener's host:port.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// VirtualHostURL returns the endpoint for virtual-hosted-style requests:
// "http://<Domain>:<port>". Reaching it needs DialContext.
func (s *Server) VirtualHostURL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	_, port, _ := net.SplitHostPort(s.Addr())
	return scheme + "://" + s.Domain + ":" + port
}

// DialContext dials the server for any address whose host is Domain or below it, and
// dials other addresses normally. Use it as an http.Transport's DialContext to reach
// VirtualHostURL.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err == nil && (host == s.Domain || strings.HasSuffix(host, "."+s.Domain)) {
		addr = s.Addr()
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// CertPEM returns the PEM of the TLS certificate (WithTLS), for a CA bundle.
func (s *Server) CertPEM() []byte {
	if !s.tls {
		return nil
	}
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	return b.Bytes()
}

// CreateBucket creates an empty bucket owned by OwnerID with a FULL_CONTROL grant to the
// owner (no-op when it exists). Names follow S3's rules; an invalid name panics, being a
// test's mistake.
func (s *Server) CreateBucket(name string) {
	if !ValidBucketName(name) {
		panic(fmt.Sprintf("s3test: invalid bucket name %q", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createBucketLocked(name)
}

func (s *Server) createBucketLocked(name string) {
	if _, ok := s.buckets[name]; !ok {
		s.buckets[name] = &bucket{name: name, created: s.now().UTC(), objs: map[string]*object{},
			acl: []Grant{{ID: s.OwnerID, Permission: "FULL_CONTROL"}}}
	}
}

// SetBucketACL replaces a bucket's grants.
func (s *Server) SetBucketACL(bucketName string, grants ...Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBucket(bucketName).acl = append([]Grant(nil), grants...)
}

func (s *Server) mustBucket(name string) *bucket {
	b := s.buckets[name]
	if b == nil {
		panic("s3test: no bucket " + name)
	}
	return b
}

// PutObject stores an object directly (no request, no faults).
func (s *Server) PutObject(bucketName, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBucket(bucketName).put(key, &object{data: bytes.Clone(data), etag: quotedMD5(data),
		mtime: s.now().UTC(), contentType: "binary/octet-stream"})
}

// Object returns an object's content directly.
func (s *Server) Object(bucketName, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucketName]; b != nil {
		if o, ok := b.objs[key]; ok {
			return bytes.Clone(o.data), true
		}
	}
	return nil, false
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	ETag         string // with quotes
	Size         int64
	Parts        int    // 0 for a single upload
	SSE          string // x-amz-server-side-encryption it was stored with
	ChecksumAlg  string
	Checksum     string
	ChecksumType string
}

// Stat returns an object's description directly.
func (s *Server) Stat(bucketName, key string) (ObjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucketName]; b != nil {
		if o, ok := b.objs[key]; ok {
			return ObjectInfo{ETag: o.etag, Size: int64(len(o.data)), Parts: o.parts, SSE: o.sse,
				ChecksumAlg: o.checksumAlg, Checksum: o.checksum, ChecksumType: o.checksumType}, true
		}
	}
	return ObjectInfo{}, false
}

// Keys returns the bucket's keys, sorted.
func (s *Server) Keys(bucketName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucketName]; b != nil {
		return append([]string(nil), b.keys()...)
	}
	return nil
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	ID, Key   string
	Initiated time.Time
	Parts     int
}

// Uploads returns the multipart uploads in progress in the bucket, by key.
func (s *Server) Uploads(bucketName string) []UploadInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []UploadInfo
	for _, u := range s.uploads {
		if u.bucket == bucketName {
			out = append(out, UploadInfo{ID: u.id, Key: u.key, Initiated: u.initiated, Parts: len(u.parts)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Key < out[j].Key || out[i].Key == out[j].Key && out[i].ID < out[j].ID
	})
	return out
}

// StartUpload creates a multipart upload directly, as if initiated at the given time (for
// tests of stale-upload cleanup), and returns its id.
func (s *Server) StartUpload(bucketName, key string, initiated time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustBucket(bucketName)
	u := &upload{id: s.newUploadID(), bucket: bucketName, key: key, initiated: initiated.UTC(),
		contentType: "binary/octet-stream", parts: map[int]*part{}}
	s.uploads[u.id] = u
	return u.id
}

// Requests returns how many requests of the operation (e.g. "PutObject") the server has
// received, counting refused ones.
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

// ValidBucketName applies S3's bucket naming rules: 3-63 characters of a-z, 0-9, '.' and
// '-', beginning and ending with a letter or digit, no "..", not an IP address.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") || net.ParseIP(name) != nil {
		return false
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(name)-1 || c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// Options returns the s3:// mount options that reach this server (path-style, its key
// pair and region, a 1ms retry backoff for tests).
func (s *Server) Options() map[string]string {
	return map[string]string{
		"s3a.accessKeyId":                        s.AccessKeyID,
		"s3a.secretKey":                          s.SecretAccessKey,
		"alluxio.underfs.s3.endpoint":            s.URL,
		"alluxio.underfs.s3.endpoint.region":     s.Region,
		"alluxio.underfs.s3.disable.dns.buckets": "true",
		"alluxio.underfs.s3.retry.base.delay":    "1ms",
	}
}

// URI returns "s3://bucket/dir" (dir may be empty for the bucket root).
func (s *Server) URI(bucket, dir string) string {
	return "s3://" + bucket + "/" + strings.Trim(dir, "/")
}
