package ufs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func TestCleanPath(t *testing.T) {
	good := map[string]string{
		"": ".", ".": ".", "/": ".", "a": "a", "/a": "a", "a/b": "a/b", "/a/b/": "a/b", "a/b/": "a/b",
		"a b/c+d%#?": "a b/c+d%#?", "日本/語": "日本/語", "...": "...", "a..b": "a..b",
	}
	for in, want := range good {
		got, err := ufs.CleanPath(in)
		if err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a/../b", "..", "../a", "a/..", "./a", "a/.", "//", "a//b", "//a", "a//", `a\b`, "a\x00", "\xff", "/./", "/.."} {
		got, err := ufs.CleanPath(in)
		if !errors.Is(err, fs.ErrInvalid) || !errors.Is(err, ufs.ErrBadPath) {
			t.Errorf("CleanPath(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
	_, err := ufs.CheckPath("stat", "a/../b")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "stat" || pe.Path != "a/../b" {
		t.Fatalf("CheckPath error %#v", err)
	}
}

func TestPathHelpers(t *testing.T) {
	if ufs.Join(".", "a") != "a" || ufs.Join("a", ".") != "a" || ufs.Join("a", "b/c") != "a/b/c" {
		t.Error("Join")
	}
	if d, n := ufs.Split("a/b/c"); d != "a/b" || n != "c" {
		t.Error("Split", d, n)
	}
	if d, n := ufs.Split("a"); d != "." || n != "a" {
		t.Error("Split top", d, n)
	}
	if !ufs.IsWithin("a/b", "a") || ufs.IsWithin("ab", "a") || !ufs.IsWithin("a", ".") || !ufs.IsWithin("a", "a") {
		t.Error("IsWithin")
	}
	if ufs.Rel("a", "a/b/c") != "b/c" || ufs.Rel("a", "a") != "." || ufs.Rel(".", "x") != "x" {
		t.Error("Rel")
	}
	if ufs.Rooted(".") != "/" || ufs.Rooted("a/b") != "/a/b" {
		t.Error("Rooted")
	}
	if !ufs.IsTempName(ufs.TempName("f", "1")) || ufs.IsTempName("f") {
		t.Error("TempName")
	}
	// A name of the longest length gets a temporary name that is no longer, cut at a
	// UTF-8 boundary, and still unique by its token.
	for _, base := range []string{strings.Repeat("n", 255), strings.Repeat("日", 85), "x" + strings.Repeat("日", 84) + "y"} {
		tmp := ufs.TempName(base, "0123456789abcdef")
		if len(tmp) > ufs.MaxNameLen || !utf8.ValidString(tmp) || !ufs.IsTempName(tmp) || !strings.HasSuffix(tmp, ".0123456789abcdef") {
			t.Errorf("TempName of a %d-byte name = %q (%d bytes)", len(base), tmp, len(tmp))
		}
	}
}

func TestParseURI(t *testing.T) {
	cases := map[string]ufs.URI{
		"oss://bucket/dir/sub/":  {"oss", "bucket", "dir/sub"},
		"OSS://bucket":           {"oss", "bucket", "."},
		"kodo://b/":              {"kodo", "b", "."},
		"hdfs://nn:8020/data":    {"hdfs", "nn:8020", "data"},
		"file:///var/data":       {"file", "", "var/data"},
		"/var/data":              {"file", "", "var/data"},
		"s3://b/a b/c+d%20":      {"s3", "b", "a b/c+d%20"},
		"hdfs://nameservice1/x/": {"hdfs", "nameservice1", "x"},
	}
	for in, want := range cases {
		got, err := ufs.ParseURI(in)
		if err != nil || got != want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "bucket/dir", "://x", "1oss://b", "oss://b/../x", "oss://b/a//c", "oss://b?x/y", "oss://b c/", "file://\x00/", "relative/path", "o_s://b"} {
		if u, err := ufs.ParseURI(in); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseURI(%q) = %+v, %v; want ErrInvalid", in, u, err)
		}
	}
	u, _ := ufs.ParseURI("oss://b/dir")
	if u.String() != "oss://b/dir" {
		t.Error(u.String())
	}
	a, _ := ufs.ParseURI("oss://b/dir")
	b, _ := ufs.ParseURI("oss://b/dir/sub")
	c, _ := ufs.ParseURI("oss://b/dir2")
	d, _ := ufs.ParseURI("kodo://b/dir")
	if !a.Overlaps(b) || !b.Overlaps(a) || a.Overlaps(c) || a.Overlaps(d) {
		t.Error("Overlaps")
	}
}

func TestFingerprint(t *testing.T) {
	st := ufs.Status{Name: "f", Size: 3, Owner: "alice bob", Group: "g|x", Mode: 0o640, ContentHash: "abc"}
	f := ufs.FingerprintOf("oss", st)
	s := f.String()
	if s != "TYPE|FILE UFS|oss OWNER|alice_bob GROUP|g_x MODE|416 CONTENT_HASH|abc" {
		t.Fatalf("String = %q", s)
	}
	g, err := ufs.ParseFingerprint(s + " ACL|user::rw-")
	if err != nil {
		t.Fatal(err)
	}
	if g.Type != "FILE" || g.UFS != "oss" || g.Mode != 0o640 || g.ContentHash != "abc" || g.Owner != "alice_bob" {
		t.Fatalf("parsed %+v", g)
	}
	empty := ufs.FingerprintOf("local", ufs.Status{IsDir: true})
	if e, err := ufs.ParseFingerprint(empty.String()); err != nil || e != empty {
		t.Fatalf("round trip of empty values: %+v %v", e, err)
	}
	h := f
	h.Mode = 0o600
	if !f.MetadataChanged(h) || f.ContentChanged(h) {
		t.Error("mode change should be metadata only")
	}
	h = f
	h.ContentHash = "def"
	if !f.ContentChanged(h) || f.MetadataChanged(h) {
		t.Error("hash change is a content change")
	}
	for _, bad := range []string{"", "TYPE", "TYPE|BOGUS", "TYPE|FILE MODE|xyz"} {
		if _, err := ufs.ParseFingerprint(bad); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseFingerprint(%q): %v", bad, err)
		}
	}
}

func TestOptions(t *testing.T) {
	o := ufs.NewOptions(map[string]string{"fs.kodo.accessKey": "AK", "fs.kodo.secretkey": "SK-very-secret", "fs.oss.securityToken": "TOK", "n": "64MB", "d": "5min", "b": "true"})
	if v, ok := o.Get("FS.KODO.ACCESSKEY"); !ok || v != "AK" {
		t.Error("case-insensitive Get")
	}
	if v, _ := o.First("nope", "fs.kodo.accesskey"); v != "AK" {
		t.Error("First")
	}
	uri, _ := ufs.ParseURI("kodo://bkt/dir")
	_, err := o.Require(uri, "alluxio.underfs.kodo.endpoint")
	if !errors.Is(err, ufs.ErrMissingOption) || !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "alluxio.underfs.kodo.endpoint") || !strings.Contains(err.Error(), "kodo://bkt/dir") {
		t.Errorf("Require error %v", err)
	}
	if n, _ := o.Int("N", 0); n != 64<<20 {
		t.Error("Int", n)
	}
	if d, _ := o.Duration("d", 0); d != 5*time.Minute {
		t.Error("Duration", d)
	}
	if b, _ := o.Bool("b", false); !b {
		t.Error("Bool")
	}
	if _, err := o.Bool("n", false); !errors.Is(err, fs.ErrInvalid) {
		t.Error("Bool of a size")
	}
	for _, printed := range []string{o.String(), fmt.Sprintf("%v %+v %#v", o, o, o), fmt.Sprint(o.Redacted())} {
		if strings.Contains(printed, "SK-very-secret") || strings.Contains(printed, "TOK") {
			t.Errorf("secret printed: %s", printed)
		}
		if !strings.Contains(printed, "AK") {
			t.Errorf("non-secret hidden: %s", printed)
		}
	}
	if o.Map()["fs.kodo.secretkey"] != "SK-very-secret" {
		t.Error("Map must keep the secret for the driver")
	}
}

func TestParseDurationAndSize(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m": time.Minute, "5min": 5 * time.Minute, "30sec": 30 * time.Second, "-1": -time.Millisecond, "0": 0, "60000": time.Minute, "2h": 2 * time.Hour, "1day": 24 * time.Hour} {
		t.Run(in, func(t *testing.T) {
			if got, err := ufs.ParseDuration(in); err != nil || got != want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
			}
		})
	}
	for in, want := range map[string]int64{"1024": 1024, "4MB": 4 << 20, "64k": 64 << 10, "1GB": 1 << 30, "7B": 7} {
		t.Run(in, func(t *testing.T) {
			if got, err := ufs.ParseSize(in); err != nil || got != want {
				t.Errorf("ParseSize(%q) = %v, %v", in, got, err)
			}
		})
	}
	for _, bad := range []string{"", "x", "-1", "1.5GB", "99999999999TB"} {
		if _, err := ufs.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

type nopUFS struct{ ufs.UFS }

func TestRegistry(t *testing.T) {
	var r ufs.Registry
	var gotURI ufs.URI
	var gotOpts ufs.Options
	r.Register("Mem", func(ctx context.Context, u ufs.URI, o ufs.Options) (ufs.UFS, error) {
		gotURI, gotOpts = u, o
		return nopUFS{}, nil
	})
	if _, err := r.Open(context.Background(), "mem://bucket/a/b", map[string]string{"Key": "v"}); err != nil {
		t.Fatal(err)
	}
	if gotURI.Authority != "bucket" || gotURI.Path != "a/b" {
		t.Errorf("uri %+v", gotURI)
	}
	if v, _ := gotOpts.Get("key"); v != "v" {
		t.Error("options not passed")
	}
	_, err := r.Open(context.Background(), "nope://x/", nil)
	if !errors.Is(err, ufs.ErrNotSupported) || !strings.Contains(err.Error(), "mem") || !strings.Contains(err.Error(), "import") {
		t.Errorf("unknown scheme: %v", err)
	}
	mustPanic := func(name string, f func()) {
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("duplicate", func() {
		r.Register("mem", func(context.Context, ufs.URI, ufs.Options) (ufs.UFS, error) { return nil, nil })
	})
	mustPanic("nil", func() { r.Register("other", nil) })
	if s := r.Schemes(); len(s) != 1 || s[0] != "mem" {
		t.Error(s)
	}
}

func TestTypedConstructorHelpers(t *testing.T) {
	for _, c := range []struct{ dir, want string }{{"", "."}, {"/", "."}, {"a/b", "a/b"}, {"/a/b/", "a/b"}} {
		t.Run(c.dir, func(t *testing.T) {
			u, err := ufs.NewURI("oss", "bkt", c.dir)
			if err != nil || u.Path != c.want || u.Authority != "bkt" || u.Scheme != "oss" {
				t.Fatalf("NewURI(%q) = %+v, %v", c.dir, u, err)
			}
		})
	}
	if _, err := ufs.NewURI("oss", "bkt", "a/../b"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("NewURI of a/../b: %v", err)
	}
	o := ufs.OptionsOver(map[string]string{"Fs.Key": "other", "keep": "k"}, "fs.key", "field", "unset", "")
	if v, _ := o.Get("fs.key"); v != "field" || len(o.Map()) != 2 {
		t.Fatalf("OptionsOver = %v: the field must win, empty fields stay unset", o.Map())
	}
	if _, ok := o.Get("unset"); ok {
		t.Fatal("an empty field was set")
	}
}
