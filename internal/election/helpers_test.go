package election

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/internal/zktest"
)

// testLogger logs at debug level to the test log when ELECTION_TEST_LOG=debug, else only
// warnings and errors.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ELECTION_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// cluster is a test's ZooKeeper plus the config its members share.
type cluster struct {
	t       *testing.T
	zk      *zktest.Server
	timeout time.Duration
	rec     *recorder
	path    string // root of this test's znodes
	// opTimeout, if set, is the members' OpTimeout.
	opTimeout time.Duration
}

// shared is one ZooKeeper for the tests that never stop it, started on first use and
// closed by TestMain.
var shared struct {
	once sync.Once
	zk   *zktest.Server
	err  error
}

// newCluster gives the test its own subtree on the shared server.
func newCluster(t *testing.T, sessionTimeout time.Duration) *cluster {
	t.Helper()
	shared.once.Do(func() { shared.zk, shared.err = zktest.Launch() })
	if shared.err != nil {
		zktest.Unavailable(t, "%v", shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(shared.zk.LogPath()); err == nil {
				lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				t.Logf("shared ZooKeeper log (tail):\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
			}
		}
	})
	return &cluster{t: t, zk: shared.zk, timeout: sessionTimeout, rec: &recorder{changed: make(chan struct{})}, path: "/" + t.Name()}
}

// newOwnCluster starts a ZooKeeper for a test that stops or restarts it.
func newOwnCluster(t *testing.T, sessionTimeout time.Duration) *cluster {
	t.Helper()
	return &cluster{t: t, zk: zktest.Start(t), timeout: sessionTimeout, rec: &recorder{changed: make(chan struct{})}, path: "/" + t.Name()}
}

func (c *cluster) config(addr string, servers ...string) Config {
	if len(servers) == 0 {
		servers = []string{c.zk.Addr()}
	}
	return Config{
		Servers:        servers,
		ElectionPath:   c.path + "/election",
		LeaderPath:     c.path + "/leader",
		SessionTimeout: c.timeout,
		Address:        addr,
		OpTimeout:      c.opTimeout,
		Logger:         testLogger(c.t),
	}
}

// member creates an elector named addr whose events go to the recorder; it is closed
// by t.Cleanup. It has not joined.
func (c *cluster) member(addr string, servers ...string) *Elector {
	c.t.Helper()
	e, err := New(c.config(addr, servers...))
	if err != nil {
		c.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range e.Events() {
			c.rec.add(addr, ev)
		}
	}()
	c.t.Cleanup(func() {
		e.Close()
		<-done
	})
	return e
}

func (c *cluster) join(es ...*Elector) {
	c.t.Helper()
	for _, e := range es {
		if err := e.Join(); err != nil {
			c.t.Fatal(err)
		}
	}
}

// client is a plain ZooKeeper connection for the test's own reads and writes.
func (c *cluster) client() *zk.Conn {
	c.t.Helper()
	conn, _, err := zk.Connect([]string{c.zk.Addr()}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkLogger{testLogger(c.t)}))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(conn.Close)
	return conn
}

type rec struct {
	who string
	ev  Event
}

func (r rec) String() string {
	return fmt.Sprintf("%s %s %d %s", r.who, r.ev.Kind, r.ev.Epoch, r.ev.Reason)
}

// recorder keeps every member's events in the order they were received.
type recorder struct {
	mu      sync.Mutex
	log     []rec
	changed chan struct{}
}

func (r *recorder) add(who string, ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, rec{who, ev})
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) snapshot() ([]rec, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rec(nil), r.log...), r.changed
}

// wait waits until f accepts the log, failing the test after within.
func (r *recorder) wait(t *testing.T, within time.Duration, what string, f func([]rec) bool) []rec {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		log, changed := r.snapshot()
		if f(log) {
			return log
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %s within %v; events:\n%s", what, within, formatLog(log))
		}
	}
}

// find returns the first event of who with kind after index from, or -1.
func find(log []rec, from int, who string, kind EventKind) int {
	for i := from; i < len(log); i++ {
		if (who == "" || log[i].who == who) && log[i].ev.Kind == kind {
			return i
		}
	}
	return -1
}

// lastLeading returns the most recent leadership gained (who and epoch) in log.
func lastLeading(log []rec) (string, int64, int) {
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].ev.Kind == EventLeading {
			return log[i].who, log[i].ev.Epoch, i
		}
	}
	return "", 0, -1
}

func formatLog(log []rec) string {
	var b strings.Builder
	for _, r := range log {
		fmt.Fprintf(&b, "  %s %s\n", r.ev.Time.Format("15:04:05.000"), r)
	}
	return b.String()
}

// waitCond polls cond until it holds, failing after within.
func waitCond(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, what, within, cond)
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pair makes member a:1 the leader, then b:1 a candidate behind it; a's servers may be
// given (a proxy).
func (c *cluster) pair(aServers ...string) (a, b *Elector, epoch int64) {
	c.t.Helper()
	a, b = c.member("a:1", aServers...), c.member("b:1")
	c.join(a)
	log := c.rec.wait(c.t, 10*time.Second, "a leading", func(l []rec) bool { return find(l, 0, "a:1", EventLeading) >= 0 })
	_, epoch, _ = lastLeading(log)
	c.join(b)
	return a, b, epoch
}

// waitCandidates waits until the election has n candidate nodes and returns them.
func (c *cluster) waitCandidates(n int) []candidate {
	c.t.Helper()
	conn := c.client()
	var cands []candidate
	waitCond(c.t, 10*time.Second, fmt.Sprintf("%d candidate nodes", n), func() bool {
		kids, _, err := conn.Children(c.path + "/election")
		cands = parseCandidates(kids)
		return err == nil && len(cands) == n
	})
	return cands
}
