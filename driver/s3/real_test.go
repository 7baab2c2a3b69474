package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	s3drv "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// TestRealS3 runs the conformance suite against a real S3 or S3-compatible service when
// S3_TEST_BUCKET, S3_TEST_ACCESS_KEY and S3_TEST_SECRET_KEY are set; S3_TEST_ENDPOINT
// (default: AWS), S3_TEST_REGION and S3_TEST_PATH_STYLE=true are optional. Uploads use
// 5 MiB parts (S3's minimum), so the suite's 3 MiB files are single PUTs and a 12 MiB one
// is multipart. Each run works below a fresh "unifiedfs-test-<time>/" prefix and removes
// it, and any multipart upload left below it, at the end.
func TestRealS3(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"S3_TEST_BUCKET", "S3_TEST_ACCESS_KEY", "S3_TEST_SECRET_KEY"} {
		v := os.Getenv(k)
		if v == "" {
			t.Skipf("real S3 test skipped: set S3_TEST_BUCKET, S3_TEST_ACCESS_KEY and S3_TEST_SECRET_KEY "+
				"(and S3_TEST_ENDPOINT, S3_TEST_REGION, S3_TEST_PATH_STYLE as needed) to run it (%s is unset)", k)
		}
		env[k] = v
	}
	opts := map[string]string{
		"s3a.accessKeyId": env["S3_TEST_ACCESS_KEY"],
		"s3a.secretKey":   env["S3_TEST_SECRET_KEY"],
		"alluxio.underfs.s3.streaming.upload.partition.size": "5MB",
	}
	for env, key := range map[string]string{"S3_TEST_ENDPOINT": "alluxio.underfs.s3.endpoint", "S3_TEST_REGION": "alluxio.underfs.s3.endpoint.region",
		"S3_TEST_PATH_STYLE": "alluxio.underfs.s3.disable.dns.buckets"} {
		if v := os.Getenv(env); v != "" {
			opts[key] = v
		}
	}
	base := fmt.Sprintf("unifiedfs-test-%d", time.Now().UnixNano())
	bucketURI := "s3://" + env["S3_TEST_BUCKET"] + "/"
	t.Cleanup(func() {
		u, err := ufs.Open(context.Background(), bucketURI+base, opts)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer u.Close()
		if n, err := ufs.Unwrap(u).(*s3drv.FS).CleanUploads(context.Background(), 0); err != nil || n > 0 {
			t.Logf("cleanup: %d multipart uploads left behind were aborted (%v)", n, err)
		}
		root, err := ufs.Open(context.Background(), bucketURI, opts)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer root.Close()
		if err := root.RemoveAll(context.Background(), base); err != nil {
			t.Logf("cleanup of %s: %v", base, err)
		}
	})
	var n atomic.Int64
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
		uri := fmt.Sprintf("%s%s/t%d", bucketURI, base, n.Add(1))
		u, err := ufs.Open(context.Background(), uri, opts)
		if err != nil {
			t.Fatalf("open %s: %v", uri, err)
		}
		return u
	}})
	t.Run("Multipart", func(t *testing.T) {
		u, err := ufs.Open(context.Background(), bucketURI+base+"/mp", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		data := make([]byte, 12<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		if err := ufs.WriteFile(context.Background(), u, "big", data); err != nil {
			t.Fatal(err)
		}
		st, err := u.Stat(context.Background(), "big")
		if err != nil || st.Size != int64(len(data)) {
			t.Fatalf("stat %+v %v", st, err)
		}
		got, err := ufs.ReadFile(context.Background(), u, "big")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back: %v", err)
		}
	})
}
