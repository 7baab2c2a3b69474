package shell

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	"github.com/unifiedfs/unifiedfs/internal/journal"
)

// These walkthroughs run one invocation per step, as a person types them: mounts and
// unpersisted files must survive between invocations (the journal and disk cache in the
// state directory).

// The seed's "Transparent Naming" example, step by step.
func TestSeedTransparentNaming(t *testing.T) {
	e := newCLI(t)
	demo := filepath.Join(t.TempDir(), "alluxio-demo")
	if err := os.Mkdir(demo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(demo, "hello"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	uri := "file://" + demo

	if out := e.ok("mount", "/demo", uri); out != "Mounted "+uri+" at /demo\n" {
		t.Errorf("mount: %q", out)
	}
	ls := parseLs(t, e.ok("ls", "-R", "/"))
	if got := strings.Join(keys(ls), " "); got != "/demo /demo/hello" {
		t.Fatalf("ls -R / after mount: %s (is the mount journaled?)", got)
	}
	if got := parseLs(t, e.ok("ls", "/demo/hello")); got["/demo/hello"].state != "PERSISTED" || len(got) != 1 {
		t.Errorf("ls /demo/hello: %+v", got)
	}

	if out := e.ok("touch", "/demo/hello2"); out != "/demo/hello2 has been created\n" {
		t.Errorf("touch: %q", out)
	}
	if got := lsDir(t, demo); got != "hello" {
		t.Errorf("UFS after touch: %q, want hello", got)
	}
	if st := parseLs(t, e.ok("ls", "/demo/hello2"))["/demo/hello2"]; st.state != "NOT_PERSISTED" {
		t.Errorf("touched file: %+v, want NOT_PERSISTED in the next invocation", st)
	}

	if out := e.ok("persist", "/demo/hello2"); out != "Found 1 files to persist.\n(1/1) Successfully persisted file: /demo/hello2\n" {
		t.Errorf("persist: %q", out)
	}
	if got := lsDir(t, demo); got != "hello hello2" {
		t.Errorf("UFS after persist: %q", got)
	}

	if out := e.ok("mv", "/demo/hello2", "/demo/world"); out != "Renamed /demo/hello2 to /demo/world\n" {
		t.Errorf("mv: %q", out)
	}
	if got := lsDir(t, demo); got != "hello world" {
		t.Errorf("UFS after mv: %q", got)
	}

	if out := e.ok("rm", "/demo/world"); out != "/demo/world has been removed\n" {
		t.Errorf("rm: %q", out)
	}
	if got := lsDir(t, demo); got != "hello" {
		t.Errorf("UFS after rm: %q", got)
	}

	if out := e.ok("unmount", "/demo"); out != "Unmounted /demo\n" {
		t.Errorf("unmount: %q", out)
	}
	if out := e.ok("ls", "-R", "/"); strings.Contains(out, "/demo") {
		t.Errorf("ls -R / after unmount still shows /demo:\n%s", out)
	}
	if got := lsDir(t, demo); got != "hello" {
		t.Errorf("UFS after unmount: %q", got)
	}
}

// The seed's "Unified Namespace" example: two local directories standing in for two
// buckets, plus OSS and Kodo fakes, mounted under /mnt and listed as one tree.
func TestSeedUnifiedNamespace(t *testing.T) {
	e := newCLI(t)
	b1, b2 := t.TempDir(), t.TempDir()
	for _, d := range []string{b1, b2} {
		if err := os.WriteFile(filepath.Join(d, "part-0"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oss := osstest.NewServer(t, osstest.WithBuckets("data-bucket"))
	oss.PutObject("data-bucket", "logs/app.log", []byte("oss log\n"))
	kodo := kodotest.NewServer(t, kodotest.WithBuckets("kodo-bucket"))
	kodo.Put("kodo-bucket", "images/cat.jpg", []byte("kodo image"))
	hdfs := hdfstest.NewCluster(t, hdfstest.Config{})
	hdfsURI := hdfs.URI("/warehouse")

	contains(t, "mkdir", e.ok("mkdir", "/mnt"), "Successfully created directory /mnt")
	e.ok("mount", "/mnt/bucket1", "file://"+b1)
	e.ok("mount", "--readonly", "/mnt/bucket2", "file://"+b2)
	e.ok(append(append([]string{"mount"}, optionArgs(oss.Options())...), "/mnt/oss", oss.URI("data-bucket", "logs"))...)
	e.ok(append(append([]string{"mount"}, optionArgs(kodo.Options("kodo-bucket"))...), "/mnt/kodo", "kodo://kodo-bucket/images")...)

	e.ok(append(append([]string{"mount"}, optionArgs(hdfs.Options())...), "/mnt/hdfs", hdfsURI)...)
	e.ok("copyFromLocal", filepath.Join(b1, "part-0"), "/mnt/hdfs/part-0")

	ls := parseLs(t, e.ok("ls", "-R", "/"))
	want := "/mnt /mnt/bucket1 /mnt/bucket1/part-0 /mnt/bucket2 /mnt/bucket2/part-0 /mnt/hdfs /mnt/hdfs/part-0 /mnt/kodo /mnt/kodo/cat.jpg /mnt/oss /mnt/oss/app.log"
	if got := strings.Join(keys(ls), " "); got != want {
		t.Fatalf("ls -R /:\n got %s\nwant %s", got, want)
	}
	if got := e.ok("cat", "/mnt/oss/app.log"); got != "oss log\n" {
		t.Errorf("cat oss: %q", got)
	}
	if got := e.ok("cat", "/mnt/kodo/cat.jpg"); got != "kodo image" {
		t.Errorf("cat kodo: %q", got)
	}
	if got := e.ok("cat", "/mnt/hdfs/part-0"); got != b1 {
		t.Errorf("cat hdfs: %q", got)
	}

	// The mount table lists every mount, secrets redacted.
	table := e.ok("mount")
	contains(t, "mount table", table, "on  /mnt/bucket1", "on  /mnt/oss", "on  /mnt/kodo", "on  /mnt/hdfs", "hdfs://", "read-only", "<redacted>")
	for _, secret := range []string{oss.Options()["fs.oss.accessKeySecret"], kodo.SecretKey()} {
		if strings.Contains(table, secret) {
			t.Errorf("mount table prints a secret")
		}
	}

	// Writes land in the right store; a read-only mount refuses them.
	local := filepath.Join(t.TempDir(), "new.txt")
	if err := os.WriteFile(local, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("copyFromLocal", local, "/mnt/oss/new.txt")
	if got, ok := oss.Object("data-bucket", "logs/new.txt"); !ok || string(got) != "new" {
		t.Errorf("OSS new.txt: %v %q", ok, got)
	}
	e.ok("cp", "/mnt/oss/new.txt", "/mnt/kodo/new.txt")
	if got, ok := kodo.Get("kodo-bucket", "images/new.txt"); !ok || string(got) != "new" {
		t.Errorf("Kodo new.txt: %v %q", ok, got)
	}
	e.fails(1, "read-only", "copyFromLocal", local, "/mnt/bucket2/new.txt")
	e.fails(1, "mv works within one mount", "mv", "/mnt/bucket1/part-0", "/mnt/oss/part-0")
	e.fails(1, "unmount", "rm", "-R", "/mnt")

	// Unmounting keeps the data in the stores.
	e.ok("unmount", "/mnt/oss")
	if _, ok := oss.Object("data-bucket", "logs/app.log"); !ok {
		t.Errorf("unmount deleted OSS data")
	}
	if _, ok := parseLs(t, e.ok("ls", "-R", "/mnt"))["/mnt/oss"]; ok {
		t.Errorf("/mnt/oss still listed after unmount")
	}
}

// Active sync points survive invocations and are listed.
func TestSyncPointVerbs(t *testing.T) {
	e := newCLI(t)
	e.ok("mkdir", "/syncdir")
	contains(t, "startSync", e.ok("startSync", "/syncdir"), "Started automatic syncing of '/syncdir'.")
	contains(t, "getSyncPathList", e.ok("getSyncPathList"), "The following paths are under active syncing", "/syncdir")
	contains(t, "stopSync", e.ok("stopSync", "/syncdir"), "Stopped automatic syncing of '/syncdir'.")
	if out := e.ok("getSyncPathList"); strings.Contains(out, "/syncdir") {
		t.Errorf("getSyncPathList after stopSync: %q", out)
	}
}

// format erases the journal (mounts, unpersisted files) and the cache, not UFS data.
func TestFormat(t *testing.T) {
	e := newCLI(t)
	dir := t.TempDir()
	e.ok("mount", "/d", "file://"+dir)
	e.ok("touch", "/kept-in-cache-only")
	if err := os.WriteFile(filepath.Join(e.state, "root", "ufsfile"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// While another process has the journal open, format refuses and erases nothing.
	unlock, err := journal.LockDir(filepath.Join(e.state, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	e.fails(1, "in use by a running unifiedfs", "format", "--yes")
	unlock()
	if st := parseLs(t, e.ok("ls", "/"))["/kept-in-cache-only"]; st.state != "NOT_PERSISTED" {
		t.Fatalf("a refused format erased state: %+v", st)
	}
	contains(t, "format", e.ok("format", "--yes"), "Formatted journal")
	ls := parseLs(t, e.ok("ls", "/"))
	if got := strings.Join(keys(ls), " "); got != "/ufsfile" {
		t.Errorf("ls / after format: %s, want only the UFS file", got)
	}
}
