package oss_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/oss"
	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

const testBucket = "unifiedfs-test"

var dirSeq atomic.Int64

// mount opens a fresh directory of the server's test bucket with extra options.
func mount(t testing.TB, srv *osstest.Server, extra map[string]string) ufs.UFS {
	t.Helper()
	srv.CreateBucket(testBucket)
	opts := srv.Options()
	maps.Copy(opts, extra)
	dir := fmt.Sprintf("t%d/root", dirSeq.Add(1))
	u, err := ufs.Open(context.Background(), srv.URI(testBucket, dir), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// smallParts makes multipart uploads and copies kick in at small sizes.
var smallParts = map[string]string{
	"fs.oss.multipart.threshold": "256KB",
	"fs.oss.multipart.partSize":  "100KB",
	"fs.oss.multipart.threads":   "4",
	"fs.oss.copy.threshold":      "300KB",
	"fs.oss.copy.partSize":       "128KB",
}

// openerHooks are the harness's Opener cases: a bucket the server does not have, and the
// test bucket with a wrong secret (the fake checks every signature).
func openerHooks(srv *osstest.Server, h ufstest.Harness) ufstest.Harness {
	h.OpenMissing = func(t *testing.T) (ufs.UFS, error) {
		return ufs.Open(context.Background(), srv.URI("no-such-bucket", ""), srv.Options())
	}
	h.OpenBadCredentials = func(t *testing.T) (ufs.UFS, error) {
		srv.CreateBucket(testBucket)
		opts := srv.Options()
		opts["fs.oss.accessKeySecret"] = "wrong-" + opts["fs.oss.accessKeySecret"]
		return ufs.Open(context.Background(), srv.URI(testBucket, ""), opts)
	}
	return h
}

func TestConformance(t *testing.T) {
	srv := osstest.NewServer(t)
	t.Run("Directory", func(t *testing.T) {
		ufstest.Run(t, openerHooks(srv, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return mount(t, srv, nil) }}))
	})
	t.Run("SmallPartsV1", func(t *testing.T) {
		extra := maps.Clone(smallParts)
		extra["fs.oss.signatureVersion"] = "v1"
		ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return mount(t, srv, extra) }})
	})
	var buckets atomic.Int64
	t.Run("BucketRoot", func(t *testing.T) {
		ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
			b := fmt.Sprintf("root-bucket-%d", buckets.Add(1))
			srv.CreateBucket(b)
			u, err := ufs.Open(context.Background(), srv.URI(b, ""), srv.Options())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return u
		}})
	})
}

// TestNewTyped opens the server's bucket with the typed constructor: a guarded *oss.FS
// that reads what it writes, options outside the fields passing through Other, and the
// Opener's checks (a missing secret is fs.ErrInvalid naming its key).
func TestNewTyped(t *testing.T) {
	srv := osstest.NewServer(t)
	srv.CreateBucket(testBucket)
	ctx := context.Background()
	o := oss.Options{Bucket: testBucket, Prefix: "typed/dir", Endpoint: srv.URL, AccessKeyID: srv.AccessKeyID,
		AccessKeySecret: srv.AccessKeySecret, SecurityToken: srv.SecurityToken, Region: srv.Region,
		Other: map[string]string{"fs.oss.multipart.threshold": "256KB", "fs.oss.multipart.partSize": "100KB"}}
	u, err := oss.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, ok := ufs.Unwrap(u).(*oss.FS); !ok || ufs.Guard(u) != u {
		t.Fatalf("New returned %T, want a guarded *oss.FS", u)
	}
	data := make([]byte, 300<<10) // above the threshold given in Other: a multipart upload
	if err := ufs.WriteFile(ctx, u, "f", data); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Object(testBucket, "typed/dir/f"); !ok {
		t.Fatalf("no object typed/dir/f: keys %v", srv.Keys(testBucket))
	}
	if srv.Requests("UploadPart") == 0 {
		t.Error("Other's multipart threshold was not applied")
	}
	o.AccessKeySecret = ""
	if _, err := oss.New(ctx, o); !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "fs.oss.accessKeySecret") {
		t.Fatalf("New without a secret: %v", err)
	}
}
