// Package ufstest holds the conformance suite every UFS driver runs (Run) and MemFS, an
// in-memory UFS in filesystem and object-store flavours with fault injection.
package ufstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Harness tells Run how to get a UFS under test.
type Harness struct {
	// New returns a fresh, empty UFS rooted at a location no other test uses, guarded as
	// Registry.Open returns it (ufs.Guard). Run closes it when the test ends.
	New func(t *testing.T) ufs.UFS
	// OpenMissing, when set, opens (with the driver's Opener, through a ufs.Registry) a
	// location that does not exist: a missing bucket, or a missing root directory on
	// filesystems. The Opener's contract is an error satisfying fs.ErrNotExist.
	OpenMissing func(t *testing.T) (ufs.UFS, error)
	// OpenBadCredentials, when set, opens a location that exists with credentials the
	// store rejects. The Opener's contract is an error satisfying fs.ErrPermission (and
	// not fs.ErrNotExist).
	OpenBadCredentials func(t *testing.T) (ufs.UFS, error)
}

// Run runs the conformance suite over the UFS the harness makes. Each contract of the ufs
// package's doc comments that can be observed from outside has a subtest; those that do
// not apply to a store's capabilities, or whose optional interface or harness hook is
// absent, are skipped with the reason.
func Run(t *testing.T, h Harness) {
	t.Helper()
	t.Run("OpenMissing", func(t *testing.T) {
		if h.OpenMissing == nil {
			t.Skip("the harness has no OpenMissing")
		}
		u, err := h.OpenMissing(t)
		testOpenFails(t, u, err, fs.ErrNotExist, nil)
	})
	t.Run("OpenBadCredentials", func(t *testing.T) {
		if h.OpenBadCredentials == nil {
			t.Skip("the harness has no OpenBadCredentials")
		}
		u, err := h.OpenBadCredentials(t)
		testOpenFails(t, u, err, fs.ErrPermission, fs.ErrNotExist)
	})
	tests := []struct {
		name string
		fn   func(*testing.T, ufs.UFS)
	}{
		{"StatMissing", testStatMissing},
		{"RoundTrip", testRoundTrip},
		{"RangedReads", testRangedReads},
		{"ReadErrors", testReadErrors},
		{"ListOrderAndPaging", testListOrderAndPaging},
		{"ListErrors", testListErrors},
		{"OddNames", testOddNames},
		{"InvalidPaths", testInvalidPaths},
		{"NestedDirectories", testNested},
		{"Mkdir", testMkdir},
		{"Remove", testRemove},
		{"RemoveAll", testRemoveAll},
		{"RenameFile", testRenameFile},
		{"RenameDirectory", testRenameDir},
		{"RenameOntoExisting", testRenameOntoExisting},
		{"RenameErrors", testRenameErrors},
		{"ContentHash", testContentHash},
		{"VersionReads", testVersionReads},
		{"Overwrite", testOverwrite},
		{"UploadAtomicity", testUploadAtomicity},
		{"CreateOverDirectory", testCreateOverDir},
		{"WrittenMatchesStat", testWrittenMatchesStat},
		{"WriterStates", testWriterStates},
		{"Concurrency", testConcurrency},
		{"CancelledContext", testCancelled},
		{"ChangeCounter", testChangeCounter},
		{"Guarded", testGuarded},
		{"ClosedUFS", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := h.New(t)
			t.Cleanup(func() { _ = u.Close() })
			tc.fn(t, u)
		})
	}
}

var bg = context.Background()

// testOpenFails checks an Opener's failure: err satisfies want (and not notWant), and no UFS
// came back.
func testOpenFails(t *testing.T, u ufs.UFS, err error, want, notWant error) {
	t.Helper()
	if u != nil {
		_ = u.Close()
		if err == nil {
			t.Fatalf("Open succeeded; want an error satisfying %v", want)
		}
		t.Errorf("Open returned a UFS with its error %v", err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("Open: %v, want errors.Is(%v)", err, want)
	}
	if notWant != nil && errors.Is(err, notWant) {
		t.Fatalf("Open: %v also satisfies %v", err, notWant)
	}
}

// mustWrite uploads data to p and fails the test on any error.
func mustWrite(t *testing.T, u ufs.UFS, p string, data []byte) {
	t.Helper()
	if err := ufs.WriteFile(bg, u, p, data); err != nil {
		t.Fatalf("write %q: %v", p, err)
	}
}

func mustRead(t *testing.T, u ufs.UFS, p string) []byte {
	t.Helper()
	b, err := ufs.ReadFile(bg, u, p)
	if err != nil {
		t.Fatalf("read %q: %v", p, err)
	}
	return b
}

func mustStat(t *testing.T, u ufs.UFS, p string) ufs.Status {
	t.Helper()
	st, err := u.Stat(bg, p)
	if err != nil {
		t.Fatalf("stat %q: %v", p, err)
	}
	return st
}

// wantErr fails unless err is a *fs.PathError whose chain satisfies errors.Is with one of
// targets.
func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %v", what, targets)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T) is not a *fs.PathError", what, err, err)
	}
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s: error %v does not satisfy errors.Is with any of %v", what, err, targets)
}

func mustNotExist(t *testing.T, u ufs.UFS, p string) {
	t.Helper()
	_, err := u.Stat(bg, p)
	wantErr(t, "stat "+p+" (should be gone)", err, fs.ErrNotExist)
}

func listNames(t *testing.T, u ufs.UFS, dir string) []string {
	t.Helper()
	all, err := ufs.ListAll(bg, u, dir)
	if err != nil {
		t.Fatalf("list %q: %v", dir, err)
	}
	var names []string
	for _, st := range all {
		if ufs.IsTempName(st.Name) {
			continue
		}
		n := st.Name
		if st.IsDir {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func testStatMissing(t *testing.T, u ufs.UFS) {
	_, err := u.Stat(bg, "missing")
	wantErr(t, "stat missing", err, fs.ErrNotExist)
	_, err = u.Stat(bg, "missing/deeper")
	wantErr(t, "stat missing/deeper", err, fs.ErrNotExist)
	root := mustStat(t, u, ufs.Root)
	if !root.IsDir {
		t.Fatalf("stat root: IsDir false")
	}
}

func testRoundTrip(t *testing.T, u ufs.UFS) {
	data := []byte("hello, unified world\n")
	mustWrite(t, u, "f.txt", data)
	if got := mustRead(t, u, "f.txt"); !bytes.Equal(got, data) {
		t.Fatalf("read back %q, want %q", got, data)
	}
	st := mustStat(t, u, "f.txt")
	if st.IsDir || st.Size != int64(len(data)) || st.Name != "f.txt" {
		t.Fatalf("stat f.txt = %+v, want a %d-byte file named f.txt", st, len(data))
	}
	if st.ContentHash == "" {
		t.Errorf("stat f.txt: empty ContentHash")
	}
	if st.ModTime.IsZero() {
		t.Errorf("stat f.txt: zero ModTime")
	}
	mustWrite(t, u, "empty", nil)
	if got := mustRead(t, u, "empty"); len(got) != 0 {
		t.Fatalf("empty file read %d bytes", len(got))
	}
	if st := mustStat(t, u, "empty"); st.Size != 0 || st.IsDir {
		t.Fatalf("stat empty = %+v", st)
	}
	// A larger file, written in odd-sized chunks.
	big := randBytes(1, 3<<20+17)
	w, err := u.Create(bg, "big.bin", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for rest := big; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("write big: %v", err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close big: %v", err)
	}
	if got := mustRead(t, u, "big.bin"); !bytes.Equal(got, big) {
		t.Fatalf("big.bin read back %d bytes, differs from the %d written", len(got), len(big))
	}
	err = w.Close()
	wantErr(t, "second Close", err, fs.ErrClosed)
}

func readRange(u ufs.UFS, p string, off, n int64) ([]byte, error) {
	r, err := u.OpenRange(bg, p, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func testRangedReads(t *testing.T, u ufs.UFS) {
	data := randBytes(2, 1000)
	mustWrite(t, u, "r.bin", data)
	cases := []struct {
		off, n int64
		want   []byte
	}{
		{0, 10, data[:10]},
		{500, 100, data[500:600]},
		{999, 1, data[999:]},
		{990, 100, data[990:]},
		{0, -1, data},
		{123, -1, data[123:]},
		{1000, 10, nil},
		{1000, -1, nil},
		{5000, 10, nil},
		{10, 0, nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("off=%d,n=%d", c.off, c.n), func(t *testing.T) {
			got, err := readRange(u, "r.bin", c.off, c.n)
			if err != nil {
				t.Fatalf("OpenRange(off=%d, n=%d): %v", c.off, c.n, err)
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("OpenRange(off=%d, n=%d) = %d bytes, want %d bytes (content differs: %v)", c.off, c.n, len(got), len(c.want), len(got) == len(c.want))
			}
		})
	}
}

func testReadErrors(t *testing.T, u ufs.UFS) {
	_, err := u.OpenRange(bg, "nope", 0, -1)
	wantErr(t, "open missing", err, fs.ErrNotExist)
	mustWrite(t, u, "d/f", []byte("x"))
	r, err := u.OpenRange(bg, "d", 0, -1)
	if err == nil {
		// Some stores only notice on the first Read.
		_, err = io.ReadAll(r)
		r.Close()
	}
	wantErr(t, "open directory", err, ufs.ErrIsDir, fs.ErrNotExist)
	_, err = u.OpenRange(bg, "d/f", -1, 5)
	wantErr(t, "negative offset", err, fs.ErrInvalid)
}

func testListOrderAndPaging(t *testing.T, u ufs.UFS) {
	obj := u.Capabilities().ObjectStore
	// Names chosen so that a directory "d" and a file "d-1" order differently by name
	// ("d" < "d-1") and by key ("d-1" < "d/").
	var want []string
	for i := 0; i < 20; i++ {
		n := fmt.Sprintf("f%02d", i)
		mustWrite(t, u, "list/"+n, []byte(n))
		want = append(want, n)
	}
	for _, n := range []string{"d-1", "d.txt", "a", "z"} {
		mustWrite(t, u, "list/"+n, []byte(n))
		want = append(want, n)
	}
	mustWrite(t, u, "list/d/inner", []byte("x"))
	mustWrite(t, u, "list/sub/deeper/x", []byte("x"))
	if err := u.Mkdir(bg, "list/emptydir"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "d/", "sub/", "emptydir/")
	sort.Strings(want)

	var got []string
	var keys []string
	opts := ufs.ListOptions{PageSize: 7}
	pages := 0
	for {
		page, err := u.List(bg, "list", opts)
		if err != nil {
			t.Fatalf("list page %d: %v", pages, err)
		}
		pages++
		if len(page.Entries) > 7 {
			t.Fatalf("page %d has %d entries, PageSize was 7", pages, len(page.Entries))
		}
		for _, st := range page.Entries {
			if ufs.IsTempName(st.Name) {
				continue
			}
			n := st.Name
			if st.IsDir {
				n += "/"
			} else if st.Size != int64(len(st.Name)) {
				t.Errorf("entry %s: size %d, want %d", st.Name, st.Size, len(st.Name))
			}
			got = append(got, n)
			keys = append(keys, ufs.ListKey(st, obj))
		}
		if page.NextPageToken == "" {
			break
		}
		if pages > 100 {
			t.Fatal("listing never ends")
		}
		opts.PageToken = page.NextPageToken
	}
	if pages < 2 {
		t.Errorf("listing 27 entries with PageSize 7 took %d page(s); paging untested", pages)
	}
	if !sort.StringsAreSorted(keys) {
		t.Errorf("entries not in ListKey order across pages: %v", keys)
	}
	sorted := append([]string(nil), got...)
	sort.Strings(sorted)
	if !equalStrings(sorted, want) {
		t.Fatalf("listing = %v\nwant      %v", sorted, want)
	}
	// Listing the root shows the top directory; listing an empty directory is empty.
	if names := listNames(t, u, ufs.Root); !equalStrings(names, []string{"list/"}) {
		t.Errorf("list root = %v, want [list/]", names)
	}
	if names := listNames(t, u, "list/emptydir"); len(names) != 0 {
		t.Errorf("list of an empty directory = %v", names)
	}
	// Directory entries report IsDir; Stat agrees.
	if st := mustStat(t, u, "list/sub"); !st.IsDir {
		t.Errorf("stat list/sub: not a directory")
	}
}

func testListErrors(t *testing.T, u ufs.UFS) {
	_, err := u.List(bg, "nope", ufs.ListOptions{})
	wantErr(t, "list missing", err, fs.ErrNotExist)
	mustWrite(t, u, "file", []byte("x"))
	_, err = u.List(bg, "file", ufs.ListOptions{})
	if u.Capabilities().ObjectStore {
		wantErr(t, "list a file", err, ufs.ErrNotDir, fs.ErrNotExist)
	} else {
		wantErr(t, "list a file", err, ufs.ErrNotDir)
	}
}

// OddNames are names every driver must store and list exactly.
var OddNames = []string{"a+b c.txt", "100%", "50%25", "hash#tag", "what?", "semi;colon", "amp&er=sand", "quote'\"", "日本語.txt", "emoji-😀", "tab\tname", "~tilde", "brack[et]", "plus+", "space at end "}

func testOddNames(t *testing.T, u ufs.UFS) {
	var want []string
	for i, n := range OddNames {
		data := []byte(fmt.Sprintf("content %d of %q", i, n))
		mustWrite(t, u, "odd/"+n, data)
		if got := mustRead(t, u, "odd/"+n); !bytes.Equal(got, data) {
			t.Errorf("read %q = %q, want %q", n, got, data)
		}
		if st := mustStat(t, u, "odd/"+n); st.Name != n || st.Size != int64(len(data)) {
			t.Errorf("stat %q = name %q size %d", n, st.Name, st.Size)
		}
		want = append(want, n)
	}
	mustWrite(t, u, "odd/dir with space/x+y", []byte("z"))
	want = append(want, "dir with space/")
	sort.Strings(want)
	if got := listNames(t, u, "odd"); !equalStrings(got, want) {
		t.Errorf("list odd = %q\nwant       %q", got, want)
	}
	if got := listNames(t, u, "odd/dir with space"); !equalStrings(got, []string{"x+y"}) {
		t.Errorf("list 'odd/dir with space' = %q", got)
	}
	if err := u.Rename(bg, "odd/a+b c.txt", "odd/renamed 100%#?.txt"); err != nil {
		t.Fatalf("rename odd name: %v", err)
	}
	mustStat(t, u, "odd/renamed 100%#?.txt")
	if err := u.Remove(bg, "odd/renamed 100%#?.txt"); err != nil {
		t.Fatalf("remove odd name: %v", err)
	}
	mustNotExist(t, u, "odd/renamed 100%#?.txt")
}

// InvalidPaths must be rejected with fs.ErrInvalid by every method.
var InvalidPaths = []string{"a/../b", "../x", "..", "a/..", "./a", "a/./b", "a//b", `a\b`, "a\x00b", "\xff\xfe"}

func testInvalidPaths(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "b", []byte("target of a/../b"))
	for _, p := range InvalidPaths {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) { testInvalidPath(t, u, p) })
	}
	if got := mustRead(t, u, "b"); string(got) != "target of a/../b" {
		t.Fatalf("b changed: %q", got)
	}
	if names := listNames(t, u, ufs.Root); !equalStrings(names, []string{"b"}) {
		t.Fatalf("root holds %v after invalid calls, want [b]", names)
	}
}

func testInvalidPath(t *testing.T, u ufs.UFS, p string) {
	{
		_, err := u.Stat(bg, p)
		wantErr(t, fmt.Sprintf("Stat(%q)", p), err, fs.ErrInvalid)
		_, err = u.List(bg, p, ufs.ListOptions{})
		wantErr(t, fmt.Sprintf("List(%q)", p), err, fs.ErrInvalid)
		_, err = u.OpenRange(bg, p, 0, -1)
		wantErr(t, fmt.Sprintf("OpenRange(%q)", p), err, fs.ErrInvalid)
		w, err := u.Create(bg, p, ufs.CreateOptions{})
		if err == nil {
			_, _ = w.Write([]byte("escaped"))
			err = w.Close()
			if err == nil {
				t.Fatalf("Create(%q) succeeded", p)
			}
		}
		wantErr(t, fmt.Sprintf("Create(%q)", p), err, fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("Mkdir(%q)", p), u.Mkdir(bg, p), fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("Remove(%q)", p), u.Remove(bg, p), fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("RemoveAll(%q)", p), u.RemoveAll(bg, p), fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("Rename(%q, ok)", p), u.Rename(bg, p, "ok"), fs.ErrInvalid)
		wantErr(t, fmt.Sprintf("Rename(b, %q)", p), u.Rename(bg, "b", p), fs.ErrInvalid)
		if vr, ok := u.(ufs.VersionReader); ok {
			_, err := vr.OpenVersion(bg, p, "hash", 0, -1)
			wantErr(t, fmt.Sprintf("OpenVersion(%q)", p), err, fs.ErrInvalid)
		}
		if cc, ok := u.(ufs.ChangeCounter); ok {
			_, _, err := cc.ChangesSince(bg, p, 0)
			wantErr(t, fmt.Sprintf("ChangesSince(%q)", p), err, fs.ErrInvalid)
		}
	}
}

func testNested(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "x/y/z/f", []byte("deep"))
	for _, d := range []string{"x", "x/y", "x/y/z"} {
		if st := mustStat(t, u, d); !st.IsDir {
			t.Errorf("stat %s: not a directory", d)
		}
	}
	if got := listNames(t, u, "x"); !equalStrings(got, []string{"y/"}) {
		t.Errorf("list x = %v", got)
	}
	if got := listNames(t, u, "x/y/z"); !equalStrings(got, []string{"f"}) {
		t.Errorf("list x/y/z = %v", got)
	}
	// Stat with the rooted form names the same entry.
	if st := mustStat(t, u, "/x/y/z/f"); st.Size != 4 {
		t.Errorf("stat /x/y/z/f size %d", st.Size)
	}
}

func testMkdir(t *testing.T, u ufs.UFS) {
	if err := u.Mkdir(bg, "m/n"); err != nil {
		t.Fatalf("mkdir m/n: %v", err)
	}
	if st := mustStat(t, u, "m/n"); !st.IsDir {
		t.Fatal("m/n is not a directory")
	}
	if err := u.Mkdir(bg, "m/n"); err != nil {
		t.Fatalf("mkdir of an existing directory: %v (want success)", err)
	}
	if got := listNames(t, u, "m"); !equalStrings(got, []string{"n/"}) {
		t.Errorf("list m = %v", got)
	}
	if err := u.Mkdir(bg, ufs.Root); err != nil {
		t.Errorf("mkdir root: %v", err)
	}
	if u.Capabilities().ObjectStore {
		t.Log("object store: a file and a directory may share a name; skipping mkdir over a file")
		return
	}
	mustWrite(t, u, "m/file", []byte("x"))
	wantErr(t, "mkdir over a file", u.Mkdir(bg, "m/file"), fs.ErrExist)
	wantErr(t, "mkdir below a file", u.Mkdir(bg, "m/file/sub"), fs.ErrExist, ufs.ErrNotDir)
}

func testRemove(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "rm/f", []byte("x"))
	mustWrite(t, u, "rm/full/g", []byte("x"))
	if err := u.Mkdir(bg, "rm/empty"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "remove non-empty dir", u.Remove(bg, "rm/full"), ufs.ErrNotEmpty)
	mustStat(t, u, "rm/full/g")
	wantErr(t, "remove missing", u.Remove(bg, "rm/none"), fs.ErrNotExist)
	wantErr(t, "remove root", u.Remove(bg, ufs.Root), fs.ErrInvalid)
	if err := u.Remove(bg, "rm/f"); err != nil {
		t.Fatalf("remove file: %v", err)
	}
	mustNotExist(t, u, "rm/f")
	if err := u.Remove(bg, "rm/empty"); err != nil {
		t.Fatalf("remove empty dir: %v", err)
	}
	mustNotExist(t, u, "rm/empty")
	if got := listNames(t, u, "rm"); !equalStrings(got, []string{"full/"}) {
		t.Errorf("list rm = %v", got)
	}
}

func testRemoveAll(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "ra/a/b/c", []byte("x"))
	mustWrite(t, u, "ra/a/d", []byte("x"))
	mustWrite(t, u, "ra-sibling", []byte("keep"))
	mustWrite(t, u, "ra/keep", []byte("keep"))
	if err := u.RemoveAll(bg, "ra/a"); err != nil {
		t.Fatalf("removeall: %v", err)
	}
	mustNotExist(t, u, "ra/a")
	mustNotExist(t, u, "ra/a/b/c")
	if got := listNames(t, u, "ra"); !equalStrings(got, []string{"keep"}) {
		t.Errorf("list ra = %v", got)
	}
	mustStat(t, u, "ra-sibling")
	if err := u.RemoveAll(bg, "ra/none"); err != nil {
		t.Errorf("removeall missing: %v (want nil)", err)
	}
	if err := u.RemoveAll(bg, "ra/keep"); err != nil {
		t.Errorf("removeall of a file: %v", err)
	}
	mustNotExist(t, u, "ra/keep")
	wantErr(t, "removeall root", u.RemoveAll(bg, ufs.Root), fs.ErrInvalid)
	mustStat(t, u, "ra-sibling")
}

func testRenameFile(t *testing.T, u ufs.UFS) {
	data := []byte("move me")
	mustWrite(t, u, "mv/src", data)
	if err := u.Rename(bg, "mv/src", "mv/dst"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	mustNotExist(t, u, "mv/src")
	if got := mustRead(t, u, "mv/dst"); !bytes.Equal(got, data) {
		t.Fatalf("renamed content %q", got)
	}
	if err := u.Rename(bg, "mv/dst", "other/parent/moved"); err != nil {
		t.Fatalf("rename to a new parent: %v", err)
	}
	if got := mustRead(t, u, "other/parent/moved"); !bytes.Equal(got, data) {
		t.Fatalf("renamed content %q", got)
	}
}

func testRenameDir(t *testing.T, u ufs.UFS) {
	files := map[string]string{"a": "1", "b/c": "2", "b/d/e": "3"}
	for p, c := range files {
		mustWrite(t, u, "tree/"+p, []byte(c))
	}
	mustWrite(t, u, "tree-sibling", []byte("keep"))
	if err := u.Rename(bg, "tree", "moved/tree2"); err != nil {
		t.Fatalf("rename dir: %v", err)
	}
	mustNotExist(t, u, "tree")
	mustNotExist(t, u, "tree/a")
	for p, c := range files {
		if got := mustRead(t, u, "moved/tree2/"+p); string(got) != c {
			t.Errorf("moved/tree2/%s = %q, want %q", p, got, c)
		}
	}
	if got := mustRead(t, u, "tree-sibling"); string(got) != "keep" {
		t.Errorf("sibling changed: %q", got)
	}
}

func testRenameOntoExisting(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "s", []byte("source"))
	mustWrite(t, u, "t", []byte("target"))
	wantErr(t, "rename onto existing file", u.Rename(bg, "s", "t"), fs.ErrExist)
	if got := mustRead(t, u, "s"); string(got) != "source" {
		t.Errorf("source changed: %q", got)
	}
	if got := mustRead(t, u, "t"); string(got) != "target" {
		t.Errorf("target changed: %q", got)
	}
	mustWrite(t, u, "dir/x", []byte("x"))
	wantErr(t, "rename file onto existing dir", u.Rename(bg, "s", "dir"), fs.ErrExist)
	mustWrite(t, u, "dir2/y", []byte("y"))
	wantErr(t, "rename dir onto existing dir", u.Rename(bg, "dir2", "dir"), fs.ErrExist)
	if got := listNames(t, u, "dir"); !equalStrings(got, []string{"x"}) {
		t.Errorf("dir holds %v", got)
	}
}

func testRenameErrors(t *testing.T, u ufs.UFS) {
	wantErr(t, "rename missing", u.Rename(bg, "nope", "x"), fs.ErrNotExist)
	mustWrite(t, u, "p/q/r", []byte("x"))
	wantErr(t, "rename into own subtree", u.Rename(bg, "p", "p/q/p2"), fs.ErrInvalid)
	wantErr(t, "rename root", u.Rename(bg, ufs.Root, "x"), fs.ErrInvalid)
	wantErr(t, "rename onto root", u.Rename(bg, "p", ufs.Root), fs.ErrInvalid)
	mustStat(t, u, "p/q/r")
}

func testContentHash(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "h", []byte("version-1"))
	h1 := mustStat(t, u, "h").ContentHash
	if h2 := mustStat(t, u, "h").ContentHash; h1 != h2 {
		t.Fatalf("hash unstable without a change: %q then %q", h1, h2)
	}
	mustWrite(t, u, "h", []byte("version-2")) // same length
	h3 := mustStat(t, u, "h").ContentHash
	if h3 == h1 {
		t.Fatalf("content changed but hash stayed %q", h1)
	}
	mustWrite(t, u, "h", []byte("v3"))
	if st := mustStat(t, u, "h"); st.ContentHash == h3 || st.Size != 2 {
		t.Fatalf("after third write: %+v", st)
	}
}

// testVersionReads checks ufs.VersionReader: the version asked for is read exactly, and a
// replaced or shortened file fails with ErrChanged instead of returning its bytes.
func testVersionReads(t *testing.T, u ufs.UFS) {
	vr, ok := u.(ufs.VersionReader)
	if !ok {
		t.Skip("the store does not implement ufs.VersionReader")
	}
	readVersion := func(hash string, off, n int64) ([]byte, error) {
		rc, err := vr.OpenVersion(bg, "v", hash, off, n)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	v1 := []byte("version-one-of-v")
	mustWrite(t, u, "v", v1)
	h1 := mustStat(t, u, "v").ContentHash
	if h1 == "" {
		t.Skip("the store reports no content hash")
	}
	for _, r := range []struct{ off, n int64 }{{0, -1}, {0, int64(len(v1))}, {3, 5}, {int64(len(v1)) - 1, 1}, {int64(len(v1)), 0}} {
		got, err := readVersion(h1, r.off, r.n)
		end := int64(len(v1))
		if r.n >= 0 {
			end = r.off + r.n
		}
		if err != nil || !bytes.Equal(got, v1[r.off:end]) {
			t.Fatalf("OpenVersion(v1, %d, %d) = %q, %v; want %q", r.off, r.n, got, err, v1[r.off:end])
		}
	}
	// Past the end of the version asked for: the version had no such bytes, so this is
	// the file's own EOF (empty), as OpenRange.
	if got, err := readVersion(h1, int64(len(v1))+10, 4); err != nil && !errors.Is(err, ufs.ErrChanged) || len(got) != 0 {
		t.Fatalf("OpenVersion past the end = %q, %v", got, err)
	}
	mustWrite(t, u, "v", []byte("VERSION-TWO-OF-V")) // same length, other content
	h2 := mustStat(t, u, "v").ContentHash
	if h2 == h1 {
		t.Fatalf("content changed but hash stayed %q", h1)
	}
	got, err := readVersion(h1, 0, -1)
	wantErr(t, "OpenVersion of a replaced version", err, ufs.ErrChanged)
	if len(got) != 0 {
		t.Fatalf("OpenVersion of a replaced version returned %q", got)
	}
	if got, err := readVersion(h2, 4, 3); err != nil || string(got) != "ION" {
		t.Fatalf("OpenVersion(v2) = %q, %v", got, err)
	}
	mustWrite(t, u, "v", []byte("v3"))
	h3 := mustStat(t, u, "v").ContentHash
	// A range longer than the file: ErrChanged, never a silent short read.
	got, err = readVersion(h3, 0, 10)
	wantErr(t, "OpenVersion beyond the end of the file", err, ufs.ErrChanged)
	if len(got) > 2 {
		t.Fatalf("read %q", got)
	}
	_, err = vr.OpenVersion(bg, "missing", h1, 0, -1)
	wantErr(t, "OpenVersion of a missing file", err, fs.ErrNotExist)
}

func testOverwrite(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "o", bytes.Repeat([]byte("long"), 1000))
	mustWrite(t, u, "o", []byte("short"))
	if got := mustRead(t, u, "o"); string(got) != "short" {
		t.Fatalf("overwrite left %d bytes", len(got))
	}
}

func testUploadAtomicity(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "at/old", []byte("old content"))
	w, err := u.Create(bg, "at/new", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	_, err = u.Stat(bg, "at/new")
	wantErr(t, "stat before Close", err, fs.ErrNotExist)
	if got := listNames(t, u, "at"); !equalStrings(got, []string{"old"}) {
		t.Errorf("listing during upload = %v, want [old]", got)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("abort: %v", err)
	}
	mustNotExist(t, u, "at/new")
	if err := w.Close(); err == nil {
		t.Errorf("Close after Abort succeeded")
	}
	mustNotExist(t, u, "at/new")
	// An aborted overwrite keeps the old content.
	w, err = u.Create(bg, "at/old", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("replacement"))
	_ = w.Abort()
	if got := mustRead(t, u, "at/old"); string(got) != "old content" {
		t.Fatalf("aborted overwrite changed the file: %q", got)
	}
	// Nothing is left behind: no temp files, no half objects.
	if all, err := ufs.ListAll(bg, u, "at"); err != nil || len(all) != 1 {
		t.Errorf("after aborts, at/ holds %v (err %v), want only old", all, err)
	}
}

func testCreateOverDir(t *testing.T, u ufs.UFS) {
	if u.Capabilities().ObjectStore {
		t.Skip("object store: a file may share a directory's name")
	}
	mustWrite(t, u, "cd/inner", []byte("x"))
	err := ufs.WriteFile(bg, u, "cd", []byte("clobber"))
	wantErr(t, "create over a directory", err, ufs.ErrIsDir, fs.ErrExist)
	if got := mustRead(t, u, "cd/inner"); string(got) != "x" {
		t.Fatal("directory content changed")
	}
	w, err := u.Create(bg, ufs.Root, ufs.CreateOptions{})
	if err == nil {
		err = w.Close()
	}
	wantErr(t, "create root", err, fs.ErrInvalid)
}

// testWrittenMatchesStat checks what every writer reports it stored (ufs.WrittenStatus):
// the namespace records it as the file's fingerprint, so it must be what Stat says. A
// writer that knows (ufs.StatWriter) says nothing before a successful Close.
func testWrittenMatchesStat(t *testing.T, u ufs.UFS) {
	for _, size := range []int{0, 10, 3<<20 + 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			p := fmt.Sprintf("w/f%d", size)
			w, err := u.Create(bg, p, ufs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sw, isStatWriter := w.(ufs.StatWriter)
			if isStatWriter {
				if _, ok := sw.Written(); ok {
					t.Errorf("Written reports a status before Close")
				}
			}
			if _, err := w.Write(randBytes(int64(size), size)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if isStatWriter {
				if _, ok := sw.Written(); !ok {
					t.Fatalf("%s: Written reports nothing after a successful Close", p)
				}
			}
			got, err := ufs.WrittenStatus(bg, u, p, w)
			if err != nil {
				t.Fatal(err)
			}
			st := mustStat(t, u, p)
			if got.Size != st.Size || got.ContentHash != st.ContentHash || got.Name != st.Name {
				t.Fatalf("%s: written %+v, Stat %+v", p, got, st)
			}
		})
	}
	t.Run("FailedClose", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		w, err := u.Create(ctx, "w/failed", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := w.Close(); err == nil {
			t.Fatal("Close with a cancelled context succeeded")
		}
		if sw, ok := w.(ufs.StatWriter); ok {
			if st, ok := sw.Written(); ok {
				t.Fatalf("Written reports %+v after a failed Close", st)
			}
		}
		mustNotExist(t, u, "w/failed")
	})
}

// testWriterStates checks the Writer state machine: what Write, Close and Abort do after
// Close, after Abort and after a failed Write.
func testWriterStates(t *testing.T, u ufs.UFS) {
	data := []byte("some data")
	start := func(t *testing.T, ctx context.Context, p string) ufs.Writer {
		t.Helper()
		w, err := u.Create(ctx, p, ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		return w
	}
	closedErrs := func(t *testing.T, w ufs.Writer) {
		t.Helper()
		_, err := w.Write(data)
		wantErr(t, "Write", err, fs.ErrClosed)
		wantErr(t, "Close", w.Close(), fs.ErrClosed)
		if err := w.Abort(); err != nil {
			t.Errorf("Abort: %v, want a no-op", err)
		}
	}
	t.Run("AfterClose", func(t *testing.T) {
		w := start(t, bg, "ws/closed")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		closedErrs(t, w)
		if got := mustRead(t, u, "ws/closed"); !bytes.Equal(got, data) {
			t.Fatalf("after Close and later calls the file holds %q", got)
		}
	})
	t.Run("AfterAbort", func(t *testing.T) {
		w := start(t, bg, "ws/aborted")
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		closedErrs(t, w)
		mustNotExist(t, u, "ws/aborted")
	})
	t.Run("AfterFailedWrite", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		w := start(t, ctx, "ws/failed")
		cancel()
		_, err := w.Write(data)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Write after cancel: %v, want context.Canceled", err)
		}
		if _, err2 := w.Write(data); !errors.Is(err2, context.Canceled) {
			t.Fatalf("second Write after a failure: %v, want the failure again", err2)
		}
		if err := w.Close(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close after a failed Write: %v, want the failure", err)
		}
		closedErrs(t, w)
		mustNotExist(t, u, "ws/failed")
	})
	t.Run("AbortAfterFailedWrite", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		w := start(t, ctx, "ws/failed2")
		cancel()
		if _, err := w.Write(data); err == nil {
			t.Fatal("Write after cancel succeeded")
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort after a failed Write: %v, want a no-op", err)
		}
		closedErrs(t, w)
		mustNotExist(t, u, "ws/failed2")
	})
	if names := listNames(t, u, "ws"); !equalStrings(names, []string{"closed"}) {
		t.Fatalf("ws holds %v, want [closed]", names)
	}
}

// testChangeCounter checks ufs.ChangeCounter: changes below a directory are counted from a
// cursor on, changes elsewhere are not, and a quiet interval counts none.
func testChangeCounter(t *testing.T, u ufs.UFS) {
	cc, ok := u.(ufs.ChangeCounter)
	if !ok {
		t.Skip("the store does not implement ufs.ChangeCounter")
	}
	mustWrite(t, u, "cc/watched/a", []byte("a"))
	mustWrite(t, u, "cc/other/b", []byte("b"))
	_, c1, err := cc.ChangesSince(bg, "cc/watched", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, c2, err := cc.ChangesSince(bg, "cc/watched", c1); err != nil || n != 0 || c2 < c1 {
		t.Fatalf("ChangesSince with nothing changed = %d, cursor %d (from %d), %v; want 0", n, c2, c1, err)
	}
	mustWrite(t, u, "cc/other/c", []byte("c"))
	if n, _, err := cc.ChangesSince(bg, "cc/watched", c1); err != nil || n != 0 {
		t.Fatalf("ChangesSince after a change elsewhere = %d, %v; want 0", n, err)
	}
	mustWrite(t, u, "cc/watched/d", []byte("d"))
	if err := u.Remove(bg, "cc/watched/a"); err != nil {
		t.Fatal(err)
	}
	n, c3, err := cc.ChangesSince(bg, "cc/watched", c1)
	if err != nil || n < 2 || c3 <= c1 {
		t.Fatalf("ChangesSince after a write and a remove = %d, cursor %d (from %d), %v; want at least 2", n, c3, c1, err)
	}
	if n, _, err := cc.ChangesSince(bg, "cc", c1); err != nil || n < 3 {
		t.Fatalf("ChangesSince of the parent = %d, %v; want at least 3", n, err)
	}
	if n, _, err := cc.ChangesSince(bg, "cc/watched", c3); err != nil || n != 0 {
		t.Fatalf("ChangesSince from the latest cursor = %d, %v; want 0", n, err)
	}
}

// optionalInterfaces are the interfaces a guard passes through from its driver.
var optionalInterfaces = []struct {
	name string
	is   func(any) bool
}{
	{"ufs.VersionReader", func(v any) bool { _, ok := v.(ufs.VersionReader); return ok }},
	{"ufs.ChangeCounter", func(v any) bool { _, ok := v.(ufs.ChangeCounter); return ok }},
	{"ufs.Appender", func(v any) bool { _, ok := v.(ufs.Appender); return ok }},
	{"ufs.Sealer", func(v any) bool { _, ok := v.(ufs.Sealer); return ok }},
	{"ufs.OptionKeyer", func(v any) bool { _, ok := v.(ufs.OptionKeyer); return ok }},
	{"ufs.RetryReporter", func(v any) bool { _, ok := v.(ufs.RetryReporter); return ok }},
}

// testGuarded checks that the UFS is guarded (ufs.Guard) and exposes exactly the optional
// interfaces its driver implements, and that the guard counts calls and errors.
func testGuarded(t *testing.T, u ufs.UFS) {
	d := ufs.Unwrap(u)
	if d == u {
		t.Fatalf("%T is not guarded: return ufs.Guard(driver) from the Opener and the constructors", u)
	}
	for _, i := range optionalInterfaces {
		if got, want := i.is(u), i.is(d); got != want {
			t.Errorf("the guard implements %s: %v; its driver %T: %v", i.name, got, d, want)
		}
	}
	cs, ok := u.(ufs.CallStats)
	if !ok {
		t.Fatal("the guard does not implement ufs.CallStats")
	}
	count := func(op string) ufs.OpCount {
		for _, c := range cs.Calls() {
			if c.Op == op {
				return c
			}
		}
		t.Fatalf("Calls has no %q: %v", op, cs.Calls())
		return ufs.OpCount{}
	}
	before, beforeOpen := count("stat"), count("open")
	mustWrite(t, u, "g/f", []byte("x"))
	mustStat(t, u, "g/f")
	_, err := u.Stat(bg, "g/missing")
	wantErr(t, "stat g/missing", err, fs.ErrNotExist)
	if after := count("stat"); after.Calls != before.Calls+2 || after.Errors != before.Errors+1 {
		t.Errorf("stat counts went from %+v to %+v, want 2 calls and 1 error more", before, after)
	}
	_, err = u.OpenRange(bg, "g/../x", 0, -1)
	wantErr(t, "open g/../x", err, fs.ErrInvalid)
	if after := count("open"); after.Calls != beforeOpen.Calls+1 || after.Errors != beforeOpen.Errors+1 {
		t.Errorf("open counts went from %+v to %+v, want 1 call and 1 error more", beforeOpen, after)
	}
	if ufs.Guard(u) != u {
		t.Errorf("guarding a guarded UFS wrapped it again")
	}
}

// testClosed checks that every method fails with fs.ErrClosed after Close, a second Close
// too.
func testClosed(t *testing.T, u ufs.UFS) {
	mustWrite(t, u, "cl/f", []byte("x"))
	if err := u.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := u.Stat(bg, "cl/f")
	wantErr(t, "Stat after Close", err, fs.ErrClosed)
	_, err = u.List(bg, "cl", ufs.ListOptions{})
	wantErr(t, "List after Close", err, fs.ErrClosed)
	_, err = u.OpenRange(bg, "cl/f", 0, -1)
	wantErr(t, "OpenRange after Close", err, fs.ErrClosed)
	_, err = u.Create(bg, "cl/g", ufs.CreateOptions{})
	wantErr(t, "Create after Close", err, fs.ErrClosed)
	wantErr(t, "Mkdir after Close", u.Mkdir(bg, "cl/d"), fs.ErrClosed)
	wantErr(t, "Remove after Close", u.Remove(bg, "cl/f"), fs.ErrClosed)
	wantErr(t, "RemoveAll after Close", u.RemoveAll(bg, "cl"), fs.ErrClosed)
	wantErr(t, "Rename after Close", u.Rename(bg, "cl/f", "cl/g"), fs.ErrClosed)
	if vr, ok := u.(ufs.VersionReader); ok {
		_, err := vr.OpenVersion(bg, "cl/f", "hash", 0, -1)
		wantErr(t, "OpenVersion after Close", err, fs.ErrClosed)
	}
	if cc, ok := u.(ufs.ChangeCounter); ok {
		_, _, err := cc.ChangesSince(bg, "cl", 0)
		wantErr(t, "ChangesSince after Close", err, fs.ErrClosed)
	}
	if a, ok := u.(ufs.Appender); ok {
		_, err := a.Append(bg, "cl/log")
		wantErr(t, "Append after Close", err, fs.ErrClosed)
		wantErr(t, "Truncate after Close", a.Truncate(bg, "cl/f", 0), fs.ErrClosed)
	}
	if s, ok := u.(ufs.Sealer); ok {
		wantErr(t, "Seal after Close", s.Seal(bg, "cl/f"), fs.ErrClosed)
	}
	wantErr(t, "second Close", u.Close(), fs.ErrClosed)
}

func testConcurrency(t *testing.T, u ufs.UFS) {
	const writers, files = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*files*4)
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < files; i++ {
				p := fmt.Sprintf("c/w%d/f%d", g, i)
				data := []byte(p + strings.Repeat("!", g*100+i))
				if err := ufs.WriteFile(bg, u, p, data); err != nil {
					errs <- err
					continue
				}
				got, err := ufs.ReadFile(bg, u, p)
				if err != nil {
					errs <- err
				} else if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: read back differs", p)
				}
				if _, err := ufs.ListAll(bg, u, "c"); err != nil {
					errs <- err
				}
			}
		}(g)
	}
	// Writers racing on one path: the result is exactly one of the versions.
	versions := make([][]byte, 4)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := ufs.WriteFile(bg, u, "c/contended", versions[i]); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := mustRead(t, u, "c/contended")
	ok := false
	for _, v := range versions {
		ok = ok || bytes.Equal(got, v)
	}
	if !ok {
		t.Fatalf("contended file holds %d bytes that match no single writer", len(got))
	}
	if n := len(listNames(t, u, "c")); n != writers+1 {
		t.Fatalf("c holds %d entries, want %d", n, writers+1)
	}
}

func testCancelled(t *testing.T, u ufs.UFS) {
	big := randBytes(3, 4<<20)
	mustWrite(t, u, "cx/f", big)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	isCancel := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want errors.Is(context.Canceled)", what, err)
		}
	}
	_, err := u.Stat(ctx, "cx/f")
	isCancel("Stat", err)
	_, err = u.List(ctx, "cx", ufs.ListOptions{})
	isCancel("List", err)
	_, err = u.OpenRange(ctx, "cx/f", 0, -1)
	isCancel("OpenRange", err)
	isCancel("Mkdir", u.Mkdir(ctx, "cx/m"))
	isCancel("Remove", u.Remove(ctx, "cx/f"))
	isCancel("RemoveAll", u.RemoveAll(ctx, "cx"))
	isCancel("Rename", u.Rename(ctx, "cx/f", "cx/g"))
	w, err := u.Create(ctx, "cx/new", ufs.CreateOptions{})
	if err == nil {
		_, err = w.Write([]byte("data"))
		if err == nil {
			err = w.Close()
		} else {
			_ = w.Abort()
		}
	}
	isCancel("Create/Write/Close", err)
	mustNotExist(t, u, "cx/new")
	if got := mustRead(t, u, "cx/f"); !bytes.Equal(got, big) {
		t.Fatal("cx/f changed by cancelled calls")
	}

	// Cancelling during an upload: Close fails, nothing becomes visible.
	ctx2, cancel2 := context.WithCancel(bg)
	w, err = u.Create(ctx2, "cx/mid", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(big[:1<<20])
	cancel2()
	_, _ = w.Write(big[1<<20:])
	if err := w.Close(); err == nil {
		t.Errorf("Close after cancel succeeded")
	}
	mustNotExist(t, u, "cx/mid")

	// Cancelling during a read fails the read before the whole file arrives.
	ctx3, cancel3 := context.WithCancel(bg)
	r, err := u.OpenRange(ctx3, "cx/f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("first read: %v", err)
	}
	cancel3()
	n, err := io.Copy(io.Discard, r)
	r.Close()
	if err == nil {
		t.Errorf("read after cancel returned the remaining %d bytes without error", n)
	}
}
