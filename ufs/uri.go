package ufs

import (
	"fmt"
	"io/fs"
	"strings"
)

// URI is a parsed UFS location such as "oss://bucket/dir", "hdfs://nn:8020/data" or
// "file:///var/data".
type URI struct {
	Scheme    string // lower case, e.g. "oss"; "file" for a bare absolute path
	Authority string // bucket, "host:port" or nameservice; empty for file://
	Path      string // clean path inside the authority (CleanPath form, Root for none)
}

// ParseURI parses "scheme://authority/path". A bare absolute path ("/var/data") means
// "file:///var/data". The path is not percent-decoded: UFS URIs, as in Alluxio, name keys
// literally. Errors wrap fs.ErrInvalid and say what is wrong. Path rules are CleanPath's.
func ParseURI(raw string) (URI, error) {
	bad := func(format string, a ...any) (URI, error) {
		return URI{}, fmt.Errorf("%w: UFS URI %q: %s", fs.ErrInvalid, raw, fmt.Sprintf(format, a...))
	}
	if strings.HasPrefix(raw, "/") {
		p, err := CleanPath(raw)
		if err != nil {
			return bad("%v", err)
		}
		return URI{Scheme: "file", Path: p}, nil
	}
	i := strings.Index(raw, "://")
	if i <= 0 {
		return bad(`want "scheme://authority/path" or an absolute local path`)
	}
	scheme := strings.ToLower(raw[:i])
	for j, c := range scheme {
		ok := c >= 'a' && c <= 'z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')
		if !ok {
			return bad("scheme %q is not valid", raw[:i])
		}
	}
	rest := raw[i+3:]
	authority, path := rest, ""
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		authority, path = rest[:j], rest[j:]
	}
	if strings.ContainsAny(authority, "\\\x00 ?#") {
		return bad("authority %q is not valid", authority)
	}
	p, err := CleanPath(path)
	if err != nil {
		return bad("%v", err)
	}
	return URI{Scheme: scheme, Authority: authority, Path: p}, nil
}

// String returns the canonical form: "scheme://authority/path" (no trailing slash).
func (u URI) String() string {
	if u.Path == Root {
		return u.Scheme + "://" + u.Authority + "/"
	}
	return u.Scheme + "://" + u.Authority + "/" + u.Path
}

// Overlaps reports whether one location contains the other (same scheme and authority, and
// one path equal to or below the other). Two mounts must never overlap.
func (u URI) Overlaps(v URI) bool {
	if u.Scheme != v.Scheme || !strings.EqualFold(u.Authority, v.Authority) {
		return false
	}
	return IsWithin(u.Path, v.Path) || IsWithin(v.Path, u.Path)
}

// NewURI returns the URI of a driver's typed constructor: scheme, authority (a bucket,
// NameNode addresses) and dir, the root directory in any of the forms CleanPath accepts
// ("", "/", "a/b", "/a/b/"). An invalid dir is an error wrapping fs.ErrInvalid.
func NewURI(scheme, authority, dir string) (URI, error) {
	u := URI{Scheme: scheme, Authority: authority, Path: Root}
	p, err := CleanPath(dir)
	if err != nil {
		return u, fmt.Errorf("%w: directory %q of %s: %v", fs.ErrInvalid, dir, u, err)
	}
	u.Path = p
	return u, nil
}
