package s3_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	s3drv "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

// quickRetry is the shared retry configuration with a 1ms first backoff.
func quickRetry(t *testing.T) retry.Config {
	t.Helper()
	c, err := retry.Parse(ufs.NewOptions(map[string]string{retry.KeyBaseDelay: "1ms"}), retry.Aliases{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer is a slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newFS opens the server's bucket with New, logging to a buffer.
func newFS(t *testing.T, srv *s3test.Server, bucket string, edit func(*s3drv.Options)) (ufs.UFS, *logBuffer) {
	t.Helper()
	var logs logBuffer
	o := s3drv.Options{Bucket: bucket, AccessKeyID: srv.AccessKeyID, SecretKey: srv.SecretAccessKey, Endpoint: srv.URL,
		Region: srv.Region, Retry: quickRetry(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if edit != nil {
		edit(&o)
	}
	f, err := s3drv.New(bg, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, &logs
}

func TestServerSideEncryption(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithMinPartSize(64<<10), s3test.WithMaxCopySize(100<<10))
	f, _ := newFS(t, srv, "bkt", func(o *s3drv.Options) {
		o.ServerSideEncryption, o.PartSize, o.CopyThreshold, o.CopyPartSize = true, 64<<10, 100<<10, 64<<10
	})
	if err := ufs.WriteFile(bg, f, "small", []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := ufs.WriteFile(bg, f, "big", make([]byte, 200<<10)); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir(bg, "dir"); err != nil {
		t.Fatal(err)
	}
	if err := ufs.WriteFile(bg, f, "small1", []byte("s")); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename(bg, "small1", "small2"); err != nil { // CopyObject
		t.Fatal(err)
	}
	if err := f.Rename(bg, "big", "big2"); err != nil { // UploadPartCopy
		t.Fatal(err)
	}
	for _, k := range []string{"small", "big2", "dir/", "small2"} {
		if info, ok := srv.Stat("bkt", k); !ok || info.SSE != "AES256" {
			t.Errorf("%s stored with SSE %q (%v), want AES256", k, info.SSE, ok)
		}
	}
}

func TestInheritACL(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt", "readonly", "denied"))
	srv.SetBucketACL("readonly", s3test.Grant{ID: srv.OwnerID, Permission: "READ"}, s3test.Grant{URI: s3test.AllUsersGroup, Permission: "WRITE"},
		s3test.Grant{ID: "someone-else", Permission: "FULL_CONTROL"})
	for _, tc := range []struct {
		bucket string
		mode   fs.FileMode
	}{{"bkt", 0o700}, {"readonly", 0o700}} {
		t.Run(tc.bucket, func(t *testing.T) {
			f, _ := newFS(t, srv, tc.bucket, func(o *s3drv.Options) { o.InheritACL = true })
			if err := ufs.WriteFile(bg, f, "d/x", []byte("x")); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"d/x", "d", ufs.Root} {
				st, err := f.Stat(bg, p)
				if err != nil || st.Owner != s3test.DefaultOwnerName || st.Group != st.Owner || st.Mode != tc.mode {
					t.Errorf("%s %s: %+v %v, want owner %s mode %o", tc.bucket, p, st, err, s3test.DefaultOwnerName, tc.mode)
				}
			}
			if all, _ := ufs.ListAll(bg, f, "d"); len(all) != 1 || all[0].Owner != s3test.DefaultOwnerName {
				t.Errorf("listing entries lack the owner: %+v", all)
			}
			if !f.Capabilities().Owners {
				t.Errorf("Capabilities().Owners false with an owner")
			}
		})
	}
	// READ (r-x) and everyone's WRITE (-w-), someone else's grant ignored.
	srv.SetBucketACL("readonly", s3test.Grant{ID: srv.OwnerID, Permission: "READ"}, s3test.Grant{ID: "someone-else", Permission: "FULL_CONTROL"})
	f, _ := newFS(t, srv, "readonly", func(o *s3drv.Options) { o.InheritACL = true })
	if st, _ := f.Stat(bg, ufs.Root); st.Mode != 0o500 {
		t.Errorf("READ grant: mode %o, want 500", st.Mode)
	}
	srv.SetBucketACL("readonly", s3test.Grant{ID: srv.OwnerID, Permission: "READ"}, s3test.Grant{URI: s3test.AllUsersGroup, Permission: "WRITE"})
	f, _ = newFS(t, srv, "readonly", func(o *s3drv.Options) { o.InheritACL = true })
	if st, _ := f.Stat(bg, ufs.Root); st.Mode != 0o700 {
		t.Errorf("READ + everyone WRITE: mode %o, want 700", st.Mode)
	}
	// An ACL that cannot be read: the mount works, entries have no owner, a warning says why.
	srv.Inject(s3test.Fault{Op: "GetBucketAcl", Status: 403, Code: "AccessDenied"})
	f, logs := newFS(t, srv, "denied", func(o *s3drv.Options) { o.InheritACL = true })
	if st, err := f.Stat(bg, ufs.Root); err != nil || st.Owner != "" || st.Mode != 0 || f.Capabilities().Owners {
		t.Errorf("denied ACL: %+v %v", st, err)
	}
	if !strings.Contains(logs.String(), "bucket ACL not readable") {
		t.Errorf("no warning about the ACL: %q", logs.String())
	}
	// Off: no GetBucketAcl at all.
	before := srv.Requests("GetBucketAcl")
	f, _ = newFS(t, srv, "bkt", nil)
	if st, _ := f.Stat(bg, ufs.Root); st.Owner != "" || srv.Requests("GetBucketAcl") != before {
		t.Errorf("InheritACL off: %+v, %d ACL requests", st, srv.Requests("GetBucketAcl")-before)
	}
}

func TestCleanUploadsAtMount(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	old := srv.StartUpload("bkt", "data/crashed.bin", time.Now().Add(-96*time.Hour))
	recent := srv.StartUpload("bkt", "data/live.bin", time.Now().Add(-time.Hour))
	outside := srv.StartUpload("bkt", "other/crashed.bin", time.Now().Add(-96*time.Hour))
	u, err := open(srv, "bkt", "data", with(srv.Options(), "alluxio.underfs.cleanup.enabled", "true"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var ids []string
	for _, up := range srv.Uploads("bkt") {
		ids = append(ids, up.ID)
	}
	if strings.Join(ids, ",") != outside+","+recent && strings.Join(ids, ",") != recent+","+outside {
		t.Fatalf("uploads after a mount with cleanup: %v; want %s (recent) and %s (outside the mount) kept, %s aborted", ids, recent, outside, old)
	}
	// Without the option nothing is listed or aborted.
	before := srv.Requests("ListMultipartUploads")
	u2, err := open(srv, "bkt", "other", srv.Options())
	if err != nil {
		t.Fatal(err)
	}
	u2.Close()
	if srv.Requests("ListMultipartUploads") != before || len(srv.Uploads("bkt")) != 2 {
		t.Fatal("a mount without cleanup touched multipart uploads")
	}
	// Paging through many uploads.
	for i := range 1100 {
		srv.StartUpload("bkt", "data/many/"+string(rune('a'+i%26))+"/x", time.Now().Add(-100*time.Hour))
	}
	n, err := ufs.Unwrap(u).(*s3drv.FS).CleanUploads(bg, 72*time.Hour)
	if err != nil || n != 1100 {
		t.Fatalf("CleanUploads = %d, %v; want 1100", n, err)
	}
	// A refused listing is logged, not fatal.
	srv.Inject(s3test.Fault{Op: "ListMultipartUploads", Status: 403, Code: "AccessDenied"})
	f, logs := newFS(t, srv, "bkt", func(o *s3drv.Options) { o.CleanUploadsOlderThan = time.Hour })
	if f == nil || !strings.Contains(logs.String(), "cleaning stale multipart uploads failed") {
		t.Fatalf("refused cleanup: logs %q", logs.String())
	}
}
