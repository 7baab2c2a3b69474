package shell

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
)

// siteFor writes a site file whose root UFS is uri with opts as root options.
func siteFor(uri string, opts map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "alluxio.master.mount.table.root.ufs=%s\n", uri)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "alluxio.master.mount.table.root.option.%s=%s\n", k, opts[k])
	}
	return b.String()
}

// optionArgs turns driver options into mount --option flags.
func optionArgs(opts map[string]string) []string {
	var out []string
	for k, v := range opts {
		out = append(out, "--option", k+"="+v)
	}
	return out
}

// runTests on an OSS root UFS (the OSS page's "./bin/alluxio runTests"): the objects are in
// the bucket under default_tests_files; then a fault on one case's upload makes exactly
// that case fail and the exit code count it.
func TestRunTestsOnOSS(t *testing.T) {
	srv := osstest.NewServer(t, osstest.WithBuckets("unifiedfs-test"))
	e := newCLI(t)
	e.writeSite(siteFor(srv.URI("unifiedfs-test", "alluxio"), srv.Options()))
	out := e.ok("runTests")
	if n := strings.Count(out, "Passed the test!"); n != 24 {
		t.Fatalf("%d cases passed on OSS, want 24:\n%s", n, out)
	}
	keys := strings.Join(srv.Keys("unifiedfs-test"), " ")
	for _, k := range []string{"alluxio/default_tests_files/BASIC_CACHE_PROMOTE_CACHE_THROUGH",
		"alluxio/default_tests_files/BASIC_NON_BYTE_BUFFER_NO_CACHE_ASYNC_THROUGH"} {
		if !strings.Contains(keys, k) {
			t.Errorf("bucket lacks %s: %s", k, keys)
		}
	}
	if got, ok := srv.Object("unifiedfs-test", "alluxio/default_tests_files/BASIC_CACHE_THROUGH"); !ok || !bytes.Equal(got, testData()) {
		t.Errorf("BASIC_CACHE_THROUGH object: %v, %d bytes", ok, len(got))
	}
	if strings.Contains(keys, "MUST_CACHE") {
		t.Errorf("a MUST_CACHE file reached the bucket: %s", keys)
	}

	srv.Inject(osstest.Fault{Op: "PutObject", KeyPrefix: "alluxio/default_tests_files/BASIC_NO_CACHE_THROUGH", Status: 403, Code: "AccessDenied"})
	r := e.run("runTests")
	if r.code != 1 {
		t.Errorf("runTests with one failing upload: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "Failed the test!"); n != 1 || !strings.Contains(r.stdout, "runTest BASIC NO_CACHE THROUGH: Failed the test!") {
		t.Errorf("want exactly BASIC NO_CACHE THROUGH failed:\n%s", r.stdout)
	}
	contains(t, "runTests", r.stdout, "Number of failed tests: 1")
}

// Each store works as the root UFS configured by properties, with the verbs of the
// Transparent Naming walkthrough, and the UFS holds what the namespace says.
func TestStoresAsRoot(t *testing.T) {
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "report.csv"), []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oss := osstest.NewServer(t, osstest.WithBuckets("bucket-one"))
	kodo := kodotest.NewServer(t, kodotest.WithBuckets("bucket-two"))
	hdfs := hdfstest.NewCluster(t, hdfstest.Config{})
	for _, tc := range []struct {
		name  string
		uri   string
		opts  map[string]string
		exist func(key string) ([]byte, bool)
	}{
		{"oss", oss.URI("bucket-one", "data"), oss.Options(), func(k string) ([]byte, bool) { return oss.Object("bucket-one", "data/"+k) }},
		{"kodo", "kodo://bucket-two/data", kodo.Options("bucket-two"), func(k string) ([]byte, bool) { return kodo.Get("bucket-two", "data/"+k) }},
		{"hdfs", hdfs.URI("/data"), hdfs.Options(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCLI(t)
			e.writeSite(siteFor(tc.uri, tc.opts))
			e.ok("mkdir", "/reports")
			e.ok("copyFromLocal", filepath.Join(local, "report.csv"), "/reports/report.csv")
			if got := e.ok("cat", "/reports/report.csv"); got != "a,b\n1,2\n" {
				t.Errorf("cat: %q", got)
			}
			contains(t, "touch", e.ok("touch", "/reports/hello2"), "/reports/hello2 has been created")
			ls := parseLs(t, e.ok("ls", "-R", "/"))
			if ls["/reports/report.csv"].state != "PERSISTED" || ls["/reports/report.csv"].size != "8" {
				t.Errorf("ls report.csv: %+v", ls["/reports/report.csv"])
			}
			if tc.exist != nil {
				if got, ok := tc.exist("reports/report.csv"); !ok || string(got) != "a,b\n1,2\n" {
					t.Errorf("UFS report.csv: %v %q", ok, got)
				}
			}
			contains(t, "mv", e.ok("mv", "/reports/report.csv", "/reports/r.csv"), "Renamed /reports/report.csv to /reports/r.csv")
			if tc.exist != nil {
				if _, ok := tc.exist("reports/report.csv"); ok {
					t.Errorf("mv left the old object")
				}
				if _, ok := tc.exist("reports/r.csv"); !ok {
					t.Errorf("mv did not create the new object")
				}
			}
			if got := e.ok("cat", "/reports/r.csv"); got != "a,b\n1,2\n" {
				t.Errorf("cat after mv: %q", got)
			}
			e.ok("rm", "/reports/r.csv")
			if tc.exist != nil {
				if _, ok := tc.exist("reports/r.csv"); ok {
					t.Errorf("rm left the object")
				}
			}
			if _, ok := parseLs(t, e.ok("ls", "-R", "/"))["/reports/r.csv"]; ok {
				t.Errorf("ls shows a removed file")
			}
			if out := e.ok("mount"); strings.Contains(out, "SecretKey") && !strings.Contains(out, "<redacted>") {
				t.Errorf("mount table shows a secret: %s", out)
			}
			for _, v := range tc.opts {
				if ufsSecret(v, tc.opts) && strings.Contains(e.ok("mount"), v) {
					t.Errorf("mount table prints secret value %q", v)
				}
			}
		})
	}
}

// ufsSecret reports whether v is the value of a secret option in opts.
func ufsSecret(v string, opts map[string]string) bool {
	for k, val := range opts {
		if val == v && (strings.Contains(strings.ToLower(k), "secret") || strings.Contains(strings.ToLower(k), "token")) {
			return true
		}
	}
	return false
}
