package zktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func connect(t *testing.T, addr string, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogInfo(false), zk.WithLogger(discard{}), zk.WithDialer(boundedHandshake(timeout/3)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, ev
}

// boundedHandshake returns a Dialer whose connections give the answer to the connect
// request at most handshake, as internal/election's sessions do: go-zookeeper v1.0.4 waits
// ten read timeouts for it, and a ZooKeeper that is still starting accepts connections it
// never answers, so a client that reconnects during a restart would otherwise sit out its
// session.
func boundedHandshake(handshake time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: c, handshake: handshake}, nil
	}
}

type handshakeConn struct {
	net.Conn
	handshake time.Duration
	done      atomic.Bool // go-zookeeper cleared the deadline: the connect answer came
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if !c.done.Load() {
		if t.IsZero() {
			c.done.Store(true)
		} else if limit := time.Now().Add(c.handshake); t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetReadDeadline(t)
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// waitState waits for the session state st on the event channel of a connection.
func waitState(t *testing.T, ev <-chan zk.Event, st zk.State, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				t.Fatalf("event channel closed before %v", st)
			}
			if e.Type == zk.EventSession && e.State == st {
				return
			}
		case <-deadline:
			t.Fatalf("no %v within %v", st, within)
		}
	}
}

func TestStartServesRealClients(t *testing.T) {
	begin := time.Now()
	s := Start(t)
	t.Logf("ZooKeeper serving %v after Start was called", time.Since(begin))
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want loopback", s.Addr())
	}
	out, err := FourLetter(s.Addr(), "ruok", time.Second)
	if err != nil || out != "imok" {
		t.Fatalf("ruok = %q, %v", out, err)
	}
	c, _ := connect(t, s.Addr(), 2*time.Second)
	if _, err := c.Create("/hello", []byte("world"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	data, _, err := c.Get("/hello")
	if err != nil || string(data) != "world" {
		t.Fatalf("Get = %q, %v", data, err)
	}
}

// Data and sessions survive Stop+Restart on the same port; a session resumed within its
// timeout keeps its ephemeral node.
func TestRestartKeepsDataAndResumableSessions(t *testing.T) {
	s := Start(t)
	addr := s.Addr()
	// A JVM restart on a loaded 2-core machine can take seconds: the session outlives it.
	c, ev := connect(t, addr, 10*time.Second)
	waitState(t, ev, zk.StateHasSession, 15*time.Second)
	if _, err := c.Create("/persistent", []byte("p"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/ephemeral", []byte("e"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := c.SessionID()

	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	waitState(t, ev, zk.StateDisconnected, 5*time.Second)
	if _, err := FourLetter(addr, "ruok", 200*time.Millisecond); err == nil {
		t.Fatal("a stopped server answers ruok")
	}
	begin := time.Now()
	s.Restart()
	t.Logf("Restart took %v", time.Since(begin))
	if s.Addr() != addr {
		t.Fatalf("Addr changed across Restart: %s -> %s", addr, s.Addr())
	}
	waitState(t, ev, zk.StateHasSession, 15*time.Second)
	if c.SessionID() != sid {
		t.Fatalf("session not resumed: %x -> %x", sid, c.SessionID())
	}
	for _, p := range []string{"/persistent", "/ephemeral"} {
		if ok, _, err := c.Exists(p); err != nil || !ok {
			t.Fatalf("%s after restart: exists=%v err=%v", p, ok, err)
		}
	}
}

// After Kill, a restart longer than the session timeout expires the session: its
// ephemeral node is gone, persistent data is not.
func TestKillThenLateRestartExpiresSessions(t *testing.T) {
	s := Start(t)
	const timeout = 1 * time.Second
	c, ev := connect(t, s.Addr(), timeout)
	waitState(t, ev, zk.StateHasSession, 10*time.Second)
	if _, err := c.Create("/p", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close() // the client must not resume the session after the restart
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	s.Restart()
	// The restored session expires one timeout after the server started again.
	c2, ev2 := connect(t, s.Addr(), timeout)
	waitState(t, ev2, zk.StateHasSession, 10*time.Second)
	deadline := time.Now().Add(10 * timeout)
	for {
		ok, _, err := c2.Exists("/e")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ephemeral node of a dead session is still there")
		}
		time.Sleep(50 * time.Millisecond) // deliberate: polling for the server-side expiry
	}
	if ok, _, err := c2.Exists("/p"); err != nil || !ok {
		t.Fatalf("/p after kill and restart: %v %v", ok, err)
	}
}

// A test binary that dies (here by a panic, as on a test timeout) takes its server with it.
func TestNoOrphanAfterPanic(t *testing.T) {
	if os.Getenv("ZKTEST_ORPHAN_CHILD") == "1" {
		s := Start(t)
		s.mu.Lock()
		pid := s.proc.pid
		s.mu.Unlock()
		fmt.Printf("JVMPID %d\n", pid)
		panic("deliberate: the server must die with this process")
	}
	if err := Installed(); err != nil {
		Unavailable(t, "%v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoOrphanAfterPanic$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ZKTEST_ORPHAN_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	var seen []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "JVMPID" {
			pid, _ = strconv.Atoi(f[1])
		}
	}
	werr := cmd.Wait()
	if pid == 0 {
		t.Fatalf("the child printed no JVM pid (exit %v): %q", werr, seen)
	}
	if werr == nil {
		t.Fatal("the child exited 0 after a panic")
	}
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("java pid %d outlived its test binary", pid)
		}
		time.Sleep(20 * time.Millisecond) // deliberate: polling for the kernel's parent-death kill
	}
}

// processAlive reports whether pid names a live process (a zombie of another parent
// counts as dead).
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper()                        {}
func (r *recordTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recordTB) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestUnavailableSkipsLocallyFailsOnCI(t *testing.T) {
	t.Setenv("CI", "")
	r := &recordTB{TB: t}
	Unavailable(r, "no %s", "java")
	if r.skip == "" || r.fatal != "" || !strings.Contains(r.skip, "no java") {
		t.Fatalf("locally: skip=%q fatal=%q", r.skip, r.fatal)
	}
	t.Setenv("CI", "true")
	r = &recordTB{TB: t}
	Unavailable(r, "no %s", "java")
	if r.fatal == "" || r.skip != "" || !strings.Contains(r.fatal, "no java") {
		t.Fatalf("CI=true: skip=%q fatal=%q", r.skip, r.fatal)
	}
}

func TestProxyPartitionsAndHeals(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	c, ev := connect(t, p.Addr(), 1200*time.Millisecond)
	waitState(t, ev, zk.StateHasSession, 10*time.Second)
	if _, err := c.Create("/x", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	waitState(t, ev, zk.StateDisconnected, 2*time.Second)
	waitState(t, ev, zk.StateHasSession, 5*time.Second) // same session, through the proxy again

	direct, _ := connect(t, s.Addr(), 2*time.Second)
	p.Blackhole()
	waitState(t, ev, zk.StateDisconnected, 3*time.Second)
	// The server expires the partitioned session: its node goes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := direct.Exists("/x")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("partitioned session never expired")
		}
		time.Sleep(50 * time.Millisecond) // deliberate: polling for the server-side expiry
	}
	p.Heal()
	waitState(t, ev, zk.StateExpired, 15*time.Second)
}

func TestLaunchAndClose(t *testing.T) {
	s, err := Launch()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	if out, err := FourLetter(s.Addr(), "ruok", time.Second); err != nil || out != "imok" {
		s.Close()
		t.Fatalf("ruok = %q, %v", out, err)
	}
	dir := s.DataDir()
	s.Close()
	if s.Running() {
		t.Fatal("Running after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir after Close: %v", err)
	}
	if _, err := FourLetter(s.Addr(), "ruok", 200*time.Millisecond); err == nil {
		t.Fatal("a closed server answers ruok")
	}
}
