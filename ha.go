package unifiedfs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/election"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/journal"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/internal/rpc"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// High availability, as Alluxio's "Running Alluxio with High Availability": several
// processes embed unifiedfs with the same HAConfig and form one namespace. ZooKeeper
// elects the leader, which applies and journals every mutation to a journal on shared
// storage; the others are standbys: they replay the journal as it grows (through the same
// namespace.Apply), serve reads from what they replayed, refuse mutations with
// ErrNotLeader, and take over when the leader dies. Leadership is ZooKeeper's; history is
// the journal's (see internal/journal's Epochs for how a deposed leader is fenced).

// HAConfig makes an FS a member of a highly available namespace. The zero value (no
// ZooKeeper servers) means a single process.
type HAConfig struct {
	// ZooKeeper lists the servers, host:port each (alluxio.zookeeper.address).
	ZooKeeper []string
	// ElectionPath and LeaderPath are the znodes of the election and of the leader's
	// address (alluxio.zookeeper.election.path, alluxio.zookeeper.leader.path; defaults
	// /alluxio/election and /alluxio/leader).
	ElectionPath, LeaderPath string
	// SessionTimeout is the ZooKeeper session timeout (alluxio.zookeeper.session.timeout,
	// default 60s): how fast a dead leader is replaced.
	SessionTimeout time.Duration
	// Journal is the shared journal's location (alluxio.master.journal.folder): a UFS URI
	// of a filesystem every member reaches, file:///shared/dir (NFS, GlusterFS) or
	// hdfs://namenode:port/path. Object stores cannot append or flush and are refused.
	Journal string
	// JournalOptions are the journal UFS's driver options (HDFS configuration, Kerberos).
	JournalOptions map[string]string
	// Address is this member's advertised host:port (alluxio.master.hostname and
	// alluxio.master.rpc.port), published in ZooKeeper while it leads.
	Address string
	// TailInterval is how often a standby reads what the leader appended (default 50ms).
	TailInterval time.Duration
	// Secret is the cluster's shared secret (unifiedfs.cluster.secret, or the content of
	// unifiedfs.cluster.secret.file): every call between members and from clients carries
	// proof of it (see internal/rpc). Required.
	Secret []byte
	// Listen is the address the member's RPC service listens on (default: Address).
	Listen string
	// TLSCert and TLSKey, when set, make the service HTTPS with that certificate; TLSCA
	// is the PEM file of the CA that calls to other members trust (default: the system's).
	TLSCert, TLSKey, TLSCA string
	// ForwardTimeout bounds how long a mutation forwarded to the leader waits for one
	// during a failover before it fails with ErrNoLeader (default 30s).
	ForwardTimeout time.Duration
}

func (h HAConfig) enabled() bool { return len(h.ZooKeeper) > 0 }

// Enabled reports whether h configures a highly available namespace (ZooKeeper servers set).
func (h HAConfig) Enabled() bool { return h.enabled() }

// SessionTimeoutOrDefault returns SessionTimeout, or its default (Alluxio's 60s).
func (h HAConfig) SessionTimeoutOrDefault() time.Duration {
	if h.SessionTimeout > 0 {
		return h.SessionTimeout
	}
	return election.DefaultSessionTimeout
}

// MemberRole is a member's part in the namespace.
type MemberRole int

const (
	// Single: not highly available; this process is the whole namespace.
	Single MemberRole = iota
	// Leader: applies and journals every mutation.
	Leader
	// Standby: replays the leader's journal; mutations fail with ErrNotLeader.
	Standby
	// Suspended: was leading, but its ZooKeeper session is in doubt; it acknowledges
	// nothing until the session is confirmed (Leader again) or lost (Standby).
	Suspended
)

func (r MemberRole) String() string {
	switch r {
	case Single:
		return "SINGLE"
	case Leader:
		return "LEADER"
	case Standby:
		return "STANDBY"
	case Suspended:
		return "SUSPENDED"
	}
	return fmt.Sprintf("MemberRole(%d)", int(r))
}

// RoleInfo is what FS.Role reports.
type RoleInfo struct {
	Role MemberRole
	// Epoch is the leader term this member leads (or last led), 0 if never.
	Epoch int64
	// Address is this member's advertised address; LeaderAddress the current leader's
	// ("" when none is known).
	Address, LeaderAddress string
	// AppliedSeq is the last journal entry this member applied; JournalSeq the last one in
	// the journal as this member knows it (the leader: appended). Lag is their difference.
	AppliedSeq, JournalSeq, Lag uint64
	// CaughtUp is when a standby last had applied everything it found in the journal.
	CaughtUp time.Time
}

// Role returns this member's role in the namespace and its replay position.
func (f *FS) Role() RoleInfo {
	if f.remote != nil { // a remote client: the leader's
		var ri RoleInfo
		if err := f.remoteCall(f.ctx, "role", ufs.Root, "/role", nil, &ri); err != nil {
			f.log.Warn("unifiedfs: the leader's role", "err", err)
		}
		return ri
	}
	h := f.ha
	if h == nil {
		ri := RoleInfo{Role: Single}
		if j := f.jnl(); j != nil {
			ri.AppliedSeq, ri.JournalSeq = j.LastSeq(), j.LastSeq()
		}
		return ri
	}
	ri := RoleInfo{Role: h.role(), Epoch: h.epoch.Load(), Address: h.cfg.Address, AppliedSeq: h.applied.Load()}
	if l, ok := h.watcher.Current(); ok {
		ri.LeaderAddress = l.Address
	}
	if j := f.jnl(); j != nil && ri.Role == Leader {
		ri.AppliedSeq = j.LastSeq()
	}
	ri.JournalSeq = max(h.known.Load(), ri.AppliedSeq)
	ri.Lag = ri.JournalSeq - ri.AppliedSeq
	if t := h.caughtUp.Load(); t != 0 {
		ri.CaughtUp = time.Unix(0, t)
	}
	return ri
}

// haMember runs this FS's part in the highly available namespace.
type haMember struct {
	f       *FS
	cfg     HAConfig
	st      journal.Storage
	stClose func() error
	elector *election.Elector
	watcher *election.Watcher

	peer   peer // the leader, for forwarding (rpc and watcher)
	rpc    *rpc.Client
	server *http.Server
	kickC  chan struct{} // asks the loop to tail now

	roleV     atomic.Int32
	epoch     atomic.Int64
	applied   atomic.Uint64 // last journal seq applied; set through setApplied
	appliedMu sync.Mutex
	appliedC  chan struct{} // closed when applied advances, then replaced
	known     atomic.Uint64 // last journal seq seen
	caughtUp  atomic.Int64  // unix ns

	follower *journal.Follower // owned by the run loop
	failed   chan struct{}     // the journal failed while leading: resign
	stop     chan struct{}
	done     chan struct{}
	closeMu  sync.Once
}

func (h *haMember) role() MemberRole { return MemberRole(h.roleV.Load()) }

// openSharedJournal opens the journal storage HAConfig.Journal names.
func (f *FS) openSharedJournal(ctx context.Context, cfg HAConfig) (journal.Storage, func() error, error) {
	u, err := ufs.ParseURI(cfg.Journal)
	if err != nil {
		return nil, nil, fmt.Errorf("unifiedfs: HA journal %q: %w", cfg.Journal, err)
	}
	if u.Scheme == "file" {
		st, err := journal.NewDirStorage("/" + strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return nil, nil, fmt.Errorf("unifiedfs: HA journal %s: %w", cfg.Journal, err)
		}
		return st, func() error { return nil }, nil
	}
	opened, err := f.reg.Open(ctx, cfg.Journal, cfg.JournalOptions)
	if err != nil {
		return nil, nil, fmt.Errorf("unifiedfs: HA journal %s: %w", cfg.Journal, err)
	}
	st, err := journal.NewUFSStorage(opened, ufs.Root)
	if err != nil {
		_ = opened.Close()
		return nil, nil, fmt.Errorf("unifiedfs: HA journal %s: %w", cfg.Journal, err)
	}
	return st, opened.Close, nil
}

// startHA makes f a standby of the namespace cfg describes: it replays the shared
// journal, then tails it and joins the election once caught up.
func (f *FS) startHA(ctx context.Context) error {
	cfg := f.cfg.HA
	if cfg.Journal == "" {
		return errorf(fs.ErrInvalid, "unifiedfs: HA needs HAConfig.Journal (alluxio.master.journal.folder), a shared file:// or hdfs:// location")
	}
	if cfg.Address == "" {
		return errorf(fs.ErrInvalid, "unifiedfs: HA needs HAConfig.Address (alluxio.master.hostname and alluxio.master.rpc.port)")
	}
	if cfg.TailInterval <= 0 {
		cfg.TailInterval = 50 * time.Millisecond
	}
	st, stClose, err := f.openSharedJournal(ctx, cfg)
	if err != nil {
		return err
	}
	ecfg := election.Config{Servers: cfg.ZooKeeper, ElectionPath: cfg.ElectionPath, LeaderPath: cfg.LeaderPath,
		SessionTimeout: cfg.SessionTimeout, Address: cfg.Address, Logger: f.log}
	el, err := election.New(ecfg)
	if err != nil {
		_ = stClose()
		return fmt.Errorf("unifiedfs: HA: %w", err)
	}
	w, err := election.NewWatcher(ecfg)
	if err != nil {
		_ = el.Close()
		_ = stClose()
		return fmt.Errorf("unifiedfs: HA: %w", err)
	}
	if len(cfg.Secret) == 0 {
		_ = el.Close()
		w.Close()
		_ = stClose()
		return errorf(fs.ErrInvalid, "unifiedfs: HA needs a cluster secret (HAConfig.Secret, unifiedfs.cluster.secret or unifiedfs.cluster.secret.file)")
	}
	client, err := newRPCClient(cfg)
	if err != nil {
		_ = el.Close()
		w.Close()
		_ = stClose()
		return err
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = DefaultForwardTimeout
	}
	h := &haMember{f: f, cfg: cfg, st: st, stClose: stClose, elector: el, watcher: w, rpc: client,
		peer:   peer{watcher: w, zk: ecfg, rpc: client, self: cfg.Address, timeout: cfg.ForwardTimeout},
		failed: make(chan struct{}, 1), kickC: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	h.roleV.Store(int32(Standby))
	h.peer.leads = func() bool { return h.role() == Leader }
	f.ha = h
	if err := h.rebuild(ctx); err != nil {
		h.shutdownResources()
		f.ha = nil
		return err
	}
	if err := h.serve(); err != nil {
		h.shutdownResources()
		f.ha = nil
		return err
	}
	go h.run()
	return nil
}

// serve starts the member's RPC service.
func (h *haMember) serve() error {
	addr := h.cfg.Listen
	if addr == "" {
		addr = h.cfg.Address
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("unifiedfs: HA: the member's RPC service: %w", err)
	}
	h.server = &http.Server{Handler: h.f.rpcServer(h.cfg.Secret), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		var err error
		if h.cfg.TLSCert != "" {
			err = h.server.ServeTLS(ln, h.cfg.TLSCert, h.cfg.TLSKey)
		} else {
			err = h.server.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.f.log.Error("unifiedfs: HA: the member's RPC service stopped", "err", err)
		}
	}()
	return nil
}

// newRPCClient returns the client for calls to members, HTTPS when cfg has TLS.
func newRPCClient(cfg HAConfig) (*rpc.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	c := &rpc.Client{HTTP: &http.Client{Transport: tr}, Secret: cfg.Secret}
	if cfg.TLSCert != "" || cfg.TLSCA != "" {
		c.Scheme = "https"
		if cfg.TLSCA != "" {
			pem, err := os.ReadFile(cfg.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("unifiedfs: HA: TLS CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errorf(fs.ErrInvalid, "unifiedfs: HA: TLS CA %s holds no certificate", cfg.TLSCA)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
	}
	return c, nil
}

// memberAnswers reports whether the member at addr answers a call.
func (h *haMember) memberAnswers(addr string) bool {
	ctx, cancel := context.WithTimeout(h.f.ctx, 3*time.Second)
	defer cancel()
	var ri RoleInfo
	return h.rpc.Call(ctx, addr, "GET", "/role", nil, nil, &ri) == nil
}

// checkHolders runs on the leader: the unpersisted files of a member that stopped
// answering are lost (their only copy was its cache).
func (h *haMember) checkHolders(misses map[string]int) {
	f := h.f
	for holder, ids := range f.ns().Holders() {
		if holder == h.cfg.Address {
			continue
		}
		if h.memberAnswers(holder) {
			delete(misses, holder)
			continue
		}
		if misses[holder]++; misses[holder] < 2 {
			continue
		}
		f.log.Warn("unifiedfs: HA: a member holding unpersisted files is gone; they are lost", "member", holder, "files", len(ids))
		lost := map[uint64]bool{}
		for _, id := range ids {
			lost[id] = true
		}
		var walk func(p string, in *inode.Inode)
		walk = func(p string, in *inode.Inode) {
			if in.IsDir() {
				in.Dir().Range(func(c *inode.Inode) bool { walk(ufs.Join(p, c.Name), c); return true })
				return
			}
			if lost[in.ID] && in.Persist() != inode.Persisted && in.Persist() != inode.Lost {
				f.markLost(p, in)
			}
		}
		walk(ufs.Root, f.ns().Root())
		delete(misses, holder)
	}
}

// setApplied records that this member applied the journal up to seq and wakes whoever
// waits for it (a forwarded mutation reading its own write).
func (h *haMember) setApplied(seq uint64) {
	h.appliedMu.Lock()
	h.applied.Store(seq)
	if h.appliedC != nil {
		close(h.appliedC)
		h.appliedC = nil
	}
	h.appliedMu.Unlock()
}

// appliedChanged returns a channel closed the next time applied advances.
func (h *haMember) appliedChanged() <-chan struct{} {
	h.appliedMu.Lock()
	defer h.appliedMu.Unlock()
	if h.appliedC == nil {
		h.appliedC = make(chan struct{})
	}
	return h.appliedC
}

// kick asks the loop to read the journal now (a forwarded mutation waits for it).
func (h *haMember) kick() {
	select {
	case h.kickC <- struct{}{}:
	default:
	}
}

// run is the member's loop: tail the journal while a standby, join the election once
// caught up, and follow the elector's events.
func (h *haMember) run() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.TailInterval)
	defer t.Stop()
	holders := time.NewTicker(h.cfg.SessionTimeoutOrDefault())
	defer holders.Stop()
	misses := map[string]int{}
	joined := false
	for {
		select {
		case <-h.stop:
			return
		case <-holders.C:
			if h.role() == Leader {
				h.checkHolders(misses)
			}
		case ev, ok := <-h.elector.Events():
			if !ok {
				return
			}
			h.onEvent(ev)
		case <-h.failed:
			if h.role() == Leader || h.role() == Suspended {
				h.f.log.Warn("unifiedfs: HA: the journal failed; giving the leadership up")
				h.resign()
			}
		case <-h.kickC:
			if h.role() == Standby {
				h.tail()
			}
		case <-t.C:
			if h.role() != Standby {
				continue
			}
			if caught := h.tail(); caught && !joined {
				if err := h.elector.Join(); err != nil {
					h.f.log.Warn("unifiedfs: HA: cannot join the election", "err", err)
					continue
				}
				joined = true
			}
		}
	}
}

// tail applies what the leader appended since the last call; it reports whether the
// member has caught up (nothing new, no error).
func (h *haMember) tail() bool {
	f := h.f
	if h.follower == nil {
		if err := h.rebuild(f.ctx); err != nil {
			f.log.Warn("unifiedfs: HA: cannot read the journal", "err", err)
			return false
		}
	}
	_, epoch := h.follower.Position()
	recs, err := h.follower.Next()
	if _, now := h.follower.Position(); now > epoch {
		f.listingsStale() // a new leader's epoch began: see listingsStale
	}
	for _, r := range recs {
		e, uerr := namespace.Unmarshal(r.Data)
		if uerr != nil {
			f.log.Error("unifiedfs: HA: undecodable journal entry; rebuilding", "seq", r.Seq, "err", uerr)
			h.follower = nil
			return false
		}
		if aerr := f.replayEntry(f.ctx, e); aerr != nil {
			f.log.Debug("unifiedfs: journal entry skipped on replay", "seq", r.Seq, "op", e.Op.String(), "path", ufs.Rooted(e.Path), "err", aerr)
		}
		h.setApplied(r.Seq)
		h.known.Store(max(h.known.Load(), r.Seq))
	}
	switch {
	case errors.Is(err, journal.ErrDiverged), errors.Is(err, journal.ErrCompacted):
		f.log.Warn("unifiedfs: HA: rebuilding the namespace from the journal", "reason", err)
		h.follower = nil
		return false
	case err != nil:
		f.log.Warn("unifiedfs: HA: reading the journal", "err", err)
		return false
	}
	if len(recs) == 0 {
		h.caughtUp.Store(time.Now().UnixNano())
		return true
	}
	return false
}

// rebuild replaces the namespace state with the journal's: the newest checkpoint and every
// entry after it; the follower then continues from there.
func (h *haMember) rebuild(ctx context.Context) error {
	fo, rec, err := journal.Follow(h.st, journal.Options{Logf: h.logf})
	if err != nil {
		return fmt.Errorf("unifiedfs: HA journal %s: %w", h.cfg.Journal, err)
	}
	if err := h.f.rebuildFrom(ctx, rec); err != nil {
		return err
	}
	h.follower = fo
	seq, _ := fo.Position()
	h.setApplied(seq)
	h.known.Store(max(h.known.Load(), seq))
	return nil
}

func (h *haMember) logf(format string, args ...any) { h.f.log.Warn(fmt.Sprintf(format, args...)) }

func (h *haMember) onEvent(ev election.Event) {
	f := h.f
	switch ev.Kind {
	case election.EventLeading:
		if err := h.lead(ev.Epoch); err != nil {
			f.log.Error("unifiedfs: HA: won the election but cannot lead; leaving it", "epoch", ev.Epoch, "err", err)
			h.resign()
		}
	case election.EventSuspended:
		if h.role() == Leader {
			h.roleV.Store(int32(Suspended))
		}
	case election.EventRegained:
		if h.role() == Suspended && h.epoch.Load() == ev.Epoch && f.jnl() != nil {
			h.roleV.Store(int32(Leader))
		}
	case election.EventLost:
		if h.role() == Leader || h.role() == Suspended {
			h.stepDown(ev.Reason)
		}
	}
}

// resign gives the election up and, after a pause that lets another member take over
// (or the journal's storage come back), joins it again.
func (h *haMember) resign() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.elector.Leave(ctx)
	if h.role() != Standby {
		h.stepDown("resigned")
	}
	select {
	case <-time.After(h.cfg.SessionTimeoutOrDefault() / 2): // a deliberate pause before rejoining
	case <-h.stop:
		return
	}
	_ = h.elector.Join()
}

// journalFailed tells the member's loop that the journal failed under a mutation.
func (h *haMember) journalFailed() {
	select {
	case h.failed <- struct{}{}:
	default:
	}
}

// lead takes the journal over as the leader of epoch: it fences the previous leader,
// applies the history's end and starts acknowledging mutations.
func (h *haMember) lead(epoch int64) error {
	f := h.f
	j, rec, err := journal.OpenEpoch(h.st, uint64(epoch), journal.Options{
		Logf:  h.logf,
		Fence: func() error { return h.elector.Check(epoch) },
	})
	if err != nil {
		return err
	}
	applied := h.applied.Load()
	last := rec.CheckpointSeq
	if n := len(rec.Entries); n > 0 {
		last = rec.Entries[n-1].Seq
	}
	if applied < rec.CheckpointSeq || applied > last || h.follower == nil {
		// Behind a compaction, or ahead of the history (a deposed leader's tail): start over.
		if err := f.rebuildFrom(f.ctx, rec); err != nil {
			_ = j.Close()
			return err
		}
	} else {
		for _, r := range rec.Entries {
			if r.Seq <= applied {
				continue
			}
			e, err := namespace.Unmarshal(r.Data)
			if err != nil {
				_ = j.Close()
				return fmt.Errorf("unifiedfs: journal entry %d: %w", r.Seq, err)
			}
			if err := f.replayEntry(f.ctx, e); err != nil {
				f.log.Debug("unifiedfs: journal entry skipped on replay", "seq", r.Seq, "op", e.Op.String(), "err", err)
			}
		}
	}
	h.follower = nil
	h.setApplied(last)
	h.known.Store(max(h.known.Load(), last))
	f.applyMu.Lock()
	f.jrn.Store(j)
	f.applyMu.Unlock()
	f.startIDs()
	h.epoch.Store(epoch)
	// What only the deposed leader's cache held is lost; the rest of the async-persist
	// queue goes on here. Done before serving, so that no client sees the state between.
	f.recoverFiles()
	f.listingsStale()
	h.roleV.Store(int32(Leader))
	f.log.Info("unifiedfs: HA: leading", "epoch", epoch, "address", h.cfg.Address, "seq", last)
	if len(f.ns().SyncPoints()) > 0 {
		f.startActiveLoop()
	}
	return nil
}

// stepDown ends this member's leadership: it stops acknowledging, closes its journal and
// rebuilds its state from the journal (dropping whatever it applied that was never
// acknowledged), and goes back to tailing as a standby.
func (h *haMember) stepDown(reason string) {
	f := h.f
	h.roleV.Store(int32(Standby))
	f.log.Warn("unifiedfs: HA: leadership lost; back to standby", "epoch", h.epoch.Load(), "reason", reason)
	f.applyMu.Lock()
	j := f.jrn.Swap(nil)
	f.applyMu.Unlock()
	f.writers.cancelAll(fmt.Errorf("%w: this member lost its leadership while the file was written", ErrNotLeader))
	if f.persist != nil {
		f.persist.cancelUnder(ufs.Root)
	}
	if j != nil {
		_ = j.Close()
	}
	h.follower = nil
	if err := h.rebuild(f.ctx); err != nil {
		f.log.Warn("unifiedfs: HA: rebuilding after losing leadership", "err", err)
	}
}

// close leaves the election (handing leadership over) and stops the member.
func (h *haMember) close() error {
	var err error
	h.closeMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = h.elector.Leave(ctx)
		cancel()
		h.roleV.Store(int32(Standby))
		close(h.stop)
		<-h.done
		h.shutdownResources()
	})
	return err
}

func (h *haMember) shutdownResources() {
	if h.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.server.Shutdown(ctx)
		cancel()
	}
	_ = h.elector.Close()
	h.watcher.Close()
	if h.stClose != nil {
		_ = h.stClose()
	}
}

// checkLeader fails, with ErrNotLeader naming the leader, on a member that may not
// mutate the namespace now: a standby, or a leader whose session is in doubt.
func (f *FS) checkLeader(op, p string) error {
	h := f.ha
	if h == nil {
		return nil
	}
	switch h.role() {
	case Leader:
		// The elector's lease, not just the role: a leader resumed from a pause longer
		// than its session must not start a mutation (it would do UFS I/O first).
		if err := h.elector.Check(h.epoch.Load()); err != nil {
			return pathErr(op, p, errorf(ErrNotLeader, "this member's leadership is in doubt (%v): retry", err))
		}
		return nil
	case Suspended:
		return pathErr(op, p, errorf(ErrNotLeader, "this member's leadership is in doubt (its ZooKeeper session): retry"))
	}
	if l, ok := h.watcher.Current(); ok && l.Address != h.cfg.Address {
		return pathErr(op, p, errorf(ErrNotLeader, "this member is a standby; the leader is %s", l.Address))
	}
	return pathErr(op, p, errorf(ErrNotLeader, "this member is a standby and no leader is known yet"))
}

// rebuildFrom replaces the namespace state with the one rec describes (a checkpoint and
// the entries after it), built aside and swapped in at once. Mount handles are kept for
// mounts that did not change, opened for new ones, and closed for those gone; the blocks
// of unpersisted versions the new state no longer holds are released.
func (f *FS) rebuildFrom(ctx context.Context, rec *journal.Recovered) error {
	entries, err := recoveredEntries(rec)
	if err != nil {
		return err
	}
	old := f.ns()
	root := f.rootMount()
	ns := namespace.New(f.nsConfig)
	if _, err := ns.Apply(&namespace.Entry{Op: namespace.OpMount, Path: ufs.Root, Mount: root.Record()}); err != nil {
		return err
	}
	skipped := 0
	for _, e := range entries {
		if _, err := ns.Apply(e); err != nil {
			skipped++
		}
	}
	if skipped > 0 {
		f.log.Warn("unifiedfs: journal replay skipped entries that no longer apply", "skipped", skipped, "entries", len(entries))
	}
	// Mount handles: keep the unchanged, open the new (outside any lock), close the rest.
	cur := *f.mounts.Load()
	next := map[uint32]*mount{}
	var opened []*mount
	for _, nm := range ns.Mounts().Below(ufs.Root, true) {
		if h := cur[nm.ID]; h != nil && sameMount(h.Mount, nm) {
			next[nm.ID] = &mount{Mount: nm, ufs: h.ufs, caps: h.caps}
			continue
		}
		u := f.reopenMount(ctx, nm.Record())
		m := &mount{Mount: nm, ufs: u, caps: u.Capabilities()}
		next[nm.ID], opened = m, append(opened, m)
	}
	f.applyMu.Lock()
	var closing []*mount
	for id, h := range *f.mounts.Load() {
		if n := next[id]; n == nil || n.ufs != h.ufs {
			closing = append(closing, h)
		}
	}
	released := unpersistedIDs(old.Root())
	for id := range unpersistedIDs(ns.Root()) {
		delete(released, id)
	}
	f.nsp.Store(ns)
	f.mounts.Store(&next)
	f.absent.clear()
	ids := make([]uint64, 0, len(released))
	for id := range released {
		ids = append(ids, id)
	}
	f.versions.treeReleased(f, ids)
	f.applyMu.Unlock()
	f.closeMounts(closing)
	_ = opened
	return nil
}

func sameMount(a, b *namespace.Mount) bool {
	if a.ID != b.ID || a.URI != b.URI || a.Path != b.Path || a.ReadOnly != b.ReadOnly || a.Shared != b.Shared || len(a.Options) != len(b.Options) {
		return false
	}
	for k, v := range a.Options {
		if b.Options[k] != v {
			return false
		}
	}
	return true
}

// unpersistedIDs returns the content ids of the files below in that only the cache holds.
func unpersistedIDs(in *inode.Inode) map[uint64]bool {
	out := map[uint64]bool{}
	var walk func(*inode.Inode)
	walk = func(in *inode.Inode) {
		if !in.IsDir() {
			if in.Persist() != inode.Persisted {
				out[in.ID] = true
			}
			return
		}
		in.Dir().Range(func(c *inode.Inode) bool { walk(c); return true })
	}
	walk(in)
	return out
}
