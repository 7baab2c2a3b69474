package unifiedfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/election"
	"github.com/unifiedfs/unifiedfs/internal/rpc"
)

// Forwarding: on a standby, or in a remote client (Dial), a mutation is sent to the
// leader, which applies it as its own (UFS I/O included) and answers the journal seq of
// its entry; a standby then waits until its own replay applied that seq, so that it reads
// its own writes. During a failover the call waits for the new leader, up to the forward
// timeout, then fails with ErrNoLeader. Each mutation carries a request id that the
// leader journals with its entry, so that a retry after the leader died between its
// journal commit and its answer is not applied twice.

// DefaultForwardTimeout bounds how long a forwarded mutation waits for a leader.
const DefaultForwardTimeout = 30 * time.Second

// peer is what a process that is not the leader needs to reach it: the leader's record
// from ZooKeeper and an authenticated RPC client.
type peer struct {
	// leads reports whether this process leads now (it then stops forwarding); nil for a
	// remote client.
	leads   func() bool
	watcher *election.Watcher
	zk      election.Config // for a fresh read when the watcher's record keeps failing
	rpc     *rpc.Client
	self    string        // this member's address ("" for a remote client)
	timeout time.Duration // how long to wait for a leader
}

// forwarder returns the peer to send a mutation to, or nil when this process applies it
// itself (a single process, the leader, or a call another member sent it).
func (f *FS) forwarder(ctx context.Context) *peer {
	switch {
	case f.remote != nil:
		return f.remote
	case f.ha == nil || isServing(ctx):
		return nil
	case f.ha.role() == Leader:
		return nil
	}
	return &f.ha.peer
}

func newReqID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// toLeader runs call against the current leader until it succeeds, fails for a reason of
// its own, or no leader answers within the peer's timeout (ErrNoLeader).
func (p *peer) toLeader(ctx context.Context, op, path string, call func(ctx context.Context, addr string) error) error {
	deadline := time.Now().Add(p.timeout)
	var last error
	var prev election.Leader
	failures := 0 // consecutive failures of the same leader record
	for attempt := 0; ; attempt++ {
		l, err := p.leader(ctx, prev, deadline)
		if errors.Is(err, errSelfLeads) {
			return err
		}
		if err == nil && l == prev {
			if failures++; failures >= 4 {
				// The watcher may have missed a change: read the record afresh.
				if fresh, ferr := p.freshLeader(ctx); ferr == nil {
					l = fresh
				}
			}
		} else {
			failures = 0
		}
		if err != nil {
			if ctx.Err() != nil {
				return pathErr(op, path, fmt.Errorf("%w answered before the caller's deadline: %w", ErrNoLeader, ctx.Err()))
			}
			if last != nil {
				return pathErr(op, path, fmt.Errorf("%w within %v: %w", ErrNoLeader, p.timeout, last))
			}
			return pathErr(op, path, fmt.Errorf("%w within %v", ErrNoLeader, p.timeout))
		}
		err = p.callWhileLeading(ctx, l, call)
		if err == nil {
			return nil
		}
		var re *rpc.Error
		deposed := ctx.Err() == nil && errors.Is(err, context.Canceled)
		retry := deposed || rpc.Unavailable(err) || errors.As(err, &re) && (re.Body.Kind == "not_leader" || re.Body.Kind == "no_leader" || re.Body.Kind == "closed")
		if !retry {
			return remoteError(op, path, err)
		}
		last, prev = err, l
	}
}

// callWhileLeading runs call against l, cancelling it if ZooKeeper names another leader
// meanwhile (a leader paused or cut off never answers; its successor will).
func (p *peer) callWhileLeading(ctx context.Context, l election.Leader, call func(ctx context.Context, addr string) error) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			cur, ok, changed := p.watcher.State()
			if ok && cur != l {
				cancel()
				return
			}
			select {
			case <-changed:
			case <-cctx.Done():
				return
			}
		}
	}()
	return call(cctx, l.Address)
}

// errSelfLeads stops a forwarding loop: this member became the leader meanwhile, and
// applies the mutation itself.
var errSelfLeads = errors.New("this member leads now")

// freshLeader reads the leader record with a connection of its own.
func (p *peer) freshLeader(ctx context.Context) (election.Leader, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return election.LeaderAddress(ctx, p.zk)
}

// leader returns the current leader, other than prev when prev was tried (it waits for a
// change, or retries prev after a short pause), bounded by deadline.
func (p *peer) leader(ctx context.Context, prev election.Leader, deadline time.Time) (election.Leader, error) {
	for {
		if p.leads != nil && p.leads() {
			return election.Leader{}, errSelfLeads
		}
		l, ok, changed := p.watcher.State()
		if ok && l != prev && l.Address != "" && l.Address != p.self {
			return l, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return election.Leader{}, ErrNoLeader
		}
		t := time.NewTimer(min(wait, 250*time.Millisecond))
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
			if ok && l.Address != p.self && l.Address != "" {
				return l, nil // the same leader again, after a pause
			}
		case <-ctx.Done():
			t.Stop()
			return election.Leader{}, ctx.Err()
		}
	}
}

// forwardOp sends a mutation to the leader and, on a standby, waits to have applied it.
func (f *FS) forwardOp(ctx context.Context, p *peer, req opRequest) error {
	req.ReqID = newReqID()
	var res opResult
	err := p.toLeader(ctx, req.Op, req.Path, func(ctx context.Context, addr string) error {
		return p.rpc.Call(ctx, addr, "POST", "/op", nil, req, &res)
	})
	if errors.Is(err, errSelfLeads) { // the same request, here: applied once
		_, err = f.serveOp(serving(ctx), req)
		return err
	}
	if err != nil {
		return err
	}
	return f.waitApplied(ctx, req.Op, req.Path, res.Seq)
}

// waitApplied waits until this member's state includes journal seq (a no-op for a remote
// client, which keeps no state).
func (f *FS) waitApplied(ctx context.Context, op, p string, seq uint64) error {
	h := f.ha
	if h == nil {
		return nil
	}
	for {
		changed := h.appliedChanged()
		if h.applied.Load() >= seq || h.role() == Leader {
			return nil
		}
		h.kick()
		t := time.NewTimer(h.cfg.TailInterval) // a role change wakes no one: look again
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return pathErr(op, p, fmt.Errorf("waiting for this member to apply its own change: %w", ctx.Err()))
		}
	}
}

// forwardWriter streams a Create's content to the leader.
type forwardWriter struct {
	pw   *io.PipeWriter
	done chan error // the upload's outcome
	seq  uint64
}

// forwardCreate starts a Create on the leader and returns the Writer that streams to it.
// The content is not kept: a failover during the upload fails it (WriteFile retries with
// its data).
func (f *FS) forwardCreate(ctx context.Context, p *peer, path string, opts CreateOptions) *Writer {
	pr, pw := io.Pipe()
	fw := &forwardWriter{pw: pw, done: make(chan error, 1)}
	q := uploadQuery(path, newReqID(), opts)
	go func() {
		var res opResult
		// One attempt: the content streams through and is not kept for another.
		l, err := p.leader(ctx, election.Leader{}, time.Now().Add(p.timeout))
		if errors.Is(err, errSelfLeads) {
			fw.seq, err = f.serveWrite(serving(ctx), path, q.Get("reqid"), opts, pr)
			pr.CloseWithError(err)
			fw.done <- err
			return
		}
		if err != nil {
			err = pathErr("create", path, fmt.Errorf("%w within %v", ErrNoLeader, p.timeout))
		} else if err = p.rpc.Upload(ctx, l.Address, "/write", q, pr, &res); err != nil {
			err = remoteError("create", path, err)
		}
		fw.seq = res.Seq
		pr.CloseWithError(err) // an upload that failed early stops the writer's Writes
		fw.done <- err
	}()
	return &Writer{f: f, ctx: ctx, path: path, fwd: fw}
}

func uploadQuery(path, reqID string, opts CreateOptions) url.Values {
	q := url.Values{"path": {path}, "reqid": {reqID}, "wt": {strconv.Itoa(int(opts.WriteType))}, "mode": {strconv.FormatUint(uint64(opts.Mode.Perm()), 8)}}
	if opts.Overwrite {
		q.Set("overwrite", "1")
	}
	if opts.Recursive {
		q.Set("recursive", "1")
	}
	return q
}

// forwardWriteFile sends data to the leader as one retryable upload.
func (f *FS) forwardWriteFile(ctx context.Context, p *peer, path string, data []byte, opts CreateOptions) error {
	q := uploadQuery(path, newReqID(), opts)
	var res opResult
	err := p.toLeader(ctx, "create", path, func(ctx context.Context, addr string) error {
		return p.rpc.Upload(ctx, addr, "/write", q, bytes.NewReader(data), &res)
	})
	if errors.Is(err, errSelfLeads) {
		_, err = f.serveWrite(serving(ctx), path, q.Get("reqid"), opts, bytes.NewReader(data))
		return err
	}
	if err != nil {
		return err
	}
	return f.waitApplied(ctx, "create", path, res.Seq)
}

func (w *Writer) forwardWrite(b []byte) (int, error) {
	n, err := w.fwd.pw.Write(b)
	if err != nil {
		w.err = pathErr("write", w.path, err)
		return n, w.err
	}
	return n, nil
}

func (w *Writer) forwardClose() error {
	_ = w.fwd.pw.Close()
	if err := <-w.fwd.done; err != nil {
		w.err = err
		return err
	}
	return w.f.waitApplied(w.ctx, "close", w.path, w.fwd.seq)
}

func (w *Writer) forwardAbort() {
	w.fwd.pw.CloseWithError(pathErr("write", w.path, errorf(fs.ErrClosed, "aborted")))
	<-w.fwd.done
}
