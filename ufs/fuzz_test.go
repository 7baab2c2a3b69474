package ufs_test

import (
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// FuzzCleanPath checks that whatever CleanPath accepts is a valid io/fs path that names
// nothing outside the root, and that cleaning is idempotent.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"", ".", "/", "a/b", "/a/b/", "a/../b", "..", "a//b", `a\b`, "a\x00b", "日本/語", "a/./b", "\xff", "/.../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ufs.CleanPath(in)
		if err != nil {
			if out != "" {
				t.Fatalf("error with output %q", out)
			}
			return
		}
		if !fs.ValidPath(out) || !utf8.ValidString(out) {
			t.Fatalf("CleanPath(%q) = %q, not a valid path", in, out)
		}
		if strings.ContainsAny(out, "\\\x00") {
			t.Fatalf("CleanPath(%q) = %q keeps a forbidden byte", in, out)
		}
		for _, el := range strings.Split(out, "/") {
			if el == ".." || el == "" || (el == "." && out != ".") {
				t.Fatalf("CleanPath(%q) = %q has element %q", in, out, el)
			}
		}
		again, err := ufs.CleanPath(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if again, err := ufs.CleanPath(ufs.Rooted(out)); err != nil || again != out {
			t.Fatalf("rooted form differs: %q -> %q, %v", ufs.Rooted(out), again, err)
		}
	})
}

// FuzzParseURI checks that parsing never panics, that accepted URIs have a clean path and
// a lower-case scheme, and that String round-trips.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"oss://b/d", "kodo://b/", "hdfs://nn:8020/x", "file:///tmp", "/tmp/x", "oss://b/../x", "://", "a://b?c", "OSS://B/dir/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		u, err := ufs.ParseURI(in)
		if err != nil {
			return
		}
		if u.Scheme == "" || u.Scheme != strings.ToLower(u.Scheme) {
			t.Fatalf("ParseURI(%q) scheme %q", in, u.Scheme)
		}
		if c, err := ufs.CleanPath(u.Path); err != nil || c != u.Path {
			t.Fatalf("ParseURI(%q) path %q not clean", in, u.Path)
		}
		v, err := ufs.ParseURI(u.String())
		if err != nil || v != u {
			t.Fatalf("round trip %q -> %q -> %+v, %v", in, u.String(), v, err)
		}
	})
}

// FuzzFingerprint checks that any parsed fingerprint re-serialises to a parseable equal.
func FuzzFingerprint(f *testing.F) {
	f.Add("TYPE|FILE UFS|oss OWNER|a GROUP|b MODE|420 CONTENT_HASH|x")
	f.Add("TYPE|DIRECTORY")
	f.Fuzz(func(t *testing.T, in string) {
		fp, err := ufs.ParseFingerprint(in)
		if err != nil {
			return
		}
		again, err := ufs.ParseFingerprint(fp.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", fp.String(), err)
		}
		if again.String() != fp.String() {
			t.Fatalf("unstable: %q vs %q", again.String(), fp.String())
		}
	})
}
