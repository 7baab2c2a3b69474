package s3test

import (
	"encoding/xml"
	"net/http"
	"sort"
	"strings"
)

type ownerXML struct {
	ID          string
	DisplayName string `xml:",omitempty"`
}

func (s *Server) owner() *ownerXML { return &ownerXML{ID: s.OwnerID, DisplayName: s.OwnerName} }

type listBucketsXML struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	NS      string   `xml:"xmlns,attr"`
	Owner   *ownerXML
	Buckets []struct {
		Name         string
		CreationDate string
	} `xml:"Buckets>Bucket"`
}

func (s *Server) listBuckets(c *call) *s3Error {
	res := listBucketsXML{NS: s3NS, Owner: s.owner()}
	s.mu.Lock()
	for _, b := range s.buckets {
		res.Buckets = append(res.Buckets, struct {
			Name         string
			CreationDate string
		}{b.name, b.created.Format(isoMillis)})
	}
	s.mu.Unlock()
	sort.Slice(res.Buckets, func(i, j int) bool { return res.Buckets[i].Name < res.Buckets[j].Name })
	return writeXML(c, res)
}

func (s *Server) createBucket(c *call) *s3Error {
	if !ValidBucketName(c.bucket) {
		return newErr(400, "InvalidBucketName", "The specified bucket is not valid.", "BucketName", c.bucket)
	}
	if len(c.body) > 0 {
		var cfg struct {
			LocationConstraint string
		}
		if err := xml.Unmarshal(c.body, &cfg); err != nil {
			return errMalformedXML()
		}
		if loc := cfg.LocationConstraint; loc != "" && loc != s.Region || loc == "" && s.Region != "us-east-1" {
			return newErr(400, "IllegalLocationConstraintException",
				"The "+loc+" location constraint is incompatible for the region specific endpoint this request was sent to.")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.buckets[c.bucket]; exists {
		return newErr(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", "BucketName", c.bucket)
	}
	s.createBucketLocked(c.bucket)
	c.w.Header().Set("Location", "/"+c.bucket)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(c *call) *s3Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buckets[c.bucket].objs) > 0 {
		return newErr(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", "BucketName", c.bucket)
	}
	for _, u := range s.uploads {
		if u.bucket == c.bucket {
			return newErr(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", "BucketName", c.bucket)
		}
	}
	delete(s.buckets, c.bucket)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) headBucket(c *call) *s3Error {
	h := c.w.Header()
	h.Set("x-amz-bucket-region", s.Region)
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketLocation(c *call) *s3Error {
	loc := s.Region
	if loc == "us-east-1" {
		loc = "" // as S3 answers for us-east-1
	}
	return writeXML(c, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		NS      string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{NS: s3NS, Value: loc})
}

type granteeXML struct {
	XSI         string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:",omitempty"`
	DisplayName string `xml:",omitempty"`
	URI         string `xml:",omitempty"`
}

type aclXML struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	NS      string   `xml:"xmlns,attr"`
	Owner   *ownerXML
	Grants  []struct {
		Grantee    granteeXML
		Permission string
	} `xml:"AccessControlList>Grant"`
}

func (s *Server) getBucketACL(c *call) *s3Error {
	s.mu.Lock()
	grants := append([]Grant(nil), s.buckets[c.bucket].acl...)
	s.mu.Unlock()
	res := aclXML{NS: s3NS, Owner: s.owner()}
	for _, g := range grants {
		ge := granteeXML{XSI: "http://www.w3.org/2001/XMLSchema-instance"}
		if g.URI != "" {
			ge.Type, ge.URI = "Group", g.URI
		} else {
			ge.Type, ge.ID = "CanonicalUser", g.ID
			if g.ID == s.OwnerID {
				ge.DisplayName = s.OwnerName
			}
		}
		res.Grants = append(res.Grants, struct {
			Grantee    granteeXML
			Permission string
		}{ge, strings.ToUpper(g.Permission)})
	}
	return writeXML(c, res)
}
