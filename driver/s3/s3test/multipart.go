package s3test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
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
	sse         string
	checksumAlg string // algorithm the upload was created with, or ""
	parts       map[int]*part
	maxPart     int // highest part number received so far
}

type part struct {
	data     []byte
	etag     string
	checksum string // base64 of the upload's algorithm; "" when it has none
	mtime    time.Time
}

type initiateXML struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string
	Key      string
	UploadId string
}

func (s *Server) createMultipart(c *call) *s3Error {
	sse, e := sseOf(c.r.Header)
	if e != nil {
		return e
	}
	alg := strings.ToUpper(c.r.Header.Get("x-amz-checksum-algorithm"))
	if alg != "" && checksumAlgs[alg] == nil {
		return errInvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	if t := strings.ToUpper(c.r.Header.Get("x-amz-checksum-type")); t == "FULL_OBJECT" || alg == "CRC64NVME" {
		return errNotImplemented("full-object multipart checksums")
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "binary/octet-stream"
	}
	s.mu.Lock()
	u := &upload{id: s.newUploadID(), bucket: c.bucket, key: c.key, initiated: s.now().UTC(),
		contentType: ct, meta: userMeta(c.r.Header), sse: sse, checksumAlg: alg, parts: map[int]*part{}}
	s.uploads[u.id] = u
	s.mu.Unlock()
	if alg != "" {
		c.w.Header().Set("x-amz-checksum-algorithm", alg)
		c.w.Header().Set("x-amz-checksum-type", "COMPOSITE")
	}
	if sse != "" {
		c.w.Header().Set("x-amz-server-side-encryption", sse)
	}
	return writeXML(c, initiateXML{NS: s3NS, Bucket: c.bucket, Key: c.key, UploadId: u.id})
}

// uploadFor finds the upload named by the uploadId parameter; s.mu must be held.
func (s *Server) uploadFor(c *call) (*upload, *s3Error) {
	id := c.query.Get("uploadId")
	u, ok := s.uploads[id]
	if !ok || u.bucket != c.bucket || u.key != c.key {
		return nil, errNoSuchUpload(id)
	}
	return u, nil
}

func partNumber(c *call) (int, *s3Error) {
	v := c.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxParts {
		return 0, errInvalidArgument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", v)
	}
	return n, nil
}

// addPart stores a part (its checksum given, or computed when copied) and counts
// out-of-order arrivals.
func (s *Server) addPart(c *call, n int, data []byte, sumAlg, sum string, copied bool) (*part, string, *s3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return nil, "", e
	}
	switch {
	case copied && u.checksumAlg != "":
		sum = checksumOf(u.checksumAlg, data)
	case copied:
	case sumAlg != u.checksumAlg:
		want, got := strings.ToLower(u.checksumAlg), strings.ToLower(sumAlg)
		if want == "" {
			want = "null"
		}
		if got == "" {
			got = "null"
		}
		return nil, "", errInvalidRequest("Checksum Type mismatch occurred, expected checksum Type: " + want + ", actual checksum Type: " + got)
	}
	p := &part{data: data, etag: quotedMD5(data), checksum: sum, mtime: s.now().UTC()}
	if n < u.maxPart {
		s.stats.OutOfOrderParts++
	}
	u.maxPart = max(u.maxPart, n)
	u.parts[n] = p
	return p, u.checksumAlg, nil
}

func (s *Server) uploadPart(c *call) *s3Error {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	if int64(len(c.body)) > MaxPartSize {
		return newErr(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
	}
	p, alg, e := s.addPart(c, n, c.body, c.checksumAlg, c.checksum, false)
	if e != nil {
		return e
	}
	h := c.w.Header()
	h.Set("ETag", p.etag)
	if alg != "" {
		h.Set(checksumHeader(alg), p.checksum)
	}
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

type copyPartXML struct {
	XMLName        xml.Name `xml:"CopyPartResult"`
	NS             string   `xml:"xmlns,attr"`
	LastModified   string
	ETag           string
	ChecksumCRC32  string `xml:",omitempty"`
	ChecksumCRC32C string `xml:",omitempty"`
	ChecksumSHA1   string `xml:",omitempty"`
	ChecksumSHA256 string `xml:",omitempty"`
}

func (s *Server) uploadPartCopy(c *call) *s3Error {
	n, e := partNumber(c)
	if e != nil {
		return e
	}
	src, _, e := s.copySource(c)
	if e != nil {
		return e
	}
	data := src.data
	if rh := c.r.Header.Get("x-amz-copy-source-range"); rh != "" {
		a, b, ok := parseCopyRange(rh, int64(len(data)))
		if !ok {
			return errInvalidArgument("Range specified is not valid for source object of size: "+strconv.Itoa(len(data)), "x-amz-copy-source-range", rh)
		}
		data = data[a : b+1]
	}
	if int64(len(data)) > MaxPartSize {
		return errInvalidArgument("The specified copy range is larger than the maximum allowable size for a copy source: 5368709120", "x-amz-copy-source-range", c.r.Header.Get("x-amz-copy-source-range"))
	}
	p, alg, e := s.addPart(c, n, data, "", "", true)
	if e != nil {
		return e
	}
	s.mu.Lock()
	s.stats.CopiedParts++
	s.mu.Unlock()
	res := copyPartXML{NS: s3NS, LastModified: p.mtime.Format(isoMillis), ETag: p.etag}
	switch alg {
	case "CRC32":
		res.ChecksumCRC32 = p.checksum
	case "CRC32C":
		res.ChecksumCRC32C = p.checksum
	case "SHA1":
		res.ChecksumSHA1 = p.checksum
	case "SHA256":
		res.ChecksumSHA256 = p.checksum
	}
	return writeXML(c, res)
}

// parseCopyRange parses x-amz-copy-source-range: S3 requires "bytes=first-last" with both
// ends inside the source.
func parseCopyRange(rh string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(rh, "bytes=")
	a, b, found2 := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !found || !found2 || err1 != nil || err2 != nil || first < 0 || last < first || last >= size {
		return 0, 0, false
	}
	return first, last, true
}

type completeXML struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber     int
		ETag           string
		ChecksumCRC32  string
		ChecksumCRC32C string
		ChecksumSHA1   string
		ChecksumSHA256 string
	} `xml:"Part"`
}

type completeResultXML struct {
	XMLName        xml.Name `xml:"CompleteMultipartUploadResult"`
	NS             string   `xml:"xmlns,attr"`
	Location       string
	Bucket         string
	Key            string
	ETag           string
	ChecksumCRC32  string `xml:",omitempty"`
	ChecksumCRC32C string `xml:",omitempty"`
	ChecksumSHA1   string `xml:",omitempty"`
	ChecksumSHA256 string `xml:",omitempty"`
	ChecksumType   string `xml:",omitempty"`
}

func (s *Server) completeMultipart(c *call) *s3Error {
	var req completeXML
	if err := xml.Unmarshal(c.body, &req); err != nil || len(req.Parts) == 0 {
		return errMalformedXML()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return e
	}
	var parts []*part
	prev := 0
	for _, rp := range req.Parts {
		if rp.PartNumber <= prev {
			return newErr(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", "UploadId", u.id)
		}
		prev = rp.PartNumber
		p, ok := u.parts[rp.PartNumber]
		if !ok || !etagMatches(rp.ETag, p.etag) {
			return newErr(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
				"UploadId", u.id, "PartNumber", strconv.Itoa(rp.PartNumber), "ETag", rp.ETag)
		}
		if u.checksumAlg != "" {
			given := map[string]string{"CRC32": rp.ChecksumCRC32, "CRC32C": rp.ChecksumCRC32C, "SHA1": rp.ChecksumSHA1, "SHA256": rp.ChecksumSHA256}[u.checksumAlg]
			if given == "" {
				return errInvalidRequest("The upload was created using a " + strings.ToLower(u.checksumAlg) + " checksum. The complete request must include the checksum for each part. It was missing for part " + strconv.Itoa(rp.PartNumber) + " in the request.")
			}
			if given != p.checksum {
				return newErr(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
					"UploadId", u.id, "PartNumber", strconv.Itoa(rp.PartNumber), "ETag", rp.ETag)
			}
		}
		parts = append(parts, p)
	}
	size := 0
	for i, p := range parts {
		if i < len(parts)-1 && int64(len(p.data)) < s.MinPartSize {
			return newErr(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
				"UploadId", u.id, "ProposedSize", strconv.Itoa(len(p.data)), "MinSizeAllowed", strconv.FormatInt(s.MinPartSize, 10),
				"PartNumber", strconv.Itoa(req.Parts[i].PartNumber), "ETag", p.etag)
		}
		size += len(p.data)
	}
	b := s.buckets[c.bucket]
	if e := checkWriteConditions(c.r.Header, b.objs[c.key]); e != nil {
		return e
	}
	data := make([]byte, 0, size)
	sums := md5.New()
	var partSums []string
	for _, p := range parts {
		data = append(data, p.data...)
		raw, _ := hex.DecodeString(strings.Trim(p.etag, `"`))
		sums.Write(raw)
		partSums = append(partSums, p.checksum)
	}
	etag := `"` + hex.EncodeToString(sums.Sum(nil)) + "-" + strconv.Itoa(len(parts)) + `"`
	o := &object{data: data, etag: etag, mtime: s.now().UTC(), contentType: u.contentType, meta: u.meta,
		sse: u.sse, parts: len(parts)}
	res := completeResultXML{NS: s3NS, Location: "http://" + c.r.Host + "/" + c.bucket + "/" + uriEncode(c.key, false),
		Bucket: c.bucket, Key: c.key, ETag: etag}
	if u.checksumAlg != "" {
		o.checksumAlg, o.checksum, o.checksumType = u.checksumAlg, compositeChecksum(u.checksumAlg, partSums), "COMPOSITE"
		res.ChecksumType = "COMPOSITE"
		switch u.checksumAlg {
		case "CRC32":
			res.ChecksumCRC32 = o.checksum
		case "CRC32C":
			res.ChecksumCRC32C = o.checksum
		case "SHA1":
			res.ChecksumSHA1 = o.checksum
		case "SHA256":
			res.ChecksumSHA256 = o.checksum
		}
	}
	b.put(c.key, o)
	delete(s.uploads, u.id)
	s.stats.CompletedMultipart++
	if u.sse != "" {
		c.w.Header().Set("x-amz-server-side-encryption", u.sse)
	}
	return writeXML(c, res)
}

func (s *Server) abortMultipart(c *call) *s3Error {
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

type uploadXML struct {
	Key          string
	UploadId     string
	Initiator    *ownerXML
	Owner        *ownerXML
	StorageClass string
	Initiated    string
}

type listUploadsXML struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	NS                 string   `xml:"xmlns,attr"`
	Bucket             string
	KeyMarker          string
	UploadIdMarker     string
	NextKeyMarker      string `xml:",omitempty"`
	NextUploadIdMarker string `xml:",omitempty"`
	Prefix             string
	Delimiter          string `xml:",omitempty"`
	MaxUploads         int
	EncodingType       string `xml:",omitempty"`
	IsTruncated        bool
	Uploads            []uploadXML `xml:"Upload"`
	CommonPrefixes     []prefixXML
}

func (s *Server) listMultipartUploads(c *call) *s3Error {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-uploads not an integer or within integer range", "max-uploads", v)
		}
		maxUploads = min(n, 1000)
	}
	prefix, delim, keyMarker, idMarker := q.Get("prefix"), q.Get("delimiter"), q.Get("key-marker"), q.Get("upload-id-marker")
	s.mu.Lock()
	var list []*upload
	for _, u := range s.uploads {
		if u.bucket == c.bucket && strings.HasPrefix(u.key, prefix) {
			list = append(list, u)
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].key != list[j].key {
			return list[i].key < list[j].key
		}
		return list[i].id < list[j].id
	})
	// Resume after key-marker: uploads of later keys, and (with upload-id-marker) those of
	// key-marker whose id sorts after upload-id-marker, as S3 defines the markers.
	if keyMarker != "" {
		kept := list[:0]
		for _, u := range list {
			if u.key > keyMarker || u.key == keyMarker && idMarker != "" && u.id > idMarker {
				kept = append(kept, u)
			}
		}
		list = kept
	}
	res := listUploadsXML{NS: s3NS, Bucket: c.bucket, KeyMarker: encodeKey(c, keyMarker), UploadIdMarker: idMarker,
		Prefix: encodeKey(c, prefix), Delimiter: encodeKey(c, delim), MaxUploads: maxUploads, EncodingType: q.Get("encoding-type")}
	seen := map[string]bool{}
	n := 0
	for i, u := range list {
		if n == maxUploads {
			res.IsTruncated = true
			prev := list[i-1]
			res.NextKeyMarker, res.NextUploadIdMarker = encodeKey(c, prev.key), prev.id
			break
		}
		if delim != "" {
			if j := strings.Index(u.key[len(prefix):], delim); j >= 0 {
				cp := u.key[:len(prefix)+j+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeKey(c, cp)})
					n++
				}
				continue
			}
		}
		res.Uploads = append(res.Uploads, uploadXML{Key: encodeKey(c, u.key), UploadId: u.id, Initiator: s.owner(),
			Owner: s.owner(), StorageClass: "STANDARD", Initiated: u.initiated.Format(isoMillis)})
		n++
	}
	return writeXML(c, res)
}

type listPartsXML struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	NS                   string   `xml:"xmlns,attr"`
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
	Size          int
	ChecksumCRC32 string `xml:",omitempty"`
}

func (s *Server) listParts(c *call) *s3Error {
	q := c.query
	maxParts := 1000
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-parts not an integer or within integer range", "max-parts", v)
		}
		maxParts = min(n, 1000)
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.uploadFor(c)
	if e != nil {
		return e
	}
	var nums []int
	for n := range u.parts {
		if n > marker {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	res := listPartsXML{NS: s3NS, Bucket: c.bucket, Key: c.key, UploadId: u.id, PartNumberMarker: marker, MaxParts: maxParts}
	if len(nums) > maxParts {
		nums = nums[:maxParts]
		res.IsTruncated = true
		res.NextPartNumberMarker = nums[len(nums)-1]
	}
	for _, n := range nums {
		p := u.parts[n]
		px := partXML{PartNumber: n, LastModified: p.mtime.Format(isoMillis), ETag: p.etag, Size: len(p.data)}
		if u.checksumAlg == "CRC32" {
			px.ChecksumCRC32 = p.checksum
		}
		res.Parts = append(res.Parts, px)
	}
	return writeXML(c, res)
}
