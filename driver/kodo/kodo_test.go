package kodo_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/kodo"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

const bucket = "bkt"

// newServer starts a fake Kodo with one bucket and points the SDK's caches at a temp dir.
func newServer(t *testing.T) *kodotest.Server {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	return kodotest.NewServer(t, kodotest.WithBuckets(bucket))
}

// mount opens uri on srv with srv's options plus extra.
func mount(t *testing.T, srv *kodotest.Server, uri string, extra map[string]string) ufs.UFS {
	t.Helper()
	opts := srv.Options(bucket)
	maps.Copy(opts, extra)
	u, err := ufs.Open(context.Background(), uri, opts)
	if err != nil {
		t.Fatalf("open %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// smallParts makes every file above 1 MiB a resumable upload of 1 MiB parts (Kodo's
// minimum part size), so multipart paths run on small data.
var smallParts = map[string]string{
	"fs.kodo.upload.threshold":          "1MB",
	"fs.kodo.upload.partsize":           "1MB",
	"alluxio.underfs.kodo.requests.max": "4",
}

func TestConformance(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		name  string
		extra map[string]string
	}{
		{"FormUploads", nil},
		{"ResumableUploads", smallParts},
		{"SmallListPages", map[string]string{"fs.kodo.list.pagesize": "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			ufstest.Run(t, ufstest.Harness{
				New: func(t *testing.T) ufs.UFS {
					n++
					return mount(t, srv, fmt.Sprintf("kodo://%s/%s/%d", bucket, tc.name, n), tc.extra)
				},
				// The fake's UC, RS and RSF check the bucket and every signature.
				OpenMissing: func(t *testing.T) (ufs.UFS, error) {
					return ufs.Open(context.Background(), "kodo://no-such-bucket/d", srv.Options("no-such-bucket"))
				},
				OpenBadCredentials: func(t *testing.T) (ufs.UFS, error) {
					opts := srv.Options(bucket)
					opts["fs.kodo.secretkey"] = "wrong-" + opts["fs.kodo.secretkey"]
					return ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts)
				},
			})
		})
	}
}

// TestNewTyped opens the fake's bucket with the typed constructor: a guarded *kodo.FS that
// reads what it writes below its prefix, and the Opener's checks (wrong keys are
// fs.ErrPermission).
func TestNewTyped(t *testing.T) {
	srv := newServer(t)
	m := srv.Options(bucket)
	o := kodo.Options{Bucket: bucket, Prefix: "typed", AccessKey: m[kodo.OptAccessKey], SecretKey: m[kodo.OptSecretKey],
		DownloadHost: m[kodo.OptDownloadHost], Endpoint: m[kodo.OptEndpoint], UCHosts: []string{m[kodo.OptUCHost]},
		PlainHTTP: true, Other: map[string]string{kodo.OptCacheDir: m[kodo.OptCacheDir], "unifiedfs.retry.base.delay": "2ms"}}
	ctx := context.Background()
	u, err := kodo.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, ok := ufs.Unwrap(u).(*kodo.FS); !ok || ufs.Guard(u) != u {
		t.Fatalf("New returned %T, want a guarded *kodo.FS", u)
	}
	if err := ufs.WriteFile(ctx, u, "f", []byte("typed")); err != nil {
		t.Fatal(err)
	}
	whole, err := ufs.Open(ctx, "kodo://"+bucket+"/", srv.Options(bucket))
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if got, err := ufs.ReadFile(ctx, whole, "typed/f"); err != nil || string(got) != "typed" {
		t.Fatalf("typed/f through the bucket root: %q, %v", got, err)
	}
	o.SecretKey = "wrong"
	if _, err := kodo.New(ctx, o); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("New with a wrong secret: %v", err)
	}
}
