package shell

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeLocal writes files (name → content) below dir.
func writeLocal(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, content := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func perm(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// Parallel copies with a buffer size, -p, chmod/chown/chgrp seen in stat and on local disk.
func TestCopyFlagsAndPermissions(t *testing.T) {
	e := newCLI(t)
	root := filepath.Join(e.state, "root")
	local := t.TempDir()
	big := strings.Repeat("0123456789", 3000)
	writeLocal(t, local, map[string]string{"src/a": big, "src/b": "bee", "src/sub/c": "sea", "src/sub/d": ""})

	contains(t, "copyFromLocal --thread", e.ok("copyFromLocal", "--thread", "3", "--buffersize", "1KB", filepath.Join(local, "src"), "/d"), "Copied file://")
	for n, want := range map[string]string{"a": big, "b": "bee", "sub/c": "sea", "sub/d": ""} {
		if got, err := os.ReadFile(filepath.Join(root, "d", n)); err != nil || string(got) != want {
			t.Errorf("UFS /d/%s: %v %d bytes", n, err, len(got))
		}
	}
	e.fails(2, "--thread wants an integer", "cp", "--thread", "many", "/d", "/x")
	e.fails(2, "--buffersize wants a byte count", "cp", "--buffersize", "huge", "/d", "/x")
	contains(t, "cp -R --thread", e.ok("cp", "-R", "--thread=4", "--buffersize=512", "/d", "/e"), "Copied /d to /e")
	for n, want := range map[string]string{"a": big, "sub/c": "sea", "sub/d": ""} {
		if got := e.ok("cat", "/e/"+n); got != want {
			t.Errorf("cat /e/%s: %d bytes", n, len(got))
		}
	}

	contains(t, "chmod", e.ok("chmod", "600", "/d/a"), "Changed permission of /d/a to 600")
	contains(t, "stat after chmod", e.ok("stat", "/d/a"), "mode:              -rw-------")
	if p := perm(t, filepath.Join(root, "d", "a")); p != 0o600 {
		t.Errorf("local UFS mode after chmod 600: %o", p)
	}
	e.ok("chmod", "-R", "750", "/d/sub")
	for _, n := range []string{"sub", "sub/c", "sub/d"} {
		if p := perm(t, filepath.Join(root, "d", n)); p != 0o750 {
			t.Errorf("chmod -R: /d/%s is %o on disk", n, p)
		}
	}
	if p := perm(t, filepath.Join(root, "d", "b")); p != 0o644 {
		t.Errorf("chmod -R /d/sub changed /d/b: %o", p)
	}
	e.fails(2, "octal", "chmod", "rwx", "/d/a")
	e.fails(1, "check the path", "chmod", "644", "/nope")

	// -p keeps the mode; without it the copy gets the default.
	e.ok("cp", "-p", "/d/a", "/kept")
	e.ok("cp", "/d/a", "/plain")
	if p := perm(t, filepath.Join(root, "kept")); p != 0o600 {
		t.Errorf("cp -p: mode %o, want 600", p)
	}
	if p := perm(t, filepath.Join(root, "plain")); p == 0o600 {
		t.Errorf("cp without -p kept the mode 600")
	}
	out := t.TempDir()
	e.ok("cp", "-p", "/d/a", "file://"+filepath.Join(out, "a"))
	if p := perm(t, filepath.Join(out, "a")); p != 0o600 {
		t.Errorf("cp -p to local: mode %o, want 600", p)
	}
	if fi, err := os.Stat(filepath.Join(out, "a")); err != nil {
		t.Error(err)
	} else if ms, got := strconv.FormatInt(fi.ModTime().UnixMilli(), 10)+"\n", e.ok("stat", "-f", "%Y", "/d/a"); ms != got {
		t.Errorf("cp -p to local: mtime %s, namespace %s", ms, got)
	}

	// chown / chgrp: in the namespace and, as root may, on local disk.
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skip("no group of nobody:", err)
	}
	contains(t, "chown", e.ok("chown", "nobody:"+grp.Name, "/d/b"), "Changed owner:group of /d/b to nobody:"+grp.Name)
	if got := e.ok("stat", "-f", "%u:%g", "/d/b"); got != "nobody:"+grp.Name+"\n" {
		t.Errorf("stat after chown: %q", got)
	}
	fi, _ := os.Stat(filepath.Join(root, "d", "b"))
	if st := fi.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && strconv.Itoa(int(st.Uid)) != nobody.Uid {
		t.Errorf("chown as root: local uid %d, want %s", st.Uid, nobody.Uid)
	}
	e.ok("chgrp", "-R", grp.Name, "/d/sub")
	if got := e.ok("stat", "-f", "%g", "/d/sub/c"); got != grp.Name+"\n" {
		t.Errorf("chgrp -R: %q", got)
	}
	e.fails(2, "<owner>[:<group>]", "chown", ":g", "/d/b")
}

// setTtl/unsetTtl, pin/unpin and free -f, as stat, ls -p and free show them.
func TestTTLAndPin(t *testing.T) {
	e := newCLI(t)
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"a": "alpha", "b": "beta"})
	e.ok("copyFromLocal", local, "/d")

	contains(t, "setTtl", e.ok("setTtl", "/d/a", "1h"), "TTL of path '/d/a' was successfully set to 3600000 milliseconds, with expiry action set to DELETE")
	contains(t, "stat ttl", e.ok("stat", "/d/a"), "ttl:               3600000 ms", "ttlAction:         DELETE")
	contains(t, "setTtl --action free", e.ok("setTtl", "--action", "free", "/d/b", "90000"), "set to 90000 milliseconds, with expiry action set to FREE")
	contains(t, "stat ttl free", e.ok("stat", "/d/b"), "ttl:               90000 ms", "ttlAction:         FREE")
	e.fails(2, "the time to live", "setTtl", "/d/a", "soon")
	e.fails(2, "unknown unit", "setTtl", "/d/a", "5weeks")
	e.fails(2, "--action wants delete or free", "setTtl", "--action", "archive", "/d/a", "10")
	contains(t, "unsetTtl", e.ok("unsetTtl", "/d/a"), "TTL of path '/d/a' was successfully removed.")
	if strings.Contains(e.ok("stat", "/d/a"), "ttl:") {
		t.Errorf("unsetTtl: stat still shows a TTL")
	}

	contains(t, "pin", e.ok("pin", "/d/b"), "File '/d/b' was successfully pinned.")
	contains(t, "stat pinned", e.ok("stat", "/d/b"), "pinned:            true")
	if ls := parseLs(t, e.ok("ls", "-p", "/d")); len(ls) != 1 || ls["/d/b"].path == "" {
		t.Errorf("ls -p /d: %v, want only /d/b", keys(ls))
	}
	e.fails(1, "/d/b is pinned", "free", "/d")
	contains(t, "free -f", e.ok("free", "-f", "/d"), "/d was successfully freed")
	contains(t, "unpin", e.ok("unpin", "/d/b"), "File '/d/b' was successfully unpinned.")
	contains(t, "stat unpinned", e.ok("stat", "/d/b"), "pinned:            false")
	e.ok("free", "/d")
}

// test answers with exit codes only; the remaining flags of ls, rm, persist, load,
// stat, distributedLoad.
func TestTestAndMoreFlags(t *testing.T) {
	e := newCLI(t)
	root := filepath.Join(e.state, "root")
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"f": strings.Repeat("x", 3000), "empty": ""})
	e.ok("copyFromLocal", local, "/d")
	e.ok("mkdir", "/emptydir")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-d", "/d"}, 0}, {[]string{"-d", "/d/f"}, 1}, {[]string{"-f", "/d/f"}, 0}, {[]string{"-f", "/d"}, 1},
		{[]string{"-e", "/d/f"}, 0}, {[]string{"-e", "/missing"}, 1}, {[]string{"-d", "/missing"}, 1},
		{[]string{"-s", "/d"}, 0}, {[]string{"-s", "/emptydir"}, 1}, {[]string{"-s", "/d/f"}, 0}, {[]string{"-s", "/d/empty"}, 1},
		{[]string{"-z", "/d/empty"}, 0}, {[]string{"-z", "/d/f"}, 1}, {[]string{"-z", "/d"}, 1},
	} {
		r := e.run(append([]string{"test"}, c.args...)...)
		if r.code != c.code || r.stdout != "" || r.stderr != "" {
			t.Errorf("test %v: exit %d stdout %q stderr %q, want exit %d and no output", c.args, r.code, r.stdout, r.stderr, c.code)
		}
	}
	e.fails(2, "exactly one of", "test", "/d")
	e.fails(2, "exactly one of", "test", "-d", "-f", "/d")

	if ls := parseLs(t, e.ok("ls", "--timestamp", "lastModificationTime", "/d")); len(ls) != 2 {
		t.Errorf("ls --timestamp: %v", keys(ls))
	}
	e.fails(2, "only lastModificationTime", "ls", "--timestamp", "creationTime", "/d")
	e.fails(2, "--timestamp wants", "ls", "--timestamp=whenever", "/d")

	if got := e.ok("stat", "-f", "%b %z", "/d/f"); got != "1 3000\n" {
		t.Errorf("stat -f %%b: %q", got)
	}
	if got := e.ok("stat", "-f", "%b", "/d/empty"); got != "0\n" {
		t.Errorf("stat -f %%b of an empty file: %q", got)
	}

	contains(t, "load --local", e.ok("load", "--local", "/d"), "/d/f loaded")
	out := e.ok("distributedLoad", "--replication", "2", "--active-jobs", "2", "/d")
	contains(t, "distributedLoad", out, "Successfully loaded path /d/f", "Successfully loaded path /d/empty", "Completed loading 2 files under /d", "Replication 2")
	e.fails(2, "positive", "distributedLoad", "--active-jobs", "0", "/d")
	e.fails(1, "check the path", "distributedLoad", "/missing")

	// persist: parallel, with a wait and a timeout, of files only the cache holds.
	e.ok("mkdir", "/p")
	e.ok("touch", "/p/1", "/p/2", "/p/3")
	start := time.Now()
	out = e.ok("persist", "-p", "2", "-t", "30s", "-w", "400", "/p")
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("persist -w 400 returned after %s", el)
	}
	contains(t, "persist -p", out, "Found 3 files to persist.", "(3/3) Successfully persisted file: /p/")
	for _, n := range []string{"1", "2", "3"} {
		if _, err := os.Stat(filepath.Join(root, "p", n)); err != nil {
			t.Errorf("persist -p: /p/%s not in the UFS: %v", n, err)
		}
	}
	e.fails(2, "-p wants a positive", "persist", "-p", "0", "/p")
	e.fails(2, "milliseconds or a duration", "persist", "-t", "later", "/p")

	// rm -U is accepted; --deleteMountPoint unmounts mounts below instead of failing.
	e.ok("rm", "-R", "-U", "/p")
	if _, err := os.Stat(filepath.Join(root, "p")); !os.IsNotExist(err) {
		t.Errorf("rm -R -U left the UFS directory: %v", err)
	}
	mdir := t.TempDir()
	writeLocal(t, mdir, map[string]string{"kept": "k"})
	e.ok("mkdir", "/outer")
	e.ok("mount", "/outer/m", "file://"+mdir)
	e.fails(1, "unmount", "rm", "-R", "/outer")
	e.ok("rm", "-R", "--deleteMountPoint", "/outer")
	if _, err := os.Stat(filepath.Join(mdir, "kept")); err != nil {
		t.Errorf("rm --deleteMountPoint deleted the mount's UFS data: %v", err)
	}
	if strings.Contains(e.ok("mount"), mdir) {
		t.Errorf("rm --deleteMountPoint left the mount")
	}
}

// updateMount changes the read-only flag in place; help lists every verb.
func TestUpdateMountAndHelp(t *testing.T) {
	e := newCLI(t)
	mdir := t.TempDir()
	writeLocal(t, mdir, map[string]string{"x": "data"})
	e.ok("mount", "/m", "file://"+mdir)
	contains(t, "updateMount", e.ok("updateMount", "--readonly", "--option", "local.fsync=false", "/m"), "Updated mount point options at /m")
	contains(t, "mount table", e.ok("mount"), "read-only", "local.fsync=false")
	e.fails(1, "read-only", "touch", "/m/new")
	if got := e.ok("cat", "/m/x"); got != "data" {
		t.Errorf("read after updateMount: %q", got)
	}
	e.ok("updateMount", "/m")
	e.ok("touch", "/m/new")
	e.fails(1, "check the path", "updateMount", "/nomount")

	help := e.ok("help")
	for _, cmd := range commands {
		if !strings.Contains(help, "\n  "+cmd.name) {
			t.Errorf("help does not list %s", cmd.name)
		}
	}
	for _, v := range []string{"setTtl", "unsetTtl", "pin", "unpin", "chmod", "chown", "chgrp", "test", "updateMount", "distributedLoad"} {
		if lookup(v) == nil {
			t.Errorf("verb %s missing", v)
		}
	}
	contains(t, "help persist", e.ok("help", "persist"), "persist [-p N] [-t ms] [-w ms] <path>...", "-p, --parallelism N")
	if !bytes.Contains([]byte(e.ok("help", "cp")), []byte("-p, --preserve")) {
		t.Errorf("help cp lacks -p, --preserve")
	}
}

// location, getCapacityBytes, getUsedBytes, du --memory and checkConsistency.
func TestLocationCapacityConsistency(t *testing.T) {
	e := newCLI(t)
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"f": strings.Repeat("y", 5000), "g": "gee"})
	e.ok("copyFromLocal", local, "/d")
	e.ok("free", "/d")
	contains(t, "location uncached", e.ok("location", "/d/f"), "/d/f has 1 blocks:", "block 0 (offset 0, length 5000): not cached")
	e.ok("load", "/d/f")
	// A later invocation finds the loaded blocks on the disk tier (memory starts empty).
	contains(t, "location after load", e.ok("location", "/d/f"), "block 0 (offset 0, length 5000): cached in DISK")
	e.fails(1, "is a directory", "location", "/d")

	capOut := e.ok("getCapacityBytes")
	usedOut := e.ok("getUsedBytes")
	capLines, usedLines := strings.Split(capOut, "\n"), strings.Split(usedOut, "\n")
	total, err1 := strconv.ParseInt(strings.TrimPrefix(capLines[0], "Capacity Bytes: "), 10, 64)
	used, err2 := strconv.ParseInt(strings.TrimPrefix(usedLines[0], "Used Bytes: "), 10, 64)
	if err1 != nil || err2 != nil || total <= 0 || used < 5000 || used > total {
		t.Errorf("getCapacityBytes %q, getUsedBytes %q: want capacity > used >= 5000", capOut, usedOut)
	}
	contains(t, "tiers", capOut+usedOut, "  MEM: ", "  DISK: ")

	du := e.ok("du", "--memory", "/d")
	contains(t, "du --memory", du, "In Memory", "5000          5000 (100%)      0 (0%)           /d/f")
	contains(t, "du -m -s", e.ok("du", "-m", "-s", "/d"), "5003          5000 (99%)       0 (0%)           /d")

	contains(t, "consistent", e.ok("checkConsistency", "/d"), "/d is consistent with the under storage system.")
	contains(t, "consistent -r", e.ok("checkConsistency", "-r", "/d"), "/d is consistent")
	e.fails(1, "check the path", "checkConsistency", "/missing")
}

// checkConsistency finds what changed out of band in a process that keeps the namespace
// open (a fresh invocation loads metadata from the UFS as it now is, and so finds only
// journaled facts contradicted): run in-process with one namespace for every step.
func TestCheckConsistencyInOneProcess(t *testing.T) {
	c, step := inProcess(t, nil)
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"f": "original", "g": "gee"})
	step("copyFromLocal", local, "/d")
	contains(t, "consistent", step("checkConsistency", "/d"), "/d is consistent with the under storage system.")
	ufsDir := filepath.Join(c.stateDir, "root", "d")
	if err := os.Remove(filepath.Join(ufsDir, "g")); err != nil {
		t.Fatal(err)
	}
	writeLocal(t, ufsDir, map[string]string{"new": "n", "f": "changed!"})
	contains(t, "inconsistent", step("checkConsistency", "/d"), "/d has: 3 inconsistent files.",
		"MISSING_IN_UFS /d/g", "MISSING_IN_NAMESPACE /d/new", "DIFFERS /d/f")
	contains(t, "repair", step("checkConsistency", "-r", "/d"), "/d was repaired")
	contains(t, "after repair", step("checkConsistency", "/d"), "/d is consistent")
	if got := step("cat", "/d/f"); got != "changed!" {
		t.Errorf("cat after repair: %q", got)
	}
}

// A TTL expires in a process that keeps the namespace open: web, with a short checker
// interval, deletes the file from the namespace and the UFS.
func TestTTLExpires(t *testing.T) {
	e := newCLI(t)
	root := filepath.Join(e.state, "root")
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"gone": "g", "freed": "f", "kept": "k"})
	e.ok("copyFromLocal", local, "/d")
	e.ok("setTtl", "/d/gone", "1ms")
	e.ok("setTtl", "--action", "free", "/d/freed", "1")
	cmd := exec.Command(bin, "--state", e.state, "-Dalluxio.master.ttl.checker.interval=50ms", "web", "--listen", "127.0.0.1:0")
	cmd.Env = e.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(30 * time.Second) // a bound, not a delay
	for {
		if _, err := os.Stat(filepath.Join(root, "d", "gone")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired file is still in the UFS after 30s; stderr: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the local disk, which gives no signal
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("web: %v; stderr: %s", err, errb.String())
	}
	e.fails(1, "check the path", "stat", "/d/gone")
	if st := e.ok("stat", "/d/freed"); strings.Contains(st, "ttl:") {
		t.Errorf("a FREE TTL is cleared once applied: %s", st)
	}
	if got := e.ok("cat", "/d/kept"); got != "k" {
		t.Errorf("cat /d/kept: %q", got)
	}
}

// A pinned file stays cached while other reads fill a small cache (in one process: the
// cache of a fresh invocation starts with only what its disk tier kept).
func TestPinUnderCachePressure(t *testing.T) {
	_, step := inProcess(t, map[string]string{"alluxio.user.block.size.bytes.default": "4KB", "unifiedfs.cache.capacity": "16KB", "unifiedfs.cache.disk.capacity": "32KB"})
	local := t.TempDir()
	writeLocal(t, local, map[string]string{"p": strings.Repeat("p", 12000), "big": strings.Repeat("b", 100000)})
	step("copyFromLocal", filepath.Join(local, "p"), "/p")
	step("copyFromLocal", filepath.Join(local, "big"), "/big")
	readBig := func() {
		t.Helper()
		for range 3 { // far more than the cache holds, read through it
			if got := step("cat", "/big"); len(got) != 100000 {
				t.Fatalf("cat /big: %d bytes", len(got))
			}
		}
	}
	// The control: an unpinned file read into the cache is evicted by the reads.
	step("cat", "/p")
	if got := step("location", "/p"); strings.Contains(got, "not cached") {
		t.Fatalf("cat did not cache /p:\n%s", got)
	}
	// Eviction order is the cache's (fills run on their own goroutines): one round of
	// reads may leave the file's blocks in place, but rounds of reads far beyond the
	// capacity evict them.
	evicted := false
	for round := 0; round < 10 && !evicted; round++ {
		readBig()
		evicted = strings.Contains(step("location", "/p"), "not cached")
	}
	if !evicted {
		t.Fatalf("30 reads of a file 6 times the cache's size evicted nothing of an unpinned file:\n%s", step("location", "/p"))
	}
	step("pin", "/p")
	if got := step("location", "/p"); strings.Contains(got, "not cached") {
		t.Fatalf("pin did not load the file:\n%s", got)
	}
	readBig()
	if got := step("location", "/p"); strings.Contains(got, "not cached") {
		t.Errorf("a pinned block was evicted:\n%s", got)
	}
	contains(t, "unpin", step("unpin", "/p"), "successfully unpinned")
}

// inProcess returns a CLI that keeps one namespace open across its commands (with the
// property overrides given), closed at the end of the test, and step, which runs one
// command on it and returns its output, failing the test on an error.
func inProcess(t *testing.T, overrides map[string]string) (*cli, func(args ...string) string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{ctx: t.Context(), stdout: &out, stderr: &errb, stateDir: t.TempDir(), keepOpen: true, overrides: overrides}
	t.Cleanup(func() {
		c.keepOpen = false
		if err := c.close(); err != nil {
			t.Error(err)
		}
	})
	step := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := c.exec(args[0], args[1:]); err != nil {
			t.Fatalf("%v: %v (stderr %s)", args, err, errb.String())
		}
		return out.String()
	}
	return c, step
}
