package s3test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// objectHeaders sets the headers that describe o.
func objectHeaders(h http.Header, o *object) {
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.mtime.Format(http.TimeFormat))
	h.Set("Content-Type", o.contentType)
	h.Set("Accept-Ranges", "bytes")
	if o.sse != "" {
		h.Set("x-amz-server-side-encryption", o.sse)
	}
	if o.parts > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(o.parts))
	}
	for k, v := range o.meta {
		h.Set("x-amz-meta-"+k, v)
	}
}

// userMeta collects x-amz-meta-* request headers.
func userMeta(h http.Header) map[string]string {
	var m map[string]string
	for k, vs := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") && len(vs) > 0 {
			if m == nil {
				m = map[string]string{}
			}
			m[strings.TrimPrefix(lk, "x-amz-meta-")] = vs[0]
		}
	}
	return m
}

// sseOf validates x-amz-server-side-encryption.
func sseOf(h http.Header) (string, *s3Error) {
	switch v := h.Get("x-amz-server-side-encryption"); v {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
		return v, nil
	default:
		return "", errInvalidArgument("The encryption method specified is not supported", "x-amz-server-side-encryption", v)
	}
}

// checkWriteConditions applies If-None-Match: * and If-Match to a write of key; s.mu must
// be held.
func checkWriteConditions(h http.Header, existing *object) *s3Error {
	if v := h.Get("If-None-Match"); v != "" {
		if v != "*" {
			return errNotImplemented("If-None-Match other than * on writes")
		}
		if existing != nil {
			return errPrecondition("If-None-Match")
		}
	}
	if v := h.Get("If-Match"); v != "" {
		if existing == nil {
			return newErr(404, "NoSuchKey", "The specified key does not exist.")
		}
		if !etagMatches(v, existing.etag) {
			return errPrecondition("If-Match")
		}
	}
	return nil
}

func etagMatches(cond, etag string) bool {
	for _, c := range strings.Split(cond, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || c == etag || `"`+strings.Trim(c, `"`)+`"` == etag {
			return true
		}
	}
	return false
}

func (s *Server) putObject(c *call) *s3Error {
	sse, e := sseOf(c.r.Header)
	if e != nil {
		return e
	}
	if int64(len(c.body)) > MaxPartSize {
		return newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "binary/octet-stream"
	}
	o := &object{data: c.body, etag: quotedMD5(c.body), mtime: s.now().UTC(), contentType: ct,
		meta: userMeta(c.r.Header), sse: sse}
	if c.checksumAlg != "" {
		o.checksumAlg, o.checksum, o.checksumType = c.checksumAlg, c.checksum, "FULL_OBJECT"
	}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	if e := checkWriteConditions(c.r.Header, b.objs[c.key]); e != nil {
		s.mu.Unlock()
		return e
	}
	b.put(c.key, o)
	s.mu.Unlock()
	h := c.w.Header()
	h.Set("ETag", o.etag)
	if sse != "" {
		h.Set("x-amz-server-side-encryption", sse)
	}
	if o.checksumAlg != "" {
		h.Set(checksumHeader(o.checksumAlg), o.checksum)
		h.Set("x-amz-checksum-type", o.checksumType)
	}
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) lookup(c *call) (*object, *s3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[c.bucket].objs[c.key]
	if !ok {
		return nil, errNoSuchKey(c.key)
	}
	return o, nil
}

// readConditions applies If-Match, If-Unmodified-Since, If-None-Match and
// If-Modified-Since (RFC 7232 order). notModified reports a 304.
func readConditions(h http.Header, o *object) (notModified bool, e *s3Error) {
	mtime := o.mtime.Truncate(time.Second)
	if v := h.Get("If-Match"); v != "" {
		if !etagMatches(v, o.etag) {
			return false, errPrecondition("If-Match")
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mtime.After(t) {
			return false, errPrecondition("If-Unmodified-Since")
		}
	}
	if v := h.Get("If-None-Match"); v != "" {
		return etagMatches(v, o.etag), nil
	}
	if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mtime.After(t) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) headObject(c *call) *s3Error {
	o, e := s.lookup(c)
	if e != nil {
		return e
	}
	return s.serveObject(c, o, false)
}

func (s *Server) getObject(c *call) *s3Error {
	o, e := s.lookup(c)
	if e != nil {
		return e
	}
	return s.serveObject(c, o, true)
}

// responseOverrides are the query parameters that replace response headers.
var responseOverrides = map[string]string{
	"response-content-type": "Content-Type", "response-content-language": "Content-Language",
	"response-expires": "Expires", "response-cache-control": "Cache-Control",
	"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}

// serveObject answers GetObject (withBody) or HeadObject.
func (s *Server) serveObject(c *call, o *object, withBody bool) *s3Error {
	if c.query.Has("partNumber") {
		return errNotImplemented("?partNumber on " + c.op)
	}
	h := c.w.Header()
	notModified, e := readConditions(c.r.Header, o)
	if e != nil {
		return e
	}
	if notModified {
		h.Set("ETag", o.etag)
		h.Set("Last-Modified", o.mtime.Format(http.TimeFormat))
		c.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	size := int64(len(o.data))
	start, end, status := int64(0), size-1, http.StatusOK
	if rh := c.r.Header.Get("Range"); rh != "" {
		a, b, ok, valid := parseRange(rh, size)
		switch {
		case ok:
			start, end, status = a, b, http.StatusPartialContent
		case valid:
			e := newErr(416, "InvalidRange", "The requested range is not satisfiable", "RangeRequested", rh, "ActualObjectSize", strconv.FormatInt(size, 10))
			e.header = http.Header{"Content-Range": {"bytes */" + strconv.FormatInt(size, 10)}}
			return e
		}
		// S3 ignores a Range header it cannot parse (or one with several ranges).
	}
	objectHeaders(h, o)
	for q, hdr := range responseOverrides {
		if v := c.query.Get(q); v != "" {
			h.Set(hdr, v)
		}
	}
	if status == http.StatusPartialContent {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
	} else if o.checksumAlg != "" && strings.EqualFold(c.r.Header.Get("x-amz-checksum-mode"), "ENABLED") {
		h.Set(checksumHeader(o.checksumAlg), o.checksum)
		h.Set("x-amz-checksum-type", o.checksumType)
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	c.w.WriteHeader(status)
	if withBody && end >= start {
		_, _ = c.w.Write(o.data[start : end+1])
	}
	return nil
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range against size.
// valid reports a well-formed single range; ok that it is satisfiable.
func parseRange(h string, size int64) (start, end int64, ok, valid bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, false, true
		}
		return max(size-n, 0), size - 1, true, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, false
	}
	end = size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false, false
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false, true
	}
	return start, end, true, true
}

func (s *Server) deleteObject(c *call) *s3Error {
	s.mu.Lock()
	s.buckets[c.bucket].del(c.key)
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource resolves x-amz-copy-source ("bucket/key" or "/bucket/key", URL-encoded) and
// applies the x-amz-copy-source-if-* conditions.
func (s *Server) copySource(c *call) (*object, string, *s3Error) {
	raw := c.r.Header.Get("x-amz-copy-source")
	src, err := url.PathUnescape(raw)
	if err != nil {
		return nil, "", errInvalidArgument("Invalid copy source encoding", "x-amz-copy-source", raw)
	}
	if i := strings.Index(src, "?versionId="); i >= 0 {
		if v := src[i+len("?versionId="):]; v != "null" {
			return nil, "", errNotImplemented("versioned copy sources")
		}
		src = src[:i]
	}
	sb, sk, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if sb == "" || sk == "" {
		return nil, "", errInvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", "x-amz-copy-source", raw)
	}
	s.mu.Lock()
	b, ok := s.buckets[sb]
	var o *object
	if ok {
		o = b.objs[sk]
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, "", errNoSuchBucket(sb)
	case o == nil:
		return nil, "", errNoSuchKey(sk)
	}
	h := c.r.Header
	mtime := o.mtime.Truncate(time.Second)
	if v := h.Get("x-amz-copy-source-if-match"); v != "" && !etagMatches(v, o.etag) {
		return nil, "", errPrecondition("x-amz-copy-source-If-Match")
	}
	if v := h.Get("x-amz-copy-source-if-none-match"); v != "" && etagMatches(v, o.etag) {
		return nil, "", errPrecondition("x-amz-copy-source-If-None-Match")
	}
	if v := h.Get("x-amz-copy-source-if-unmodified-since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mtime.After(t) {
			return nil, "", errPrecondition("x-amz-copy-source-If-Unmodified-Since")
		}
	}
	if v := h.Get("x-amz-copy-source-if-modified-since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mtime.After(t) {
			return nil, "", errPrecondition("x-amz-copy-source-If-Modified-Since")
		}
	}
	return o, sb + "/" + sk, nil
}

type copyResultXML struct {
	XMLName       xml.Name `xml:"CopyObjectResult"`
	NS            string   `xml:"xmlns,attr"`
	ETag          string
	LastModified  string
	ChecksumCRC32 string `xml:",omitempty"`
}

func (s *Server) copyObject(c *call) *s3Error {
	src, srcName, e := s.copySource(c)
	if e != nil {
		return e
	}
	if int64(len(src.data)) > s.MaxCopySize {
		return errInvalidRequest("The specified copy source is larger than the maximum allowable size for a copy source: " + strconv.FormatInt(s.MaxCopySize, 10))
	}
	sse, e := sseOf(c.r.Header)
	if e != nil {
		return e
	}
	now := s.now().UTC()
	dst := &object{data: src.data, etag: quotedMD5(src.data), mtime: now, contentType: src.contentType,
		meta: src.meta, sse: sse}
	directive := strings.ToUpper(c.r.Header.Get("x-amz-metadata-directive"))
	switch directive {
	case "", "COPY":
	case "REPLACE":
		dst.meta = userMeta(c.r.Header)
		if ct := c.r.Header.Get("Content-Type"); ct != "" {
			dst.contentType = ct
		}
	default:
		return errInvalidArgument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
	}
	if srcName == c.bucket+"/"+c.key && directive != "REPLACE" && sse == "" {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if src.checksumAlg != "" {
		// A copy is stored in one piece: its checksum covers the whole object.
		dst.checksumAlg, dst.checksum, dst.checksumType = src.checksumAlg, checksumOf(src.checksumAlg, src.data), "FULL_OBJECT"
	}
	s.mu.Lock()
	s.buckets[c.bucket].put(c.key, dst)
	s.mu.Unlock()
	if sse != "" {
		c.w.Header().Set("x-amz-server-side-encryption", sse)
	}
	res := copyResultXML{NS: s3NS, ETag: dst.etag, LastModified: now.Format(isoMillis)}
	if dst.checksumAlg == "CRC32" {
		res.ChecksumCRC32 = dst.checksum
	}
	return writeXML(c, res)
}
