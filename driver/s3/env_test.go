package s3_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	s3drv "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// isolateAWS clears the AWS environment of the machine for the test: no credentials,
// profile, region or CA bundle, and shared files that do not exist.
func isolateAWS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_REQUEST_CHECKSUM_CALCULATION",
		"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	return dir
}

// noKeys are the server's options without the access key pair.
func noKeys(srv *s3test.Server) map[string]string {
	return without(srv.Options(), "s3a.accessKeyId", "s3a.secretKey")
}

// fakeIMDS is an EC2 instance metadata service (IMDSv2) handing out one role's keys; it
// counts the requests it receives.
func fakeIMDS(t *testing.T, id, secret string) *atomic.Int64 {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			_, _ = w.Write([]byte("imds-token"))
		case r.Header.Get("X-Aws-Ec2-Metadata-Token") != "imds-token":
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/":
			_, _ = w.Write([]byte("unifiedfs-role"))
		case r.URL.Path == "/latest/meta-data/iam/security-credentials/unifiedfs-role":
			_ = json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "Type": "AWS-HMAC",
				"AccessKeyId": id, "SecretAccessKey": secret, "Token": "",
				"LastUpdated": time.Now().UTC().Format(time.RFC3339), "Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	return &hits
}

func TestNoCredentialsAnywhere(t *testing.T) {
	dir := isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	hits := fakeIMDS(t, srv.AccessKeyID, srv.SecretAccessKey)
	_, err := open(srv, "bkt", "", noKeys(srv))
	wantIs(t, err, fs.ErrPermission)
	if !errors.Is(err, s3drv.ErrNoCredentials) {
		t.Fatalf("error %v does not wrap ErrNoCredentials", err)
	}
	for _, want := range []string{"s3a.accessKeyId", "AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE",
		filepath.Join(dir, "credentials"), filepath.Join(dir, "config"), `profile "default"`, "AWS_CONTAINER_CREDENTIALS",
		"EC2 instance metadata was not asked", "alluxio.underfs.s3.ec2.metadata.enabled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name the source %q: %v", want, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the instance metadata service was asked %d times without the option", n)
	}
	if n := srv.Requests("ListObjectsV2"); n != 0 {
		t.Fatalf("%d unsigned requests reached S3", n)
	}
}

func TestEC2MetadataWhenEnabled(t *testing.T) {
	isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	hits := fakeIMDS(t, srv.AccessKeyID, srv.SecretAccessKey)
	u, err := open(srv, "bkt", "", with(noKeys(srv), "alluxio.underfs.s3.ec2.metadata.enabled", "true"))
	if err != nil {
		t.Fatalf("mount with instance-role credentials: %v", err)
	}
	defer u.Close()
	if err := ufs.WriteFile(bg, u, "x", []byte("from an instance role")); err != nil {
		t.Fatal(err)
	}
	if hits.Load() < 3 {
		t.Fatalf("the instance metadata service was asked %d times", hits.Load())
	}
}

func TestEnvironmentCredentials(t *testing.T) {
	isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithSessionToken("session-123"))
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretAccessKey)
	_, err := open(srv, "bkt", "", noKeys(srv))
	wantIs(t, err, fs.ErrPermission) // the server wants the session token too
	if serviceCode(err) != "InvalidToken" {
		t.Fatalf("want InvalidToken, got %v", err)
	}
	t.Setenv("AWS_SESSION_TOKEN", "session-123")
	u, err := open(srv, "bkt", "", noKeys(srv))
	if err != nil {
		t.Fatalf("mount with environment credentials: %v", err)
	}
	defer u.Close()
	if err := ufs.WriteFile(bg, u, "x", []byte("env")); err != nil {
		t.Fatal(err)
	}
}

func TestSharedFilesAndProfile(t *testing.T) {
	dir := isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithRegion("eu-west-3"))
	creds := "[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n\n[dev]\naws_access_key_id = " +
		srv.AccessKeyID + "\naws_secret_access_key = " + srv.SecretAccessKey + "\n"
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[profile dev]\nregion = eu-west-3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := without(noKeys(srv), "alluxio.underfs.s3.endpoint.region")
	_, err := open(srv, "bkt", "", opts)
	wantIs(t, err, fs.ErrPermission) // the default profile's keys are wrong
	t.Setenv("AWS_PROFILE", "dev")
	u, err := open(srv, "bkt", "", opts)
	if err != nil {
		t.Fatalf("mount with AWS_PROFILE=dev (keys and region from the shared files): %v", err)
	}
	u.Close()
	t.Setenv("AWS_PROFILE", "nosuch")
	_, err = open(srv, "bkt", "", opts)
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("AWS_PROFILE naming a missing profile: %v", err)
	}
}

func TestRegionFromEnvironment(t *testing.T) {
	isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithRegion("ap-south-1"))
	opts := without(srv.Options(), "alluxio.underfs.s3.endpoint.region")
	_, err := open(srv, "bkt", "", opts)
	wantIs(t, err, fs.ErrPermission) // signed for us-east-1
	t.Setenv("AWS_REGION", "ap-south-1")
	u, err := open(srv, "bkt", "", opts)
	if err != nil {
		t.Fatalf("mount with AWS_REGION: %v", err)
	}
	u.Close()
	// The option wins over the environment.
	_, err = open(srv, "bkt", "", with(opts, "alluxio.underfs.s3.endpoint.region", "us-west-2"))
	wantIs(t, err, fs.ErrPermission)
}

func TestCABundle(t *testing.T) {
	dir := isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"), s3test.WithTLS())
	bundle := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bundle, srv.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("Unset", func(t *testing.T) {
		_, err := open(srv, "bkt", "", srv.Options())
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("HTTPS to an unknown CA without AWS_CA_BUNDLE: %v", err)
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			t.Fatalf("a TLS failure mapped to a misleading sentinel: %v", err)
		}
	})
	t.Run("Set", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", bundle)
		u, err := open(srv, "bkt", "", srv.Options())
		if err != nil {
			t.Fatalf("mount over HTTPS with AWS_CA_BUNDLE: %v", err)
		}
		defer u.Close()
		// Over TLS the SDK streams uploads as aws-chunked with a trailing CRC32.
		if err := ufs.WriteFile(bg, u, "tls", []byte("over https")); err != nil {
			t.Fatal(err)
		}
		if got, err := ufs.ReadFile(bg, u, "tls"); err != nil || string(got) != "over https" {
			t.Fatalf("read %q %v", got, err)
		}
		if info, _ := srv.Stat("bkt", "tls"); info.ChecksumAlg != "CRC32" {
			t.Fatalf("object stored without the trailing checksum: %+v", info)
		}
	})
	t.Run("SetWithPlainHTTP", func(t *testing.T) {
		// As on these machines: a system bundle, an http endpoint.
		plain := s3test.NewServer(t, s3test.WithBuckets("bkt"))
		t.Setenv("AWS_CA_BUNDLE", bundle)
		u, err := open(plain, "bkt", "", plain.Options())
		if err != nil {
			t.Fatalf("mount over HTTP with AWS_CA_BUNDLE set: %v", err)
		}
		u.Close()
	})
	t.Run("SetWithOwnHTTPClient", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", bundle)
		_, err := s3drv.New(bg, s3drv.Options{Bucket: "bkt", AccessKeyID: srv.AccessKeyID, SecretKey: srv.SecretAccessKey,
			Endpoint: srv.URL, HTTPClient: http.DefaultClient})
		wantIs(t, err, fs.ErrInvalid)
		if !strings.Contains(err.Error(), "AWS_CA_BUNDLE") || !strings.Contains(err.Error(), "BuildableClient") {
			t.Fatalf("error does not explain the AWS_CA_BUNDLE conflict: %v", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", filepath.Join(dir, "nope.pem"))
		_, err := open(srv, "bkt", "", srv.Options())
		wantIs(t, err, fs.ErrInvalid)
	})
}

func TestChecksumCalculationSetting(t *testing.T) {
	isolateAWS(t)
	for _, tc := range []struct {
		env  string
		want string
	}{{"", "CRC32"}, {"when_required", ""}} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv("AWS_REQUEST_CHECKSUM_CALCULATION", tc.env)
			srv := s3test.NewServer(t, s3test.WithMinPartSize(128<<10))
			u := mount(t, srv, smallParts)
			if err := ufs.WriteFile(bg, u, "single", []byte("one put")); err != nil {
				t.Fatal(err)
			}
			if err := ufs.WriteFile(bg, u, "multi", make([]byte, 300<<10)); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"single", "multi"} {
				if info, _ := srv.Stat(testBucket, keyOf(t, srv, p)); info.ChecksumAlg != tc.want {
					t.Errorf("%s stored with checksum %q, want %q", p, info.ChecksumAlg, tc.want)
				}
			}
		})
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	isolateAWS(t)
	srv := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	other := s3test.NewServer(t, s3test.WithBuckets("bkt"))
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	u, err := open(srv, "bkt", "", without(srv.Options(), "alluxio.underfs.s3.endpoint", "alluxio.underfs.s3.disable.dns.buckets"))
	if err != nil {
		t.Fatalf("mount with AWS_ENDPOINT_URL_S3: %v", err)
	}
	if err := ufs.WriteFile(bg, u, "env", []byte("e")); err != nil {
		t.Fatal(err)
	}
	u.Close()
	if _, ok := srv.Object("bkt", "env"); !ok {
		t.Fatal("the object did not reach AWS_ENDPOINT_URL_S3")
	}
	// The option wins over the environment.
	u, err = open(other, "bkt", "", other.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := ufs.WriteFile(bg, u, "opt", []byte("o")); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Object("bkt", "opt"); !ok {
		t.Fatal("the endpoint option did not win over AWS_ENDPOINT_URL_S3")
	}
}
