package shell

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/zktest"
)

// The seed's "Automatic Fail Over" walkthrough with the built binaries: a ZooKeeper,
// three `unifiedfs master` processes over one shared journal and root UFS, and the CLI as
// a client. Files are written, the leader is killed with kill -9, `fs leader` shows a new
// one, and `ls -R /` shows every file still there.
func TestSeedAutomaticFailOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper and three member processes")
	}
	zk := zktest.Start(t, zktest.SessionTimeouts(400*time.Millisecond, 30*time.Second))
	base := t.TempDir()
	shared, journal, local := filepath.Join(base, "ufs"), filepath.Join(base, "journal"), filepath.Join(base, "local")
	for _, d := range []string{shared, journal, local} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	site := filepath.Join(base, "alluxio-site.properties")
	conf := fmt.Sprintf(`alluxio.master.mount.table.root.ufs=file://%s
alluxio.zookeeper.enabled=true
alluxio.zookeeper.address=%s
alluxio.zookeeper.session.timeout=2s
alluxio.master.journal.folder=%s
alluxio.master.hostname=127.0.0.1
unifiedfs.cluster.secret=walkthrough-secret
alluxio.user.file.writetype.default=CACHE_THROUGH
`, shared, zk.Addr(), journal)
	if err := os.WriteFile(site, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	type master struct {
		cmd  *exec.Cmd
		addr string
		out  *bytes.Buffer
	}
	var masters []*master
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		home := filepath.Join(base, fmt.Sprintf("master%d", i))
		cmd := exec.Command(bin, "--conf", site, fmt.Sprintf("-Dalluxio.master.rpc.port=%d", port), "master")
		cmd.Env = []string{"UNIFIEDFS_HOME=" + home, "HOME=" + home, "PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0"}
		m := &master{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port), out: &bytes.Buffer{}}
		cmd.Stdout, cmd.Stderr = m.out, m.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		masters = append(masters, m)
	}
	t.Cleanup(func() {
		for _, m := range masters {
			if m.cmd.ProcessState == nil {
				m.cmd.Process.Kill()
				m.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("master %s:\n%s", m.addr, m.out.String())
			}
		}
	})
	e := newCLI(t)
	e.env = append(e.env, "UNIFIEDFS_CONF="+site)
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, timeout)
			}
			time.Sleep(50 * time.Millisecond) // polls the cluster through the CLI
		}
	}
	var leader string
	waitFor("a leader", 30*time.Second, func() bool {
		r := e.run("fs", "leader")
		leader = strings.TrimSpace(r.stdout)
		return r.code == 0 && leader != ""
	})
	e.ok("mkdir", "/data")
	for i := range 5 {
		src := filepath.Join(local, fmt.Sprintf("file%d", i))
		if err := os.WriteFile(src, []byte(fmt.Sprintf("content %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.ok("copyFromLocal", src, fmt.Sprintf("/data/file%d", i))
	}
	before := e.ok("ls", "-R", "/")
	contains(t, "masterInfo", e.ok("fs", "masterInfo"), "Current leader master: "+leader)

	var killed *master
	for _, m := range masters {
		if m.addr == leader {
			killed = m
		}
	}
	if killed == nil {
		t.Fatalf("no master at the leader's address %s", leader)
	}
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil { // kill -9
		t.Fatal(err)
	}
	killed.cmd.Wait()
	var next string
	waitFor("a new leader", 20*time.Second, func() bool {
		r := e.run("fs", "leader")
		next = strings.TrimSpace(r.stdout)
		return r.code == 0 && next != "" && next != leader
	})
	t.Logf("leader %s killed; new leader %s", leader, next)
	after := e.ok("ls", "-R", "/")
	names := func(ls string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(ls), "\n") {
			f := strings.Fields(l)
			out = append(out, f[len(f)-1])
		}
		return out
	}
	if b, a := strings.Join(names(before), " "), strings.Join(names(after), " "); b != a || !strings.Contains(a, "/data/file4") {
		t.Fatalf("ls -R / before the kill: %s\nafter: %s", b, a)
	}
	if got := e.ok("cat", "/data/file3"); got != "content 3" {
		t.Fatalf("cat after the failover: %q", got)
	}
	// SIGTERM stops a master cleanly, handing leadership over.
	for _, m := range masters {
		if m.addr == next {
			m.cmd.Process.Signal(syscall.SIGTERM)
			if err := m.cmd.Wait(); err != nil {
				t.Fatalf("master %s after SIGTERM: %v", m.addr, err)
			}
		}
	}
	waitFor("the last master leading", 15*time.Second, func() bool {
		r := e.run("fs", "leader")
		l := strings.TrimSpace(r.stdout)
		return r.code == 0 && l != "" && l != leader && l != next
	})
	e.ok("runTests", "--directory", "/runTests")
}
