package ufs

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceReason is invalidReason written plainly, one scan per rule.
func referenceReason(p string) string {
	if strings.IndexByte(p, 0) >= 0 {
		return "contains a NUL byte"
	}
	if strings.IndexByte(p, '\\') >= 0 {
		return "contains a backslash"
	}
	for _, el := range strings.Split(p, "/") {
		if r := elementReason(el); r != "" {
			return r
		}
	}
	if !utf8.ValidString(p) {
		return "is not valid UTF-8"
	}
	return ""
}

// The word-at-a-time scan gives the plain scan's answer for every input.
func FuzzInvalidReasonMatchesReference(f *testing.F) {
	for _, s := range []string{"", "a", "a/b", "abcdefgh/ijklmnop", "abcdefg/", "/abcdefgh", "aaaaaaaa\x00",
		`aaaaaaaaaaaaaa\b`, "aaaaaaa/./bbbbbbbbb", "aaaaaaaa/../b", "a//b", "日本語日本語/x", "abcdefgh\xff", "\x80\x80\x80\x80\x80\x80\x80\x80",
		"year=2010/month=01/day=02/hour=03/part-00007-c000.snappy.parquet", "01234567/\x2f\x2f", "\x01\x02/\x7f\x7e\x2e\x2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := invalidReason(p), referenceReason(p); got != want {
			t.Fatalf("invalidReason(%q) = %q, want %q", p, got, want)
		}
	})
}

func BenchmarkCleanPath(b *testing.B) {
	p := "year=2010/month=01/day=02/hour=03/part-00007-c000.snappy.parquet"
	for b.Loop() {
		if _, err := CleanPath(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReferenceReason(b *testing.B) {
	p := "year=2010/month=01/day=02/hour=03/part-00007-c000.snappy.parquet"
	for b.Loop() {
		if referenceReason(p) != "" {
			b.Fatal()
		}
	}
}
