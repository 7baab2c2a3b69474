package oss_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"time"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

var bg = context.Background()

func open(srv *osstest.Server, bucket, dir string, opts map[string]string) (ufs.UFS, error) {
	return ufs.Open(bg, srv.URI(bucket, dir), opts)
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func wantIs(t *testing.T, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v: want errors.Is(%v)", err, target)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *fs.PathError", err, err)
	}
}

func serviceCode(err error) string {
	var se *sdk.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

func TestMountValidation(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"))
	good := srv.Options()

	u, err := open(srv, "bkt", "data", good)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	u.Close()

	t.Run("WrongSecret", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "fs.oss.accessKeySecret", "not-the-secret"))
		wantIs(t, err, fs.ErrPermission)
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("auth failure reported as not found: %v", err)
		}
		if serviceCode(err) != "SignatureDoesNotMatch" {
			t.Fatalf("want SignatureDoesNotMatch in the chain, got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), srv.AccessKeySecret) {
			t.Fatalf("error prints a secret: %v", err)
		}
	})
	t.Run("WrongSecretV1", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "fs.oss.accessKeySecret", "nope", "fs.oss.signatureVersion", "v1"))
		wantIs(t, err, fs.ErrPermission)
	})
	t.Run("UnknownKeyID", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "fs.oss.accessKeyId", "LTAIunknown"))
		wantIs(t, err, fs.ErrPermission)
		if serviceCode(err) != "InvalidAccessKeyId" {
			t.Fatalf("want InvalidAccessKeyId, got %v", err)
		}
	})
	t.Run("WrongRegion", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "fs.oss.region", "cn-beijing"))
		wantIs(t, err, fs.ErrPermission)
	})
	t.Run("MissingBucket", func(t *testing.T) {
		_, err := open(srv, "no-such-bucket", "", good)
		wantIs(t, err, fs.ErrNotExist)
		if serviceCode(err) != "NoSuchBucket" {
			t.Fatalf("want NoSuchBucket, got %v", err)
		}
	})
	t.Run("InvalidBucketName", func(t *testing.T) {
		_, err := open(srv, "Bad_Bucket", "", good)
		wantIs(t, err, fs.ErrInvalid)
	})
	for _, key := range []string{"fs.oss.endpoint", "fs.oss.accessKeyId", "fs.oss.accessKeySecret"} {
		t.Run("Missing "+key, func(t *testing.T) {
			opts := maps.Clone(good)
			delete(opts, key)
			_, err := open(srv, "bkt", "", opts)
			wantIs(t, err, fs.ErrInvalid)
			if !errors.Is(err, ufs.ErrMissingOption) || !strings.Contains(err.Error(), key) {
				t.Fatalf("error does not name the missing key %s: %v", key, err)
			}
		})
	}
	t.Run("RegionUnknown", func(t *testing.T) {
		opts := maps.Clone(good)
		delete(opts, "fs.oss.region")
		_, err := open(srv, "bkt", "", opts)
		if !errors.Is(err, ufs.ErrMissingOption) || !strings.Contains(err.Error(), "fs.oss.region") {
			t.Fatalf("want an error naming fs.oss.region, got %v", err)
		}
	})
	t.Run("KeysIgnoreCase", func(t *testing.T) {
		opts := map[string]string{}
		for k, v := range good {
			opts[strings.ToUpper(k)] = v
		}
		u, err := open(srv, "bkt", "", opts)
		if err != nil {
			t.Fatalf("open with upper-case keys: %v", err)
		}
		u.Close()
	})
	t.Run("BadOption", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "fs.oss.multipart.partSize", "1KB"))
		wantIs(t, err, fs.ErrInvalid)
	})
}

func TestSecurityToken(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("bkt"), osstest.WithSecurityToken("sts-token-123"))
	opts := srv.Options()
	u, err := open(srv, "bkt", "", opts)
	if err != nil {
		t.Fatalf("open with token: %v", err)
	}
	if err := ufs.WriteFile(bg, u, "f", []byte("x")); err != nil {
		t.Fatalf("write with token: %v", err)
	}
	u.Close()
	delete(opts, "fs.oss.securityToken")
	_, err = open(srv, "bkt", "", opts)
	wantIs(t, err, fs.ErrPermission)
}

func TestRetries(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, map[string]string{"fs.oss.retry.max": "2"})

	t.Run("TransientThenSuccess", func(t *testing.T) {
		before := srv.Requests("PutObject")
		remove := srv.Inject(osstest.Fault{Op: "PutObject", Status: 500, Times: 2})
		defer remove()
		if err := ufs.WriteFile(bg, u, "a", []byte("hello")); err != nil {
			t.Fatalf("write after two 500s: %v", err)
		}
		if n := srv.Requests("PutObject") - before; n != 3 {
			t.Fatalf("PutObject requests = %d, want 3 (two failures, one success)", n)
		}
		if got, _ := ufs.ReadFile(bg, u, "a"); string(got) != "hello" {
			t.Fatalf("read %q", got)
		}
	})
	t.Run("PersistentSurfaces", func(t *testing.T) {
		before := srv.Requests("HeadObject")
		remove := srv.Inject(osstest.Fault{Op: "HeadObject", Status: 503})
		defer remove()
		_, err := u.Stat(bg, "a")
		if err == nil || serviceCode(err) != "ServiceUnavailable" {
			t.Fatalf("stat under persistent 503: %v", err)
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			t.Fatalf("503 mapped to a misleading sentinel: %v", err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("not a PathError: %T", err)
		}
		if n := srv.Requests("HeadObject") - before; n != 3 {
			t.Fatalf("HeadObject requests = %d, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("AccessDeniedNotRetriedNorNotFound", func(t *testing.T) {
		before := srv.Requests("HeadObject")
		remove := srv.Inject(osstest.Fault{Op: "HeadObject", Status: 403, Code: "AccessDenied"})
		defer remove()
		_, err := u.Stat(bg, "missing-file")
		wantIs(t, err, fs.ErrPermission)
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("403 reported as not found: %v", err)
		}
		if n := srv.Requests("HeadObject") - before; n != 1 {
			t.Fatalf("HeadObject requests = %d, want 1 (403 is not retried)", n)
		}
	})
	t.Run("DroppedConnection", func(t *testing.T) {
		remove := srv.Inject(osstest.Fault{Op: "GetObject", Drop: true, Times: 1})
		defer remove()
		got, err := ufs.ReadFile(bg, u, "a")
		if err != nil || string(got) != "hello" {
			t.Fatalf("read after a dropped connection: %q, %v", got, err)
		}
		if srv.Stats().Dropped == 0 {
			t.Fatal("the fault did not drop a connection")
		}
	})
	t.Run("TruncatedBodyResumes", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789"), 10000)
		if err := ufs.WriteFile(bg, u, "big", data); err != nil {
			t.Fatal(err)
		}
		before := u.(retry.Reporter).RetryStats().Resumed.Load()
		remove := srv.Inject(osstest.Fault{Op: "GetObject", TruncateBody: true, Times: 1})
		got, err := ufs.ReadFile(bg, u, "big")
		remove()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read with one body cut short: %d of %d bytes, %v; want all, resumed", len(got), len(data), err)
		}
		if n := u.(retry.Reporter).RetryStats().Resumed.Load() - before; n != 1 {
			t.Fatalf("resumes = %d, want 1", n)
		}
	})
	t.Run("TruncatedEveryTime", func(t *testing.T) {
		// Each body is cut at half of what it carries: every re-open makes progress, so
		// only the resume budget ends the read.
		u := mount(t, srv, map[string]string{"unifiedfs.read.resume.max": "3"})
		if err := ufs.WriteFile(bg, u, "big", bytes.Repeat([]byte("x"), 100000)); err != nil {
			t.Fatal(err)
		}
		remove := srv.Inject(osstest.Fault{Op: "GetObject", TruncateBody: true})
		defer remove()
		got, err := ufs.ReadFile(bg, u, "big")
		if err == nil || len(got) != 100000-100000/16 || !strings.Contains(err.Error(), "resumes") {
			t.Fatalf("every body cut short: %d bytes, %v; want 15/16 of the file and a spent resume budget", len(got), err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("not a PathError keeping the cause: %T %v", err, err)
		}
	})
}

func TestUploadFailures(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, with(smallParts, "fs.oss.retry.max", "1"))
	keys := func() []string { return srv.Keys(testBucket) }

	t.Run("PutObject", func(t *testing.T) {
		remove := srv.Inject(osstest.Fault{Op: "PutObject", Status: 500})
		defer remove()
		w, err := u.Create(bg, "small", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		err = w.Close()
		if err == nil {
			t.Fatal("Close reported success for a failed upload")
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || serviceCode(err) != "InternalError" {
			t.Fatalf("Close error %v: want a PathError keeping the OSS error", err)
		}
		if _, err := u.Stat(bg, "small"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("failed upload visible: %v", err)
		}
	})
	for _, op := range []string{"UploadPart", "CompleteMultipartUpload"} {
		t.Run(op, func(t *testing.T) {
			nth := 1
			if op == "UploadPart" {
				nth = 3
			}
			remove := srv.Inject(osstest.Fault{Op: op, Nth: nth, Status: 500})
			defer remove()
			w, err := u.Create(bg, "big-"+op, ufs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte{7}, 1<<20)
			for i := 0; i < 2; i++ {
				if _, err := w.Write(data); err != nil {
					break // a part failure may surface here already
				}
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close reported success for a failed multipart upload")
			}
			for _, k := range keys() {
				if strings.HasSuffix(k, "big-"+op) {
					t.Fatalf("failed upload visible at %s", k)
				}
			}
			if n := srv.Uploads(testBucket); n != 0 {
				t.Fatalf("%d multipart uploads left behind (not aborted)", n)
			}
		})
	}
	t.Run("Abort", func(t *testing.T) {
		w, err := u.Create(bg, "aborted", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 600<<10)); err != nil {
			t.Fatal(err)
		}
		if srv.Uploads(testBucket) != 1 {
			t.Fatal("600 KiB over a 256 KiB threshold did not start a multipart upload")
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Close after Abort: %v, want fs.ErrClosed", err)
		}
		if n := srv.Uploads(testBucket); n != 0 {
			t.Fatalf("%d multipart uploads left after Abort", n)
		}
		if _, err := u.Stat(bg, "aborted"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("aborted upload visible: %v", err)
		}
	})
	t.Run("CancelledMidUpload", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		w, err := u.Create(ctx, "cancelled", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 600<<10)); err != nil {
			t.Fatal(err)
		}
		cancel()
		err = w.Close()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Close after cancel: %v, want context.Canceled", err)
		}
		if n := srv.Uploads(testBucket); n != 0 {
			t.Fatalf("%d multipart uploads left after a cancelled upload", n)
		}
		if _, err := u.Stat(bg, "cancelled"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("cancelled upload visible: %v", err)
		}
	})
}

// pattern returns the i-th MiB of a deterministic test stream.
func pattern(i int) []byte {
	b := make([]byte, 1<<20)
	for j := range b {
		b[j] = byte(j*31 + i*7 + j>>11)
	}
	return b
}

func TestMultipart64MiB(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, map[string]string{
		"fs.oss.multipart.threshold": "4MB",
		"fs.oss.multipart.partSize":  "1MB",
		"fs.oss.multipart.threads":   "6",
	})
	// Hold the first part back so that later parts reach the server before it.
	remove := srv.Inject(osstest.Fault{Op: "UploadPart", Nth: 1, Times: 1, Latency: 300 * time.Millisecond})
	defer remove()
	const mib = 64
	w, err := u.Create(bg, "dir/huge.bin", ufs.CreateOptions{Size: mib << 20, SizeKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.New()
	for i := range mib {
		p := pattern(i)
		sum.Write(p)
		if _, err := w.Write(p); err != nil {
			t.Fatalf("write MiB %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	st := srv.Stats()
	if st.OutOfOrderParts == 0 {
		t.Fatal("no part reached the server out of order")
	}
	if st.CompletedMultipart != 1 {
		t.Fatalf("completed multipart uploads = %d, want 1", st.CompletedMultipart)
	}
	stat, err := u.Stat(bg, "dir/huge.bin")
	if err != nil {
		t.Fatal(err)
	}
	if stat.Size != mib<<20 || !strings.HasSuffix(stat.ContentHash, fmt.Sprintf("-%d", mib)) {
		t.Fatalf("stat = %+v: want size %d and a multipart ETag ending -%d", stat, mib<<20, mib)
	}
	r, err := u.OpenRange(bg, "dir/huge.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	back := md5.New()
	if _, err := io.Copy(back, r); err != nil {
		t.Fatalf("read back (CRC-64 checked): %v", err)
	}
	r.Close()
	if !bytes.Equal(back.Sum(nil), sum.Sum(nil)) {
		t.Fatal("content read back differs")
	}
	// A range across a part boundary.
	r, err = u.OpenRange(bg, "dir/huge.bin", (5<<20)-3, 6)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	want := append(pattern(4)[(1<<20)-3:], pattern(5)[:3]...)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("range across parts = %v, %v; want %v", got, err, want)
	}
}

func TestRenameLargeUsesPartCopy(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, smallParts)
	data := bytes.Repeat([]byte("abcdefgh"), 100<<10) // 800 KiB > 300 KiB copy threshold
	if err := ufs.WriteFile(bg, u, "d/big", data); err != nil {
		t.Fatal(err)
	}
	if err := ufs.WriteFile(bg, u, "d/small", []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := u.Rename(bg, "d", "e/f"); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().CopiedParts < 7 {
		t.Fatalf("copied parts = %d, want >= 7 (800 KiB in 128 KiB parts)", srv.Stats().CopiedParts)
	}
	got, err := ufs.ReadFile(bg, u, "e/f/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("renamed content differs (%v)", err)
	}
	if _, err := u.Stat(bg, "d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if srv.Uploads(testBucket) != 0 {
		t.Fatal("multipart copy left an upload behind")
	}
}

func TestListingManyPages(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, map[string]string{"fs.oss.list.pageSize": "7"})
	// Find the root's key prefix from a probe file.
	if err := ufs.WriteFile(bg, u, "probe", nil); err != nil {
		t.Fatal(err)
	}
	var root string
	for _, k := range srv.Keys(testBucket) {
		if strings.HasSuffix(k, "/probe") {
			root = strings.TrimSuffix(k, "probe")
		}
	}
	if err := u.Remove(bg, "probe"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 250 {
		name := fmt.Sprintf("f%04d", i)
		srv.PutObject(testBucket, root+"big/"+name, []byte(name))
		want = append(want, name)
	}
	srv.PutObject(testBucket, root+"big/", nil)              // marker: not an entry
	srv.PutObject(testBucket, root+"big/sub/x", []byte("x")) // a directory entry
	srv.PutObject(testBucket, root+"big//odd", []byte("x"))  // unaddressable: skipped
	want = append(want, "sub")
	before := srv.Requests("ListObjectsV2")
	all, err := ufs.ListAll(bg, u, "big")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range all {
		got = append(got, st.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("listing = %v\nwant %v", got, want)
	}
	if n := srv.Requests("ListObjectsV2") - before; n < 250/7 {
		t.Fatalf("only %d ListObjectsV2 requests for 250 keys in pages of 7", n)
	}
	page, err := u.List(bg, "big", ufs.ListOptions{PageSize: 1})
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Name != "f0000" || page.NextPageToken == "" {
		t.Fatalf("first page of 1 = %+v, %v (the marker must not take the page)", page, err)
	}
}

// Issue 14a: Stat of the root reaches the bucket like every other call.
func TestStatRootChecksBucket(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, map[string]string{"unifiedfs.retry.attempts": "1"})
	if st, err := u.Stat(bg, ufs.Root); err != nil || !st.IsDir {
		t.Fatalf("stat root: %+v, %v", st, err)
	}
	for _, f := range []struct {
		fault osstest.Fault
		want  error
	}{
		{osstest.Fault{Op: "ListObjectsV2", Status: 403, Code: "InvalidAccessKeyId"}, fs.ErrPermission},
		{osstest.Fault{Op: "ListObjectsV2", Status: 403, Code: "AccessDenied"}, fs.ErrPermission},
		{osstest.Fault{Op: "ListObjectsV2", Status: 404, Code: "NoSuchBucket"}, fs.ErrNotExist},
	} {
		t.Run(f.fault.Code, func(t *testing.T) {
			remove := srv.Inject(f.fault)
			_, err := u.Stat(bg, ufs.Root)
			remove()
			wantIs(t, err, f.want)
			if serviceCode(err) != f.fault.Code {
				t.Fatalf("stat root under %s: %v", f.fault.Code, err)
			}
		})
	}
}

// Issue 14b: single keys that a batch delete leaves behind reach the caller.
func TestBatchDeleteFailuresSurface(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, nil)
	for _, p := range []string{"d/a", "d/b/x", "d/c", "e/keep"} {
		if err := ufs.WriteFile(bg, u, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	var root string
	for _, k := range srv.Keys(testBucket) {
		if strings.HasSuffix(k, "/d/a") {
			root = strings.TrimSuffix(k, "d/a")
		}
	}
	remove := srv.DenyDelete(testBucket, root+"d/b/")
	err := u.RemoveAll(bg, "d")
	wantIs(t, err, fs.ErrPermission)
	if serviceCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "d/b/x") {
		t.Fatalf("RemoveAll with an undeletable key: %v; want AccessDenied naming the key", err)
	}
	if _, err := u.Stat(bg, "d/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deletable keys were kept: %v", err)
	}
	if _, err := u.Stat(bg, "d/b/x"); err != nil {
		t.Fatalf("the undeletable key: %v", err)
	}
	// Rename of a directory: the copies exist, the source key that cannot go is reported.
	err = u.Rename(bg, "d", "moved")
	wantIs(t, err, fs.ErrPermission)
	if _, serr := u.Stat(bg, "moved/b/x"); serr != nil {
		t.Fatalf("the copy of the undeletable key: %v", serr)
	}
	remove()
	if err := u.RemoveAll(bg, "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stat(bg, "d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("d after RemoveAll: %v", err)
	}
}
