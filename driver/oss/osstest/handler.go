package osstest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	id     string // x-oss-request-id
	op     string
	bucket string
	key    string
	query  url.Values
}

type handlerFunc func(s *Server, c *call) *ossError

var handlers = map[string]handlerFunc{
	"PutBucket":               (*Server).putBucket,
	"DeleteBucket":            (*Server).deleteBucket,
	"GetBucketInfo":           (*Server).getBucketInfo,
	"ListObjectsV2":           (*Server).listObjectsV2,
	"DeleteMultipleObjects":   (*Server).deleteMultipleObjects,
	"PutObject":               (*Server).putObject,
	"GetObject":               (*Server).getObject,
	"HeadObject":              (*Server).headObject,
	"DeleteObject":            (*Server).deleteObject,
	"CopyObject":              (*Server).copyObject,
	"InitiateMultipartUpload": (*Server).initiateMultipart,
	"UploadPart":              (*Server).uploadPart,
	"UploadPartCopy":          (*Server).uploadPartCopy,
	"CompleteMultipartUpload": (*Server).completeMultipart,
	"AbortMultipartUpload":    (*Server).abortMultipart,
	"ListMultipartUploads":    (*Server).listMultipartUploads,
	"ListParts":               (*Server).listParts,
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, id: s.requestID(), query: r.URL.Query()}
	h := w.Header()
	h.Set("x-oss-request-id", c.id)
	h.Set("Server", "AliyunOSS")
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	c.bucket, c.key = splitPath(r.URL.Path)
	c.op = classify(r.Method, c.bucket, c.key, c.query, r.Header)

	s.mu.Lock()
	s.counts[c.op]++
	s.mu.Unlock()

	if done, e := s.applyFaults(c); done {
		return
	} else if e != nil {
		s.writeError(w, r, c.id, e)
		return
	}
	if e := s.authenticate(c); e != nil {
		s.writeError(w, r, c.id, e)
		return
	}
	fn := handlers[c.op]
	if fn == nil {
		s.writeError(w, r, c.id, newErr(http.StatusNotImplemented, "NotImplemented",
			fmt.Sprintf("osstest does not implement %s %s", r.Method, r.URL.RequestURI())))
		return
	}
	if c.op != "PutBucket" {
		s.mu.Lock()
		_, ok := s.buckets[c.bucket]
		s.mu.Unlock()
		if !ok {
			s.writeError(w, r, c.id, errNoSuchBucket(c.bucket))
			return
		}
	}
	if c.key != "" {
		if e := checkKey(c.key); e != nil {
			s.writeError(w, r, c.id, e)
			return
		}
	}
	if e := fn(s, c); e != nil {
		s.writeError(w, r, c.id, e)
	}
}

func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("%08X%016X", uint32(s.now().Unix()), n)
}

func (s *Server) newUploadID() string {
	n := s.idSeq.Add(1)
	sum := md5.Sum([]byte(fmt.Sprintf("%d-%d", s.now().UnixNano(), n)))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// splitPath splits a path-style request path into bucket and key.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// classify names the OSS operation a request is.
func classify(method, bucket, key string, q url.Values, h http.Header) string {
	has := func(k string) bool { _, ok := q[k]; return ok }
	if bucket == "" {
		return "Service" + method
	}
	if key == "" {
		switch method {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case has("bucketInfo"):
				return "GetBucketInfo"
			case has("uploads"):
				return "ListMultipartUploads"
			}
			return "ListObjects"
		case http.MethodPut:
			return "PutBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteMultipleObjects"
			}
		}
		return "Bucket" + method
	}
	copySrc := h.Get("x-oss-copy-source") != ""
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
			return "InitiateMultipartUpload"
		}
		if has("uploadId") {
			return "CompleteMultipartUpload"
		}
	}
	return "Object" + method
}

// checkKey applies OSS's object naming rules.
func checkKey(key string) *ossError {
	switch {
	case len(key) > 1023:
		return newErr(400, "KeyTooLong", "The length of the object name must be less than 1024 bytes.", "Key", key)
	case strings.HasPrefix(key, "/") || strings.HasPrefix(key, "\\"):
		return newErr(400, "InvalidObjectName", "The object name must not start with '/' or '\\'.", "Key", key)
	}
	return nil
}

// readBody reads the request body and checks Content-MD5 and x-oss-content-sha256 when
// the client sent them.
func readBody(c *call) ([]byte, *ossError) {
	data, err := io.ReadAll(c.r.Body)
	if err != nil {
		return nil, newErr(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header: "+err.Error())
	}
	if v := c.r.Header.Get("Content-MD5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return nil, newErr(400, "InvalidDigest", "The Content-MD5 you specified is not valid.", "Content-MD5", v)
		}
		if got := md5.Sum(data); !bytes.Equal(got[:], want) {
			return nil, newErr(400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
				"ExpectedDigest", v, "CalculatedDigest", base64.StdEncoding.EncodeToString(got[:]))
		}
	}
	if v := c.r.Header.Get("x-oss-content-sha256"); v != "" && v != unsignedPayload {
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != strings.ToLower(v) {
			return nil, newErr(400, "InvalidArgument", "x-oss-content-sha256 does not match the request body.")
		}
	}
	return data, nil
}

// writeXML writes a 200 response with v as its XML body.
func writeXML(c *call, v any) *ossError {
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

// encodeKey applies encoding-type=url to a key or prefix in a response.
func encodeKey(c *call, s string) string {
	if c.query.Get("encoding-type") != "url" {
		return s
	}
	return escape(s, false)
}

// checkEncodingType rejects an encoding-type other than "url".
func checkEncodingType(c *call) *ossError {
	if v, ok := c.query["encoding-type"]; ok && (len(v) != 1 || v[0] != "url") {
		return errInvalidArgument("The encoding-type parameter must be url.", "encoding-type", strings.Join(v, ","))
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

// escape percent-encodes every byte but the unreserved ones (and '/' unless encodeSlash).
func escape(s string, encodeSlash bool) string {
	var b strings.Builder
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
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}
