package ufs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
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
	// One pass, a word at a time (this runs on every namespace operation): special flags
	// the bytes of a word that may be a NUL, a backslash, a slash or non-ASCII, and only
	// those are looked at. UTF-8 is validated only when a non-ASCII byte was seen. The
	// reasons are reported in a fixed order, whatever comes first in p.
	var nul, backslash, nonASCII bool
	elem := "" // the first bad element's reason
	start := 0 // the current element's first byte
	look := func(k int) {
		switch c := p[k]; {
		case c == '/':
			if elem == "" {
				elem = elementReason(p[start:k])
			}
			start = k + 1
		case c == 0:
			nul = true
		case c == '\\':
			backslash = true
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	i := 0
	for ; i+8 <= len(p); i += 8 {
		for m := special(word(p, i)); m != 0; m &= m - 1 {
			look(i + bits.TrailingZeros64(m)/8)
		}
	}
	for ; i < len(p); i++ {
		look(i)
	}
	if elem == "" {
		elem = elementReason(p[start:])
	}
	switch {
	case nul:
		return "contains a NUL byte"
	case backslash:
		return "contains a backslash"
	case elem != "":
		return elem
	case nonASCII && !utf8.ValidString(p):
		return "is not valid UTF-8"
	}
	return ""
}

const (
	lows   = 0x0101010101010101
	highs  = 0x8080808080808080
	slashW = '/' * lows
	bslshW = '\\' * lows
)

// word returns the 8 bytes of p at i, little-endian (one load).
func word(p string, i int) uint64 {
	_ = p[i+7]
	return uint64(p[i]) | uint64(p[i+1])<<8 | uint64(p[i+2])<<16 | uint64(p[i+3])<<24 |
		uint64(p[i+4])<<32 | uint64(p[i+5])<<40 | uint64(p[i+6])<<48 | uint64(p[i+7])<<56
}

// special has the high bit of every byte of w that is a NUL, a slash, a backslash or
// non-ASCII set, and of no byte before the first of them otherwise (a byte after one
// may be flagged too, and is looked at for nothing): zero means none.
func special(w uint64) uint64 {
	zero := func(x uint64) uint64 { return (x - lows) &^ x & highs }
	return zero(w) | zero(w^slashW) | zero(w^bslshW) | w&highs
}

// elementReason says what is wrong with one path element, or "".
func elementReason(el string) string {
	switch el {
	case "":
		return "has an empty element"
	case ".", "..":
		return `has a "." or ".." element`
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
