package osstest

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"hash/crc64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type upload struct {
	id          string
	bucket      string
	key         string
	initiated   time.Time
	contentType string
	meta        map[string]string
	parts       map[int]*part
	maxPart     int // highest part number received so far
}

type part struct {
	data  []byte
	etag  string
	crc   uint64
	mtime time.Time
}

type initiateXML struct {
	XMLName      xml.Name `xml:"InitiateMultipartUploadResult"`
	Bucket       string
	Key          string
	UploadId     string
	EncodingType string `xml:",omitempty"`
}

func (s *Server) initiateMultipart(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	if _, e := readBody(c); e != nil {
		return e
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	u := &upload{id: s.newUploadID(), bucket: c.bucket, key: c.key, initiated: s.now().UTC(),
		contentType: ct, meta: userMeta(c.r.Header), parts: map[int]*part{}}
	s.mu.Lock()
	if _, exists := s.buckets[c.bucket].objs[c.key]; exists && forbidOverwrite(c.r.Header) {
		s.mu.Unlock()
		return errFileAlreadyExists()
	}
	s.uploads[u.id] = u
	s.mu.Unlock()
	return writeXML(c, initiateXML{Bucket: c.bucket, Key: encodeKey(c, c.key), UploadId: u.id,
		EncodingType: c.query.Get("encoding-type")})
}

// uploadFor finds the upload named by the uploadId parameter; s.mu must be held.
func (s *Server) uploadFor(c *call) (*upload, *ossError) {
	id := c.query.Get("uploadId")
	u, ok := s.uploads[id]
	if !ok || u.bucket != c.bucket || u.key != c.key {
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

func partNumber(c *call) (int, *ossError) {
	v := c.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive.", "partNumber", v)
	}
	return n, nil
}

// addPart stores a part and counts out-of-order arrivals.
func (s *Server) addPart(c *call, n int, data []byte) (*part, *ossError) {
	p := &part{data: data, etag: quotedMD5(data), crc: crc64.Checksum(data, crcTable), mtime: s.now().UTC()}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return nil, e
	}
	if n < u.maxPart {
		s.stats.OutOfOrderParts++
	}
	u.maxPart = max(u.maxPart, n)
	u.parts[n] = p
	return p, nil
}

func (s *Server) uploadPart(c *call) *ossError {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	data, e := readBody(c)
	if e != nil {
		return e
	}
	p, e := s.addPart(c, n, data)
	if e != nil {
		return e
	}
	h := c.w.Header()
	h.Set("ETag", p.etag)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(p.crc, 10))
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

type copyPartXML struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	LastModified string
	ETag         string
}

func (s *Server) uploadPartCopy(c *call) *ossError {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	if _, e := readBody(c); e != nil {
		return e
	}
	src, e := s.copySource(c)
	if e != nil {
		return e
	}
	data := src.data
	if rh := c.r.Header.Get("x-oss-copy-source-range"); rh != "" {
		a, b, ok := parseRange(rh, int64(len(data)))
		if !ok {
			return newErr(416, "InvalidRange", "The requested range cannot be satisfied", "RangeRequested", rh)
		}
		data = data[a : b+1]
	}
	p, e := s.addPart(c, n, append([]byte(nil), data...))
	if e != nil {
		return e
	}
	s.mu.Lock()
	s.stats.CopiedParts++
	s.mu.Unlock()
	return writeXML(c, copyPartXML{LastModified: p.mtime.Format(isoMillis), ETag: p.etag})
}

type completeXML struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int
		ETag       string
	} `xml:"Part"`
}

type completeResultXML struct {
	XMLName      xml.Name `xml:"CompleteMultipartUploadResult"`
	EncodingType string   `xml:",omitempty"`
	Location     string
	Bucket       string
	Key          string
	ETag         string
}

func (s *Server) completeMultipart(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	body, e := readBody(c)
	if e != nil {
		return e
	}
	completeAll := strings.EqualFold(c.r.Header.Get("x-oss-complete-all"), "yes")
	var req completeXML
	if !completeAll {
		if err := xml.Unmarshal(body, &req); err != nil || len(req.Parts) == 0 {
			return errMalformedXML()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return e
	}
	var parts []*part
	if completeAll {
		nums := make([]int, 0, len(u.parts))
		for n := range u.parts {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		for _, n := range nums {
			parts = append(parts, u.parts[n])
		}
	} else {
		prev := 0
		for _, rp := range req.Parts {
			if rp.PartNumber <= prev {
				return newErr(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
			}
			prev = rp.PartNumber
			p, ok := u.parts[rp.PartNumber]
			if !ok || !strings.EqualFold(strings.Trim(rp.ETag, `"`), strings.Trim(p.etag, `"`)) {
				return newErr(400, "InvalidPart", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
					"PartNumber", strconv.Itoa(rp.PartNumber), "ETag", rp.ETag)
			}
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return errMalformedXML()
	}
	size := 0
	for i, p := range parts {
		if i < len(parts)-1 && len(p.data) < MinPartSize {
			return newErr(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.",
				"MinSizeAllowed", strconv.Itoa(MinPartSize), "ProposedSize", strconv.Itoa(len(p.data)))
		}
		size += len(p.data)
	}
	b := s.buckets[c.bucket]
	if _, exists := b.objs[c.key]; exists && forbidOverwrite(c.r.Header) {
		return errFileAlreadyExists()
	}
	data := make([]byte, 0, size)
	sums := md5.New()
	for _, p := range parts {
		data = append(data, p.data...)
		raw, _ := hex.DecodeString(strings.Trim(p.etag, `"`))
		sums.Write(raw)
	}
	etag := `"` + strings.ToUpper(hex.EncodeToString(sums.Sum(nil))) + "-" + strconv.Itoa(len(parts)) + `"`
	o := &object{data: data, etag: etag, crc: crc64.Checksum(data, crcTable), mtime: s.now().UTC(),
		contentType: u.contentType, kind: "Multipart", meta: u.meta}
	b.put(c.key, o)
	delete(s.uploads, u.id)
	s.stats.CompletedMultipart++
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc, 10))
	return writeXML(c, completeResultXML{EncodingType: c.query.Get("encoding-type"),
		Location: "http://" + c.r.Host + "/" + c.bucket + "/" + escape(c.key, false),
		Bucket:   c.bucket, Key: encodeKey(c, c.key), ETag: etag})
}

func (s *Server) abortMultipart(c *call) *ossError {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return e
	}
	delete(s.uploads, u.id)
	s.stats.AbortedMultipart++
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

type listUploadsXML struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	EncodingType       string   `xml:",omitempty"`
	Bucket             string
	KeyMarker          string
	UploadIdMarker     string
	NextKeyMarker      string
	NextUploadIdMarker string
	Delimiter          string
	Prefix             string
	MaxUploads         int
	IsTruncated        bool
	Uploads            []struct {
		Key       string
		UploadId  string
		Initiated string
	} `xml:"Upload"`
}

func (s *Server) listMultipartUploads(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errInvalidArgument("Argument max-uploads must be an integer between 1 and 1000.", "max-uploads", v)
		}
		maxUploads = n
	}
	prefix, keyMarker, idMarker := q.Get("prefix"), q.Get("key-marker"), q.Get("upload-id-marker")
	s.mu.Lock()
	var list []*upload
	for _, u := range s.uploads {
		if u.bucket != c.bucket || !strings.HasPrefix(u.key, prefix) {
			continue
		}
		if keyMarker != "" && (u.key < keyMarker || u.key == keyMarker && (idMarker == "" || u.id <= idMarker)) {
			continue
		}
		list = append(list, u)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].key != list[j].key {
			return list[i].key < list[j].key
		}
		return list[i].id < list[j].id
	})
	res := listUploadsXML{EncodingType: q.Get("encoding-type"), Bucket: c.bucket, KeyMarker: encodeKey(c, keyMarker),
		UploadIdMarker: idMarker, Prefix: encodeKey(c, prefix), MaxUploads: maxUploads}
	if len(list) > maxUploads {
		list = list[:maxUploads]
		res.IsTruncated = true
		res.NextKeyMarker = encodeKey(c, list[len(list)-1].key)
		res.NextUploadIdMarker = list[len(list)-1].id
	}
	for _, u := range list {
		res.Uploads = append(res.Uploads, struct {
			Key       string
			UploadId  string
			Initiated string
		}{encodeKey(c, u.key), u.id, u.initiated.Format(isoMillis)})
	}
	return writeXML(c, res)
}

type listPartsXML struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	EncodingType         string   `xml:",omitempty"`
	Bucket               string
	Key                  string
	UploadId             string
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	Parts                []partXML `xml:"Part"`
}

type partXML struct {
	PartNumber    int
	LastModified  string
	ETag          string
	HashCrc64ecma string
	Size          int
}

func (s *Server) listParts(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	maxParts := 1000
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errInvalidArgument("Argument max-parts must be an integer between 1 and 1000.", "max-parts", v)
		}
		maxParts = n
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	s.mu.Lock()
	u, e := s.uploadFor(c)
	if e != nil {
		s.mu.Unlock()
		return e
	}
	var nums []int
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := listPartsXML{EncodingType: q.Get("encoding-type"), Bucket: c.bucket, Key: encodeKey(c, c.key),
		UploadId: u.id, PartNumberMarker: marker, MaxParts: maxParts}
	if len(nums) > maxParts {
		nums = nums[:maxParts]
		res.IsTruncated = true
		res.NextPartNumberMarker = nums[len(nums)-1]
	}
	for _, n := range nums {
		p := u.parts[n]
		res.Parts = append(res.Parts, partXML{PartNumber: n, LastModified: p.mtime.Format(isoMillis), ETag: p.etag,
			HashCrc64ecma: strconv.FormatUint(p.crc, 10), Size: len(p.data)})
	}
	s.mu.Unlock()
	return writeXML(c, res)
}
