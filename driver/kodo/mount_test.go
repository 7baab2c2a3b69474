package kodo_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/kodo"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func TestMountWrongSecretIsPermission(t *testing.T) {
	srv := newServer(t)
	opts := srv.Options(bucket)
	opts["fs.kodo.secretkey"] = "not-the-secret"
	_, err := ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts)
	if !errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open with a wrong secret: %v, want fs.ErrPermission (and not fs.ErrNotExist)", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), srv.SecretKey()) {
		t.Fatalf("error leaks a secret: %v", err)
	}
	if srv.Calls(kodotest.APIList) == 0 {
		t.Fatal("the mount did not reach RSF")
	}
}

func TestMountWrongAccessKeyIsPermission(t *testing.T) {
	srv := newServer(t)
	opts := srv.Options(bucket)
	opts["fs.kodo.accesskey"] = "someone-else"
	_, err := ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts)
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("open with an unknown access key: %v, want fs.ErrPermission", err)
	}
}

func TestMountMissingBucketIsNotExist(t *testing.T) {
	srv := newServer(t)
	_, err := ufs.Open(context.Background(), "kodo://nosuchbucket/d", srv.Options("nosuchbucket"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing bucket: %v, want fs.ErrNotExist", err)
	}
}

func TestMountMissingOptionNamesIt(t *testing.T) {
	srv := newServer(t)
	for _, key := range []string{kodo.OptAccessKey, kodo.OptSecretKey, kodo.OptDownloadHost, kodo.OptEndpoint} {
		opts := srv.Options(bucket)
		delete(opts, key)
		_, err := ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts)
		if !errors.Is(err, fs.ErrInvalid) || !errors.Is(err, ufs.ErrMissingOption) || !strings.Contains(err.Error(), key) {
			t.Errorf("without %s: %v, want an error naming it", key, err)
		}
		opts[key] = ""
		if _, err := ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts); !strings.Contains(fmtErr(err), key) {
			t.Errorf("with empty %s: %v, want an error naming it", key, err)
		}
	}
	if srv.Calls(kodotest.APIList)+srv.Calls(kodotest.APIQuery) != 0 {
		t.Error("an incomplete configuration reached the server")
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestMountKeysAreCaseInsensitive(t *testing.T) {
	srv := newServer(t)
	opts := srv.Options(bucket)
	// The Alluxio guide writes fs.kodo.accessKey.
	opts["fs.kodo.accessKey"] = opts["fs.kodo.accesskey"]
	delete(opts, "fs.kodo.accesskey")
	opts["ALLUXIO.UNDERFS.KODO.ENDPOINT"] = opts["alluxio.underfs.kodo.endpoint"]
	delete(opts, "alluxio.underfs.kodo.endpoint")
	u, err := ufs.Open(context.Background(), "kodo://"+bucket+"/d", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := ufs.WriteFile(context.Background(), u, "x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := ufs.ReadFile(context.Background(), u, "x"); err != nil || string(got) != "x" {
		t.Fatalf("read back %q, %v", got, err)
	}
}

func TestMountStaticHostsSkipUC(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/static", map[string]string{
		"fs.kodo.uchost":  "127.0.0.1:1", // unreachable: must not be used
		"fs.kodo.rshost":  "http://" + srv.RSHost(),
		"fs.kodo.rsfhost": srv.RSFHost(),
		"fs.kodo.uphost":  srv.UPHost(),
	})
	ctx := context.Background()
	if err := ufs.WriteFile(ctx, u, "f", []byte("static")); err != nil {
		t.Fatal(err)
	}
	if st, err := u.Stat(ctx, "f"); err != nil || st.Size != 6 {
		t.Fatalf("stat: %+v, %v", st, err)
	}
	if n := srv.Calls(kodotest.APIQuery); n != 0 {
		t.Fatalf("UC queried %d times with every host configured", n)
	}
}

func TestMountRootIsURIPath(t *testing.T) {
	srv := newServer(t)
	srv.Put(bucket, "outside", []byte("o"))
	u := mount(t, srv, "kodo://"+bucket+"/a/b", nil)
	ctx := context.Background()
	if err := ufs.WriteFile(ctx, u, "c/d", []byte("in")); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Get(bucket, "a/b/c/d"); !ok {
		t.Fatalf("keys = %v, want a/b/c/d", srv.Keys(bucket))
	}
	if _, err := u.Stat(ctx, "outside"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a key outside the root: %v", err)
	}
	if caps := u.Capabilities(); caps.Kind != "kodo" || !caps.ObjectStore || caps.AtomicRename {
		t.Fatalf("capabilities = %+v", caps)
	}
}
