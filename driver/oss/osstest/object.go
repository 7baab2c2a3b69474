package osstest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const isoMillis = "2006-01-02T15:04:05.000Z"

func (s *Server) putBucket(c *call) *ossError {
	if !validBucketName(c.bucket) {
		return newErr(400, "InvalidBucketName", "The specified bucket is not valid.", "BucketName", c.bucket)
	}
	s.mu.Lock()
	_, exists := s.buckets[c.bucket]
	s.mu.Unlock()
	if exists {
		return newErr(409, "BucketAlreadyExists", "The requested bucket name is not available.", "BucketName", c.bucket)
	}
	s.CreateBucket(c.bucket)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(c *call) *ossError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buckets[c.bucket].objs) > 0 {
		return newErr(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", "BucketName", c.bucket)
	}
	for _, u := range s.uploads {
		if u.bucket == c.bucket {
			return newErr(409, "BucketNotEmpty", "The bucket has multipart uploads in progress.", "BucketName", c.bucket)
		}
	}
	delete(s.buckets, c.bucket)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

type bucketInfoXML struct {
	XMLName xml.Name `xml:"BucketInfo"`
	Bucket  struct {
		Name               string
		Location           string
		CreationDate       string
		ExtranetEndpoint   string
		IntranetEndpoint   string
		StorageClass       string
		DataRedundancyType string
		Owner              ownerXML
		Grant              string `xml:"AccessControlList>Grant"`
	}
}

type ownerXML struct {
	ID          string
	DisplayName string
}

var fakeOwner = ownerXML{ID: "1234567890123456", DisplayName: "1234567890123456"}

func (s *Server) getBucketInfo(c *call) *ossError {
	s.mu.Lock()
	b := s.buckets[c.bucket]
	created := b.created
	s.mu.Unlock()
	var v bucketInfoXML
	v.Bucket.Name = c.bucket
	v.Bucket.Location = "oss-" + s.Region
	v.Bucket.CreationDate = created.Format(isoMillis)
	v.Bucket.ExtranetEndpoint = "oss-" + s.Region + ".aliyuncs.com"
	v.Bucket.IntranetEndpoint = "oss-" + s.Region + "-internal.aliyuncs.com"
	v.Bucket.StorageClass = "Standard"
	v.Bucket.DataRedundancyType = "LRS"
	v.Bucket.Owner = fakeOwner
	v.Bucket.Grant = "private"
	return writeXML(c, v)
}

// objectHeaders sets the headers that describe o.
func objectHeaders(h http.Header, o *object) {
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.mtime.Format(http.TimeFormat))
	h.Set("Content-Type", o.contentType)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("x-oss-object-type", o.kind)
	h.Set("x-oss-storage-class", "Standard")
	h.Set("Accept-Ranges", "bytes")
	for k, v := range o.meta {
		h.Set("x-oss-meta-"+k, v)
	}
	if o.kind == "Normal" {
		if raw, err := hex.DecodeString(strings.Trim(o.etag, `"`)); err == nil {
			h.Set("Content-MD5", base64.StdEncoding.EncodeToString(raw))
		}
	}
}

// userMeta collects x-oss-meta-* request headers.
func userMeta(h http.Header) map[string]string {
	var m map[string]string
	for k, vs := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-meta-") && len(vs) > 0 {
			if m == nil {
				m = map[string]string{}
			}
			m[strings.TrimPrefix(lk, "x-oss-meta-")] = vs[0]
		}
	}
	return m
}

func forbidOverwrite(h http.Header) bool {
	return strings.EqualFold(h.Get("x-oss-forbid-overwrite"), "true")
}

func (s *Server) putObject(c *call) *ossError {
	data, e := readBody(c)
	if e != nil {
		return e
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	o := newObject(data, s.now(), ct)
	o.meta = userMeta(c.r.Header)
	s.mu.Lock()
	b := s.buckets[c.bucket]
	if _, exists := b.objs[c.key]; exists && forbidOverwrite(c.r.Header) {
		s.mu.Unlock()
		return errFileAlreadyExists()
	}
	b.put(c.key, o)
	s.mu.Unlock()
	h := c.w.Header()
	h.Set("ETag", o.etag)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(md5Raw(data)))
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) lookup(c *call) (*object, *ossError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[c.bucket].objs[c.key]
	if !ok {
		return nil, errNoSuchKey(c.key)
	}
	return o, nil
}

// checkConditions applies If-Match and If-None-Match to o as OSS does, after the object was
// found and before the range: a failed If-Match is 412 PreconditionFailed, a matching
// If-None-Match 304 Not Modified. ETags match with or without quotes; "*" matches any.
func checkConditions(c *call, o *object) *ossError {
	matches := func(list string) bool {
		for _, t := range strings.Split(list, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.Trim(t, `"`) == strings.Trim(o.etag, `"`) {
				return true
			}
		}
		return false
	}
	if v := c.r.Header.Get("If-Match"); v != "" && !matches(v) {
		return newErr(http.StatusPreconditionFailed, "PreconditionFailed",
			"At least one of the pre-conditions you specified did not hold.", "Condition", "If-Match")
	}
	if v := c.r.Header.Get("If-None-Match"); v != "" && matches(v) {
		return &ossError{status: http.StatusNotModified, code: "NotModified", message: "Not Modified"}
	}
	return nil
}

func (s *Server) headObject(c *call) *ossError {
	o, e := s.lookup(c)
	if e != nil {
		return e
	}
	if e := checkConditions(c, o); e != nil {
		return e
	}
	h := c.w.Header()
	objectHeaders(h, o)
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObject(c *call) *ossError {
	o, e := s.lookup(c)
	if e != nil {
		return e
	}
	if e := checkConditions(c, o); e != nil {
		return e
	}
	size := int64(len(o.data))
	start, end, status := int64(0), size-1, http.StatusOK
	if rh := c.r.Header.Get("Range"); rh != "" {
		a, b, ok := parseRange(rh, size)
		switch {
		case ok:
			start, end, status = a, b, http.StatusPartialContent
		case strings.EqualFold(c.r.Header.Get("x-oss-range-behavior"), "standard"):
			e := newErr(416, "InvalidRange", "The requested range cannot be satisfied", "RangeRequested", rh, "ActualObjectSize", strconv.FormatInt(size, 10))
			e.header = http.Header{"Content-Range": {"bytes */" + strconv.FormatInt(size, 10)}}
			return e
		}
		// Without the standard behaviour OSS ignores an unsatisfiable range.
	}
	h := c.w.Header()
	objectHeaders(h, o)
	if status == http.StatusPartialContent {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(size, 10))
		h.Del("Content-MD5")
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(o.data[start : end+1])
	return nil
}

// parseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range against size
// and reports whether it is satisfiable.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	var err error
	switch {
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	default:
		if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 || start >= size {
			return 0, 0, false
		}
		end = size - 1
		if b != "" {
			e, err := strconv.ParseInt(b, 10, 64)
			if err != nil || e < start {
				return 0, 0, false
			}
			end = min(e, size-1)
		}
		return start, end, true
	}
}

func (s *Server) deleteObject(c *call) *ossError {
	s.mu.Lock()
	if s.deleteDenied(c.bucket, c.key) {
		s.mu.Unlock()
		return errAccessDenied("You have no right to access this object because of bucket acl.")
	}
	s.buckets[c.bucket].del(c.key)
	s.mu.Unlock()
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource resolves x-oss-copy-source ("/bucket/url-escaped-key").
func (s *Server) copySource(c *call) (*object, *ossError) {
	raw := c.r.Header.Get("x-oss-copy-source")
	src, err := url.PathUnescape(raw)
	if err != nil || !strings.HasPrefix(src, "/") {
		return nil, errInvalidArgument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.", "x-oss-copy-source", raw)
	}
	if i := strings.Index(src, "?versionId="); i >= 0 {
		src = src[:i]
	}
	sb, sk := splitPath(src)
	if sk == "" {
		return nil, errInvalidArgument("Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.", "x-oss-copy-source", raw)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[sb]
	if !ok {
		return nil, errNoSuchBucket(sb)
	}
	o, ok := b.objs[sk]
	if !ok {
		return nil, errNoSuchKey(sk)
	}
	return o, nil
}

type copyResultXML struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	ETag         string
	LastModified string
}

func (s *Server) copyObject(c *call) *ossError {
	if _, e := readBody(c); e != nil {
		return e
	}
	src, e := s.copySource(c)
	if e != nil {
		return e
	}
	now := s.now().UTC()
	dst := *src
	dst.mtime = now
	switch d := c.r.Header.Get("x-oss-metadata-directive"); strings.ToUpper(d) {
	case "", "COPY":
	case "REPLACE":
		dst.meta = userMeta(c.r.Header)
		if ct := c.r.Header.Get("Content-Type"); ct != "" {
			dst.contentType = ct
		}
	default:
		return errInvalidArgument("Invalid x-oss-metadata-directive.", "x-oss-metadata-directive", d)
	}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	if _, exists := b.objs[c.key]; exists && forbidOverwrite(c.r.Header) {
		s.mu.Unlock()
		return errFileAlreadyExists()
	}
	b.put(c.key, &dst)
	s.mu.Unlock()
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(dst.crc, 10))
	return writeXML(c, copyResultXML{ETag: dst.etag, LastModified: now.Format(isoMillis)})
}

func md5Raw(data []byte) []byte {
	sum := md5.Sum(data)
	return sum[:]
}
