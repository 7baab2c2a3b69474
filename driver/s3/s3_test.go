package s3_test

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"

	_ "github.com/unifiedfs/unifiedfs/driver/s3"
)

const testBucket = "unifiedfs-test"

var dirSeq atomic.Int64

// mount opens a fresh directory of the server's test bucket with extra options.
func mount(t testing.TB, srv *s3test.Server, extra map[string]string) ufs.UFS {
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

// tinyParts makes multipart uploads and part copies kick in at small sizes; the server
// must accept 64 KiB parts (s3test.WithMinPartSize).
var tinyParts = map[string]string{
	"alluxio.underfs.s3.streaming.upload.partition.size": "64KB",
	"alluxio.underfs.s3.upload.threads":                  "4",
	"alluxio.underfs.s3.copy.threshold":                  "300KB",
	"alluxio.underfs.s3.copy.partition.size":             "128KB",
}

// openerHooks are the harness's Opener cases: a bucket the server does not have, and the
// test bucket with a wrong secret (the fake checks every SigV4 signature).
func openerHooks(srv *s3test.Server, h ufstest.Harness) ufstest.Harness {
	h.OpenMissing = func(t *testing.T) (ufs.UFS, error) {
		return ufs.Open(context.Background(), srv.URI("no-such-bucket", ""), srv.Options())
	}
	h.OpenBadCredentials = func(t *testing.T) (ufs.UFS, error) {
		srv.CreateBucket(testBucket)
		opts := srv.Options()
		opts["s3a.secretKey"] = "wrong-" + opts["s3a.secretKey"]
		return ufs.Open(context.Background(), srv.URI(testBucket, ""), opts)
	}
	return h
}

func TestConformance(t *testing.T) {
	srv := s3test.NewServer(t)
	t.Run("Directory", func(t *testing.T) {
		ufstest.Run(t, openerHooks(srv, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return mount(t, srv, nil) }}))
	})
	tiny := s3test.NewServer(t, s3test.WithMinPartSize(64<<10), s3test.WithMaxCopySize(300<<10))
	t.Run("TinyParts", func(t *testing.T) {
		ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return mount(t, tiny, tinyParts) }})
	})
	t.Run("TinyPartsListV1", func(t *testing.T) {
		extra := maps.Clone(tinyParts)
		extra["alluxio.underfs.s3.list.objects.v1"] = "true"
		ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return mount(t, tiny, extra) }})
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
