package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	s3drv "github.com/unifiedfs/unifiedfs/driver/s3"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
)

func parse(t *testing.T, uri string, m map[string]string) (s3drv.Options, []string, error) {
	t.Helper()
	u, err := ufs.ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	return s3drv.ParseOptions(u, ufs.NewOptions(m))
}

func TestParseOptions(t *testing.T) {
	o, warnings, err := parse(t, "s3://bkt/a/b", map[string]string{
		"s3a.accessKeyId":                                     "AKIA1",
		"S3A.SECRETKEY":                                       "sekrit",
		"alluxio.underfs.s3.endpoint":                         "minio.local:9000",
		"alluxio.underfs.s3a.secure.http.enabled":             "false",
		"alluxio.underfs.s3.region":                           "eu-north-1",
		"alluxio.underfs.s3.disable.dns.buckets":              "true",
		"alluxio.underfs.s3.upload.threads.max":               "8",
		"alluxio.underfs.s3a.streaming.upload.partition.size": "32MB",
		"alluxio.underfs.s3.list.objects.v1":                  "true",
		"alluxio.underfs.s3.server.side.encryption.enabled":   "true",
		"alluxio.underfs.s3a.inherit_acl":                     "false",
		"alluxio.underfs.s3.max.error.retry":                  "5",
		"alluxio.underfs.s3.request.timeout":                  "2min",
		"alluxio.underfs.s3a.socket.timeout.ms":               "1500",
		"alluxio.underfs.s3.intermediate.upload.clean.age":    "2day",
		"alluxio.underfs.listing.length":                      "500",
		"alluxio.underfs.s3.ec2.metadata.enabled":             "true",
		// Not S3's: ignored without a word (a properties file gives every mount all keys).
		"fs.oss.endpoint":                    "oss-cn-hangzhou.aliyuncs.com",
		"alluxio.underfs.hdfs.configuration": "/etc/hadoop",
		// S3's namespaces, unknown: warned about.
		"alluxio.underfs.s3.threads.max": "40",
		"fs.s3a.access.key":              "AKIA2",
		"aws.sessionToken":               "secret-token-value",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := s3drv.Options{Bucket: "bkt", Prefix: "a/b", AccessKeyID: "AKIA1", SecretKey: "sekrit", EC2Metadata: true,
		Endpoint: "minio.local:9000", PlainHTTP: true, Region: "eu-north-1", PathStyle: true, PartSize: 32 << 20,
		UploadThreads: 8, ListV1: true, ListPageSize: 500, ServerSideEncryption: true, InheritACL: false,
		CleanUploadsOlderThan: 48 * time.Hour}
	// The aliases of the shared retry options; the rest keep the shared defaults.
	if r := o.Retry; r.Policy.Attempts != 6 || r.Policy.AttemptTimeout != 2*time.Minute || r.IdleTimeout != 1500*time.Millisecond ||
		r.Policy.BaseDelay != retry.DefaultBaseDelay || r.ConnectTimeout != retry.DefaultConnectTimeout || r.AbortTimeout != retry.DefaultAbortTimeout {
		t.Fatalf("retry settings: %+v", r)
	}
	o.Retry = retry.Config{}
	if fmt.Sprintf("%#v", o) != fmt.Sprintf("%#v", want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", o, want)
	}
	if strings.Join(warnings, "\n") != "unknown S3 option alluxio.underfs.s3.threads.max: ignored\n"+
		"unknown S3 option aws.sessionToken: ignored\nunknown S3 option fs.s3a.access.key: ignored" {
		t.Fatalf("warnings: %q", warnings)
	}
	for _, w := range warnings {
		if strings.Contains(w, "secret-token-value") || strings.Contains(w, "AKIA2") {
			t.Fatalf("a warning prints a value: %q", w)
		}
	}

	o, _, err = parse(t, "s3://bkt/", nil)
	if err != nil || !o.InheritACL || o.PlainHTTP || o.CleanUploadsOlderThan != 0 || o.Prefix != "" {
		t.Fatalf("defaults: %+v %v (InheritACL on, HTTPS, no cleanup)", o, err)
	}
	o, _, _ = parse(t, "s3://bkt/", map[string]string{"alluxio.underfs.cleanup.enabled": "true"})
	if o.CleanUploadsOlderThan != 72*time.Hour {
		t.Fatalf("cleanup enabled: age %v, want Alluxio's 3day", o.CleanUploadsOlderThan)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		m    map[string]string
		key  string
		hide string
	}{
		{map[string]string{"s3a.accessKeyId": "A"}, "s3a.secretKey", ""},
		{map[string]string{"aws.secretKey": "hidden-1"}, "s3a.accessKeyId", "hidden-1"},
		{map[string]string{"alluxio.underfs.s3.streaming.upload.partition.size": "6GB"}, "partition.size", ""},
		{map[string]string{"alluxio.underfs.s3.max.error.retry": "-1"}, "max.error.retry", ""},
		{map[string]string{"alluxio.underfs.s3.request.timeout": "0"}, "request.timeout", ""},
		{map[string]string{"unifiedfs.retry.attempts": "0"}, "unifiedfs.retry.attempts", ""},
		{map[string]string{"alluxio.underfs.s3.endpoint": "http://host/path"}, "alluxio.underfs.s3.endpoint", ""},
		{map[string]string{"alluxio.underfs.s3.inherit.acl": "yes please"}, "inherit.acl", ""},
		{map[string]string{"alluxio.underfs.s3.intermediate.upload.clean.age": "-5min"}, "clean.age", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			_, _, err := parse(t, "s3://bkt/", tc.m)
			if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("%v: error %v, want fs.ErrInvalid naming %s", tc.m, err, tc.key)
			}
			if tc.hide != "" && strings.Contains(err.Error(), tc.hide) {
				t.Errorf("error prints a secret: %v", err)
			}
		})
	}
}

func TestOptionsRedactSecret(t *testing.T) {
	o := s3drv.Options{Bucket: "b", AccessKeyID: "AKIA", SecretKey: "do-not-print"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("mount", "opts", o)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s", o, o, o, o), logged.String()} {
		if strings.Contains(s, "do-not-print") {
			t.Fatalf("secret printed: %s", s)
		}
		if !strings.Contains(s, ufs.Redacted) || !strings.Contains(s, "AKIA") {
			t.Fatalf("redacted form lacks the placeholder or the key id: %s", s)
		}
	}
}
