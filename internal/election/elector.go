package election

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Role is a member's part in the election.
type Role int

const (
	Idle      Role = iota // not in the election: before Join, after Leave
	Candidate             // in the election; another member leads, or none yet
	Leading               // leads with Status.Epoch; Check(Epoch) passes while the lease holds
	Suspended             // led with Status.Epoch, but leadership is in doubt: acknowledge nothing
)

func (r Role) String() string {
	switch r {
	case Idle:
		return "idle"
	case Candidate:
		return "candidate"
	case Leading:
		return "leading"
	case Suspended:
		return "suspended"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Status is a member's role and the epoch of its current or last leadership (0 if it
// never led).
type Status struct {
	Role  Role
	Epoch int64
}

// EventKind says what happened to a member's leadership.
type EventKind int

const (
	EventLeading   EventKind = iota + 1 // won: a new leadership, with a new and larger epoch
	EventSuspended                      // leadership in doubt (disconnected, or the lease lapsed)
	EventRegained                       // back from suspension: same session, same node, same epoch
	EventLost                           // over for good; the member is a candidate again (idle after Leave)
)

func (k EventKind) String() string {
	switch k {
	case EventLeading:
		return "leading"
	case EventSuspended:
		return "suspended"
	case EventRegained:
		return "regained"
	case EventLost:
		return "lost"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change of a member's leadership.
type Event struct {
	Kind   EventKind
	Epoch  int64
	Reason string // why, for Suspended and Lost
	Time   time.Time
}

// Errors of Check, Join and Leave; test with errors.Is.
var (
	ErrNotLeader = errors.New("election: not the leader")
	ErrSuspended = errors.New("election: leadership in doubt")
	ErrClosed    = errors.New("election: elector closed")
)

// Internal reasons for ending a candidacy or a session.
var (
	errNodeGone = errors.New("election node gone")
	errGiveUp   = errors.New("no confirmation from ZooKeeper for 3/4 of the session timeout")
)

const reasonLeaving = "leaving the election"

// closeWait bounds how long closing a session waits for go-zookeeper's goroutines.
const closeWait = 3 * time.Second

// snapshot is what Check reads: one atomic pointer, replaced on every change.
type snapshot struct {
	role     Role
	epoch    int64
	leaseEnd int64 // monotonic ns since Elector.base; Check fails from then on
}

// Elector is one member's participation in the election. Its methods are safe for
// concurrent use.
type Elector struct {
	cfg        Config
	log        *slog.Logger
	base       time.Time     // monotonic origin of leaseEnd
	lease      time.Duration // SessionTimeout/2
	giveUp     time.Duration // 3/4 SessionTimeout
	probeEvery time.Duration // SessionTimeout/6
	snap       atomic.Pointer[snapshot]
	events     *eventQueue

	mu       sync.Mutex
	gen      uint64 // changes on every Join and Leave
	joined   bool
	closed   bool
	leadSess *session // session of the current leadership (Leading or Suspended)
	run      *runState
}

type runState struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // of the clean-up, set before done is closed
}

// New validates cfg (Servers and Address are required) and returns an Elector that has
// not joined the election yet. Close releases it.
func New(cfg Config) (*Elector, error) {
	cfg, err := cfg.withDefaults(true)
	if err != nil {
		return nil, err
	}
	e := &Elector{
		cfg:        cfg,
		log:        cfg.Logger.With("member", cfg.Address),
		base:       time.Now(),
		lease:      cfg.SessionTimeout / 2,
		giveUp:     cfg.SessionTimeout * 3 / 4,
		probeEvery: max(cfg.SessionTimeout/6, 10*time.Millisecond),
		events:     newEventQueue(),
	}
	e.snap.Store(&snapshot{role: Idle})
	return e, nil
}

func (e *Elector) now() int64 { return int64(time.Since(e.base)) }

// Check returns nil if this member leads with epoch right now: it leads, its connection
// is not in doubt and its lease holds (see the package documentation for exactly what
// that promises, and what it cannot). Otherwise the error wraps ErrSuspended (in doubt;
// leadership may come back with the same epoch) or ErrNotLeader. It is cheap: an atomic
// load and a monotonic clock read; call it before every acknowledgement.
func (e *Elector) Check(epoch int64) error {
	s := e.snap.Load()
	if s.epoch != epoch || (s.role != Leading && s.role != Suspended) {
		return fmt.Errorf("%w with epoch %d (%s, epoch %d)", ErrNotLeader, epoch, s.role, s.epoch)
	}
	if s.role == Suspended {
		return fmt.Errorf("%w: epoch %d suspended", ErrSuspended, epoch)
	}
	if e.now() >= s.leaseEnd {
		return fmt.Errorf("%w: epoch %d: no confirmation from ZooKeeper within the lease", ErrSuspended, epoch)
	}
	return nil
}

// Status returns the member's role and epoch; a leader whose lease lapsed is reported
// Suspended.
func (e *Elector) Status() Status {
	s := e.snap.Load()
	if s.role == Leading && e.now() >= s.leaseEnd {
		return Status{Suspended, s.epoch}
	}
	return Status{s.role, s.epoch}
}

// Events returns the channel of leadership changes, in order. It is the same channel on
// every call, meant for one consumer; events queue without bound until read (there are
// few), and the channel is closed by Close.
func (e *Elector) Events() <-chan Event { return e.events.out }

// Join enters the election: the member creates its candidate node and, when it is the
// lowest, leads. It returns at once; everything else happens in the background, retried
// with backoff while ZooKeeper is unreachable. Joining a joined Elector does nothing.
func (e *Elector) Join() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.joined {
		return nil
	}
	e.gen++
	e.joined = true
	ctx, cancel := context.WithCancel(context.Background())
	r := &runState{cancel: cancel, done: make(chan struct{})}
	e.run = r
	e.snap.Store(&snapshot{role: Candidate, epoch: e.snap.Load().epoch})
	e.log.Info("election: joining", "electionPath", e.cfg.ElectionPath, "servers", e.cfg.Servers)
	go e.runSessions(ctx, e.gen, r)
	return nil
}

// Leave leaves the election. If the member leads, leadership is lost at once (Check
// fails from the moment Leave is called; EventLost), then its leader record and
// candidate node are deleted and its session closed, so that the next member takes over
// without waiting for a session timeout. It waits for that, bounded by ctx; an error means
// the handover was not confirmed (the node then goes when ZooKeeper expires the session).
// The member may Join again later.
func (e *Elector) Leave(ctx context.Context) error {
	e.mu.Lock()
	r := e.run
	if e.joined {
		e.joined = false
		e.gen++
		e.loseLocked(nil, reasonLeaving)
		e.snap.Store(&snapshot{role: Idle, epoch: e.snap.Load().epoch})
		r.cancel()
	}
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("election: leave: %w", ctx.Err())
	}
}

// Close leaves the election (waiting for the clean-up, which is bounded by OpTimeout and
// a few seconds) and closes the Events channel. It returns Leave's error.
func (e *Elector) Close() error {
	err := e.Leave(context.Background())
	e.mu.Lock()
	already := e.closed
	e.closed = true
	e.mu.Unlock()
	if !already {
		e.events.close()
	}
	return err
}

// --- state transitions; all under e.mu, each change stored as a new snapshot ---

func (e *Elector) emitLocked(kind EventKind, epoch int64, reason string) {
	ev := Event{Kind: kind, Epoch: epoch, Reason: reason, Time: time.Now()}
	e.events.push(ev)
	if kind == EventLeading || kind == EventRegained || reason == reasonLeaving {
		e.log.Info("election: "+kind.String(), "epoch", epoch)
	} else {
		e.log.Warn("election: leadership "+kind.String(), "epoch", epoch, "reason", reason)
	}
}

// becomeLeader makes s's candidacy the leadership of epoch, if this run is still the
// Elector's current one.
func (e *Elector) becomeLeader(gen uint64, s *session, epoch, leaseEnd int64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen != gen || !e.joined || s.expired.Load() {
		return false
	}
	e.leadSess = s
	e.snap.Store(&snapshot{role: Leading, epoch: epoch, leaseEnd: leaseEnd})
	e.emitLocked(EventLeading, epoch, "")
	// A disconnect that came before leadSess was set was not applied to it.
	if !s.connected.Load() {
		e.snap.Store(&snapshot{role: Suspended, epoch: epoch, leaseEnd: leaseEnd})
		e.emitLocked(EventSuspended, epoch, "disconnected from ZooKeeper")
	}
	return true
}

// renew extends the lease of s's leadership of epoch to leaseEnd, and regains a
// suspended leadership while s is connected.
func (e *Elector) renew(s *session, epoch, leaseEnd int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	if e.leadSess != s || cur.epoch != epoch || (cur.role != Leading && cur.role != Suspended) {
		return
	}
	leaseEnd = max(leaseEnd, cur.leaseEnd)
	switch {
	case cur.role == Leading:
		e.snap.Store(&snapshot{role: Leading, epoch: epoch, leaseEnd: leaseEnd})
	case s.connected.Load() && !s.expired.Load():
		e.snap.Store(&snapshot{role: Leading, epoch: epoch, leaseEnd: leaseEnd})
		e.emitLocked(EventRegained, epoch, "")
	default:
		e.snap.Store(&snapshot{role: Suspended, epoch: epoch, leaseEnd: leaseEnd})
	}
}

func (e *Elector) suspend(s *session, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	if e.leadSess != s || cur.role != Leading {
		return
	}
	e.snap.Store(&snapshot{role: Suspended, epoch: cur.epoch, leaseEnd: cur.leaseEnd})
	e.emitLocked(EventSuspended, cur.epoch, reason)
}

func (e *Elector) lose(s *session, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.loseLocked(s, reason)
}

// loseLocked ends the leadership held in s (any session if s is nil).
func (e *Elector) loseLocked(s *session, reason string) {
	cur := e.snap.Load()
	if (cur.role != Leading && cur.role != Suspended) || (s != nil && e.leadSess != s) {
		return
	}
	role := Candidate
	if !e.joined {
		role = Idle
	}
	e.leadSess = nil
	e.snap.Store(&snapshot{role: role, epoch: cur.epoch})
	e.emitLocked(EventLost, cur.epoch, reason)
}

// onSessionEvent runs on go-zookeeper's goroutine: it must not block.
func (e *Elector) onSessionEvent(s *session, ev zk.Event) {
	switch ev.State {
	case zk.StateDisconnected:
		e.suspend(s, "disconnected from ZooKeeper")
	case zk.StateExpired:
		e.lose(s, "ZooKeeper session expired")
	}
}

// --- the background work ---

// runSessions runs one session after another until the run is canceled: a session ends
// when it expires or is given up; the next one starts a new candidacy.
func (e *Elector) runSessions(ctx context.Context, gen uint64, r *runState) {
	defer close(r.done)
	var retirees sync.WaitGroup
	retireCtx, stopRetiring := context.WithCancel(context.Background())
	defer func() {
		stopRetiring()
		retirees.Wait()
	}()
	var bo backoff
	for {
		s, err := dial(e.cfg, true, e.onSessionEvent)
		if err != nil {
			e.log.Error("election: cannot create a ZooKeeper client", "err", err)
			if !bo.wait(ctx) {
				return
			}
			continue
		}
		began := time.Now()
		err = e.campaign(ctx, gen, s)
		if time.Since(began) > e.cfg.SessionTimeout {
			bo.reset() // a session that lasted: no reason to wait long before the next
		}
		if ctx.Err() != nil {
			r.err = e.resign(s)
			return
		}
		e.lose(s, err.Error())
		e.log.Warn("election: giving up the ZooKeeper session; rejoining in a new one", "reason", err)
		retirees.Add(1)
		go func() {
			defer retirees.Done()
			e.retire(retireCtx, s)
		}()
		if !bo.wait(ctx) {
			return
		}
	}
}

// retire closes a session given up on. Its nodes may still exist on the server (its
// timeout may not have run out, or a restarted server restored it): closing it as soon as
// the server can hear the close deletes them at once instead of a session timeout later.
// It waits for a connection at most 10 session timeouts; after that the nodes go when
// the server expires the session, one timeout after it last heard from it.
func (e *Elector) retire(ctx context.Context, s *session) {
	deadline := time.NewTimer(10 * e.cfg.SessionTimeout)
	defer deadline.Stop()
wait:
	for !s.connected.Load() && !s.expired.Load() {
		select {
		case <-s.poke:
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		}
	}
	if s.connected.Load() {
		// One round trip first: it goes out after go-zookeeper's SetWatches (see
		// orderedConn), and so does the close after it.
		_ = e.withOp(ctx, func(op context.Context) error { _, err := s.exists(op, "/"); return err })
	}
	if !s.close(closeWait) {
		e.log.Debug("election: a retired ZooKeeper connection is still closing")
	}
}

// resign deletes this member's leader record (if it is ours) and candidate nodes in one
// transaction and closes the session.
func (e *Elector) resign(s *session) error {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.OpTimeout)
	defer cancel()
	var err error
	var bo backoff
	// Retried within OpTimeout: a Leave right after a disconnect waits for the reconnect.
	for !s.expired.Load() && s.guid != "" {
		if err = e.deleteOwnNodes(ctx, s); err == nil || !bo.wait(ctx) {
			break
		}
	}
	if !s.close(closeWait) {
		e.log.Debug("election: the ZooKeeper connection is still closing")
	}
	if err != nil {
		return fmt.Errorf("election: leave: handover not confirmed (the node goes when the session expires): %w", err)
	}
	e.log.Info("election: left")
	return nil
}

func (e *Elector) deleteOwnNodes(ctx context.Context, s *session) error {
	kids, err := s.children(ctx, e.cfg.ElectionPath)
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		return err
	}
	var ops []any
	if st, err := s.exists(ctx, e.cfg.LeaderPath); err != nil {
		return err
	} else if st.ok && st.stat.EphemeralOwner == s.id() {
		ops = append(ops, &zk.DeleteRequest{Path: e.cfg.LeaderPath, Version: st.stat.Version})
	}
	for _, c := range parseCandidates(kids) {
		if c.guid == s.guid {
			ops = append(ops, &zk.DeleteRequest{Path: e.cfg.ElectionPath + "/" + c.name, Version: -1})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	_, err = s.multi(ctx, "delete own nodes", ops...)
	return err
}

// campaign runs candidacies in session s until the session expires or is given up
// (returning why) or ctx is canceled.
func (e *Elector) campaign(ctx context.Context, gen uint64, s *session) error {
	var bo backoff
	s.guid = newGUID()
	parentsOK := false
	for {
		if s.expired.Load() {
			return zk.ErrSessionExpired
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		if !parentsOK {
			err = e.withOp(ctx, func(op context.Context) error {
				if err := s.ensurePath(op, e.cfg.ElectionPath); err != nil {
					return err
				}
				return s.ensurePath(op, parent(e.cfg.LeaderPath))
			})
			parentsOK = err == nil
		}
		if parentsOK {
			err = e.candidacy(ctx, gen, s)
		}
		switch {
		case errors.Is(err, errNodeGone):
			// Our node was deleted: a new candidacy with a new node (and a new GUID).
			s.guid = newGUID()
			bo.reset()
			continue
		case errors.Is(err, errGiveUp), errors.Is(err, zk.ErrSessionExpired), s.expired.Load():
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, zk.ErrNoNode):
			parentsOK = false
		}
		if s.connected.Load() {
			e.log.Warn("election: retrying", "err", err)
		} else {
			e.log.Debug("election: retrying while disconnected", "err", err)
		}
		if !bo.wait(ctx) {
			return ctx.Err()
		}
	}
}

// withOp runs f with a context bounded by OpTimeout.
func (e *Elector) withOp(ctx context.Context, f func(context.Context) error) error {
	op, cancel := context.WithTimeout(ctx, e.cfg.OpTimeout)
	defer cancel()
	return f(op)
}

// candidacy finds or creates this member's node, waits for its predecessor to go, and
// leads when it is the lowest. It returns only with an error.
func (e *Elector) candidacy(ctx context.Context, gen uint64, s *session) error {
	for {
		var me, pred candidate
		err := e.withOp(ctx, func(op context.Context) error {
			var err error
			me, pred, err = e.findOrCreate(op, s)
			return err
		})
		if err != nil {
			return err
		}
		if pred.name == "" {
			return e.lead(ctx, gen, s, me)
		}
		var predW, selfW <-chan zk.Event
		err = e.withOp(ctx, func(op context.Context) error {
			st, err := s.existsW(op, e.cfg.ElectionPath+"/"+pred.name)
			if err != nil || !st.ok {
				return err
			}
			predW = st.w
			self, err := s.existsW(op, e.cfg.ElectionPath+"/"+me.name)
			if err != nil || !self.ok {
				predW = nil
				return err
			}
			selfW = self.w
			return nil
		})
		if err != nil {
			return err
		}
		if predW == nil {
			continue // the predecessor (or our node) went meanwhile: look again
		}
		e.log.Debug("election: waiting for predecessor", "node", me.name, "predecessor", pred.name)
	wait:
		for {
			select {
			case <-predW:
				break wait
			case <-selfW:
				break wait
			case <-s.poke:
				// The watches survive a reconnect within the session (go-zookeeper sets them
				// again); only an expiry ends the wait.
				if s.expired.Load() {
					return zk.ErrSessionExpired
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// findOrCreate lists the candidates and returns this member's node and its predecessor
// (empty when we are the lowest). Every node carrying our GUID is ours: the lowest is our
// candidacy, extra ones (from a create whose answer was lost, then retried) are deleted.
// Without one, it creates one and looks again.
func (e *Elector) findOrCreate(ctx context.Context, s *session) (me, pred candidate, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		kids, err := s.children(ctx, e.cfg.ElectionPath)
		if err != nil {
			return me, pred, err
		}
		cands := parseCandidates(kids)
		mine := -1
		for i, c := range cands {
			if c.guid != s.guid {
				continue
			}
			if mine < 0 {
				mine = i
				continue
			}
			if err := s.delete(ctx, e.cfg.ElectionPath+"/"+c.name, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				e.log.Warn("election: cannot delete a duplicate node of ours", "node", c.name, "err", err)
			}
		}
		if mine >= 0 {
			if mine > 0 {
				pred = cands[mine-1]
			}
			return cands[mine], pred, nil
		}
		// Whether the create succeeds or its answer is lost, the next listing tells.
		if _, err := s.create(ctx, e.cfg.ElectionPath+"/"+nodePrefix(s.guid), []byte(e.cfg.Address), zk.FlagEphemeral|zk.FlagSequence); err != nil {
			e.log.Debug("election: create failed; looking for our node", "err", err)
			if errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrSessionExpired) {
				return me, pred, err
			}
		}
	}
	return me, pred, errors.New("election: our candidate node cannot be found after creating it")
}

// lead draws the epoch, publishes the leader record, reports leadership and keeps it.
func (e *Elector) lead(ctx context.Context, gen uint64, s *session, me candidate) error {
	node := e.cfg.ElectionPath + "/" + me.name
	t0 := e.now()
	var epoch int64
	err := e.withOp(ctx, func(op context.Context) error {
		// The epoch is the zxid of this write, which succeeds only while our node exists.
		st, err := s.set(op, node, []byte(e.cfg.Address), -1)
		if err != nil {
			if errors.Is(err, zk.ErrNoNode) {
				return errNodeGone
			}
			return err
		}
		epoch = st.Mzxid
		return e.publish(op, s, node, Leader{Address: e.cfg.Address, Epoch: epoch})
	})
	if err != nil {
		return err
	}
	if !e.becomeLeader(gen, s, epoch, t0+int64(e.lease)) {
		return ctx.Err()
	}
	return e.hold(ctx, s, node, epoch, t0)
}

// publish writes {address, epoch} at LeaderPath as an ephemeral node of s, in a
// transaction that checks our election node still exists. A record left by another
// session (which no longer leads: our node is the lowest) is replaced.
func (e *Elector) publish(ctx context.Context, s *session, node string, l Leader) error {
	acl := zk.WorldACL(zk.PermAll)
	check := &zk.CheckVersionRequest{Path: node, Version: -1}
	for attempt := 0; attempt < 4; attempt++ {
		res, err := s.multi(ctx, "publish "+e.cfg.LeaderPath, check,
			&zk.CreateRequest{Path: e.cfg.LeaderPath, Data: l.encode(), Acl: acl, Flags: zk.FlagEphemeral})
		if err == nil {
			return nil
		}
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrNoNode) {
			return errNodeGone
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
		cur, err := s.exists(ctx, e.cfg.LeaderPath)
		if err != nil {
			return err
		}
		if !cur.ok {
			continue
		}
		var op any = &zk.DeleteRequest{Path: e.cfg.LeaderPath, Version: cur.stat.Version}
		if cur.stat.EphemeralOwner == s.id() {
			op = &zk.SetDataRequest{Path: e.cfg.LeaderPath, Data: l.encode(), Version: cur.stat.Version}
		} else {
			e.log.Warn("election: replacing a leader record left by another session", "path", e.cfg.LeaderPath)
		}
		res, err = s.multi(ctx, "replace "+e.cfg.LeaderPath, check, op)
		switch {
		case err == nil:
			if _, set := op.(*zk.SetDataRequest); set {
				return nil
			}
		case len(res) > 0 && errors.Is(res[0].Error, zk.ErrNoNode):
			return errNodeGone
		case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNoNode):
		default:
			return err
		}
	}
	return fmt.Errorf("election: publishing at %s: contended", e.cfg.LeaderPath)
}

// probeResult is one confirmation of a leadership.
type probeResult struct {
	t0        int64 // when the confirming request was sent
	err       error
	selfW     <-chan zk.Event // set when the probe armed the watch on our node
	leaderW   <-chan zk.Event // set when the probe armed the watch on LeaderPath
	republish bool            // LeaderPath is missing or not ours
}

// hold keeps the leadership of epoch: it confirms it every probeEvery (renewing the
// lease), suspends it when the lease lapses, regains it after a reconnect, republishes
// the leader record if it goes, and returns when the leadership is lost.
func (e *Elector) hold(ctx context.Context, s *session, node string, epoch, lastOK int64) error {
	holdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ticker := time.NewTicker(e.probeEvery)
	defer ticker.Stop()
	timer := time.NewTimer(time.Duration(lastOK + int64(e.lease) - e.now()))
	defer timer.Stop()
	results := make(chan probeResult, 1)
	probing, republish := false, false
	var selfW, leaderW <-chan zk.Event
	startProbe := func() {
		if probing {
			return
		}
		probing = true
		armSelf, armLeader, pub := selfW == nil, leaderW == nil, republish
		// A probe that cannot answer before we would give up is useless: bound it so.
		deadline := time.Duration(lastOK + int64(e.giveUp) - e.now())
		go func() {
			op, cancel := context.WithTimeout(holdCtx, min(e.cfg.OpTimeout, max(deadline, time.Millisecond)))
			defer cancel()
			results <- e.probe(op, s, node, epoch, armSelf, armLeader, pub)
		}()
	}
	startProbe()
	for {
		if e.now()-lastOK >= int64(e.giveUp) {
			return errGiveUp
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.poke:
			if s.expired.Load() {
				return zk.ErrSessionExpired
			}
			if s.connected.Load() {
				startProbe() // reconnected: confirm at once to regain
			}
		case ev := <-selfW:
			selfW = nil
			if ev.Type == zk.EventNodeDeleted {
				e.lose(s, "our election node was deleted")
				e.unpublish(s)
				return errNodeGone
			}
		case <-leaderW:
			// Changed or deleted, perhaps by our own write: the next probe reads it and
			// republishes only if it is missing or not ours.
			leaderW = nil
			startProbe()
		case r := <-results:
			probing = false
			if errors.Is(r.err, errNodeGone) {
				e.lose(s, "our election node is gone")
				e.unpublish(s)
				return errNodeGone
			}
			if r.err != nil {
				e.log.Debug("election: confirmation failed", "err", r.err)
				break
			}
			lastOK = max(lastOK, r.t0)
			e.renew(s, epoch, lastOK+int64(e.lease))
			if r.selfW != nil {
				selfW = r.selfW
			}
			if r.leaderW != nil {
				leaderW = r.leaderW
			}
			republish = r.republish
			timer.Reset(time.Duration(lastOK + int64(e.lease) - e.now()))
		case <-ticker.C:
			startProbe()
		case <-timer.C:
			if e.now() >= lastOK+int64(e.lease) {
				e.suspend(s, "lease lapsed: no confirmation from ZooKeeper")
				timer.Reset(time.Duration(lastOK + int64(e.giveUp) - e.now()))
			}
		}
	}
}

// probe confirms that node is still the lowest candidate in s, arming the watches asked
// for and republishing the leader record if asked.
func (e *Elector) probe(ctx context.Context, s *session, node string, epoch int64, armSelf, armLeader, republish bool) probeResult {
	r := probeResult{t0: e.now()}
	kids, err := s.children(ctx, e.cfg.ElectionPath)
	if err != nil {
		r.err = err
		return r
	}
	cands := parseCandidates(kids)
	if len(cands) == 0 || e.cfg.ElectionPath+"/"+cands[0].name != node {
		// Sequences only grow, so a node of ours that is not the lowest is gone.
		r.err = errNodeGone
		return r
	}
	if armSelf {
		if st, err := s.existsW(ctx, node); err == nil {
			if !st.ok {
				r.err = errNodeGone
				return r
			}
			r.selfW = st.w
		}
	}
	want := Leader{Address: e.cfg.Address, Epoch: epoch}
	if republish {
		if err := e.publish(ctx, s, node, want); err != nil {
			e.log.Warn("election: republishing the leader record failed", "err", err)
		}
		armLeader = true
	}
	if armLeader {
		d, err := s.getW(ctx, e.cfg.LeaderPath)
		switch {
		case err == nil:
			r.leaderW = d.w
			r.republish = d.stat.EphemeralOwner != s.id() || !bytes.Equal(d.b, want.encode())
		case errors.Is(err, zk.ErrNoNode):
			if st, err := s.existsW(ctx, e.cfg.LeaderPath); err == nil {
				r.leaderW = st.w
				r.republish = true
			}
		}
	}
	return r
}

// unpublish deletes the leader record if it is ours (best effort: it is ephemeral).
func (e *Elector) unpublish(s *session) {
	_ = e.withOp(context.Background(), func(op context.Context) error {
		st, err := s.exists(op, e.cfg.LeaderPath)
		if err != nil || !st.ok || st.stat.EphemeralOwner != s.id() {
			return err
		}
		return s.delete(op, e.cfg.LeaderPath, st.stat.Version)
	})
}

// eventQueue delivers events in order on one channel without ever blocking the elector.
type eventQueue struct {
	mu   sync.Mutex
	buf  []Event
	out  chan Event
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newEventQueue() *eventQueue {
	q := &eventQueue{out: make(chan Event), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) loop() {
	defer close(q.done)
	defer close(q.out)
	for {
		q.mu.Lock()
		if len(q.buf) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.stop:
				return
			}
		}
		ev := q.buf[0]
		q.mu.Unlock()
		select {
		case q.out <- ev:
			q.mu.Lock()
			q.buf = q.buf[1:]
			q.mu.Unlock()
		case <-q.stop:
			return
		}
	}
}

func (q *eventQueue) close() {
	close(q.stop)
	<-q.done
}
