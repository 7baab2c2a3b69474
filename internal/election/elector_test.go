package election

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/unifiedfs/unifiedfs/internal/zktest"
)

// leaders returns the members whose Status is Leading.
func leaders(es map[string]*Elector) []string {
	var out []string
	for name, e := range es {
		if e.Status().Role == Leading {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestOneLeaderAmongThree(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	es := map[string]*Elector{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("m%d:1999%d", i, i)
		es[name] = c.member(name)
	}
	for _, e := range es {
		c.join(e)
	}
	log := c.rec.wait(t, 10*time.Second, "leader", func(l []rec) bool { return find(l, 0, "", EventLeading) >= 0 })
	who, epoch, _ := lastLeading(log)
	if epoch <= 0 {
		t.Fatalf("epoch %d", epoch)
	}
	// Every member has its node in place once there are three candidate nodes.
	conn := c.client()
	c.waitCandidates(3)
	if got := leaders(es); !slices.Equal(got, []string{who}) {
		t.Fatalf("leaders = %v, want [%s]", got, who)
	}
	for name, e := range es {
		err := e.Check(epoch)
		if name == who {
			if err != nil {
				t.Fatalf("leader %s: Check(%d) = %v", name, epoch, err)
			}
			if err := e.Check(epoch - 1); !errors.Is(err, ErrNotLeader) {
				t.Fatalf("leader: Check(another epoch) = %v, want ErrNotLeader", err)
			}
			continue
		}
		if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("%s: Check(%d) = %v, want ErrNotLeader", name, epoch, err)
		}
		if st := e.Status(); st.Role != Candidate {
			t.Fatalf("%s: Status = %+v, want candidate", name, st)
		}
	}
	// The leader record names the leader and its epoch, and the candidate nodes hold
	// their members' addresses, the lowest the leader's.
	l, err := LeaderAddress(ctxFor(t, 5*time.Second), c.config(""))
	if err != nil || l != (Leader{Address: who, Epoch: epoch}) {
		t.Fatalf("LeaderAddress = %+v, %v; want %s epoch %d", l, err, who, epoch)
	}
	kids, _, _ := conn.Children(c.path + "/election")
	cands := parseCandidates(kids)
	data, st, err := conn.Get(c.path + "/election/" + cands[0].name)
	if err != nil || string(data) != who || st.Mzxid != epoch {
		t.Fatalf("lowest node holds %q (mzxid %d), want %q (epoch %d): %v", data, st.Mzxid, who, epoch, err)
	}
	if all, _ := c.rec.snapshot(); len(all) != 1 {
		t.Fatalf("events: want exactly one leading:\n%s", formatLog(all))
	}
}

func TestLeaveHandsOverAtOnce(t *testing.T) {
	c := newCluster(t, 4*time.Second)
	es := map[string]*Elector{}
	var order []*Elector
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("m%d:1999%d", i, i)
		es[name] = c.member(name)
		order = append(order, es[name])
	}
	c.join(order...)
	log := c.rec.wait(t, 10*time.Second, "leader", func(l []rec) bool { return find(l, 0, "", EventLeading) >= 0 })
	prev, prevEpoch, _ := lastLeading(log)
	c.waitCandidates(3)
	for round := 0; round < 2; round++ {
		old := es[prev]
		begin := time.Now()
		if err := old.Leave(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		if err := old.Check(prevEpoch); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("after Leave: Check = %v", err)
		}
		n := len(log)
		log = c.rec.wait(t, c.timeout, "new leader", func(l []rec) bool { return find(l, n, "", EventLeading) >= 0 })
		handover := time.Since(begin)
		next, epoch, iLead := lastLeading(log)
		iLost := find(log, 0, prev, EventLost)
		t.Logf("round %d: Leave of %s to %s leading: %v (session timeout %v)", round, prev, next, handover, c.timeout)
		if next == prev || epoch <= prevEpoch {
			t.Fatalf("after Leave of %s (epoch %d): %s leads with epoch %d", prev, prevEpoch, next, epoch)
		}
		if iLost < 0 || !log[iLost].ev.Time.Before(log[iLead].ev.Time) {
			t.Fatalf("the old leader did not report lost before the new one led:\n%s", formatLog(log))
		}
		// Handover must not wait for a session to expire.
		if handover > c.timeout/2 {
			t.Fatalf("handover took %v, not far below the session timeout %v", handover, c.timeout)
		}
		if st := old.Status(); st.Role != Idle {
			t.Fatalf("after Leave: Status %+v", st)
		}
		prev, prevEpoch = next, epoch
	}
	// A member that left can join again, as a candidate behind the leader.
	c.join(order...)
	c.waitCandidates(3)
	if got := leaders(es); !slices.Equal(got, []string{prev}) {
		t.Fatalf("after rejoining: leaders %v, want [%s]", got, prev)
	}
}

// The leader is partitioned from ZooKeeper (its connection goes through a proxy that
// stops moving bytes); the server expires its session and the other member leads.
func TestSessionExpiryElectsNewLeader(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	proxy := zktest.NewProxy(t, c.zk.Addr())
	a, _, epochA := c.pair(proxy.Addr())
	c.waitCandidates(2)
	partitioned := time.Now()
	proxy.Blackhole()
	log := c.rec.wait(t, 3*c.timeout, "b leading", func(l []rec) bool { return find(l, 0, "b:1", EventLeading) >= 0 })
	t.Logf("partition to b leading: %v", time.Since(partitioned))
	iSusp, iLost, iLead := find(log, 0, "a:1", EventSuspended), find(log, 0, "a:1", EventLost), find(log, 0, "b:1", EventLeading)
	if iSusp < 0 || iLost < 0 {
		t.Fatalf("a did not report suspended and lost:\n%s", formatLog(log))
	}
	if !log[iSusp].ev.Time.Before(log[iLost].ev.Time) || !log[iLost].ev.Time.Before(log[iLead].ev.Time) {
		t.Fatalf("want a suspended, then a lost, then b leading:\n%s", formatLog(log))
	}
	if log[iLead].ev.Epoch <= epochA {
		t.Fatalf("b's epoch %d is not larger than a's %d", log[iLead].ev.Epoch, epochA)
	}
	if err := a.Check(epochA); err == nil {
		t.Fatal("a's Check passes after it lost")
	}
	// Healed, a rejoins in a new session, behind b, and never leads with its old epoch.
	proxy.Heal()
	waitCond(t, 15*time.Second, "a candidate again", func() bool { return a.Status().Role == Candidate })
	c.waitCandidates(2)
	log, _ = c.rec.snapshot()
	for _, r := range log[iLost+1:] {
		if r.who == "a:1" {
			t.Fatalf("a reported %s after losing:\n%s", r, formatLog(log))
		}
	}
}

// A Disconnected event suspends the leader at once, long before its lease would lapse;
// a reconnect within the session regains leadership with the same epoch.
func TestDisconnectSuspendsAtOnceAndReconnectRegains(t *testing.T) {
	c := newCluster(t, 4*time.Second)
	proxy := zktest.NewProxy(t, c.zk.Addr())
	a, _, epoch := c.pair(proxy.Addr())
	log, _ := c.rec.snapshot()
	for round := 0; round < 2; round++ {
		n := len(log)
		cut := time.Now()
		proxy.Cut()
		log = c.rec.wait(t, c.timeout, "a suspended", func(l []rec) bool { return find(l, n, "a:1", EventSuspended) >= 0 })
		suspendedAfter := log[find(log, n, "a:1", EventSuspended)].ev.Time.Sub(cut)
		if err := a.Check(epoch); !errors.Is(err, ErrSuspended) {
			t.Fatalf("Check after the disconnect = %v, want ErrSuspended", err)
		}
		t.Logf("round %d: connection cut to suspended: %v", round, suspendedAfter)
		if suspendedAfter > c.timeout/8 {
			t.Fatalf("suspended %v after the cut: not at once", suspendedAfter)
		}
		log = c.rec.wait(t, c.timeout, "a regained", func(l []rec) bool { return find(l, n, "a:1", EventRegained) >= 0 })
		if r := log[find(log, n, "a:1", EventRegained)]; r.ev.Epoch != epoch {
			t.Fatalf("regained epoch %d, want %d", r.ev.Epoch, epoch)
		}
		if err := a.Check(epoch); err != nil {
			t.Fatalf("Check after regaining: %v", err)
		}
	}
	for _, r := range log {
		if r.who == "b:1" || r.ev.Kind == EventLost {
			t.Fatalf("unexpected %s:\n%s", r, formatLog(log))
		}
	}
}

func TestRestartWithinSessionTimeoutKeepsLeaderAndEpoch(t *testing.T) {
	// Long enough for a JVM restart on a loaded machine (the member gives up after 3/4 of
	// it); regaining happens as soon as the server is back.
	c := newOwnCluster(t, 15*time.Second)
	a, _, epoch := c.pair()
	c.waitCandidates(2)
	begin := time.Now()
	c.zk.Restart()
	log := c.rec.wait(t, c.timeout, "a regained", func(l []rec) bool { return find(l, 0, "a:1", EventRegained) >= 0 })
	t.Logf("restart to regained: %v", time.Since(begin))
	if find(log, 0, "a:1", EventSuspended) < 0 {
		t.Fatalf("a was not suspended while ZooKeeper was down:\n%s", formatLog(log))
	}
	for _, r := range log {
		if r.who == "b:1" || r.ev.Kind == EventLost || r.ev.Epoch != epoch {
			t.Fatalf("unexpected %s:\n%s", r, formatLog(log))
		}
	}
	if err := a.Check(epoch); err != nil {
		t.Fatalf("Check after the restart: %v", err)
	}
}

func TestLongOutageNewElectionEpochsGrow(t *testing.T) {
	c := newOwnCluster(t, 2*time.Second)
	a, b, epochA := c.pair()
	c.waitCandidates(2)
	stopped := time.Now()
	c.zk.Stop()
	log := c.rec.wait(t, 2*c.timeout, "a lost", func(l []rec) bool { return find(l, 0, "a:1", EventLost) >= 0 })
	iLost := find(log, 0, "a:1", EventLost)
	t.Logf("ZooKeeper stopped to a lost: %v", log[iLost].ev.Time.Sub(stopped))
	waitCond(t, 2*c.timeout, "down longer than the session timeout", func() bool { return time.Since(stopped) > c.timeout })
	c.zk.Restart()
	restarted := time.Now()
	log = c.rec.wait(t, 4*c.timeout, "a new leader", func(l []rec) bool { return find(l, iLost+1, "", EventLeading) >= 0 })
	r := log[find(log, iLost+1, "", EventLeading)]
	t.Logf("restart to %s leading: %v", r.who, time.Since(restarted))
	if r.ev.Epoch <= epochA {
		t.Fatalf("new epoch %d not larger than %d:\n%s", r.ev.Epoch, epochA, formatLog(log))
	}
	for _, x := range log[iLost+1:] {
		if x.ev.Epoch == epochA {
			t.Fatalf("epoch %d reported again after it was lost:\n%s", epochA, formatLog(log))
		}
	}
	// Epochs keep growing across a second leadership change.
	leader := a
	if r.who == "b:1" {
		leader = b
	}
	n := len(log)
	if err := leader.Leave(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	log = c.rec.wait(t, 2*c.timeout, "another leader", func(l []rec) bool { return find(l, n, "", EventLeading) >= 0 })
	if e3 := log[find(log, n, "", EventLeading)].ev.Epoch; e3 <= r.ev.Epoch {
		t.Fatalf("epoch %d after %d", e3, r.ev.Epoch)
	}
}

// Someone deletes the leader's election node: it loses and rejoins with a new node; the
// other member leads.
func TestDeletedNodeLosesLeadership(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	_, _, epochA := c.pair()
	first := c.waitCandidates(2)[0].name
	conn := c.client()
	if err := conn.Delete(c.path+"/election/"+first, -1); err != nil {
		t.Fatal(err)
	}
	log := c.rec.wait(t, c.timeout, "b leading", func(l []rec) bool { return find(l, 0, "b:1", EventLeading) >= 0 })
	iLost, iLead := find(log, 0, "a:1", EventLost), find(log, 0, "b:1", EventLeading)
	if iLost < 0 || !log[iLost].ev.Time.Before(log[iLead].ev.Time) || log[iLead].ev.Epoch <= epochA {
		t.Fatalf("want a lost, then b leading with a larger epoch:\n%s", formatLog(log))
	}
	waitCond(t, 5*time.Second, "a's new node", func() bool {
		kids, _, err := conn.Children(c.path + "/election")
		cands := parseCandidates(kids)
		return err == nil && len(cands) == 2 && cands[0].name != first && cands[1].name != first
	})
	l, err := LeaderAddress(ctxFor(t, 5*time.Second), c.config(""))
	if err != nil || l.Address != "b:1" || l.Epoch != log[iLead].ev.Epoch {
		t.Fatalf("leader record %+v, %v", l, err)
	}
}

func TestWatcherSeesEveryChange(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	w, err := NewWatcher(c.config(""))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// While there is no leader, Leader waits, bounded by its ctx.
	begin := time.Now()
	if _, err := w.Leader(ctxFor(t, 300*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Leader without a leader = %v", err)
	}
	if time.Since(begin) > 2*time.Second {
		t.Fatalf("Leader overran its ctx: %v", time.Since(begin))
	}
	// Observe every state the watcher reports, in order.
	type obs struct {
		l  Leader
		ok bool
	}
	seen := make(chan obs, 100)
	stop := make(chan struct{})
	go func() {
		for {
			l, ok, changed := w.State()
			seen <- obs{l, ok}
			select {
			case <-changed:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	var members []*Elector
	for i := 1; i <= 4; i++ {
		members = append(members, c.member(fmt.Sprintf("m%d:2000%d", i, i)))
	}
	c.join(members...)
	var published []Leader
	var prev Leader
	for round := 0; round < 4; round++ {
		l, err := w.Next(ctxFor(t, 5*time.Second), prev)
		if err != nil {
			t.Fatal(err)
		}
		published = append(published, l)
		// The record is published just before its member reports leading.
		var leader *Elector
		for _, m := range members {
			if m.cfg.Address == l.Address {
				leader = m
			}
		}
		waitCond(t, 5*time.Second, "the recorded leader leading", func() bool { return leader.Check(l.Epoch) == nil })
		for _, m := range members {
			if m != leader && m.Check(l.Epoch) == nil {
				t.Fatalf("record says %s, %s leads too", l, m.cfg.Address)
			}
		}
		if err := leader.Leave(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		prev = l
	}
	// The last leader left too: the watcher reports no leader.
	waitCond(t, 5*time.Second, "no leader", func() bool { _, ok := w.Current(); return !ok })
	var got []Leader
	for len(seen) > 0 {
		o := <-seen
		if o.ok && (len(got) == 0 || got[len(got)-1] != o.l) {
			got = append(got, o.l)
		}
	}
	if !slices.Equal(got, published) {
		t.Fatalf("watcher saw %v, leaders were %v", got, published)
	}
	addrs := map[string]bool{}
	for i, l := range got {
		addrs[l.Address] = true
		if i > 0 && l.Epoch <= got[i-1].Epoch {
			t.Fatalf("epochs do not grow: %v", got)
		}
	}
	if len(addrs) != 4 {
		t.Fatalf("want four different leaders, saw %v", got)
	}
}

// Nothing hangs while ZooKeeper is down: calls bounded by ctx fail with a clear error.
func TestZooKeeperDownNothingHangs(t *testing.T) {
	c := newOwnCluster(t, 2*time.Second)
	c.zk.Stop()
	c.opTimeout = 500 * time.Millisecond
	e := c.member("a:1")
	c.join(e)
	begin := time.Now()
	if _, err := LeaderAddress(ctxFor(t, 500*time.Millisecond), c.config("")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LeaderAddress with ZooKeeper down = %v", err)
	}
	err := e.Leave(ctxFor(t, 10*time.Second))
	t.Logf("Leave with ZooKeeper down: %v after %v", err, time.Since(begin))
	if time.Since(begin) > 4*time.Second {
		t.Fatalf("Leave took %v with ZooKeeper down", time.Since(begin))
	}
	if st := e.Status(); st.Role != Idle {
		t.Fatalf("Status %+v", st)
	}
	// Joined again, it waits in the background and leads once ZooKeeper is back.
	c.join(e)
	c.zk.Restart()
	c.rec.wait(t, 10*time.Second, "a leading", func(l []rec) bool { return find(l, 0, "a:1", EventLeading) >= 0 })
}

func TestNoGoroutineLeak(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	proxy := zktest.NewProxy(t, c.zk.Addr())
	runtime.GC()
	baseline := runtime.NumGoroutine()
	func() {
		var es []*Elector
		for i := 0; i < 3; i++ {
			cfg := c.config(fmt.Sprintf("m%d:1", i), proxy.Addr())
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, e)
			go func() {
				for range e.Events() {
				}
			}()
			if err := e.Join(); err != nil {
				t.Fatal(err)
			}
		}
		w, err := NewWatcher(c.config("", proxy.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		l, err := w.Leader(ctxFor(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		proxy.Cut() // disconnects and reconnects everyone
		if _, err := w.Next(ctxFor(t, 10*time.Second), Leader{}); err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.cfg.Address == l.Address {
				if err := e.Leave(ctxFor(t, 5*time.Second)); err != nil {
					t.Fatal(err)
				}
				if err := e.Join(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := w.Next(ctxFor(t, 10*time.Second), l); err != nil {
			t.Fatal(err)
		}
		w.Close()
		for _, e := range es {
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:n])
		}
		time.Sleep(20 * time.Millisecond) // deliberate: polling for goroutines to finish
	}
}

// A create whose answer was lost may have created a node, and a retry another: every
// node with our GUID is ours, the lowest is kept, the others are deleted.
func TestFindOrCreateAdoptsLostCreates(t *testing.T) {
	c := newCluster(t, 2*time.Second)
	cfg, err := c.config("a:1").withDefaults(true)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := dial(e.cfg, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close(closeWait)
	ctx := ctxFor(t, 10*time.Second)
	if err := s.ensurePath(ctx, cfg.ElectionPath); err != nil {
		t.Fatal(err)
	}
	other := newGUID()
	s.guid = newGUID()
	mk := func(guid string) string {
		p, err := s.create(ctx, cfg.ElectionPath+"/"+nodePrefix(guid), nil, zk.FlagEphemeral|zk.FlagSequence)
		if err != nil {
			t.Fatal(err)
		}
		return p[strings.LastIndexByte(p, '/')+1:]
	}
	o1 := mk(other)
	lost1 := mk(s.guid) // as if two creates' answers were lost
	lost2 := mk(s.guid)
	me, pred, err := e.findOrCreate(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if me.name != lost1 || pred.name != o1 {
		t.Fatalf("findOrCreate = %s after %s; want %s after %s", me.name, pred.name, lost1, o1)
	}
	kids, err := s.children(ctx, cfg.ElectionPath)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(kids, lost2) || len(kids) != 2 {
		t.Fatalf("children %v: the duplicate %s should be gone", kids, lost2)
	}
	// Without a node of ours, it creates one, after the others.
	s.guid = newGUID()
	me, pred, err = e.findOrCreate(ctx, s)
	if err != nil || me.guid != s.guid || pred.name != lost1 {
		t.Fatalf("findOrCreate = %+v after %+v, %v", me, pred, err)
	}
}

func TestParseCandidates(t *testing.T) {
	g1, g2 := newGUID(), newGUID()
	kids := []string{
		nodePrefix(g1) + "0000000012",
		"junk",
		nodePrefix(g2) + "0000000003",
		nodePrefix(g2) + "00000000x3",
		"_c_" + g1 + "-latch-0000000001",
		nodePrefix(g1)[:20] + "0000000001",
	}
	got := parseCandidates(kids)
	if len(got) != 2 || got[0].seq != 3 || got[0].guid != g2 || got[1].seq != 12 || got[1].guid != g1 {
		t.Fatalf("parseCandidates = %+v", got)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := Config{Servers: []string{"127.0.0.1:2181"}, Address: "h:1"}
	cfg, err := ok.withDefaults(true)
	if err != nil || cfg.ElectionPath != DefaultElectionPath || cfg.LeaderPath != DefaultLeaderPath ||
		cfg.SessionTimeout != DefaultSessionTimeout || cfg.OpTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for name, mod := range map[string]func(*Config){
		"no servers":     func(c *Config) { c.Servers = nil },
		"bad server":     func(c *Config) { c.Servers = []string{"nohostport"} },
		"no address":     func(c *Config) { c.Address = "" },
		"relative path":  func(c *Config) { c.ElectionPath = "alluxio/election" },
		"root path":      func(c *Config) { c.LeaderPath = "/" },
		"trailing slash": func(c *Config) { c.LeaderPath = "/a/" },
		"dot dot":        func(c *Config) { c.LeaderPath = "/a/../b" },
		"same paths":     func(c *Config) { c.LeaderPath = DefaultElectionPath },
		"nested paths":   func(c *Config) { c.LeaderPath = DefaultElectionPath + "/leader" },
		"negative":       func(c *Config) { c.SessionTimeout = -1 },
	} {
		c := ok
		mod(&c)
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
	// A watcher needs no address.
	w := Config{Servers: []string{"127.0.0.1:1"}}
	if _, err := w.withDefaults(false); err != nil {
		t.Fatal(err)
	}
}

// Check reads the lease itself: a leader whose lease ran out (a paused process resuming,
// before any of the elector's goroutines has run) fails at once.
func TestCheckHonoursTheLease(t *testing.T) {
	e, err := New(Config{Servers: []string{"127.0.0.1:1"}, Address: "a:1", SessionTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.snap.Store(&snapshot{role: Leading, epoch: 7, leaseEnd: e.now() + int64(time.Hour)})
	if err := e.Check(7); err != nil {
		t.Fatalf("within the lease: %v", err)
	}
	if err := e.Check(8); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("another epoch: %v", err)
	}
	e.snap.Store(&snapshot{role: Leading, epoch: 7, leaseEnd: e.now() - 1})
	if err := e.Check(7); !errors.Is(err, ErrSuspended) {
		t.Fatalf("after the lease: %v, want ErrSuspended", err)
	}
	if st := e.Status(); st != (Status{Suspended, 7}) {
		t.Fatalf("Status after the lease: %+v", st)
	}
	e.snap.Store(&snapshot{role: Suspended, epoch: 7, leaseEnd: e.now() + int64(time.Hour)})
	if err := e.Check(7); !errors.Is(err, ErrSuspended) {
		t.Fatalf("suspended: %v", err)
	}
}

// BenchmarkCheck measures the cost of Check on the acknowledgement path of a leader.
func BenchmarkCheck(b *testing.B) {
	e, err := New(Config{Servers: []string{"127.0.0.1:1"}, Address: "a:1", SessionTimeout: 2 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.snap.Store(&snapshot{role: Leading, epoch: 7, leaseEnd: e.now() + int64(time.Hour)})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.Check(7); err != nil {
				b.Fatal(err)
			}
		}
	})
}
