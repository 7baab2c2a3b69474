package shell

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// bin is the unifiedfs binary built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unifiedfs-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "unifiedfs")
	args := append([]string{"build", "-o", bin}, raceBuildFlags...)
	cmd := exec.Command("go", append(args, "github.com/unifiedfs/unifiedfs/examples/cli/unifiedfs")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the CLI:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// cliEnv is one state directory and the environment the binary runs with.
type cliEnv struct {
	t     *testing.T
	state string
	env   []string
}

func newCLI(t *testing.T) *cliEnv {
	t.Helper()
	home := t.TempDir()
	return &cliEnv{t: t, state: filepath.Join(home, "state"),
		env: []string{"HOME=" + home, "TMPDIR=" + home, "PATH=" + os.Getenv("PATH"),
			// A race-enabled binary otherwise sleeps 1s at exit; a race exits with 66.
			"GORACE=atexit_sleep_ms=0 exitcode=66"}}
}

// run runs the binary with --state and args; it never fails the test by itself.
func (e *cliEnv) run(args ...string) result {
	e.t.Helper()
	cmd := exec.Command(bin, append([]string{"--state", e.state}, args...)...)
	cmd.Env = e.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs args and fails the test unless the exit code is 0; it returns stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("unifiedfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs args and checks the exit code and that stderr is one line containing want.
func (e *cliEnv) fails(code int, want string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Errorf("unifiedfs %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n"); len(lines) != 1 || !strings.Contains(r.stderr, want) {
		e.t.Errorf("unifiedfs %s: stderr %q, want one line containing %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

func (e *cliEnv) writeSite(text string) {
	e.t.Helper()
	if err := os.MkdirAll(e.state, 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.state, siteFile), []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

func lsDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// lsLineRE matches one line of ls: permission, owner, group, size, persist state,
// MM-dd-yyyy HH:mm:ss:SSS, cached % or DIR, path.
var lsLineRE = regexp.MustCompile(`^([d-][rwx-]{9}) +(\S+) +(\S+) +(\S+) +(PERSISTED|NOT_PERSISTED|TO_BE_PERSISTED|LOST) (\d\d-\d\d-\d{4} \d\d:\d\d:\d\d:\d{3}) +(DIR|\d+%) (/\S*)$`)

type lsEntry struct{ perm, size, state, cached, path string }

func parseLs(t *testing.T, out string) map[string]lsEntry {
	t.Helper()
	m := map[string]lsEntry{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		g := lsLineRE.FindStringSubmatch(line)
		if g == nil {
			t.Errorf("ls line %q does not have Alluxio's columns", line)
			continue
		}
		m[g[8]] = lsEntry{perm: g[1], size: g[4], state: g[5], cached: g[7], path: g[8]}
	}
	return m
}

func keys(m map[string]lsEntry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestDemo(t *testing.T) {
	e := newCLI(t)
	out := e.ok("demo")
	contains(t, "demo", out,
		"$ unifiedfs mount /demo file://", "Mounted file://",
		"$ unifiedfs touch /demo/hello2", "/demo/hello2 has been created",
		"Found 1 files to persist.", "(1/1) Successfully persisted file: /demo/hello2",
		"Renamed /demo/hello2 to /demo/world", "/demo/world has been removed", "Unmounted /demo",
		"every step behaved as documented")
	if _, err := os.Stat(e.state); err == nil {
		t.Errorf("demo touched the user's state directory %s", e.state)
	}
}

func TestUsageAndErrors(t *testing.T) {
	e := newCLI(t)
	if r := e.run(); r.code != 2 || !strings.Contains(r.stderr, "Usage: unifiedfs") {
		t.Errorf("no arguments: exit %d, stderr %q; want 2 and the usage", r.code, r.stderr)
	}
	e.fails(2, `unknown command "frobnicate"`, "frobnicate")
	e.fails(2, "unknown flag -Z", "ls", "-Z", "/")
	e.fails(2, "usage: unifiedfs mv", "mv", "/a")
	e.fails(2, "not a namespace path", "ls", "relative/path")
	e.fails(2, "rerun with --yes", "format")
	e.fails(2, "-D", "ls", "-Dnovalue", "/")
	e.fails(1, "check the path", "cat", "/missing")
	e.fails(1, "sync.interval", "-Dalluxio.user.file.metadata.sync.interval=soon", "ls", "/")
	if out := e.ok("help", "ls"); !strings.Contains(out, "ls [-R] [-d] [-f] [-h] [-p]") {
		t.Errorf("help ls: %q", out)
	}
	if out := e.ok("help"); !strings.Contains(out, "loadMetadata") || !strings.Contains(out, "runTests") {
		t.Errorf("help: %q", out)
	}
	// "fs" as in "alluxio fs ls /" is accepted.
	e.ok("fs", "ls", "/")
}

// Verbs whose effects live in the UFS work across invocations without a journal: the
// root UFS is <state>/root and metadata is loaded from it on each run.
func TestFileVerbs(t *testing.T) {
	e := newCLI(t)
	root := filepath.Join(e.state, "root")
	local := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	if err := os.WriteFile(filepath.Join(local, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"tree/a", "tree/sub/b"} {
		if err := os.WriteFile(filepath.Join(local, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	contains(t, "mkdir", e.ok("mkdir", "/data", "/deep/er/dir"), "Successfully created directory /data", "Successfully created directory /deep/er/dir")
	e.fails(1, "already", "mkdir", "/data")
	out := e.ok("copyFromLocal", filepath.Join(local, "data.bin"), "/data/")
	contains(t, "copyFromLocal", out, "Copied file://"+filepath.Join(local, "data.bin")+" to /data/data.bin")
	if strings.Contains(out, "\r") {
		t.Errorf("progress drawn although stdout is not a terminal: %q", out)
	}
	if got, err := os.ReadFile(filepath.Join(root, "data", "data.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("UFS copy: %v (%d bytes)", err, len(got))
	}
	e.ok("cp", "-R", "file://"+filepath.Join(local, "tree"), "/tree")
	if got := lsDir(t, filepath.Join(root, "tree")); got != "a sub" {
		t.Errorf("UFS tree: %q", got)
	}

	if got := e.ok("cat", "/tree/sub/b"); got != "tree/sub/b" {
		t.Errorf("cat: %q", got)
	}
	if got := e.ok("head", "-c", "10", "/data/data.bin"); got != "0123456789" {
		t.Errorf("head -c 10: %q", got)
	}
	if got := e.ok("tail", "-c", "6", "/data/data.bin"); got != "abcdef" {
		t.Errorf("tail -c 6: %q", got)
	}
	if got, want := e.ok("checksum", "/data/data.bin"), fmt.Sprintf("md5sum: %x\n", md5.Sum(data)); got != want {
		t.Errorf("checksum: %q, want %q", got, want)
	}
	e.fails(1, "is a directory", "cat", "/data")

	ls := parseLs(t, e.ok("ls", "-R", "/"))
	if got := strings.Join(keys(ls), " "); got != "/data /data/data.bin /deep /deep/er /deep/er/dir /tree /tree/a /tree/sub /tree/sub/b" {
		t.Errorf("ls -R / paths: %s", got)
	}
	if f := ls["/data/data.bin"]; f.size != "16000" || f.state != "PERSISTED" || f.perm[0] != '-' {
		t.Errorf("ls /data/data.bin: %+v", f)
	}
	if d := ls["/data"]; d.cached != "DIR" || d.perm[0] != 'd' {
		t.Errorf("ls /data: %+v", d)
	}
	if h := parseLs(t, e.ok("ls", "-h", "/data"))["/data/data.bin"]; h.size != "15.63KB" {
		t.Errorf("ls -h size %q, want 15.63KB", h.size)
	}
	if d := parseLs(t, e.ok("ls", "-d", "/data")); len(d) != 1 || d["/data"].cached != "DIR" {
		t.Errorf("ls -d /data: %+v", d)
	}
	if g := parseLs(t, e.ok("ls", "/tree/*")); len(g) != 2 || g["/tree/a"].path == "" || g["/tree/sub/b"].path == "" {
		t.Errorf("ls /tree/*: %v", keys(g))
	}

	contains(t, "stat", e.ok("stat", "/data/data.bin"), "/data/data.bin is a file path.", "length:            16000", "persistenceState:  PERSISTED", "ufsPath:           file://")
	if got := e.ok("stat", "-f", "%N %z", "/data/data.bin"); got != "data.bin 16000\n" {
		t.Errorf("stat -f: %q", got)
	}
	contains(t, "du -s", e.ok("du", "-s", "/tree"), "File Size", "In Alluxio", "16            0 (0%)           /tree")
	count := e.ok("count", "/tree")
	if f := strings.Fields(strings.Split(count, "\n")[1]); len(f) != 3 || f[0] != "2" || f[1] != "2" || f[2] != "16" {
		t.Errorf("count /tree: %q, want 2 files, 2 folders, 16 bytes", count)
	}

	// load in one invocation shows 100% in the same process only; here we check its output.
	contains(t, "load", e.ok("load", "/tree"), "/tree/a loaded", "/tree/sub/b loaded")
	contains(t, "free", e.ok("free", "/tree"), "/tree was successfully freed from Alluxio space.")

	contains(t, "cp", e.ok("cp", "/data/data.bin", "/tree/copy.bin"), "Copied /data/data.bin to /tree/copy.bin")
	if got, _ := os.ReadFile(filepath.Join(root, "tree", "copy.bin")); !bytes.Equal(got, data) {
		t.Errorf("cp: UFS copy differs (%d bytes)", len(got))
	}
	e.fails(1, "use cp -R", "cp", "/tree", "/tree2")
	out2 := t.TempDir()
	e.ok("copyToLocal", "/tree", out2)
	if got, _ := os.ReadFile(filepath.Join(out2, "tree", "sub", "b")); string(got) != "tree/sub/b" {
		t.Errorf("copyToLocal: %q", got)
	}

	contains(t, "mv", e.ok("mv", "/tree/copy.bin", "/data"), "Renamed /tree/copy.bin to /data/copy.bin")
	if got := lsDir(t, filepath.Join(root, "data")); got != "copy.bin data.bin" {
		t.Errorf("UFS after mv: %q", got)
	}
	e.fails(1, "rm -R", "rm", "/tree")
	contains(t, "rm -R", e.ok("rm", "-R", "/tree"), "/tree has been removed")
	if _, err := os.Stat(filepath.Join(root, "tree")); !os.IsNotExist(err) {
		t.Errorf("rm -R left the UFS directory: %v", err)
	}
	e.ok("rm", "--alluxioOnly", "/data/copy.bin")
	if _, err := os.Stat(filepath.Join(root, "data", "copy.bin")); err != nil {
		t.Errorf("rm --alluxioOnly deleted the UFS file: %v", err)
	}
	// Out-of-band changes are seen: the next invocation loads metadata afresh.
	if err := os.WriteFile(filepath.Join(root, "data", "oob"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := parseLs(t, e.ok("ls", "-R", "-Dalluxio.user.file.metadata.sync.interval=0", "/data"))["/data/oob"]; !ok {
		t.Errorf("ls -R -Dalluxio.user.file.metadata.sync.interval=0 does not show an out-of-band file")
	}
}

// -D overrides a property for one call: the sync limit of loadMetadata.
func TestLoadMetadataLimit(t *testing.T) {
	e := newCLI(t)
	e.ok("ls", "/") // creates the state directory and its root UFS
	dir := filepath.Join(e.state, "root", "flat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.fails(1, "aborted prematurely for being oversized", "loadMetadata", "-R", "-F", "-Dalluxio.user.file.metadata.sync.limit=2", "/flat")
	e.ok("loadMetadata", "-R", "-f", "-n", "-Dalluxio.user.file.metadata.sync.limit=2", "/flat")
	e.ok("loadMetadata", "-R", "-Dalluxio.user.file.metadata.sync.limit=99999999", "/flat")
}

// The properties file in the state directory configures the namespace; unknown keys
// are warned about by name; the mount table never shows secrets.
func TestSiteProperties(t *testing.T) {
	e := newCLI(t)
	rootDir := t.TempDir()
	e.writeSite(fmt.Sprintf(`alluxio.master.mount.table.root.ufs=file://%s
alluxio.master.mount.table.root.option.fs.oss.accessKeySecret=VERY-SECRET
alluxio.master.mount.table.root.option.local.fsync=false
alluxio.user.file.writetype.default=THROUGH
alluxio.master.hostname=localhost
alluxio.worker.tieredstore.levels=2
`, rootDir))
	r := e.run("mount")
	if r.code != 0 {
		t.Fatalf("mount: %d %s", r.code, r.stderr)
	}
	contains(t, "mount table", r.stdout, "file://"+rootDir, "on  /", "fs.oss.accessKeySecret=<redacted>", "local.fsync=false")
	if strings.Contains(r.stdout+r.stderr, "VERY-SECRET") {
		t.Errorf("a secret was printed: %s %s", r.stdout, r.stderr)
	}
	contains(t, "warnings", r.stderr, "warning: unknown property alluxio.worker.tieredstore.levels",
		"warning: alluxio.master.hostname is ignored: it configures high availability, and alluxio.zookeeper.enabled is not true")
	// THROUGH from the properties applies to touch too.
	e.ok("touch", "/t")
	if _, err := os.Stat(filepath.Join(rootDir, "t")); err != nil {
		t.Errorf("touch with writetype THROUGH: not in the UFS: %v", err)
	}
	// --conf names another file; a missing one is an error.
	e.fails(1, "no such file", "--conf", filepath.Join(rootDir, "nope.properties"), "ls", "/")
}

func TestRunTests(t *testing.T) {
	e := newCLI(t)
	out := e.ok("runTests")
	if n := strings.Count(out, "Passed the test!"); n != 24 {
		t.Errorf("%d cases passed, want 24:\n%s", n, out)
	}
	contains(t, "runTests", out, "runTest BASIC CACHE_PROMOTE MUST_CACHE: Passed the test! /default_tests_files/BASIC_CACHE_PROMOTE_MUST_CACHE",
		"runTest BASIC_NON_BYTE_BUFFER NO_CACHE ASYNC_THROUGH: Passed the test!")
	// Persisted write types are in the UFS (ASYNC_THROUGH too: exit waits for it);
	// MUST_CACHE ones are not.
	ufsDir := filepath.Join(e.state, "root", testDirName)
	names := lsDir(t, ufsDir)
	for _, r := range []string{"CACHE_PROMOTE", "CACHE", "NO_CACHE"} {
		for _, op := range testOperations {
			for _, w := range []string{"CACHE_THROUGH", "THROUGH", "ASYNC_THROUGH"} {
				name := op + "_" + r + "_" + w
				got, err := os.ReadFile(filepath.Join(ufsDir, name))
				if err != nil || !bytes.Equal(got, testData()) {
					t.Errorf("UFS %s: %v, %d bytes", name, err, len(got))
				}
			}
			if strings.Contains(" "+names+" ", " "+op+"_"+r+"_MUST_CACHE ") {
				t.Errorf("MUST_CACHE file %s_%s_MUST_CACHE reached the UFS", op, r)
			}
		}
	}
	// A subset, as Alluxio's flags select.
	out = e.ok("runTests", "--operation", "BASIC", "--readType", "NO_CACHE", "--writeType", "THROUGH")
	if n := strings.Count(out, "Passed"); n != 1 {
		t.Errorf("subset: %d cases, want 1:\n%s", n, out)
	}
	e.fails(2, "--writeType wants", "runTests", "--writeType", "SOMETIMES")
}

// Without --state the state lives in $UNIFIEDFS_HOME, else in ~/.unifiedfs.
func TestDefaultStateDir(t *testing.T) {
	e := newCLI(t)
	home := filepath.Dir(e.state)
	run := func(env ...string) {
		t.Helper()
		cmd := exec.Command(bin, "mkdir", "/x")
		cmd.Env = append(slices.Clone(e.env), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", env, err, out)
		}
	}
	run()
	if _, err := os.Stat(filepath.Join(home, ".unifiedfs", "root", "x")); err != nil {
		t.Errorf("default state ~/.unifiedfs: %v", err)
	}
	custom := filepath.Join(home, "custom")
	run("UNIFIEDFS_HOME=" + custom)
	if _, err := os.Stat(filepath.Join(custom, "root", "x")); err != nil {
		t.Errorf("UNIFIEDFS_HOME: %v", err)
	}
}
