package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	s3drv "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

var bg = context.Background()

func open(srv *s3test.Server, bucket, dir string, opts map[string]string) (ufs.UFS, error) {
	return ufs.Open(bg, srv.URI(bucket, dir), opts)
}

func with(m map[string]string, kv ...string) map[string]string {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func without(m map[string]string, keys ...string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
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
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func TestMountValidation(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	good := srv.Options()
	u, err := open(srv, "bkt", "data", good)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	u.Close()

	t.Run("WrongSecret", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "s3a.secretKey", "not-the-secret"))
		wantIs(t, err, fs.ErrPermission)
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("auth failure reported as not found: %v", err)
		}
		if serviceCode(err) != "SignatureDoesNotMatch" {
			t.Fatalf("want SignatureDoesNotMatch in the chain, got %v", err)
		}
		if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), srv.SecretAccessKey) {
			t.Fatalf("error prints a secret: %v", err)
		}
	})
	t.Run("WrongSecretOldKeyNames", func(t *testing.T) {
		opts := without(good, "s3a.accessKeyId", "s3a.secretKey")
		opts["aws.accessKeyId"], opts["aws.secretKey"] = srv.AccessKeyID, "nope"
		_, err := open(srv, "bkt", "", opts)
		wantIs(t, err, fs.ErrPermission)
		opts["aws.secretKey"] = srv.SecretAccessKey
		u, err := open(srv, "bkt", "", opts)
		if err != nil {
			t.Fatalf("aws.* keys: %v", err)
		}
		u.Close()
	})
	t.Run("UnknownKeyID", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "s3a.accessKeyId", "AKIAUNKNOWN"))
		wantIs(t, err, fs.ErrPermission)
		if serviceCode(err) != "InvalidAccessKeyId" {
			t.Fatalf("want InvalidAccessKeyId, got %v", err)
		}
	})
	t.Run("WrongRegion", func(t *testing.T) {
		_, err := open(srv, "bkt", "", with(good, "alluxio.underfs.s3.endpoint.region", "eu-west-1"))
		wantIs(t, err, fs.ErrPermission)
		if serviceCode(err) != "AuthorizationHeaderMalformed" {
			t.Fatalf("want AuthorizationHeaderMalformed, got %v", err)
		}
	})
	t.Run("MissingBucket", func(t *testing.T) {
		_, err := open(srv, "no-such-bucket", "", good)
		wantIs(t, err, fs.ErrNotExist)
		if serviceCode(err) != "NoSuchBucket" {
			t.Fatalf("want NoSuchBucket, got %v", err)
		}
	})
	t.Run("InvalidBucketName", func(t *testing.T) {
		_, err := open(srv, "a_b", "", without(good, "alluxio.underfs.s3.disable.dns.buckets", "alluxio.underfs.s3.endpoint"))
		wantIs(t, err, fs.ErrInvalid)
	})
	t.Run("HalfCredentials", func(t *testing.T) {
		_, err := open(srv, "bkt", "", without(good, "s3a.secretKey"))
		wantIs(t, err, fs.ErrInvalid)
		if !strings.Contains(err.Error(), "s3a.secretKey") {
			t.Fatalf("error does not name the key: %v", err)
		}
	})
	t.Run("BadValues", func(t *testing.T) {
		for k, v := range map[string]string{
			"alluxio.underfs.s3.streaming.upload.partition.size": "12",
			"alluxio.underfs.s3.upload.threads":                  "0",
			"alluxio.underfs.s3.list.objects.v1":                 "maybe",
			"alluxio.underfs.s3.endpoint":                        "ftp://x",
			"alluxio.underfs.s3.request.timeout":                 "soon",
		} {
			t.Run(k, func(t *testing.T) {
				_, err := open(srv, "bkt", "", with(good, k, v))
				wantIs(t, err, fs.ErrInvalid)
				if !strings.Contains(err.Error(), k) {
					t.Errorf("error for %s does not name it: %v", k, err)
				}
			})
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
	t.Run("SkewedServerClock", func(t *testing.T) {
		skewed := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
		// The SDK corrects its clock from the Date of the refusal and retries.
		u, err := open(skewed, "bkt", "", skewed.Options())
		if err != nil {
			t.Fatalf("open with a skewed server clock: %v", err)
		}
		u.Close()
		_, err = open(skewed, "bkt", "", with(skewed.Options(), "alluxio.underfs.s3.max.error.retry", "0"))
		wantIs(t, err, fs.ErrPermission)
		if serviceCode(err) != "RequestTimeTooSkewed" {
			t.Fatalf("want RequestTimeTooSkewed, got %v", err)
		}
	})
}

func TestVirtualHostedStyle(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("vhost-bucket"))
	u, err := s3drv.New(bg, s3drv.Options{
		Bucket: "vhost-bucket", Prefix: "data", AccessKeyID: srv.AccessKeyID, SecretKey: srv.SecretAccessKey,
		Endpoint: srv.VirtualHostURL(), Region: srv.Region, InheritACL: true,
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DialContext = srv.DialContext }),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := ufs.WriteFile(bg, u, "a/b", []byte("vhost")); err != nil {
		t.Fatal(err)
	}
	if got, ok := srv.Object("vhost-bucket", "data/a/b"); !ok || string(got) != "vhost" {
		t.Fatalf("object %q %v", got, ok)
	}
	st, err := u.Stat(bg, "a/b")
	if err != nil || st.Owner != s3test.DefaultOwnerName || st.Mode != 0o700 {
		t.Fatalf("stat %+v %v: want the bucket owner and rwx from FULL_CONTROL", st, err)
	}
}

func TestRetries(t *testing.T) {
	srv := s3test.NewServer(t)
	u := mount(t, srv, map[string]string{"alluxio.underfs.s3.max.error.retry": "2"})

	t.Run("TransientThenSuccess", func(t *testing.T) {
		before := srv.Requests("PutObject")
		remove := srv.Inject(s3test.Fault{Op: "PutObject", Status: 500, Times: 2})
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
		remove := srv.Inject(s3test.Fault{Op: "HeadObject", Status: 503})
		defer remove()
		_, err := u.Stat(bg, "a")
		if err == nil {
			t.Fatal("stat under persistent 503 succeeded")
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
		remove := srv.Inject(s3test.Fault{Op: "HeadObject", Status: 403, Code: "AccessDenied"})
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
		dropped := srv.Stats().Dropped
		remove := srv.Inject(s3test.Fault{Op: "GetObject", Drop: true, Times: 1})
		defer remove()
		got, err := ufs.ReadFile(bg, u, "a")
		if err != nil || string(got) != "hello" {
			t.Fatalf("read after a dropped connection: %q, %v", got, err)
		}
		if srv.Stats().Dropped == dropped {
			t.Fatal("the fault did not drop a connection")
		}
	})
	t.Run("TruncatedBody", func(t *testing.T) {
		data := bytes.Repeat([]byte("0123456789"), 10000)
		if err := ufs.WriteFile(bg, u, "big", data); err != nil {
			t.Fatal(err)
		}
		// The body breaks halfway: the read resumes from there (If-Match on the ETag).
		remove := srv.Inject(s3test.Fault{Op: "GetObject", TruncateBody: true, Times: 1})
		defer remove()
		resumed := u.(retry.Reporter).RetryStats().Resumed.Load()
		before := srv.Requests("GetObject")
		got, err := ufs.ReadFile(bg, u, "big")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read of a truncated body: %d of %d bytes, %v", len(got), len(data), err)
		}
		if n := u.(retry.Reporter).RetryStats().Resumed.Load() - resumed; n != 1 || srv.Requests("GetObject")-before != 2 {
			t.Fatalf("%d resumes, %d GetObjects; want 1 and 2", n, srv.Requests("GetObject")-before)
		}
		// With resumes off, the break surfaces as a PathError.
		off := mount(t, srv, map[string]string{"unifiedfs.read.resume.max": "0"})
		if err := ufs.WriteFile(bg, off, "big", data); err != nil {
			t.Fatal(err)
		}
		remove2 := srv.Inject(s3test.Fault{Op: "GetObject", TruncateBody: true, Times: 1})
		defer remove2()
		got, err = ufs.ReadFile(bg, off, "big")
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) {
			t.Fatalf("a truncated body without resumes: %d of %d bytes, %v", len(got), len(data), err)
		}
	})
	t.Run("AttemptTimeout", func(t *testing.T) {
		fast := mount(t, srv, map[string]string{"alluxio.underfs.s3.request.timeout": "200ms", "alluxio.underfs.s3.max.error.retry": "2"})
		if err := ufs.WriteFile(bg, fast, "slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
		before := srv.Requests("HeadObject")
		// The first attempt hangs past the request timeout (the fault's deliberate delay);
		// the retry answers at once.
		remove := srv.Inject(s3test.Fault{Op: "HeadObject", Times: 1, Latency: 5 * time.Second})
		defer remove()
		start := time.Now()
		st, err := fast.Stat(bg, "slow")
		if err != nil || st.Size != 1 {
			t.Fatalf("stat after a timed-out attempt: %+v %v", st, err)
		}
		if n := srv.Requests("HeadObject") - before; n != 2 {
			t.Fatalf("HeadObject requests = %d, want 2", n)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("the timed-out attempt was waited out (%v)", d)
		}
		// A GET body is not bounded by the request timeout once its headers arrived.
		big := bytes.Repeat([]byte("y"), 1<<20)
		if err := ufs.WriteFile(bg, fast, "read", big); err != nil {
			t.Fatal(err)
		}
		r, err := fast.OpenRange(bg, "read", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // deliberately longer than the request timeout
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read after the request timeout elapsed: %d bytes, %v", len(got), err)
		}
	})
}

// smallParts makes uploads multipart above 128 KiB on a server accepting such parts.
var smallParts = map[string]string{
	"alluxio.underfs.s3.streaming.upload.partition.size": "128KB",
	"alluxio.underfs.s3.upload.threads":                  "4",
	"alluxio.underfs.s3.max.error.retry":                 "1",
}

func TestUploadFailures(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithMinPartSize(128<<10))
	u := mount(t, srv, smallParts)
	visible := func(name string) bool {
		for _, k := range srv.Keys(testBucket) {
			if strings.HasSuffix(k, "/"+name) {
				return true
			}
		}
		return false
	}

	t.Run("PutObject", func(t *testing.T) {
		remove := srv.Inject(s3test.Fault{Op: "PutObject", Status: 500})
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
			t.Fatalf("Close error %v: want a PathError keeping the S3 error", err)
		}
		if _, err := u.Stat(bg, "small"); !errors.Is(err, fs.ErrNotExist) || visible("small") {
			t.Fatalf("failed upload visible: %v", err)
		}
	})
	for _, tc := range []struct {
		op  string
		nth int
	}{{"UploadPart", 3}, {"CompleteMultipartUpload", 1}, {"CreateMultipartUpload", 1}} {
		t.Run(tc.op, func(t *testing.T) {
			remove := srv.Inject(s3test.Fault{Op: tc.op, Nth: tc.nth, Status: 500})
			defer remove()
			name := "big-" + tc.op
			w, err := u.Create(bg, name, ufs.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte{7}, 256<<10)
			for range 4 {
				if _, err := w.Write(data); err != nil {
					break // a part failure may surface here already
				}
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close reported success for a failed multipart upload")
			} else if serviceCode(err) != "InternalError" {
				t.Fatalf("Close error %v: want the S3 error in the chain", err)
			}
			if visible(name) {
				t.Fatalf("failed upload visible at %s", name)
			}
			if ups := srv.Uploads(testBucket); len(ups) != 0 {
				t.Fatalf("multipart uploads left behind (not aborted): %+v", ups)
			}
		})
	}
	t.Run("AbortFailsToo", func(t *testing.T) {
		// When even the abort fails, Close says so; CleanUploads removes the upload later.
		rm1 := srv.Inject(s3test.Fault{Op: "CompleteMultipartUpload", Status: 500})
		rm2 := srv.Inject(s3test.Fault{Op: "AbortMultipartUpload", Status: 500})
		w, _ := u.Create(bg, "orphan", ufs.CreateOptions{})
		_, _ = w.Write(make([]byte, 300<<10))
		err := w.Close()
		rm1()
		rm2()
		if err == nil || !strings.Contains(err.Error(), "aborting multipart upload") {
			t.Fatalf("Close: %v, want the failed abort reported", err)
		}
		if ups := srv.Uploads(testBucket); len(ups) != 1 {
			t.Fatalf("uploads = %+v, want the orphan", ups)
		}
		n, err := ufs.Unwrap(u).(*s3drv.FS).CleanUploads(bg, 0)
		if err != nil || n != 1 || len(srv.Uploads(testBucket)) != 0 {
			t.Fatalf("CleanUploads = %d, %v; left %+v", n, err, srv.Uploads(testBucket))
		}
	})
	t.Run("Abort", func(t *testing.T) {
		w, err := u.Create(bg, "aborted", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, 600<<10)); err != nil {
			t.Fatal(err)
		}
		if len(srv.Uploads(testBucket)) != 1 {
			t.Fatal("600 KiB over 128 KiB parts did not start a multipart upload")
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Close after Abort: %v, want fs.ErrClosed", err)
		}
		if ups := srv.Uploads(testBucket); len(ups) != 0 {
			t.Fatalf("uploads left after Abort: %+v", ups)
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
		if ups := srv.Uploads(testBucket); len(ups) != 0 {
			t.Fatalf("uploads left after a cancelled upload: %+v", ups)
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
	srv := s3test.NewServer(t, s3test.WithMinPartSize(1<<20))
	u := mount(t, srv, map[string]string{
		"alluxio.underfs.s3.streaming.upload.partition.size": "1MB",
		"alluxio.underfs.s3.upload.threads":                  "6",
	})
	// Hold the first part back so that later parts reach the server before it.
	remove := srv.Inject(s3test.Fault{Op: "UploadPart", Nth: 1, Times: 1, Latency: 300 * time.Millisecond})
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
	if written, ok := w.(ufs.StatWriter).Written(); !ok || written.ContentHash != stat.ContentHash {
		t.Fatalf("Written %+v, Stat %+v", written, stat)
	}
	r, err := u.OpenRange(bg, "dir/huge.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	back := md5.New()
	if _, err := io.Copy(back, r); err != nil {
		t.Fatalf("read back: %v", err)
	}
	r.Close()
	if !bytes.Equal(back.Sum(nil), sum.Sum(nil)) {
		t.Fatal("content read back differs")
	}
	// A range across a part boundary, read as the version written.
	r, err = u.(ufs.VersionReader).OpenVersion(bg, "dir/huge.bin", stat.ContentHash, (5<<20)-3, 6)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	want := append(pattern(4)[(1<<20)-3:], pattern(5)[:3]...)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("range across parts = %v, %v; want %v", got, err, want)
	}
	if info, _ := srv.Stat(testBucket, keyOf(t, srv, "dir/huge.bin")); info.ChecksumAlg != "CRC32" || info.ChecksumType != "COMPOSITE" {
		t.Fatalf("multipart object stored %+v: want CRC32 part checksums (the SDK default)", info)
	}
}

// keyOf finds the bucket key of a UFS path below a mount's prefix.
func keyOf(t *testing.T, srv *s3test.Server, p string) string {
	t.Helper()
	for _, k := range srv.Keys(testBucket) {
		if strings.HasSuffix(k, "/"+p) {
			return k
		}
	}
	t.Fatalf("no key for %s", p)
	return ""
}

func TestRenameLargeUsesPartCopy(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithMinPartSize(64<<10), s3test.WithMaxCopySize(300<<10))
	u := mount(t, srv, tinyParts)
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
	if n := srv.Stats().CopiedParts; n < 7 {
		t.Fatalf("copied parts = %d, want >= 7 (800 KiB in 128 KiB parts)", n)
	}
	got, err := ufs.ReadFile(bg, u, "e/f/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("renamed content differs (%v)", err)
	}
	if _, err := u.Stat(bg, "d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if len(srv.Uploads(testBucket)) != 0 {
		t.Fatal("multipart copy left an upload behind")
	}
	// A part copy failing aborts the copy's upload and keeps the source.
	remove := srv.Inject(s3test.Fault{Op: "UploadPartCopy", Nth: 2, Status: 500})
	err = u.Rename(bg, "e/f/big", "g/big")
	remove()
	if err == nil {
		t.Fatal("rename with a failing part copy succeeded")
	}
	if got, err := ufs.ReadFile(bg, u, "e/f/big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("source after a failed rename: %v", err)
	}
	if _, err := u.Stat(bg, "g/big"); !errors.Is(err, fs.ErrNotExist) || len(srv.Uploads(testBucket)) != 0 {
		t.Fatalf("failed copy left %v / uploads %+v", err, srv.Uploads(testBucket))
	}
}

func TestRenameCopiesTheVersionSeen(t *testing.T) {
	srv := s3test.NewServer(t)
	u := mount(t, srv, nil)
	if err := ufs.WriteFile(bg, u, "f", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	// The source is replaced between the rename's Stat and its copy: the copy is refused
	// (x-amz-copy-source-if-match), nothing appears at the target, the new source stays.
	key := keyOf(t, srv, "f")
	srv.Inject(s3test.Fault{Op: "CopyObject", Times: 1, Before: func() { srv.PutObject(testBucket, key, []byte("v2")) }})
	err := u.Rename(bg, "f", "g")
	wantIs(t, err, ufs.ErrChanged)
	if _, err := u.Stat(bg, "g"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("target after a refused copy: %v", err)
	}
	if got, err := ufs.ReadFile(bg, u, "f"); err != nil || string(got) != "v2" {
		t.Fatalf("source after a refused copy: %q %v", got, err)
	}
	if err := u.Rename(bg, "f", "g"); err != nil {
		t.Fatalf("rename of the unchanged file: %v", err)
	}
}

func TestRemoveAllReportsKeysNotDeleted(t *testing.T) {
	srv := s3test.NewServer(t)
	u := mount(t, srv, nil)
	for _, p := range []string{"tree/a", "tree/b/c", "tree/locked/x", "tree/locked/y"} {
		if err := ufs.WriteFile(bg, u, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	locked := strings.TrimSuffix(keyOf(t, srv, "tree/locked/x"), "x")
	srv.Inject(s3test.Fault{Op: "DeleteObject", KeyPrefix: locked, Status: 403, Code: "AccessDenied"})
	err := u.RemoveAll(bg, "tree")
	wantIs(t, err, fs.ErrPermission)
	var de *s3drv.DeleteError
	if !errors.As(err, &de) || len(de.Keys) != 2 || de.Keys[0].Code != "AccessDenied" || !strings.HasSuffix(de.Keys[0].Key, "locked/x") {
		t.Fatalf("RemoveAll error %v: want the two locked keys listed", err)
	}
	var left []string
	for _, k := range srv.Keys(testBucket) {
		if strings.Contains(k, "/tree/") {
			left = append(left, k[strings.Index(k, "/tree/")+1:])
		}
	}
	if strings.Join(left, ",") != "tree/locked/x,tree/locked/y" {
		t.Fatalf("keys left: %v", left)
	}
}

func TestListingManyPages(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprintf("V1=%v", v1), func(t *testing.T) {
			srv := s3test.NewServer(t)
			u := mount(t, srv, map[string]string{"alluxio.underfs.listing.length": "7", "alluxio.underfs.s3.list.objects.v1": fmt.Sprint(v1)})
			if err := ufs.WriteFile(bg, u, "probe", nil); err != nil {
				t.Fatal(err)
			}
			root := strings.TrimSuffix(keyOf(t, srv, "probe"), "probe")
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
			op := "ListObjectsV2"
			if v1 {
				op = "ListObjects"
			}
			before := srv.Requests(op)
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
			if n := srv.Requests(op) - before; n < 250/7 {
				t.Fatalf("only %d %s requests for 250 keys in pages of 7", n, op)
			}
			page, err := u.List(bg, "big", ufs.ListOptions{PageSize: 1})
			if err != nil || len(page.Entries) != 1 || page.Entries[0].Name != "f0000" || page.NextPageToken == "" {
				t.Fatalf("first page of 1 = %+v, %v (the marker must not take the page)", page, err)
			}
			if err := u.RemoveAll(bg, "big"); err != nil {
				t.Fatal(err)
			}
			if keys := srv.Keys(testBucket); len(keys) != 0 {
				t.Fatalf("RemoveAll over pages left %d keys: %v", len(keys), keys[:min(5, len(keys))])
			}
		})
	}
}

// Readers of one version racing with writers of new versions: every read returns exactly
// the bytes of the version asked for, or fails with ErrChanged; none mixes versions.
func TestVersionReadsRaceWithOverwrites(t *testing.T) {
	srv := s3test.NewServer(t)
	u := mount(t, srv, nil)
	vr := u.(ufs.VersionReader)
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10) }
	if err := ufs.WriteFile(bg, u, "v", version(0)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(stop)
		for i := 1; i <= 20; i++ {
			if err := ufs.WriteFile(bg, u, "v", version(i)); err != nil {
				errs <- err
				return
			}
		}
	}()
	changed, matched := 0, 0
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := u.Stat(bg, "v")
				if err != nil {
					errs <- err
					return
				}
				r, err := vr.OpenVersion(bg, "v", st.ContentHash, 1000, 30000)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(r)
					r.Close()
				}
				mu.Lock()
				switch {
				case errors.Is(err, ufs.ErrChanged):
					changed++
				case err != nil:
					errs <- err
				default:
					ok := false
					for i := 0; i <= 20; i++ {
						v := version(i)[1000:31000]
						if bytes.Equal(got, v) {
							ok = fmt.Sprintf("%x", md5.Sum(version(i))) == st.ContentHash
						}
					}
					if !ok {
						errs <- fmt.Errorf("read of version %s returned other bytes", st.ContentHash)
					}
					matched++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if matched == 0 {
		t.Fatal("no version read succeeded")
	}
	t.Logf("%d reads of the version asked for, %d refused as changed", matched, changed)
}
