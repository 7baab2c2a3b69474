package unifiedfs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
)

// The cluster tests (one namespace across processes): forwarding from standbys,
// exactly-once retries across leader kills, the worker data plane, authentication, and a
// remote client (Dial) through a failover. Same harness as the HA tests.

func (c *haCluster) dial(t *testing.T, timeout time.Duration) *unifiedfs.FS {
	t.Helper()
	var log syncBuffer
	cl, err := unifiedfs.Dial(context.Background(), unifiedfs.ClientConfig{ZooKeeper: []string{c.zk.Addr()},
		Secret: []byte(c.spec.Secret), LeaderTimeout: timeout, SessionTimeout: c.spec.SessionTimeout,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl.Close()
		if t.Failed() {
			t.Logf("client log:\n%s", log.String())
		}
	})
	return cl
}

func (c *haCluster) standbys(leader *haMember) []*haMember {
	var out []*haMember
	for _, m := range c.members {
		if m != leader && m.alive {
			out = append(out, m)
		}
	}
	return out
}

// A mutation sent to any member applies (a standby forwards it to the leader) and the
// member reads its own write at once.
func TestClusterForwardingReadsItsOwnWrites(t *testing.T) {
	c := newHACluster(t, 3, 2*time.Second)
	leader := c.leader(30 * time.Second)
	c.setup(newModel(), leader)
	for _, m := range c.members {
		dir := "/rw" + string(rune('a'+m.id))
		if res, err := c.do(m, haOp{Op: "mkdir", Path: dir}); err != nil || res.Err != "" {
			t.Fatalf("mkdir on member %d: %v %+v", m.id, err, res)
		}
		for _, wt := range allWriteTypes {
			p := dir + "/f-" + wt.String()
			data := "written on member " + dir + " " + wt.String()
			if res, err := c.do(m, haOp{Op: "write", Path: p, WT: wt, Data: data}); err != nil || res.Err != "" {
				t.Fatalf("write %s on member %d: %v %+v", p, m.id, err, res)
			}
			if res, err := c.do(m, haOp{Op: "read", Path: p}); err != nil || res.Err != "" || res.Data != data {
				t.Fatalf("member %d reads its own write %s: %q, %v %+v", m.id, p, res.Data, err, res)
			}
		}
		if res, err := c.do(m, haOp{Op: "rename", Path: dir + "/f-CACHE_THROUGH", Dst: dir + "/moved"}); err != nil || res.Err != "" {
			t.Fatalf("rename on member %d: %v %+v", m.id, err, res)
		}
		if res, _ := c.do(m, haOp{Op: "read", Path: dir + "/moved"}); res.Err != "" {
			t.Fatalf("member %d reads its own rename: %+v", m.id, res)
		}
	}
	for _, m := range c.standbys(leader) {
		c.caughtUp(m, leader, 20*time.Second)
	}
}

// A mutation whose leader dies between its journal commit and its answer is retried on
// the next leader and applied once: the retried rename and create succeed (no
// "file does not exist" or "file exists"), and their effect is there once.
func TestClusterExactlyOnceAcrossLeaderKills(t *testing.T) {
	c := newHACluster(t, 0, 2*time.Second)
	c.spec.DieAfterCommit = "d0/src,d0/created"
	for i := range 3 {
		c.start(i)
	}
	leader := c.leader(30 * time.Second)
	if res, _ := c.do(leader, haOp{Op: "mkdir", Path: "/d0"}); res.Err != "" {
		t.Fatal(res.Err)
	}
	if res, _ := c.do(leader, haOp{Op: "write", Path: "/d0/src", WT: unifiedfs.CacheThrough, Data: "moved once"}); res.Err != "" {
		t.Fatal(res.Err)
	}
	cl := c.dial(t, 20*time.Second)
	start := time.Now()
	if err := cl.Rename(context.Background(), "/d0/src", "/d0/dst"); err != nil {
		t.Fatalf("rename whose leader died after committing it: %v", err)
	}
	t.Logf("rename across a leader kill: %v", time.Since(start))
	start = time.Now()
	if err := cl.WriteFile(context.Background(), "/d0/created", []byte("created once"), unifiedfs.CreateOptions{}); err != nil {
		t.Fatalf("create whose leader died after committing it: %v", err)
	}
	t.Logf("create across a leader kill: %v", time.Since(start))
	alive := 0
	for _, m := range c.members {
		if m.alive && m.cmd.ProcessState == nil {
			if _, err := c.role(m); err == nil {
				alive++
			} else {
				m.alive = false
			}
		}
	}
	if alive != 1 {
		t.Fatalf("%d members left; the hooks should have killed two leaders", alive)
	}
	if got, err := fs.ReadFile(cl, "d0/dst"); err != nil || string(got) != "moved once" {
		t.Fatalf("dst: %q, %v", got, err)
	}
	if _, err := cl.Stat("d0/src"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("src after the rename: %v", err)
	}
	if got, err := fs.ReadFile(cl, "d0/created"); err != nil || string(got) != "created once" {
		t.Fatalf("created: %q, %v", got, err)
	}
	ents, err := cl.ReadDir("d0")
	if err != nil || len(ents) != 2 {
		t.Fatalf("d0 holds %v, %v", ents, err)
	}
}

// A MUST_CACHE file lives in its writer's cache: another member and a remote client read
// it from there; once that member is killed, the file is lost, with a clear error.
func TestClusterBlocksReadFromTheirHolder(t *testing.T) {
	c := newHACluster(t, 3, 2*time.Second)
	a := c.leader(30 * time.Second)
	data := strings.Repeat("only in member A's cache|", 2000)
	if res, _ := c.do(a, haOp{Op: "write", Path: "/mc", WT: unifiedfs.MustCache, Data: data}); res.Err != "" {
		t.Fatal(res.Err)
	}
	b := c.standbys(a)[0]
	readOnB := func(p string, rt unifiedfs.ReadType, want string) {
		t.Helper()
		var res haResult
		replayed := testpeer.Eventually(10*time.Second, func() bool {
			res, _ = c.do(b, haOp{Op: "read", Path: p, RT: rt})
			return !res.NotExist // the standby's replay has the file
		})
		if !replayed || res.Err != "" {
			t.Fatalf("member %d reading %s that member %d holds (read type %v): %+v", b.id, p, a.id, rt, res)
		}
		if res.Data != want {
			t.Fatalf("member %d read %d bytes of another content of %s (read type %v)", b.id, len(res.Data), p, rt)
		}
	}
	readOnB("/mc", 0, data)
	// A NO_CACHE read streams the holder's blocks: a file of several blocks, read in
	// pieces far smaller than one, comes back whole and exact.
	big := strings.Repeat("several blocks held by A, streamed to B|", 80_000) // 3.3 MB
	if res, _ := c.do(a, haOp{Op: "write", Path: "/big", WT: unifiedfs.MustCache, Data: big}); res.Err != "" {
		t.Fatal(res.Err)
	}
	readOnB("/big", unifiedfs.NoCache, big)
	cl := c.dial(t, 20*time.Second)
	if got, err := fs.ReadFile(cl, "mc"); err != nil || string(got) != data {
		t.Fatalf("remote client: %d bytes, %v", len(got), err)
	}
	c.kill(a)
	next, _ := c.acceptingWrite(time.Now(), 15*time.Second, "/after-kill")
	res, _ := c.do(next, haOp{Op: "read", Path: "/mc"})
	if res.Err == "" || !strings.Contains(res.Err, "lost") {
		t.Fatalf("reading a file whose holder was killed: %+v, want a lost error", res)
	}
	d := c.dump(next)
	if e := d.Entries["/mc"]; e.Persist != "LOST" {
		t.Fatalf("/mc after its holder died: %+v", e)
	}
}

// The RPC refuses calls without the cluster secret, or with a wrong one.
func TestClusterRefusesUnauthenticatedCalls(t *testing.T) {
	c := newHACluster(t, 1, 2*time.Second)
	m := c.leader(30 * time.Second)
	resp, err := http.Get("http://" + m.spec.Address + "/v1/role")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an unsigned call: %s", resp.Status)
	}
	bad, err := unifiedfs.Dial(context.Background(), unifiedfs.ClientConfig{ZooKeeper: []string{c.zk.Addr()},
		Secret: []byte("not-the-secret"), LeaderTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Stat(".")
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("a client with a wrong secret: %v, want a permission error", err)
	}
	if log := m.out.String(); !strings.Contains(log, "refused an unauthenticated call") || strings.Contains(log, "not-the-secret") || strings.Contains(log, c.spec.Secret) {
		t.Fatalf("member log about refusals: %s", log)
	}
}

// A remote client rides out a failover: its calls wait and succeed; with no member left,
// they fail with ErrNoLeader after the timeout.
func TestClusterClientRidesOutFailover(t *testing.T) {
	c := newHACluster(t, 3, 2*time.Second)
	leader := c.leader(30 * time.Second)
	cl := c.dial(t, 20*time.Second)
	ctx := context.Background()
	if err := cl.Mkdir(ctx, "/c"); err != nil {
		t.Fatal(err)
	}
	c.kill(leader)
	start := time.Now()
	for i := range 5 {
		p := "/c/f" + string(rune('0'+i))
		if err := cl.WriteFile(ctx, p, []byte(p), unifiedfs.CreateOptions{}); err != nil {
			t.Fatalf("write %s during the failover: %v", p, err)
		}
	}
	t.Logf("the client's first writes after the kill took %v", time.Since(start))
	ents, err := cl.ReadDir("c")
	if err != nil || len(ents) != 5 {
		t.Fatalf("ReadDir: %v, %v", ents, err)
	}
	for _, m := range c.members {
		if m.alive {
			c.kill(m)
		}
	}
	short := c.dial(t, 2*time.Second)
	start = time.Now()
	err = short.Mkdir(ctx, "/nobody")
	if !errors.Is(err, unifiedfs.ErrNoLeader) {
		t.Fatalf("a call with no member left: %v, want ErrNoLeader", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("ErrNoLeader came after %v", d)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
