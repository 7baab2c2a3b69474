// Package kodotest is a fake Qiniu Kodo service for tests, written from Qiniu's public API
// documentation and the requests of github.com/qiniu/go-sdk/v7.
//
// A Server runs five HTTP listeners, one per Kodo service: UC (bucket region query,
// /v4/query), RS (/stat, /delete, /move, /copy, /batch), RSF (/list), UP (form upload and
// resumable upload v2) and IO (downloads of private objects). It is strict where Kodo is:
// management calls need a valid "Qiniu " or "QBox " access token (a wrong secret key gets 401
// "bad token"), uploads need a valid upload token whose scope and deadline allow the key,
// downloads need a valid download token (the e and token query parameters) for the bucket's
// download domain, and errors come back with Kodo's status codes and JSON bodies ({"error":
// ...}). Every response carries an X-Reqid header, as the SDK requires.
//
// Use NewServer in a test, create buckets with CreateBucket, and mount with the options
// Options returns. Faults (a status for the Nth request of an API, latency) are injected with
// Inject.
package kodotest

import (
	"github.com/unifiedfs/unifiedfs/internal/testpeer"

	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default credentials of a Server.
const (
	DefaultAccessKey = "kodotest-access-key"
	DefaultSecretKey = "kodotest-secret-key"
)

// DomainSuffix ends the download domain of every bucket: bucket "b" is served as
// "b.kodotest.invalid" (a name that never resolves: the driver connects to the IO endpoint
// and names the domain in the Host header, as Alluxio's Kodo client does).
const DomainSuffix = ".kodotest.invalid"

type object struct {
	data    []byte
	hash    string
	md5     string
	mime    string
	putTime int64 // 100 ns units since the epoch
}

type bucket struct {
	name    string
	domain  string
	objects map[string]*object
}

// Server is a fake Kodo service. Its methods are safe for concurrent use.
type Server struct {
	accessKey string
	secretKey string

	uc, rs, rsf, up, io *httptest.Server

	mu       sync.Mutex
	buckets  map[string]*bucket
	domains  map[string]string // download domain -> bucket
	uploads  map[string]*upload
	faults   testpeer.Faults[Fault]
	calls    map[API]int
	partLog  map[string][]int64 // uploadId -> part numbers in order of completion
	lastDone []int64            // part order of the last completed multipart upload
	clock    func() time.Time
	lastPut  int64
	cacheDir string
}

// Option configures NewServer.
type Option func(*Server)

// WithKeys sets the access and secret key the server accepts.
func WithKeys(accessKey, secretKey string) Option {
	return func(s *Server) { s.accessKey, s.secretKey = accessKey, secretKey }
}

// WithBuckets creates buckets when the server starts.
func WithBuckets(names ...string) Option {
	return func(s *Server) {
		for _, n := range names {
			s.createBucket(n)
		}
	}
}

// WithClock sets the clock used for putTime and token deadlines.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// NewServer starts a fake Kodo service whose listeners are closed when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		accessKey: DefaultAccessKey,
		secretKey: DefaultSecretKey,
		buckets:   map[string]*bucket{},
		domains:   map[string]string{},
		uploads:   map[string]*upload{},
		calls:     map[API]int{},
		partLog:   map[string][]int64{},
		clock:     time.Now,
		cacheDir:  t.TempDir(),
	}
	for _, o := range opts {
		o(s)
	}
	s.uc = httptest.NewServer(http.HandlerFunc(s.serveUC))
	s.rs = httptest.NewServer(http.HandlerFunc(s.serveRS))
	s.rsf = httptest.NewServer(http.HandlerFunc(s.serveRSF))
	s.up = httptest.NewServer(http.HandlerFunc(s.serveUP))
	s.io = httptest.NewServer(http.HandlerFunc(s.serveIO))
	t.Cleanup(s.Close)
	return s
}

// Close shuts the listeners down.
func (s *Server) Close() {
	for _, h := range []*httptest.Server{s.uc, s.rs, s.rsf, s.up, s.io} {
		h.Close()
	}
}

// AccessKey returns the access key the server accepts.
func (s *Server) AccessKey() string { return s.accessKey }

// SecretKey returns the secret key the server accepts.
func (s *Server) SecretKey() string { return s.secretKey }

// Host addresses ("127.0.0.1:port") of each service.
func (s *Server) UCHost() string  { return hostOf(s.uc) }
func (s *Server) RSHost() string  { return hostOf(s.rs) }
func (s *Server) RSFHost() string { return hostOf(s.rsf) }
func (s *Server) UPHost() string  { return hostOf(s.up) }
func (s *Server) IOHost() string  { return hostOf(s.io) }

func hostOf(h *httptest.Server) string { return strings.TrimPrefix(h.URL, "http://") }

// CreateBucket creates an empty bucket (no-op when it exists) and returns its download
// domain.
func (s *Server) CreateBucket(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createBucket(name)
}

func (s *Server) createBucket(name string) string {
	if b, ok := s.buckets[name]; ok {
		return b.domain
	}
	b := &bucket{name: name, domain: name + DomainSuffix, objects: map[string]*object{}}
	s.buckets[name] = b
	s.domains[b.domain] = name
	return b.domain
}

// Domain returns the download domain of bucket.
func (s *Server) Domain(bucket string) string { return bucket + DomainSuffix }

// Options returns mount options for kodo://bucket/... that reach this server: the keys, the
// bucket's download domain, the IO listener as endpoint, the UC listener (the driver learns
// the RS, RSF and UP hosts from /v4/query), plain HTTP, short retry waits and a private SDK
// cache directory.
//
// Downloads ignore If-Match, If-None-Match and the other conditional headers: Kodo's
// download domains (often behind a CDN) do not promise them, and a client must not rely on
// them; each response carries the object's hash as its ETag.
func (s *Server) Options(bucket string) map[string]string {
	return map[string]string{
		"fs.kodo.accesskey":                 s.accessKey,
		"fs.kodo.secretkey":                 s.secretKey,
		"alluxio.underfs.kodo.downloadhost": s.Domain(bucket),
		"alluxio.underfs.kodo.endpoint":     s.IOHost(),
		"fs.kodo.uchost":                    s.UCHost(),
		"fs.kodo.usehttps":                  "false",
		"unifiedfs.retry.base.delay":        "2ms",
		"unifiedfs.retry.max.delay":         "20ms",
		"fs.kodo.cachedir":                  s.cacheDir,
	}
}

// Put stores an object out of band (no token, no fault, not counted).
func (s *Server) Put(bucketName, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createBucket(bucketName)
	s.buckets[bucketName].objects[key] = s.newObject(append([]byte(nil), data...), "")
}

// Get returns an object's content out of band.
func (s *Server) Get(bucketName, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil, false
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), o.data...), true
}

// Hash returns the Kodo hash of a stored object.
func (s *Server) Hash(bucketName, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[bucketName]; b != nil {
		if o, ok := b.objects[key]; ok {
			return o.hash, true
		}
	}
	return "", false
}

// Keys returns the sorted keys of a bucket.
func (s *Server) Keys(bucketName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil
	}
	return b.sortedKeys()
}

// Uploads returns the number of multipart uploads initiated and neither completed nor
// aborted.
func (s *Server) Uploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}

// LastPartOrder returns the part numbers of the last completed multipart upload in the
// order the server finished receiving them.
func (s *Server) LastPartOrder() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.lastDone...)
}

func (b *bucket) sortedKeys() []string {
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// newObject builds an object with a fresh, strictly increasing putTime; s.mu must be held.
func (s *Server) newObject(data []byte, mime string) *object {
	if mime == "" {
		mime = "application/octet-stream"
	}
	pt := s.clock().UnixNano() / 100
	if pt <= s.lastPut {
		pt = s.lastPut + 1
	}
	s.lastPut = pt
	return &object{data: data, hash: Etag(data), md5: md5Hex(data), mime: mime, putTime: pt}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
