package s3test

import (
	"encoding/base64"
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
)

type contentXML struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
	Owner        *ownerXML `xml:",omitempty"`
}

type prefixXML struct{ Prefix string }

type listV2XML struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	NS                    string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	StartAfter            string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	KeyCount              int
	MaxKeys               int
	Delimiter             string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	IsTruncated           bool
	Contents              []contentXML
	CommonPrefixes        []prefixXML
}

type listV1XML struct {
	XMLName        xml.Name `xml:"ListBucketResult"`
	NS             string   `xml:"xmlns,attr"`
	Name           string
	Prefix         string
	Marker         string
	NextMarker     string `xml:",omitempty"`
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	EncodingType   string `xml:",omitempty"`
	IsTruncated    bool
	Contents       []contentXML
	CommonPrefixes []prefixXML
}

// Continuation tokens are opaque to clients; here they encode the position (the last key
// or common prefix returned), so a listing resumes correctly after keys were added or
// removed.
func encodeToken(pos string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s3test:" + pos))
}

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	pos, ok := strings.CutPrefix(string(b), "s3test:")
	return pos, err == nil && ok && pos != ""
}

// maxKeysParam parses max-keys (default 1000; larger values are capped at 1000, as S3).
func maxKeysParam(c *call) (int, *s3Error) {
	v := c.query.Get("max-keys")
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errInvalidArgument("Provided max-keys not an integer or within integer range", "max-keys", v)
	}
	return min(n, 1000), nil
}

// listing is one page of a bucket listing.
type listing struct {
	keys      []string // object keys, in order
	prefixes  []string // common prefixes, in order
	last      string   // the last key or prefix of the page
	truncated bool
}

// list pages through the bucket's keys after marker (exclusive); s.mu must be held.
func (s *Server) list(b *bucket, prefix, delim, marker string, maxKeys int) listing {
	keys := b.keys()
	var l listing
	i := sort.SearchStrings(keys, max(prefix, marker))
	if i < len(keys) && keys[i] == marker {
		i++
	}
	for n := 0; n < maxKeys && i < len(keys) && strings.HasPrefix(keys[i], prefix); n++ {
		k := keys[i]
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 {
				cp := k[:len(prefix)+j+len(delim)]
				for i < len(keys) && strings.HasPrefix(keys[i], cp) {
					i++
				}
				if cp == marker { // returned on the previous page
					n--
					continue
				}
				l.prefixes = append(l.prefixes, cp)
				l.last = cp
				continue
			}
		}
		l.keys = append(l.keys, k)
		l.last = k
		i++
	}
	// The loop may stop on a group equal to the marker; skip it before deciding.
	for i < len(keys) && strings.HasPrefix(keys[i], prefix) {
		if delim != "" {
			if j := strings.Index(keys[i][len(prefix):], delim); j >= 0 && keys[i][:len(prefix)+j+len(delim)] == marker {
				i++
				continue
			}
		}
		l.truncated = maxKeys > 0
		break
	}
	return l
}

func (s *Server) contents(c *call, b *bucket, keys []string, owner bool) []contentXML {
	out := make([]contentXML, 0, len(keys))
	for _, k := range keys {
		o := b.objs[k]
		ct := contentXML{Key: encodeKey(c, k), LastModified: o.mtime.Format(isoMillis), ETag: o.etag,
			Size: len(o.data), StorageClass: "STANDARD"}
		if owner {
			ct.Owner = s.owner()
		}
		out = append(out, ct)
	}
	return out
}

func prefixesXML(c *call, ps []string) []prefixXML {
	out := make([]prefixXML, 0, len(ps))
	for _, p := range ps {
		out = append(out, prefixXML{encodeKey(c, p)})
	}
	return out
}

func (s *Server) listObjectsV2(c *call) *s3Error {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	maxKeys, e := maxKeysParam(c)
	if e != nil {
		return e
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	marker := q.Get("start-after")
	if tok, ok := q["continuation-token"]; ok {
		pos, valid := decodeToken(tok[0])
		if !valid {
			return errInvalidArgument("The continuation token provided is incorrect", "continuation-token", tok[0])
		}
		marker = pos
	}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	l := s.list(b, prefix, delim, marker, maxKeys)
	res := listV2XML{NS: s3NS, Name: c.bucket, Prefix: encodeKey(c, prefix), StartAfter: encodeKey(c, q.Get("start-after")),
		ContinuationToken: q.Get("continuation-token"), MaxKeys: maxKeys, Delimiter: encodeKey(c, delim),
		EncodingType: q.Get("encoding-type"), KeyCount: len(l.keys) + len(l.prefixes),
		Contents: s.contents(c, b, l.keys, q.Get("fetch-owner") == "true"), CommonPrefixes: prefixesXML(c, l.prefixes)}
	s.mu.Unlock()
	if l.truncated {
		res.IsTruncated = true
		res.NextContinuationToken = encodeToken(l.last)
	}
	return writeXML(c, res)
}

// listObjectsV1 is GET Bucket (List Objects) version 1: NextMarker is returned only when a
// delimiter is given; otherwise the client continues from the last key.
func (s *Server) listObjectsV1(c *call) *s3Error {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	maxKeys, e := maxKeysParam(c)
	if e != nil {
		return e
	}
	prefix, delim, marker := q.Get("prefix"), q.Get("delimiter"), q.Get("marker")
	s.mu.Lock()
	b := s.buckets[c.bucket]
	l := s.list(b, prefix, delim, marker, maxKeys)
	res := listV1XML{NS: s3NS, Name: c.bucket, Prefix: encodeKey(c, prefix), Marker: encodeKey(c, marker),
		MaxKeys: maxKeys, Delimiter: encodeKey(c, delim), EncodingType: q.Get("encoding-type"),
		IsTruncated: l.truncated, Contents: s.contents(c, b, l.keys, true), CommonPrefixes: prefixesXML(c, l.prefixes)}
	s.mu.Unlock()
	if l.truncated && delim != "" {
		res.NextMarker = encodeKey(c, l.last)
	}
	return writeXML(c, res)
}

type deleteXML struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool
	Objects []struct {
		Key       string
		VersionId string
	} `xml:"Object"`
}

type deletedXML struct {
	Key string
}

type deleteErrXML struct {
	Key     string
	Code    string
	Message string
}

type deleteResultXML struct {
	XMLName xml.Name `xml:"DeleteResult"`
	NS      string   `xml:"xmlns,attr"`
	Deleted []deletedXML
	Errors  []deleteErrXML `xml:"Error"`
}

func (s *Server) deleteObjects(c *call) *s3Error {
	if c.r.Header.Get("Content-MD5") == "" && c.checksumAlg == "" {
		return errInvalidRequest("Missing required header for this request: Content-MD5")
	}
	var req deleteXML
	if err := xml.Unmarshal(c.body, &req); err != nil || len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errMalformedXML()
	}
	res := deleteResultXML{NS: s3NS}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	for _, o := range req.Objects {
		if o.Key == "" {
			s.mu.Unlock()
			return errMalformedXML()
		}
		if o.VersionId != "" && o.VersionId != "null" {
			res.Errors = append(res.Errors, deleteErrXML{o.Key, "NoSuchVersion", "The specified version does not exist."})
			continue
		}
		var denied *s3Error
		for _, f := range s.hits("DeleteObject", o.Key) {
			if f.Status != 0 && denied == nil {
				denied = faultErr(f)
			}
		}
		if denied != nil {
			res.Errors = append(res.Errors, deleteErrXML{o.Key, denied.code, denied.message})
			continue
		}
		b.del(o.Key)
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedXML{o.Key})
		}
	}
	s.mu.Unlock()
	return writeXML(c, res)
}
