package s3test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string // x-amz-request-id
	op     string
	bucket string
	key    string
	vhost  bool // virtual-hosted-style
	query  url.Values
	body   []byte // the decoded payload, checked against its digests
	// checksum is the x-amz-checksum-* the payload carried (header or trailer), verified.
	checksumAlg, checksum string
}

type handlerFunc func(s *Server, c *call) *s3Error

var handlers = map[string]handlerFunc{
	"ListBuckets":             (*Server).listBuckets,
	"CreateBucket":            (*Server).createBucket,
	"DeleteBucket":            (*Server).deleteBucket,
	"HeadBucket":              (*Server).headBucket,
	"GetBucketLocation":       (*Server).getBucketLocation,
	"GetBucketAcl":            (*Server).getBucketACL,
	"ListObjectsV2":           (*Server).listObjectsV2,
	"ListObjects":             (*Server).listObjectsV1,
	"DeleteObjects":           (*Server).deleteObjects,
	"PutObject":               (*Server).putObject,
	"GetObject":               (*Server).getObject,
	"HeadObject":              (*Server).headObject,
	"DeleteObject":            (*Server).deleteObject,
	"CopyObject":              (*Server).copyObject,
	"CreateMultipartUpload":   (*Server).createMultipart,
	"UploadPart":              (*Server).uploadPart,
	"UploadPartCopy":          (*Server).uploadPartCopy,
	"CompleteMultipartUpload": (*Server).completeMultipart,
	"AbortMultipartUpload":    (*Server).abortMultipart,
	"ListMultipartUploads":    (*Server).listMultipartUploads,
	"ListParts":               (*Server).listParts,
}

// unimplemented are subresources S3 has and this server does not serve.
var unimplemented = []string{"tagging", "versioning", "versions", "lifecycle", "policy", "cors",
	"website", "restore", "select", "attributes", "retention", "legal-hold", "torrent",
	"object-lock", "replication", "encryption", "notification", "logging", "accelerate",
	"requestPayment", "analytics", "metrics", "inventory", "intelligent-tiering",
	"ownershipControls", "publicAccessBlock", "policyStatus", "renameObject"}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, id: s.requestID(), query: r.URL.Query()}
	h := w.Header()
	h.Set("x-amz-request-id", c.id)
	h.Set("x-amz-id-2", hostID(c.id))
	h.Set("Server", "AmazonS3")
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	c.bucket, c.key, c.vhost = s.address(r)
	c.op = classify(r.Method, c.bucket, c.key, c.query, r.Header)

	s.mu.Lock()
	s.counts[c.op]++
	s.mu.Unlock()

	if done, e := s.applyFaults(c); done {
		return
	} else if e != nil {
		s.writeError(c, e)
		return
	}
	payloadHash, e := s.authenticate(c)
	if e != nil {
		s.writeError(c, e)
		return
	}
	if e := readBody(c, payloadHash); e != nil {
		s.writeError(c, e)
		return
	}
	for _, sub := range unimplemented {
		if _, ok := c.query[sub]; ok {
			s.writeError(c, errNotImplemented("?"+sub))
			return
		}
	}
	fn := handlers[c.op]
	if fn == nil {
		s.writeError(c, errNotImplemented(r.Method+" "+r.URL.Path))
		return
	}
	if c.bucket != "" && c.op != "CreateBucket" {
		s.mu.Lock()
		_, ok := s.buckets[c.bucket]
		s.mu.Unlock()
		if !ok {
			s.writeError(c, errNoSuchBucket(c.bucket))
			return
		}
	}
	if len(c.key) > 1024 {
		s.writeError(c, newErr(400, "KeyTooLongError", "Your key is too long", "Size", strconv.Itoa(len(c.key)), "MaxSizeAllowed", "1024"))
		return
	}
	if e := fn(s, c); e != nil {
		s.writeError(c, e)
	}
}

func (s *Server) requestID() string {
	return fmt.Sprintf("%08X%08X", uint32(s.now().Unix()), s.reqSeq.Add(1))
}

func hostID(reqID string) string {
	sum := md5.Sum([]byte(reqID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newUploadID returns a new upload id. Ids sort in creation order (a zero-padded
// sequence number first), so that listing by (key, id) lists each key's uploads oldest
// first, as S3 does.
func (s *Server) newUploadID() string {
	n := s.idSeq.Add(1)
	sum := md5.Sum([]byte(fmt.Sprintf("upload-%d-%d", s.now().UnixNano(), n)))
	return fmt.Sprintf("%010d.", n) + base64.RawURLEncoding.EncodeToString(sum[:])
}

// address splits a request into bucket and key: virtual-hosted-style when the host is
// <bucket>.<Domain>, else path-style (/bucket/key).
func (s *Server) address(r *http.Request) (bucket, key string, vhost bool) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if b, ok := strings.CutSuffix(strings.ToLower(host), "."+s.Domain); ok && b != "" {
		return b, p, true
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key, false
}

// classify names the S3 operation a request is.
func classify(method, bucket, key string, q url.Values, h http.Header) string {
	has := func(k string) bool { _, ok := q[k]; return ok }
	if bucket == "" {
		if method == http.MethodGet {
			return "ListBuckets"
		}
		return "Service" + method
	}
	if key == "" {
		switch method {
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodGet:
			switch {
			case has("acl"):
				return "GetBucketAcl"
			case has("location"):
				return "GetBucketLocation"
			case has("uploads"):
				return "ListMultipartUploads"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			}
			return "ListObjects"
		case http.MethodPut:
			if len(q) == 0 || len(q) == 1 && has("x-id") {
				return "CreateBucket"
			}
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
		return "Bucket" + method
	}
	copySrc := h.Get("x-amz-copy-source") != ""
	switch method {
	case http.MethodPut:
		switch {
		case has("uploadId") && copySrc:
			return "UploadPartCopy"
		case has("uploadId"):
			return "UploadPart"
		case copySrc:
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodGet:
		if has("uploadId") {
			return "ListParts"
		}
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodDelete:
		if has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	case http.MethodPost:
		if has("uploads") {
			return "CreateMultipartUpload"
		}
		if has("uploadId") {
			return "CompleteMultipartUpload"
		}
	}
	return "Object" + method
}

// writeXML writes a 200 response with v as its XML body.
func writeXML(c *call, v any) *s3Error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xml.NewEncoder(&b).Encode(v); err != nil {
		return newErr(500, "InternalError", err.Error())
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b.Bytes())
	return nil
}

const s3NS = "http://s3.amazonaws.com/doc/2006-03-01/"

// encodeKey applies encoding-type=url to a key or prefix in a response: S3 form-encodes
// (a space is "+", a '+' is "%2B") and leaves '/' alone.
func encodeKey(c *call, s string) string {
	if c.query.Get("encoding-type") != "url" {
		return s
	}
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

// checkEncodingType rejects an encoding-type other than "url".
func checkEncodingType(c *call) *s3Error {
	if v, ok := c.query["encoding-type"]; ok && (len(v) != 1 || v[0] != "url") {
		return errInvalidArgument("Invalid Encoding Method specified in Request", "encoding-type", strings.Join(v, ","))
	}
	return nil
}

var unreserved [256]bool

func init() {
	for i := range unreserved {
		unreserved[i] = i >= 'A' && i <= 'Z' || i >= 'a' && i <= 'z' || i >= '0' && i <= '9' ||
			i == '-' || i == '.' || i == '_' || i == '~'
	}
}

// uriEncode percent-encodes every byte but the unreserved ones (and '/' unless
// encodeSlash), as SigV4's canonical form does.
func uriEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if unreserved[ch] || ch == '/' && !encodeSlash {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func quotedMD5(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// isoMillis is the time format of S3's XML documents.
const isoMillis = "2006-01-02T15:04:05.000Z"
