package ufs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// Root is the clean form of a UFS root (and of the namespace root).
const Root = "."

// ErrBadPath is wrapped, together with fs.ErrInvalid, by every error CleanPath returns.
var ErrBadPath = errors.New("invalid path")

// CleanPath is the one function that validates and normalises a path, for the namespace and
// for every driver. It accepts the io/fs form ("a/b", "." for the root) and the rooted form
// ("/a/b", "/" for the root); one trailing slash is tolerated ("/a/b/"). It returns the io/fs
// form, which satisfies fs.ValidPath. It rejects, with an error wrapping fs.ErrInvalid and
// ErrBadPath: "." and ".." elements (other than a lone "." for the root), empty elements
// ("a//b"), NUL bytes, backslashes and invalid UTF-8. It never consults the filesystem.
func CleanPath(p string) (string, error) {
	orig := p
	if p == "" || p == "." || p == "/" {
		return Root, nil
	}
	if strings.HasPrefix(p, "/") {
		p = p[1:]
	}
	if strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	if reason := invalidReason(p); reason != "" {
		return "", fmt.Errorf("%w: %w: %q %s", fs.ErrInvalid, ErrBadPath, orig, reason)
	}
	return p, nil
}

func invalidReason(p string) string {
	// Vectorised scans: this runs on every namespace operation.
	if strings.IndexByte(p, 0) >= 0 {
		return "contains a NUL byte"
	}
	if strings.IndexByte(p, '\\') >= 0 {
		return "contains a backslash"
	}
	for rest := p; ; {
		el := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			el = rest[:i]
		}
		if len(el) <= 2 && (el == "" || el == "." || el == "..") {
			if el == "" {
				return "has an empty element"
			}
			return `has a "." or ".." element`
		}
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	if !utf8.ValidString(p) {
		return "is not valid UTF-8"
	}
	return ""
}

// CheckPath cleans p like CleanPath and wraps a failure in a *fs.PathError for op.
// Drivers call it at the top of every method that takes a path.
func CheckPath(op, p string) (string, error) {
	c, err := CleanPath(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	return c, nil
}

// Join joins a clean directory path and a clean relative path (either may be Root).
func Join(dir, name string) string {
	switch {
	case dir == Root:
		return name
	case name == Root:
		return dir
	}
	return dir + "/" + name
}

// Split returns the parent directory and base name of a clean path. The parent of a
// top-level name is Root; Split(Root) returns (Root, Root).
func Split(p string) (dir, name string) {
	if p == Root {
		return Root, Root
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return Root, p
	}
	return p[:i], p[i+1:]
}

// Base returns the last element of a clean path ("." for Root).
func Base(p string) string {
	_, name := Split(p)
	return name
}

// IsWithin reports whether clean path p equals dir or lies below it.
func IsWithin(p, dir string) bool {
	if dir == Root || p == dir {
		return true
	}
	return strings.HasPrefix(p, dir) && len(p) > len(dir) && p[len(dir)] == '/'
}

// Rel returns p relative to dir (Root when they are equal). p must be within dir.
func Rel(dir, p string) string {
	if dir == Root {
		return p
	}
	if p == dir {
		return Root
	}
	return p[len(dir)+1:]
}

// Rooted returns the rooted form of a clean path: "/" for Root, "/a/b" for "a/b".
func Rooted(p string) string {
	if p == Root {
		return "/"
	}
	return "/" + p
}

// tempPrefix starts the names of in-flight uploads on filesystems (local, HDFS).
const tempPrefix = ".unifiedfs.tmp."

// MaxNameLen is the longest file name (bytes) local filesystems and HDFS accept.
const MaxNameLen = 255

// TempName returns a temporary name for an upload of base, in the same directory, made
// unique by token. Sync never loads entries whose name IsTempName. The name fits in
// MaxNameLen bytes whenever the token does with room to spare: base is cut (at a UTF-8
// boundary) as much as needed, so that every name the store accepts can be uploaded.
func TempName(base, token string) string {
	if room := MaxNameLen - len(tempPrefix) - 1 - len(token); len(base) > room && room >= 0 {
		for room > 0 && !utf8.RuneStart(base[room]) {
			room--
		}
		base = base[:room]
	}
	return tempPrefix + base + "." + token
}

// TempPath returns a fresh temporary path for an upload to dir/base (clean paths): in dir,
// named TempName(base, token) with a random token.
func TempPath(dir, base string) string {
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	return Join(dir, TempName(base, hex.EncodeToString(tok[:])))
}

// IsTempName reports whether name (a base name) is an in-flight upload's temporary name.
func IsTempName(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// CheckTarget validates the destination of a rename or copy (op) whose source s is
// already clean: it cleans dst and refuses, with a *fs.PathError wrapping fs.ErrInvalid,
// the root as either end and a destination below the source.
func CheckTarget(op, s, dst string) (string, error) {
	d, err := CheckPath(op, dst)
	if err != nil {
		return "", err
	}
	if s == Root || d == Root || IsWithin(d, s) {
		return "", &fs.PathError{Op: op, Path: Rooted(s), Err: fmt.Errorf("%w: cannot %s %q to %q", fs.ErrInvalid, op, s, dst)}
	}
	return d, nil
}
