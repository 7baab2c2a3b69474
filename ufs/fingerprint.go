package ufs

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Fingerprint identifies the state of a UFS entry as Alluxio's does: content tags (TYPE,
// UFS, CONTENT_HASH) and metadata tags (OWNER, GROUP, MODE). Two fingerprints with equal
// content tags describe the same bytes.
type Fingerprint struct {
	Type        string // "FILE" or "DIRECTORY"
	UFS         string // Capabilities.Kind
	Owner       string
	Group       string
	Mode        fs.FileMode
	ContentHash string
}

// Fingerprint type tags.
const (
	TypeFile      = "FILE"
	TypeDirectory = "DIRECTORY"
)

// FingerprintOf builds the fingerprint of st on a store of the given kind.
func FingerprintOf(kind string, st Status) Fingerprint {
	t := TypeFile
	if st.IsDir {
		t = TypeDirectory
	}
	return Fingerprint{Type: t, UFS: kind, Owner: st.Owner, Group: st.Group, Mode: st.Mode.Perm(), ContentHash: st.ContentHash}
}

// IsZero reports whether f is the zero fingerprint (the entry was never seen in a UFS).
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// ContentChanged reports whether g describes different bytes (or a different type or
// store) than f: cached blocks of the file must be dropped.
func (f Fingerprint) ContentChanged(g Fingerprint) bool {
	return f.Type != g.Type || f.UFS != g.UFS || f.ContentHash != g.ContentHash
}

// MetadataChanged reports whether only owner, group or mode differ: attributes are updated
// in place, cached blocks stay.
func (f Fingerprint) MetadataChanged(g Fingerprint) bool {
	return !f.ContentChanged(g) && (f.Owner != g.Owner || f.Group != g.Group || f.Mode != g.Mode)
}

var fingerprintTags = [...]string{"TYPE", "UFS", "OWNER", "GROUP", "MODE", "CONTENT_HASH"}

// String serialises f in Alluxio's form: "TYPE|FILE UFS|local OWNER|u GROUP|g MODE|420
// CONTENT_HASH|...". Spaces and '|' in values become '_', as Alluxio sanitises them.
func (f Fingerprint) String() string {
	vals := [...]string{f.Type, f.UFS, f.Owner, f.Group, strconv.FormatUint(uint64(f.Mode.Perm()), 10), f.ContentHash}
	var b strings.Builder
	for i, tag := range fingerprintTags {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tag)
		b.WriteByte('|')
		b.WriteString(sanitizeTag(vals[i]))
	}
	return b.String()
}

// tagSanitizer is built once: String runs for every entry of a listing's statuses.
var tagSanitizer = strings.NewReplacer(" ", "_", "|", "_")

func sanitizeTag(v string) string {
	if v == "" {
		return "_"
	}
	return tagSanitizer.Replace(v)
}

// ParseFingerprint parses String's output. Unknown tags are ignored (Alluxio adds ACL
// tags); a malformed token or a missing TYPE is an error wrapping fs.ErrInvalid.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	for _, tok := range strings.Fields(s) {
		tag, val, ok := strings.Cut(tok, "|")
		if !ok {
			return Fingerprint{}, fmt.Errorf("%w: fingerprint token %q has no '|'", fs.ErrInvalid, tok)
		}
		if val == "_" {
			val = ""
		}
		switch tag {
		case "TYPE":
			f.Type = val
		case "UFS":
			f.UFS = val
		case "OWNER":
			f.Owner = val
		case "GROUP":
			f.Group = val
		case "MODE":
			if val != "" {
				m, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					return Fingerprint{}, fmt.Errorf("%w: fingerprint MODE %q", fs.ErrInvalid, val)
				}
				f.Mode = fs.FileMode(m).Perm()
			}
		case "CONTENT_HASH":
			f.ContentHash = val
		}
	}
	if f.Type != TypeFile && f.Type != TypeDirectory {
		return Fingerprint{}, fmt.Errorf("%w: fingerprint %q has no valid TYPE", fs.ErrInvalid, s)
	}
	return f, nil
}

// SizeMTimeHash is the content hash of a store that has none of its own but a file's
// size and modification time (Unix nanoseconds), as the local driver's:
// "len:<size>,mtime:<mtime>".
func SizeMTimeHash(size, mtime int64) string {
	var b [48]byte
	return string(AppendSizeMTimeHash(b[:0], size, mtime))
}

// AppendSizeMTimeHash appends SizeMTimeHash(size, mtime) to b.
func AppendSizeMTimeHash(b []byte, size, mtime int64) []byte {
	b = append(b, "len:"...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, ",mtime:"...)
	return strconv.AppendInt(b, mtime, 10)
}
