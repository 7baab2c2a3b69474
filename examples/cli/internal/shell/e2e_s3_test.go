package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/s3/s3test"
)

// The Unified Namespace page's S3 mount, against the S3 peer:
//
//	unifiedfs mount --option s3a.accessKeyId=<id> --option s3a.secretKey=<secret> /mnt/s3 s3://data-bucket/
//
// with the endpoint and path-style addressing as further options. Objects already in the
// bucket are discovered; files written through the namespace land in the bucket.
func TestMountS3(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("data-bucket"))
	srv.PutObject("data-bucket", "reports/sales.csv", []byte("region,total\neu,12\n"))
	e := newCLI(t)
	if v := os.Getenv("AWS_CA_BUNDLE"); v != "" {
		e.env = append(e.env, "AWS_CA_BUNDLE="+v) // as set on these machines: must not disturb the mount
	}
	args := []string{"mount",
		"--option", "s3a.accessKeyId=" + srv.AccessKeyID, "--option", "s3a.secretKey=" + srv.SecretAccessKey,
		"--option", "alluxio.underfs.s3.endpoint=" + srv.URL, "--option", "alluxio.underfs.s3.disable.dns.buckets=true",
		"/mnt/s3", "s3://data-bucket/"}
	e.ok("mkdir", "/mnt")
	if out := e.ok(args...); out != "Mounted s3://data-bucket/ at /mnt/s3\n" {
		t.Fatalf("mount: %q", out)
	}
	if got := e.ok("cat", "/mnt/s3/reports/sales.csv"); got != "region,total\neu,12\n" {
		t.Errorf("cat of an object that was in the bucket: %q", got)
	}
	local := filepath.Join(t.TempDir(), "q1.csv")
	if err := os.WriteFile(local, []byte("q,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("copyFromLocal", local, "/mnt/s3/reports/q1.csv")
	if got, ok := srv.Object("data-bucket", "reports/q1.csv"); !ok || string(got) != "q,1\n" {
		t.Errorf("object after copyFromLocal: %v %q", ok, got)
	}
	ls := parseLs(t, e.ok("ls", "-R", "/mnt/s3"))
	if ls["/mnt/s3/reports/q1.csv"].state != "PERSISTED" || ls["/mnt/s3/reports/sales.csv"].size != "19" {
		t.Errorf("ls -R /mnt/s3: %v", ls)
	}
	e.ok("mkdir", "/mnt/s3/archive")
	if _, ok := srv.Object("data-bucket", "archive/"); !ok {
		t.Errorf("mkdir left no directory marker: %v", srv.Keys("data-bucket"))
	}
	contains(t, "mv", e.ok("mv", "/mnt/s3/reports/q1.csv", "/mnt/s3/archive/q1.csv"), "Renamed /mnt/s3/reports/q1.csv to /mnt/s3/archive/q1.csv")
	if _, ok := srv.Object("data-bucket", "reports/q1.csv"); ok {
		t.Error("mv left the old object")
	}
	if got, ok := srv.Object("data-bucket", "archive/q1.csv"); !ok || string(got) != "q,1\n" {
		t.Errorf("object after mv: %v %q", ok, got)
	}
	e.ok("rm", "/mnt/s3/archive/q1.csv")
	if _, ok := srv.Object("data-bucket", "archive/q1.csv"); ok {
		t.Error("rm left the object")
	}
	table := e.ok("mount")
	contains(t, "mount table", table, "s3://data-bucket/", "/mnt/s3", "s3a.secretKey=<redacted>", "s3a.accessKeyId="+srv.AccessKeyID)
	if strings.Contains(table, srv.SecretAccessKey) {
		t.Errorf("mount table prints the secret: %s", table)
	}
	e.ok("unmount", "/mnt/s3")
	if got, ok := srv.Object("data-bucket", "reports/sales.csv"); !ok || len(got) != 19 {
		t.Error("unmount touched the bucket")
	}

	// A wrong secret fails the mount with a permission error that names neither secret.
	args[4] = "s3a.secretKey=wrong-secret-value"
	r := e.fails(1, "permission denied", args...)
	if strings.Contains(r.stderr, "wrong-secret-value") || strings.Contains(r.stderr, srv.SecretAccessKey) {
		t.Errorf("mount error prints a secret: %s", r.stderr)
	}
	contains(t, "wrong secret", r.stderr, "SignatureDoesNotMatch")
	// A missing bucket fails as not found.
	args[4], args[len(args)-1] = "s3a.secretKey="+srv.SecretAccessKey, "s3://no-such-bucket/"
	contains(t, "missing bucket", e.fails(1, "NoSuchBucket", args...).stderr, "not exist")
}

// S3 as the root UFS from properties: alluxio.master.mount.table.root.option.s3a.* reach
// the driver, and site-wide s3a.* keys are the defaults of later mounts.
func TestS3RootFromProperties(t *testing.T) {
	srv := s3test.NewServer(t, s3test.WithBuckets("root-bucket", "other-bucket"))
	e := newCLI(t)
	e.writeSite(siteFor(srv.URI("root-bucket", "alluxio"), srv.Options()))
	e.ok("mkdir", "/reports")
	local := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(local, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("copyFromLocal", local, "/reports/r.csv")
	if got, ok := srv.Object("root-bucket", "alluxio/reports/r.csv"); !ok || string(got) != "a,b\n1,2\n" {
		t.Errorf("root UFS object: %v %q", ok, got)
	}
	if _, ok := srv.Object("root-bucket", "alluxio/reports/"); !ok {
		t.Errorf("mkdir left no directory marker: %v", srv.Keys("root-bucket"))
	}
	if got := e.ok("cat", "/reports/r.csv"); got != "a,b\n1,2\n" {
		t.Errorf("cat: %q", got)
	}
	contains(t, "mount table", e.ok("mount"), "s3://root-bucket/alluxio", "s3a.secretKey=<redacted>")

	// Site-wide driver keys (outside alluxio.*) are every mount's defaults, as in Alluxio.
	e2 := newCLI(t)
	var site strings.Builder
	for k, v := range srv.Options() {
		site.WriteString(k + "=" + v + "\n")
	}
	e2.writeSite(site.String())
	srv.PutObject("other-bucket", "x", []byte("from the site's keys"))
	e2.ok("mkdir", "/mnt")
	e2.ok("mount", "/mnt/other", "s3://other-bucket/")
	if got := e2.ok("cat", "/mnt/other/x"); got != "from the site's keys" {
		t.Errorf("cat through a mount using the site's keys: %q", got)
	}
}
