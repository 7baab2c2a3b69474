package kodo_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// writeChunks uploads data through Create in writes of chunk bytes and returns Close's
// error.
func writeChunks(ctx context.Context, u ufs.UFS, p string, data []byte, chunk int) error {
	w, err := u.Create(ctx, p, ufs.CreateOptions{})
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += chunk {
		if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
			_ = w.Abort()
			return err
		}
	}
	return w.Close()
}

func TestLargeResumableUploadPartsOutOfOrder(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/big", map[string]string{
		"fs.kodo.upload.threshold":          "1MB",
		"fs.kodo.upload.partsize":           "1MB",
		"alluxio.underfs.kodo.requests.max": "8",
	})
	// Part 1 is held back so later parts finish first.
	srv.Inject(kodotest.Fault{API: kodotest.APIUploadPart, Latency: 500 * time.Millisecond,
		Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/1") }})
	data := randBytes(64, 64<<20+12345)
	ctx := context.Background()
	if err := writeChunks(ctx, u, "blob", data, 300_000); err != nil {
		t.Fatal(err)
	}
	got, ok := srv.Get(bucket, "big/blob")
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes (ok=%v), want the %d written", len(got), ok, len(data))
	}
	order := srv.LastPartOrder()
	if len(order) != 65 || order[0] == 1 {
		t.Fatalf("parts completed in order %v, want 65 parts with part 1 not first", order)
	}
	if n := srv.Calls(kodotest.APIFormUpload); n != 0 {
		t.Fatalf("%d form uploads for a resumable file", n)
	}
	st, err := u.Stat(ctx, "blob")
	if err != nil {
		t.Fatal(err)
	}
	if want := kodotest.Etag(data); st.Size != int64(len(data)) || st.ContentHash != want {
		t.Fatalf("stat = %+v, want size %d hash %s", st, len(data), want)
	}
	r, err := u.OpenRange(ctx, "blob", 40<<20, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 10)
	n, _ := r.Read(buf)
	if !bytes.Equal(buf[:n], data[40<<20:40<<20+5]) {
		t.Fatalf("ranged read = %x", buf[:n])
	}
	if srv.Uploads() != 0 {
		t.Fatalf("%d multipart uploads left open", srv.Uploads())
	}
}

func TestFailedUploadSurfacesFromClose(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		extra map[string]string
		fault kodotest.Fault
		size  int
		want  error
	}{
		{"FormUploadDenied", nil, kodotest.Fault{API: kodotest.APIFormUpload, Status: 403, Error: "permission denied"}, 1000, fs.ErrPermission},
		{"FormUploadServerError", nil, kodotest.Fault{API: kodotest.APIFormUpload, Status: 599}, 1000, nil},
		{"PartFails", smallParts, kodotest.Fault{API: kodotest.APIUploadPart, Nth: 3, Status: 400, Error: "bad part"}, 5 << 20, fs.ErrInvalid},
		{"CompleteFails", smallParts, kodotest.Fault{API: kodotest.APICompleteParts, Status: 599}, 3<<20 + 7, nil},
		{"LastPartFails", smallParts, kodotest.Fault{API: kodotest.APIUploadPart, Nth: 4, Status: 401, Error: "expired token"}, 3<<20 + 7, fs.ErrPermission},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			srv.Put(bucket, "up/f", []byte("previous"))
			u := mount(t, srv, "kodo://"+bucket+"/up", tc.extra)
			srv.Inject(tc.fault)
			data := randBytes(1, tc.size)
			w, err := u.Create(ctx, "f", ufs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write(data)
			cerr := w.Close()
			if cerr == nil {
				t.Fatalf("Close succeeded (Write: %v) despite a failing upload", werr)
			}
			if werr != nil && !errors.Is(cerr, werr) && cerr.Error() != werr.Error() {
				t.Errorf("Close = %v, Write = %v: want Close to report the Write failure", cerr, werr)
			}
			var pe *fs.PathError
			if !errors.As(cerr, &pe) {
				t.Errorf("Close error %T is not a *fs.PathError", cerr)
			}
			if tc.want != nil && !errors.Is(cerr, tc.want) {
				t.Errorf("Close = %v, want errors.Is %v", cerr, tc.want)
			}
			if got, _ := srv.Get(bucket, "up/f"); string(got) != "previous" {
				t.Errorf("failed upload changed the object to %d bytes", len(got))
			}
			if n := srv.Uploads(); n != 0 {
				t.Errorf("%d multipart uploads left open (not aborted)", n)
			}
			if err := w.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Close = %v, want fs.ErrClosed", err)
			}
		})
	}
}

func TestInjected5xxRetriedThenSurfaced(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/r", map[string]string{"fs.kodo.retries": "2"})
	ctx := context.Background()
	if err := ufs.WriteFile(ctx, u, "f", []byte("data")); err != nil {
		t.Fatal(err)
	}
	check := func(api kodotest.API, call func() error) {
		t.Helper()
		srv.ResetCalls()
		remove := srv.Inject(kodotest.Fault{API: api, Nth: 1, Times: 2, Status: 503})
		if err := call(); err != nil {
			t.Errorf("%s with two 503s then success: %v", api, err)
		}
		remove()
		if n := srv.Calls(api); n != 3 {
			t.Errorf("%s: %d requests, want 3 (two retries)", api, n)
		}
		srv.ResetCalls()
		remove = srv.Inject(kodotest.Fault{API: api, Status: 503, Error: "overloaded"})
		err := call()
		remove()
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s with persistent 503: %v, want a *fs.PathError", api, err)
		}
		if n := srv.Calls(api); n != 3 {
			t.Errorf("%s: %d requests, want 3 (1 + 2 retries)", api, n)
		}
	}
	check(kodotest.APIStat, func() error { _, err := u.Stat(ctx, "f"); return err })
	check(kodotest.APIList, func() error { _, err := u.List(ctx, ufs.Root, ufs.ListOptions{}); return err })
	check(kodotest.APIGet, func() error { _, err := ufs.ReadFile(ctx, u, "f"); return err })
	check(kodotest.APIFormUpload, func() error { return ufs.WriteFile(ctx, u, "g", []byte("g")) })
	name, renames := "f", 0
	check(kodotest.APIMove, func() error {
		renames++
		next := "f" + itoa(renames)
		if err := u.Rename(ctx, name, next); err != nil {
			return err
		}
		name = next
		return nil
	})
	// Kodo's final codes are not retried.
	srv.ResetCalls()
	remove := srv.Inject(kodotest.Fault{API: kodotest.APIStat, Status: 401, Error: "bad token"})
	_, err := u.Stat(ctx, "f")
	remove()
	if !errors.Is(err, fs.ErrPermission) || srv.Calls(kodotest.APIStat) != 1 {
		t.Fatalf("401: %v after %d requests, want fs.ErrPermission after 1", err, srv.Calls(kodotest.APIStat))
	}
}

func TestStatReportsKodoHashAndPutTime(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/s", nil)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	if err := ufs.WriteFile(ctx, u, "f", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	st, err := u.Stat(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := srv.Hash(bucket, "s/f")
	if st.ContentHash != hash || st.ContentHash != "FqKXVdTvIx_mPjOYdjDyUSy_H1jr" && st.ContentHash != kodotest.Etag([]byte("hello")) {
		t.Fatalf("hash = %q, server has %q", st.ContentHash, hash)
	}
	if st.ModTime.Before(before) || st.ModTime.After(time.Now().Add(time.Second)) || st.IsDir || st.Size != 5 {
		t.Fatalf("stat = %+v", st)
	}
	page, err := u.List(ctx, ufs.Root, ufs.ListOptions{})
	if err != nil || len(page.Entries) != 1 || page.Entries[0] != st {
		t.Fatalf("list = %+v, %v; want [%+v]", page.Entries, err, st)
	}
	if err := u.Mkdir(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if d, err := u.Stat(ctx, "d"); err != nil || !d.IsDir || d.ModTime.IsZero() || d.ContentHash != "" {
		t.Fatalf("stat of a marked directory = %+v, %v", d, err)
	}
}

func TestListManyPages(t *testing.T) {
	srv := newServer(t)
	const n = 2345
	for i := range n {
		srv.Put(bucket, "many/k"+pad(i), []byte{byte(i)})
	}
	srv.Put(bucket, "many/sub/x", []byte("x"))
	srv.Put(bucket, "many/", nil) // the directory's own marker is not an entry
	u := mount(t, srv, "kodo://"+bucket+"/many", nil)
	ctx := context.Background()
	srv.ResetCalls()
	all, err := ufs.ListAll(ctx, u, ufs.Root)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n+1 || !all[n].IsDir || all[n].Name != "sub" || all[0].Name != "k"+pad(0) {
		t.Fatalf("listed %d entries (last %+v), want %d files then sub/", len(all), all[len(all)-1], n)
	}
	if calls := srv.Calls(kodotest.APIList); calls != 3 {
		t.Fatalf("%d /list calls for %d entries, want 3 pages of 1000", calls, n+1)
	}
	// Small pages (the directory's marker takes a slot of the first), and an entry added
	// behind the cursor between pages: paging continues where it was.
	var paged []string
	opts := ufs.ListOptions{PageSize: 7}
	for i := 0; ; i++ {
		page, err := u.List(ctx, ufs.Root, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) == 0 || len(page.Entries) > 7 {
			t.Fatalf("page %d holds %d entries", i, len(page.Entries))
		}
		for _, e := range page.Entries {
			paged = append(paged, e.Name)
		}
		if i == 0 {
			srv.Put(bucket, "many/a-behind-the-cursor", nil)
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	if len(paged) != len(all) {
		t.Fatalf("paging by 7 listed %d entries, want %d", len(paged), len(all))
	}
	for i := range paged {
		if paged[i] != all[i].Name {
			t.Fatalf("entry %d: %q, want %q", i, paged[i], all[i].Name)
		}
	}
	if _, err := u.List(ctx, ufs.Root, ufs.ListOptions{PageToken: "garbage"}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("list with a bad token: %v, want fs.ErrInvalid", err)
	}
}

func pad(i int) string {
	s := "0000" + strings.TrimSpace(strings.Repeat(" ", 0)+itoa(i))
	return s[len(s)-5:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestCancelAndAbortDuringResumableUpload(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/cancel", smallParts)
	srv.Inject(kodotest.Fault{API: kodotest.APIUploadPart, Latency: 100 * time.Millisecond})
	data := randBytes(9, 6<<20)

	ctx, cancel := context.WithCancel(context.Background())
	w, err := u.Create(ctx, "f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:3<<20]); err != nil {
		t.Fatal(err)
	}
	if srv.Uploads() != 1 {
		t.Fatalf("%d multipart uploads open, want 1", srv.Uploads())
	}
	cancel()
	_, werr := w.Write(data[3<<20:])
	cerr := w.Close()
	if !errors.Is(cerr, context.Canceled) {
		t.Fatalf("Close after cancel = %v (Write: %v), want context.Canceled", cerr, werr)
	}
	if _, ok := srv.Get(bucket, "cancel/f"); ok || srv.Uploads() != 0 {
		t.Fatalf("after a cancelled upload: object present=%v, %d uploads open", ok, srv.Uploads())
	}

	w, err = u.Create(context.Background(), "g", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Get(bucket, "cancel/g"); ok || srv.Uploads() != 0 || srv.Calls(kodotest.APIAbortParts) != 2 {
		t.Fatalf("after Abort: object present=%v, %d uploads open, %d aborts", ok, srv.Uploads(), srv.Calls(kodotest.APIAbortParts))
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Write after Abort = %v, want fs.ErrClosed", err)
	}
}

func TestDownloadErrorsKeepTokenSecret(t *testing.T) {
	srv := newServer(t)
	opts := map[string]string{"alluxio.underfs.kodo.endpoint": "127.0.0.1:1", "fs.kodo.retries": "0"}
	u := mount(t, srv, "kodo://"+bucket+"/t", opts)
	ctx := context.Background()
	if err := ufs.WriteFile(ctx, u, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err := ufs.ReadFile(ctx, u, "f")
	if err == nil || strings.Contains(err.Error(), srv.AccessKey()+":") || !strings.Contains(err.Error(), "token="+ufs.Redacted) {
		t.Fatalf("read through an unreachable endpoint: %v, want an error with the token redacted", err)
	}
}
