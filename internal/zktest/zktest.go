//go:build unix

// Package zktest runs a real, standalone ZooKeeper server (Debian's package, installed by
// .ci/run) as a child process of a test, on a free loopback port with a temporary dataDir.
//
// The server runs with a short tickTime (200 ms by default) and explicit session-timeout
// bounds, so that tests can use session timeouts of a second or two. It can be stopped
// cleanly, killed with SIGKILL and restarted on the same port and dataDir, so that client
// sessions either resume or expire as they would in production. The java process is put in
// its own process group with a parent-death signal, so it never outlives the test binary,
// even when the binary panics or is killed by a test timeout.
//
// A test binary that re-executes itself as member processes passes Addr() to them; the
// children connect to it and never need the *Server.
package zktest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of Debian's zookeeper package (3.8). zookeeper.jar's manifest names its
// dependencies; slf4j-simple (from libslf4j-java, a dependency of the package) gives the
// server a log, written to stderr and so to the log file.
const (
	zkServerScript = "/usr/share/zookeeper/bin/zkServer.sh"
	zookeeperJar   = "/usr/share/java/zookeeper.jar"
	slf4jSimpleJar = "/usr/share/java/slf4j-simple.jar"
	mainClass      = "org.apache.zookeeper.server.ZooKeeperServerMain"
)

// Server is a running (or stopped) standalone ZooKeeper server owned by one test.
type Server struct {
	t       testing.TB
	dir     string // holds zoo.cfg, data/ and zookeeper.log
	addr    string // 127.0.0.1:port, fixed for the server's lifetime
	cfg     config
	mu      sync.Mutex
	proc    *process // nil while stopped
	started int      // number of times the JVM was started
}

type config struct {
	tick         time.Duration
	minSession   time.Duration
	maxSession   time.Duration
	startTimeout time.Duration
}

// Option changes how Start configures the server.
type Option func(*config)

// TickTime sets ZooKeeper's tickTime (default 200 ms). The session timeouts a client may
// negotiate are bounded by MinSessionTimeout and MaxSessionTimeout, not by the tick.
func TickTime(d time.Duration) Option { return func(c *config) { c.tick = d } }

// SessionTimeouts sets minSessionTimeout and maxSessionTimeout (defaults: 2 ticks and
// 60 s). A client asking for a timeout outside the range is given the nearest bound.
func SessionTimeouts(min, max time.Duration) Option {
	return func(c *config) { c.minSession, c.maxSession = min, max }
}

// StartTimeout bounds how long Start and Restart wait for the server to serve (default 30 s).
func StartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// Unavailable ends the test because a server it needs cannot run: t.Skip with the reason
// locally, t.Fatal under CI=true (CI must not pass by skipping).
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("ZooKeeper unavailable (CI=true, so this fails instead of skipping): %s", msg)
	} else {
		t.Skipf("ZooKeeper unavailable: %s", msg)
	}
}

// Installed reports whether Debian's zookeeper package and a java binary are present.
func Installed() error {
	for _, p := range []string{zookeeperJar, slf4jSimpleJar, zkServerScript} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s missing (install the Debian package: apt-get install -y zookeeper, as .ci/run does): %w", p, err)
		}
	}
	if _, err := javaPath(); err != nil {
		return err
	}
	return nil
}

func javaPath() (string, error) {
	if p, err := exec.LookPath("java"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/java"); err == nil {
		return "/usr/bin/java", nil
	}
	return "", errors.New("no java binary on PATH or at /usr/bin/java")
}

// Start starts a standalone ZooKeeper server for the test and waits until it serves
// requests. The server is stopped by t.Cleanup; when the test failed, the tail of the
// server's log is printed first. If the server cannot be started, Start calls Unavailable.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	if err := Installed(); err != nil {
		Unavailable(t, "%v", err)
	}
	s, err := launch(t, t.TempDir(), opts)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// Launch starts a server that belongs to no single test, for a TestMain that shares one
// server among several tests (each in its own znode subtree). Its data lives in a new
// temporary directory; Close stops it and removes the directory. Tests sharing it must
// not Stop, Kill or Restart it. If it cannot start, tests call Unavailable with the error.
func Launch(opts ...Option) (*Server, error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zktest-")
	if err != nil {
		return nil, err
	}
	s, err := launch(nil, dir, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Close stops a server made by Launch and removes its directory.
func (s *Server) Close() {
	s.mu.Lock()
	s.stopLocked(syscall.SIGTERM)
	s.mu.Unlock()
	if s.t == nil {
		os.RemoveAll(s.dir)
	}
}

func launch(t testing.TB, dir string, opts []Option) (*Server, error) {
	cfg := config{tick: 200 * time.Millisecond, maxSession: 60 * time.Second, startTimeout: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.minSession == 0 {
		cfg.minSession = 2 * cfg.tick
	}
	s := &Server{t: t, dir: dir, cfg: cfg}
	var err error
	// A free port found by listening on :0 can be taken by another process before the
	// JVM binds it; a few attempts with fresh ports make that harmless.
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		port, err = freePort()
		if err != nil {
			break
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.writeConfig(port); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s, nil
		}
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, fmt.Errorf("starting ZooKeeper: %w\n%s", err, s.logTail(60))
}

// Addr is the server's client address, host:port on loopback. It stays the same across
// Stop, Kill and Restart.
func (s *Server) Addr() string { return s.addr }

// LogPath is the server's log file (stdout and stderr of the JVM, every run appended).
func (s *Server) LogPath() string { return filepath.Join(s.dir, "zookeeper.log") }

// DataDir is the server's dataDir (snapshots and transaction logs), kept across restarts.
func (s *Server) DataDir() string { return filepath.Join(s.dir, "data") }

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.hasExited()
}

// Stop shuts the server down with SIGTERM and waits for it to exit (SIGKILL after 10 s).
// Sessions and znodes survive in the dataDir: Restart brings them back. Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGKILL)
}

// Restart stops the server if it runs, then starts it again on the same port with the
// same dataDir, and waits until it serves. A session whose timeout has not yet elapsed
// can be resumed by its client: ZooKeeper restores sessions from its log and restarts
// their timers when it starts. Restart fails the test if the server does not come back
// (for a Launch'ed server, it panics).
func (s *Server) Restart() {
	if s.t != nil {
		s.t.Helper()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM)
	var err error
	// The port is ours to keep; if something else grabbed it meanwhile, wait a little.
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.startLocked(); err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
		time.Sleep(200 * time.Millisecond) // deliberate: give the port's holder time to go
	}
	if err != nil {
		err = fmt.Errorf("restarting ZooKeeper on %s: %w\n%s", s.addr, err, s.logTail(60))
		if s.t == nil {
			panic(err)
		}
		s.t.Fatal(err)
	}
}

func (s *Server) cleanup() {
	s.mu.Lock()
	s.stopLocked(syscall.SIGTERM)
	s.mu.Unlock()
	if s.t.Failed() {
		s.t.Logf("ZooKeeper log %s (tail):\n%s", s.LogPath(), s.logTail(80))
	}
}

func (s *Server) writeConfig(port int) error {
	if err := os.MkdirAll(s.DataDir(), 0o755); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`# generated by internal/zktest
tickTime=%d
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
minSessionTimeout=%d
maxSessionTimeout=%d
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
# Every commit is still written to the OS before it is acknowledged, so killing the
# process loses nothing; only a machine crash could. The shared disk stays fast.
forceSync=no
preAllocSize=1024
`, s.cfg.tick.Milliseconds(), s.DataDir(), port, s.cfg.minSession.Milliseconds(), s.cfg.maxSession.Milliseconds())
	return os.WriteFile(filepath.Join(s.dir, "zoo.cfg"), []byte(cfg), 0o644)
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked()
}

var errAddrInUse = errors.New("address already in use")

func (s *Server) startLocked() error {
	if s.proc != nil && !s.proc.hasExited() {
		return nil
	}
	java, err := javaPath()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.started++
	fmt.Fprintf(logf, "==== zktest: start #%d on %s at %s ====\n", s.started, s.addr, time.Now().Format(time.RFC3339Nano))
	args := []string{
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", // small and quick to start
		"-Dzookeeper.admin.enableServer=false",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		"-cp", zookeeperJar + ":" + slf4jSimpleJar,
		mainClass, filepath.Join(s.dir, "zoo.cfg"),
	}
	p, err := startProcess(java, args, s.dir, logf)
	logf.Close()
	if err != nil {
		return err
	}
	s.proc = p
	if err := waitServing(s.addr, p, s.cfg.startTimeout); err != nil {
		p.signal(syscall.SIGKILL)
		<-p.exited
		s.proc = nil
		if strings.Contains(s.logTail(40), "Address already in use") {
			return fmt.Errorf("%w: %s: %v", errAddrInUse, s.addr, err)
		}
		return err
	}
	return nil
}

func (s *Server) stopLocked(sig syscall.Signal) {
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	if p.hasExited() {
		return
	}
	p.signal(sig)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.exited
	}
}

// logTail returns the last n lines of the log file.
func (s *Server) logTail(n int) string {
	data, err := os.ReadFile(s.LogPath())
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// process is the JVM. It is started from a goroutine locked to its OS thread for the
// process's whole life: Linux delivers the parent-death signal when the *thread* that
// forked the child exits, and a locked thread cannot be retired by the Go runtime while
// the child runs.
type process struct {
	pid    int
	exited chan struct{}
	err    error // the Wait error, valid once exited is closed
}

func startProcess(path string, args []string, dir string, out *os.File) (*process, error) {
	p := &process{exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.Command(path, args...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = procAttr()
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.exited)
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	return p, nil
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// signal signals the whole process group (the JVM is its leader).
func (p *process) signal(sig syscall.Signal) {
	if err := syscall.Kill(-p.pid, sig); err != nil {
		syscall.Kill(p.pid, sig)
	}
}

// waitServing polls the four-letter command srvr until the server reports its mode.
func waitServing(addr string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if p.hasExited() {
			return fmt.Errorf("ZooKeeper exited before serving: %v", p.err)
		}
		out, err := FourLetter(addr, "srvr", time.Second)
		if err == nil && strings.Contains(out, "Mode: standalone") {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("srvr answered %q", out)
		}
		last = err
		time.Sleep(25 * time.Millisecond) // deliberate: polling interval while the JVM starts
	}
	return fmt.Errorf("ZooKeeper on %s did not serve within %v: %v", addr, timeout, last)
}

// FourLetter sends one of ZooKeeper's four-letter commands (the server whitelists srvr and
// ruok) and returns the answer.
func FourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(bufio.NewReader(c))
	if err != nil && buf.Len() == 0 {
		return "", err
	}
	return buf.String(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
