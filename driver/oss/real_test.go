package oss_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// TestRealOSS runs the conformance suite against real OSS when OSS_TEST_ENDPOINT,
// OSS_TEST_BUCKET, OSS_TEST_ACCESS_KEY_ID and OSS_TEST_ACCESS_KEY_SECRET are set
// (OSS_TEST_REGION and OSS_TEST_SECURITY_TOKEN optional). Each run works below a fresh
// "unifiedfs-test-<time>/" prefix and removes it at the end.
func TestRealOSS(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"OSS_TEST_ENDPOINT", "OSS_TEST_BUCKET", "OSS_TEST_ACCESS_KEY_ID", "OSS_TEST_ACCESS_KEY_SECRET"} {
		v := os.Getenv(k)
		if v == "" {
			t.Skipf("real OSS test skipped: set OSS_TEST_ENDPOINT, OSS_TEST_BUCKET, OSS_TEST_ACCESS_KEY_ID and OSS_TEST_ACCESS_KEY_SECRET to run it (%s is unset)", k)
		}
		env[k] = v
	}
	opts := map[string]string{
		"fs.oss.endpoint":        env["OSS_TEST_ENDPOINT"],
		"fs.oss.accessKeyId":     env["OSS_TEST_ACCESS_KEY_ID"],
		"fs.oss.accessKeySecret": env["OSS_TEST_ACCESS_KEY_SECRET"],
	}
	if v := os.Getenv("OSS_TEST_REGION"); v != "" {
		opts["fs.oss.region"] = v
	}
	if v := os.Getenv("OSS_TEST_SECURITY_TOKEN"); v != "" {
		opts["fs.oss.securityToken"] = v
	}
	base := fmt.Sprintf("unifiedfs-test-%d", time.Now().UnixNano())
	bucketURI := "oss://" + env["OSS_TEST_BUCKET"] + "/"
	t.Cleanup(func() {
		u, err := ufs.Open(context.Background(), bucketURI, opts)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer u.Close()
		if err := u.RemoveAll(context.Background(), base); err != nil {
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
}
