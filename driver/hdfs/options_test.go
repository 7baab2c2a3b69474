package hdfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func writeSite(t *testing.T, dir, name string, props map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
	for k, v := range props {
		b.WriteString("  <property><name>" + k + "</name><value>" + v + "</value></property>\n")
	}
	b.WriteString("</configuration>\n")
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNameserviceFromConfiguration resolves "hdfs://<nameservice>/dir" through Hadoop
// configuration files, given as a directory or as a list of files, with the first
// NameNode of the nameservice down.
func TestNameserviceFromConfiguration(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	c.URI("/ns")
	dir := t.TempDir()
	core := writeSite(t, dir, "core-site.xml", map[string]string{"fs.defaultFS": "hdfs://mycluster"})
	site := writeSite(t, dir, "hdfs-site.xml", map[string]string{
		"dfs.nameservices":                       "mycluster",
		"dfs.ha.namenodes.mycluster":             "nn1,nn2",
		"dfs.namenode.rpc-address.mycluster.nn1": hdfstest.DeadAddr(t),
		"dfs.namenode.rpc-address.mycluster.nn2": c.Addr(),
	})
	for _, conf := range []string{dir, core + ":" + site} {
		for _, uri := range []string{"hdfs://mycluster/ns", "hdfs:///ns"} {
			opts := c.Options()
			opts["ALLUXIO.UNDERFS.HDFS.CONFIGURATION"] = conf // keys are case-insensitive
			u, err := ufs.Open(bg, uri, opts)
			if err != nil {
				t.Fatalf("%s with %s: %v", uri, conf, err)
			}
			mustWrite(t, u, "f", []byte("x"))
			u.Close()
		}
	}
	// A nameservice listing a NameNode without an address is a configuration error.
	bad := writeSite(t, t.TempDir(), "hdfs-site.xml", map[string]string{
		"dfs.ha.namenodes.other": "nn1", "dfs.nameservices": "other"})
	opts := c.Options()
	opts["alluxio.underfs.hdfs.configuration"] = bad
	if _, err := ufs.Open(bg, "hdfs://other/ns", opts); !errors.Is(err, fs.ErrInvalid) ||
		!strings.Contains(err.Error(), "dfs.namenode.rpc-address.other.nn1") {
		t.Fatalf("nameservice without addresses: %v", err)
	}
}

// TestBadOptions checks that each malformed option fails Open with fs.ErrInvalid and a
// message naming the key, before any connection is made.
func TestBadOptions(t *testing.T) {
	t.Parallel()
	dead := hdfstest.DeadAddr(t)
	for _, tc := range []struct {
		key, value, mention string
	}{
		{"hdfs.usr", "alice", "hdfs.usr"},
		{"HDFS.Use.Datanode.Hostname", "maybe", "HDFS.Use.Datanode.Hostname"},
		{"dfs.client.use.datanode.hostname", "sometimes", "dfs.client.use.datanode.hostname"},
		{"hdfs.data.transfer.protection", "secret-ish", "hdfs.data.transfer.protection"},
		{"hdfs.connect.timeout", "soon", "hdfs.connect.timeout"},
		{"hdfs.connect.timeout", "0", "hdfs.connect.timeout"},
		{"hdfs.complete.retries", "-1", "hdfs.complete.retries"},
		{"hdfs.complete.initial.delay", "never", "hdfs.complete.initial.delay"},
		{"hdfs.namenodes", ",", "hdfs.namenodes"},
		{"alluxio.underfs.hdfs.configuration", "/no/such/dir", "alluxio.underfs.hdfs.configuration"},
		{"hdfs.kerberos.keytab", "/no/such.keytab", "hdfs.kerberos"},
		{"hdfs.kerberos.principal", "alice@EXAMPLE.COM", "hdfs.kerberos"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := ufs.Open(bg, "hdfs://"+dead+"/x", map[string]string{tc.key: tc.value})
			if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.mention)) {
				t.Errorf("%s=%q: %v, want fs.ErrInvalid naming %s", tc.key, tc.value, err, tc.mention)
			}
		})
	}
	// hdfs:/// with no fs.defaultFS anywhere.
	if _, err := ufs.Open(bg, "hdfs:///x", map[string]string{"alluxio.underfs.hdfs.configuration": ""}); !errors.Is(err, fs.ErrInvalid) {
		if os.Getenv("HADOOP_CONF_DIR") == "" {
			t.Errorf("hdfs:/// without fs.defaultFS: %v", err)
		}
	}
}

// TestUserFallback acts as HADOOP_USER_NAME when no hdfs.user option is given.
func TestUserFallback(t *testing.T) {
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	uri := c.URI("/fallback")
	t.Setenv("HADOOP_USER_NAME", "carol")
	u, err := ufs.Open(bg, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.Mkdir(bg, "d"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("carol writing in alice's 0755 directory: %v", err)
	}
	if err := c.Chmod("/fallback", 0o777); err != nil {
		t.Fatal(err)
	}
	if err := u.Mkdir(bg, "d"); err != nil {
		t.Fatal(err)
	}
	if st, err := u.Stat(bg, "d"); err != nil || st.Owner != "carol" {
		t.Fatalf("stat d = %+v, %v; want owner carol", st, err)
	}
}
