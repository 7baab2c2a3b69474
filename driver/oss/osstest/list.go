package osstest

import (
	"encoding/base64"
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
)

type listV2XML struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name                  string
	Prefix                string
	StartAfter            string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	MaxKeys               int
	Delimiter             string
	IsTruncated           bool
	NextContinuationToken string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	KeyCount              int
	Contents              []contentXML
	CommonPrefixes        []prefixXML
}

type contentXML struct {
	Key          string
	LastModified string
	ETag         string
	Type         string
	Size         int
	StorageClass string
	Owner        *ownerXML `xml:",omitempty"`
}

type prefixXML struct{ Prefix string }

// Continuation tokens are positions: the last key or common prefix returned, so a listing
// resumes correctly after keys were added or removed.
func encodeToken(pos string) string { return base64.RawURLEncoding.EncodeToString([]byte(pos)) }

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil && len(b) > 0
}

func (s *Server) listObjectsV2(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	q := c.query
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 100
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			return errInvalidArgument("Argument max-keys must be an integer between 0 and 1000.", "max-keys", v)
		}
		maxKeys = n
	}
	marker := q.Get("start-after")
	if tok, ok := q["continuation-token"]; ok {
		pos, valid := decodeToken(tok[0])
		if !valid {
			return errInvalidArgument("The continuation token provided is incorrect.", "continuation-token", tok[0])
		}
		marker = pos
	}
	res := listV2XML{
		Name:              c.bucket,
		Prefix:            encodeKey(c, prefix),
		StartAfter:        encodeKey(c, q.Get("start-after")),
		ContinuationToken: q.Get("continuation-token"),
		MaxKeys:           maxKeys,
		Delimiter:         encodeKey(c, delim),
		EncodingType:      q.Get("encoding-type"),
	}
	fetchOwner := q.Get("fetch-owner") == "true"

	s.mu.Lock()
	b := s.buckets[c.bucket]
	keys := b.keys()
	i := sort.SearchStrings(keys, max(prefix, marker))
	if i < len(keys) && keys[i] == marker {
		i++
	}
	last := ""
	for i < len(keys) && strings.HasPrefix(keys[i], prefix) && res.KeyCount < maxKeys {
		k := keys[i]
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 {
				cp := k[:len(prefix)+j+len(delim)]
				for i < len(keys) && strings.HasPrefix(keys[i], cp) {
					i++
				}
				if cp != marker {
					res.CommonPrefixes = append(res.CommonPrefixes, prefixXML{encodeKey(c, cp)})
					res.KeyCount++
					last = cp
				}
				continue
			}
		}
		o := b.objs[k]
		ct := contentXML{Key: encodeKey(c, k), LastModified: o.mtime.Format(isoMillis), ETag: o.etag,
			Type: o.kind, Size: len(o.data), StorageClass: "Standard"}
		if fetchOwner {
			owner := fakeOwner
			ct.Owner = &owner
		}
		res.Contents = append(res.Contents, ct)
		res.KeyCount++
		last = k
		i++
	}
	// Skip a common prefix equal to the marker that the loop may be resting on.
	more := false
	for ; i < len(keys) && strings.HasPrefix(keys[i], prefix); i++ {
		k := keys[i]
		if delim != "" {
			if j := strings.Index(k[len(prefix):], delim); j >= 0 && k[:len(prefix)+j+len(delim)] == marker {
				continue
			}
		}
		more = true
		break
	}
	s.mu.Unlock()
	if more && res.KeyCount > 0 {
		res.IsTruncated = true
		res.NextContinuationToken = encodeToken(last)
	}
	return writeXML(c, res)
}

type deleteXML struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool
	Objects []struct {
		Key string
	} `xml:"Object"`
}

type deleteResultXML struct {
	XMLName      xml.Name `xml:"DeleteResult"`
	EncodingType string   `xml:",omitempty"`
	Deleted      []struct{ Key string }
}

func (s *Server) deleteMultipleObjects(c *call) *ossError {
	if e := checkEncodingType(c); e != nil {
		return e
	}
	if c.r.Header.Get("Content-MD5") == "" {
		return newErr(400, "MissingArgument", "Missing Some Required Arguments.", "ArgumentName", "Content-MD5")
	}
	body, e := readBody(c)
	if e != nil {
		return e
	}
	var req deleteXML
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return errMalformedXML()
	}
	res := deleteResultXML{EncodingType: c.query.Get("encoding-type")}
	s.mu.Lock()
	b := s.buckets[c.bucket]
	for _, o := range req.Objects {
		if o.Key == "" {
			s.mu.Unlock()
			return errMalformedXML()
		}
		if s.deleteDenied(c.bucket, o.Key) {
			continue // not deleted, so not listed as deleted
		}
		b.del(o.Key)
		if !req.Quiet {
			res.Deleted = append(res.Deleted, struct{ Key string }{encodeKey(c, o.Key)})
		}
	}
	s.mu.Unlock()
	return writeXML(c, res)
}
