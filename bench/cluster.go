//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/unifiedfs/unifiedfs"
	_ "github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/internal/zktest"
)

// The cluster metrics: a real ZooKeeper (Debian's package, as the tests use it), members
// embedding unifiedfs over one shared journal directory and root UFS. R12 runs members as
// OS processes (this binary re-executed) so that the leader can be killed with SIGKILL;
// the others run members in this process.

func init() {
	register(metric{id: "R12", name: "failover: kill -9 of the leader to the first accepted write, 3 member processes", baseline: "the 2 s ZooKeeper session timeout", goal: "≤ 5 s",
		run: runFailover, ok: func(m float64) bool { return m <= 5 }})
	register(metric{id: "R13", name: "standby replay throughput (a new standby catching up 20k entries)", baseline: "the leader's journal append throughput of the same entries (8 writers)", goal: "≥ 1",
		run: func(int) ([]float64, string, error) { return withCluster(runReplayRatio) }, ok: func(m float64) bool { return m >= 1 }})
	register(metric{id: "R14", name: "standby lag under a steady write load (8 writers, sampled every 5 ms)", baseline: "— (ms of the leader's entries the standby has not applied)", goal: "median ≤ 100 ms",
		run: func(int) ([]float64, string, error) { return withCluster(runStandbyLag) }, ok: func(m float64) bool { return m <= 100 }})
	register(metric{id: "R15", name: "mkdir on a standby (forwarded, read-your-writes)", baseline: "mkdir on the leader", goal: "≤ 4×",
		run: func(pairs int) ([]float64, string, error) {
			return withCluster(func(c *benchCluster) ([]float64, string, error) { return runForwardRatio(c, pairs) })
		}, ok: func(m float64) bool { return m <= 4 }})
	register(metric{id: "R16", name: "NO_CACHE read of a 64 MiB MUST_CACHE file on a standby (blocks from the member holding them)", baseline: "the same bytes as one plain HTTP stream over loopback", goal: "≥ 0.3",
		run: func(pairs int) ([]float64, string, error) {
			return withCluster(func(c *benchCluster) ([]float64, string, error) { return runRemoteRead(c, pairs) })
		}, ok: func(m float64) bool { return m >= 0.3 }})
	register(metric{id: "R17", name: "Stat through a remote client (Dial)", baseline: "one authenticated loopback RPC to the leader", goal: "≤ 2×",
		run: func(pairs int) ([]float64, string, error) {
			return withCluster(func(c *benchCluster) ([]float64, string, error) { return runClientStat(c, pairs) })
		}, ok: func(m float64) bool { return m <= 2 }})
	register(metric{id: "R18", name: "coherence delay: an overwrite on the leader until a standby reads the new content", baseline: "— (ms; standbys tail the journal every 50 ms)", goal: "median ≤ 200 ms",
		run: func(pairs int) ([]float64, string, error) {
			return withCluster(func(c *benchCluster) ([]float64, string, error) { return runCoherence(c, pairs) })
		}, ok: func(m float64) bool { return m <= 200 }})
	if raw := os.Getenv(benchMemberEnv); raw != "" {
		os.Exit(runBenchMember(raw))
	}
}

const (
	benchMemberEnv = "UNIFIEDFS_BENCH_MEMBER"
	benchSecret    = "bench-cluster-secret"
	benchSession   = 2 * time.Second
)

type benchMemberSpec struct {
	ZooKeeper, Journal, Root, Cache, Address string
}

func memberConfig(s benchMemberSpec) unifiedfs.Config {
	return unifiedfs.Config{RootUFS: "file://" + s.Root, CacheDir: s.Cache, CacheDiskCapacity: 1 << 30, CacheCapacity: 512 << 20,
		Logger: slog.New(slog.DiscardHandler),
		HA: unifiedfs.HAConfig{ZooKeeper: []string{s.ZooKeeper}, Journal: "file://" + s.Journal, Address: s.Address,
			SessionTimeout: benchSession, Secret: []byte(benchSecret)}}
}

// runBenchMember is the body of a member process (R12).
func runBenchMember(raw string) int {
	var s benchMemberSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fsys, err := unifiedfs.New(context.Background(), memberConfig(s))
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		return 2
	}
	defer fsys.Close()
	select {} // until killed
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// benchCluster is a ZooKeeper and members in this process.
type benchCluster struct {
	zk      *zktest.Server
	dir     string
	spec    benchMemberSpec
	members []*unifiedfs.FS
	leader  *unifiedfs.FS
	standby *unifiedfs.FS
}

func startZK() (*zktest.Server, error) {
	if err := zktest.Installed(); err != nil {
		return nil, fmt.Errorf("ZooKeeper is needed (apt-get install -y zookeeper, as .ci/run does): %w", err)
	}
	return zktest.Launch(zktest.SessionTimeouts(400*time.Millisecond, 30*time.Second))
}

// withCluster runs f over a fresh cluster of three members in this process.
func withCluster(f func(*benchCluster) ([]float64, string, error)) ([]float64, string, error) {
	zk, err := startZK()
	if err != nil {
		return nil, "", err
	}
	defer zk.Close()
	dir, err := os.MkdirTemp("", "unifiedfs-bench-cluster-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	c := &benchCluster{zk: zk, dir: dir, spec: benchMemberSpec{ZooKeeper: zk.Addr(), Journal: filepath.Join(dir, "journal"), Root: filepath.Join(dir, "root")}}
	for _, d := range []string{c.spec.Journal, c.spec.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", err
		}
	}
	defer func() {
		for _, m := range c.members {
			m.Close()
		}
	}()
	for range 3 {
		if _, err := c.addMember(); err != nil {
			return nil, "", err
		}
	}
	if err := c.findRoles(); err != nil {
		return nil, "", err
	}
	return f(c)
}

func (c *benchCluster) addMember() (*unifiedfs.FS, error) {
	s := c.spec
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	s.Address, s.Cache = addr, filepath.Join(c.dir, "cache-"+strings.ReplaceAll(addr, ":", "-"))
	m, err := unifiedfs.New(context.Background(), memberConfig(s))
	if err != nil {
		return nil, err
	}
	c.members = append(c.members, m)
	return m, nil
}

func (c *benchCluster) findRoles() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.leader, c.standby = nil, nil
		for _, m := range c.members {
			switch m.Role().Role {
			case unifiedfs.Leader:
				c.leader = m
			case unifiedfs.Standby:
				c.standby = m
			}
		}
		if c.leader != nil && c.standby != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polls the election
	}
	return errors.New("no leader and standby within 30 s")
}

// waitApplied waits until m has applied the journal up to seq.
func waitApplied(m *unifiedfs.FS, seq uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for m.Role().AppliedSeq < seq {
		if time.Now().After(deadline) {
			return fmt.Errorf("a member stayed at seq %d (want %d)", m.Role().AppliedSeq, seq)
		}
		time.Sleep(time.Millisecond) // polls the replay position
	}
	return nil
}

// createMany makes n empty MUST_CACHE files on the leader with 8 writers and returns the
// creates per second.
func createMany(fsys *unifiedfs.FS, dir string, n int) (float64, error) {
	ctx := context.Background()
	if err := fsys.MkdirAll(ctx, dir); err != nil {
		return 0, err
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := fsys.WriteFile(ctx, fmt.Sprintf("%s/f%d", dir, i), nil, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache}); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

func runReplayRatio(c *benchCluster) ([]float64, string, error) {
	const n = 20000
	appendRate, err := createMany(c.leader, "/replay", n)
	if err != nil {
		return nil, "", err
	}
	last := c.leader.Role().AppliedSeq
	start := time.Now()
	fresh, err := c.addMember() // replays the whole journal, then tails it
	if err != nil {
		return nil, "", err
	}
	if err := waitApplied(fresh, last, 60*time.Second); err != nil {
		return nil, "", err
	}
	replayRate := float64(last) / time.Since(start).Seconds()
	return []float64{replayRate / appendRate}, fmt.Sprintf("(append %.0f entries/s, replay %.0f entries/s, %d entries)", appendRate, replayRate, last), nil
}

func runStandbyLag(c *benchCluster) ([]float64, string, error) {
	stop := make(chan struct{})
	var lags []float64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		prevSeq, prevAt := c.leader.Role().AppliedSeq, time.Now()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond): // the sampling period (deliberate)
			}
			l, s := c.leader.Role().AppliedSeq, c.standby.Role().AppliedSeq
			now := time.Now()
			rate := float64(l-prevSeq) / now.Sub(prevAt).Seconds()
			prevSeq, prevAt = l, now
			if rate > 0 && l >= s {
				lags = append(lags, float64(l-s)/rate*1000)
			}
		}
	}()
	rate, err := createMany(c.leader, "/lag", 20000)
	close(stop)
	wg.Wait()
	if err != nil {
		return nil, "", err
	}
	if len(lags) == 0 {
		return nil, "", errors.New("no lag samples")
	}
	sort.Float64s(lags)
	p95 := lags[len(lags)*95/100]
	return lags, fmt.Sprintf("(%d samples; p95 %.1f ms; %.0f creates/s)", len(lags), p95, rate), nil
}

func runForwardRatio(c *benchCluster, pairs int) ([]float64, string, error) {
	ctx := context.Background()
	const per = 50
	var ratios []float64
	var lastF, lastL time.Duration
	for p := range pairs {
		timeIt := func(m *unifiedfs.FS, tag string) (time.Duration, error) {
			start := time.Now()
			for i := range per {
				if err := m.Mkdir(ctx, fmt.Sprintf("/fwd-%s-%d-%d", tag, p, i)); err != nil {
					return 0, err
				}
			}
			return time.Since(start) / per, nil
		}
		l, err := timeIt(c.leader, "l")
		if err != nil {
			return nil, "", err
		}
		f, err := timeIt(c.standby, "s")
		if err != nil {
			return nil, "", err
		}
		ratios = append(ratios, float64(f)/float64(l))
		lastF, lastL = f, l
	}
	return ratios, fmt.Sprintf("(last pair: forwarded %v, on the leader %v)", lastF.Round(time.Microsecond), lastL.Round(time.Microsecond)), nil
}

func runRemoteRead(c *benchCluster, pairs int) ([]float64, string, error) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	if err := c.leader.WriteFile(ctx, "/held", data, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache}); err != nil {
		return nil, "", err
	}
	if err := waitApplied(c.standby, c.leader.Role().AppliedSeq, 30*time.Second); err != nil {
		return nil, "", err
	}
	// The baseline: the transport's own limit, one HTTP response of the same bytes.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	got := make([]byte, len(data))
	check := func(r io.Reader) (float64, error) {
		start := time.Now()
		n, err := io.ReadFull(r, got)
		if err != nil {
			return 0, fmt.Errorf("read %d bytes: %w", n, err)
		}
		secs := time.Since(start).Seconds()
		if !bytes.Equal(got, data) {
			return 0, errors.New("read other bytes than were written")
		}
		clear(got)
		return float64(n) / secs, nil
	}
	plain := func() (float64, error) {
		resp, err := http.Get(srv.URL)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return check(resp.Body)
	}
	remote := func() (float64, error) {
		f, err := c.standby.OpenFile(ctx, "/held", unifiedfs.OpenOptions{ReadType: unifiedfs.NoCache})
		if err != nil {
			return 0, err
		}
		defer f.Close()
		return check(f)
	}
	var ratios []float64
	var rb, rs float64
	for range min(pairs, 5) {
		var err error
		if rb, err = plain(); err != nil {
			return nil, "", fmt.Errorf("plain HTTP: %w", err)
		}
		if rs, err = remote(); err != nil {
			return nil, "", fmt.Errorf("on a standby: %w", err)
		}
		ratios = append(ratios, rs/rb)
	}
	return ratios, fmt.Sprintf("(last pair: from the holder %.0f MiB/s, plain HTTP %.0f MiB/s)", rs/(1<<20), rb/(1<<20)), nil
}

func runClientStat(c *benchCluster, pairs int) ([]float64, string, error) {
	ctx := context.Background()
	if err := c.leader.WriteFile(ctx, "/stat-me", []byte("x"), unifiedfs.CreateOptions{}); err != nil {
		return nil, "", err
	}
	cl, err := unifiedfs.Dial(ctx, unifiedfs.ClientConfig{ZooKeeper: []string{c.zk.Addr()}, Secret: []byte(benchSecret), SessionTimeout: benchSession})
	if err != nil {
		return nil, "", err
	}
	defer cl.Close()
	const per = 200
	var ratios []float64
	var ls, lr time.Duration
	for range pairs {
		start := time.Now()
		for range per {
			if _, err := cl.GetStatus(ctx, "/stat-me"); err != nil {
				return nil, "", err
			}
		}
		stat := time.Since(start) / per
		start = time.Now()
		for range per {
			cl.Role() // one authenticated RPC to the leader (GET /v1/role)
		}
		rtt := time.Since(start) / per
		ratios = append(ratios, float64(stat)/float64(rtt))
		ls, lr = stat, rtt
	}
	return ratios, fmt.Sprintf("(last pair: Stat %v, RPC round trip %v)", ls.Round(time.Microsecond), lr.Round(time.Microsecond)), nil
}

func runCoherence(c *benchCluster, pairs int) ([]float64, string, error) {
	ctx := context.Background()
	var delays []float64
	for i := range max(pairs, 10) {
		v := fmt.Sprintf("version %d", i)
		if err := c.leader.WriteFile(ctx, "/coherent", []byte(v), unifiedfs.CreateOptions{Overwrite: true}); err != nil {
			return nil, "", err
		}
		start := time.Now()
		for {
			b, err := fs.ReadFile(c.standby, "coherent")
			if err == nil && string(b) == v {
				break
			}
			if time.Since(start) > 10*time.Second {
				return nil, "", fmt.Errorf("the standby never read %q (last %q, %v)", v, b, err)
			}
			time.Sleep(200 * time.Microsecond) // polls the standby
		}
		delays = append(delays, float64(time.Since(start).Microseconds())/1000)
	}
	return delays, "(ms, one overwrite at a time)", nil
}

// runFailover kills the leader of three member processes several times and measures how
// long a remote client waits for its next write to be accepted.
func runFailover(pairs int) ([]float64, string, error) {
	zk, err := startZK()
	if err != nil {
		return nil, "", err
	}
	defer zk.Close()
	dir, err := os.MkdirTemp("", "unifiedfs-bench-failover-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	spec := benchMemberSpec{ZooKeeper: zk.Addr(), Journal: filepath.Join(dir, "journal"), Root: filepath.Join(dir, "root")}
	for _, d := range []string{spec.Journal, spec.Root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	procs := map[string]*exec.Cmd{}
	start := func(i int) error {
		s := spec
		if s.Address, err = freeLoopback(); err != nil {
			return err
		}
		s.Cache = filepath.Join(dir, fmt.Sprintf("cache%d", i))
		raw, _ := json.Marshal(s)
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), benchMemberEnv+"="+string(raw))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		procs[s.Address] = cmd
		return nil
	}
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	for i := range 3 {
		if err := start(i); err != nil {
			return nil, "", err
		}
	}
	ctx := context.Background()
	cl, err := unifiedfs.Dial(ctx, unifiedfs.ClientConfig{ZooKeeper: []string{zk.Addr()}, Secret: []byte(benchSecret), SessionTimeout: benchSession, LeaderTimeout: 30 * time.Second})
	if err != nil {
		return nil, "", err
	}
	defer cl.Close()
	if err := cl.Mkdir(ctx, "/failover"); err != nil {
		return nil, "", err
	}
	var took []float64
	for round := range min(pairs, 6) {
		leader := cl.Role().LeaderAddress
		p := procs[leader]
		if p == nil {
			return nil, "", fmt.Errorf("no member process at the leader's address %q", leader)
		}
		killedAt := time.Now()
		p.Process.Signal(syscall.SIGKILL)
		p.Wait()
		delete(procs, leader)
		if err := cl.Mkdir(ctx, fmt.Sprintf("/failover/after-kill-%d", round)); err != nil {
			return nil, "", err
		}
		took = append(took, time.Since(killedAt).Seconds())
		if err := start(3 + round); err != nil {
			return nil, "", err
		}
		time.Sleep(500 * time.Millisecond) // lets the restarted member catch up and join (deliberate)
	}
	return took, fmt.Sprintf("(seconds over %d kills)", len(took)), nil
}
