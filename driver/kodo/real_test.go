package kodo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// TestRealKodo runs the conformance suite against a real bucket when the environment names
// one:
//
//	KODO_TEST_BUCKET         bucket (a scratch prefix below it is used and removed)
//	KODO_TEST_DOWNLOAD_HOST  the bucket's download domain
//	KODO_TEST_ACCESS_KEY     access key
//	KODO_TEST_SECRET_KEY     secret key
//	KODO_TEST_ENDPOINT       IO endpoint or region abbreviation (default z0)
func TestRealKodo(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"KODO_TEST_BUCKET", "KODO_TEST_DOWNLOAD_HOST", "KODO_TEST_ACCESS_KEY", "KODO_TEST_SECRET_KEY"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			t.Skipf("real Kodo test skipped: set KODO_TEST_BUCKET, KODO_TEST_DOWNLOAD_HOST, KODO_TEST_ACCESS_KEY and KODO_TEST_SECRET_KEY (%s is unset)", k)
		}
	}
	endpoint := os.Getenv("KODO_TEST_ENDPOINT")
	if endpoint == "" {
		endpoint = "z0"
	}
	opts := map[string]string{
		"fs.kodo.accesskey":                 env["KODO_TEST_ACCESS_KEY"],
		"fs.kodo.secretkey":                 env["KODO_TEST_SECRET_KEY"],
		"alluxio.underfs.kodo.downloadhost": env["KODO_TEST_DOWNLOAD_HOST"],
		"alluxio.underfs.kodo.endpoint":     endpoint,
		"fs.kodo.cachedir":                  t.TempDir(),
		"fs.kodo.upload.threshold":          "1MB",
		"fs.kodo.upload.partsize":           "1MB",
	}
	var tok [6]byte
	_, _ = rand.Read(tok[:])
	scratch := "unifiedfs-test-" + hex.EncodeToString(tok[:])
	ctx := context.Background()
	root, err := ufs.Open(ctx, "kodo://"+env["KODO_TEST_BUCKET"], opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := root.RemoveAll(ctx, scratch); err != nil {
			t.Errorf("cleaning up %s: %v", scratch, err)
		}
		root.Close()
	})
	n := 0
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
		n++
		u, err := ufs.Open(ctx, fmt.Sprintf("kodo://%s/%s/%d", env["KODO_TEST_BUCKET"], scratch, n), opts)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}})
}
