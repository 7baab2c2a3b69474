package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Watcher follows the leader record at LeaderPath for a non-member (a client, a standby,
// a tool): it reads it, watches it and reads it again on every change. ZooKeeper's
// watches fire once per change seen, so a Watcher sees every state it reads, in order,
// but two changes that happen before it has read the first may reach it as one (it never
// goes back to an older record). While ZooKeeper is unreachable, the last record read
// stays current; the watch is set again on reconnect and fires if the record changed
// meanwhile.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	cur     Leader
	ok      bool
	changed chan struct{} // closed and replaced on every change
}

// NewWatcher starts watching cfg.LeaderPath (Servers is required; Address and
// ElectionPath are not used). Close stops it.
func NewWatcher(cfg Config) (*Watcher, error) {
	cfg, err := cfg.withDefaults(false)
	if err != nil {
		return nil, err
	}
	// A watcher owns no ephemeral node, so go-zookeeper's new session after an expiry is
	// fine here (the watch is simply set again): its session's expired flag stays unset.
	s, err := dial(cfg, false, nil)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{cfg: cfg, log: cfg.Logger, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go w.loop(ctx, s)
	return w, nil
}

// Current returns the leader record last read, and false while there is none.
func (w *Watcher) Current() (Leader, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, w.ok
}

// State returns the leader record last read (ok false while there is none) and a channel
// closed at the next change.
func (w *Watcher) State() (l Leader, ok bool, changed <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur, w.ok, w.changed
}

// Leader returns the current leader, waiting while there is none, bounded by ctx.
func (w *Watcher) Leader(ctx context.Context) (Leader, error) {
	return w.Next(ctx, Leader{})
}

// Next returns the current leader once it differs from prev (for a client whose leader
// prev stopped answering), waiting while there is none or it is still prev, bounded by ctx.
func (w *Watcher) Next(ctx context.Context, prev Leader) (Leader, error) {
	for {
		l, ok, changed := w.State()
		if ok && l != prev {
			return l, nil
		}
		select {
		case <-changed:
		case <-w.done:
			return Leader{}, ErrClosed
		case <-ctx.Done():
			return Leader{}, fmt.Errorf("election: waiting for a leader at %s: %w", w.cfg.LeaderPath, ctx.Err())
		}
	}
}

// Close stops watching and closes the connection.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

func (w *Watcher) set(l Leader, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l == w.cur && ok == w.ok {
		return
	}
	w.cur, w.ok = l, ok
	close(w.changed)
	w.changed = make(chan struct{})
	if ok {
		w.log.Debug("election: leader changed", "leader", l.Address, "epoch", l.Epoch)
	} else {
		w.log.Debug("election: no leader")
	}
}

func (w *Watcher) loop(ctx context.Context, s *session) {
	defer close(w.done)
	defer s.close(closeWait)
	var bo backoff
	for ctx.Err() == nil {
		var fired <-chan zk.Event
		err := func() error {
			op, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
			defer cancel()
			d, err := s.getW(op, w.cfg.LeaderPath)
			if errors.Is(err, zk.ErrNoNode) {
				st, err := s.existsW(op, w.cfg.LeaderPath)
				if err != nil {
					return err
				}
				if st.ok {
					// Created since the read: read it now (this watch fires only at the
					// next change).
					fired = closedEvents
					return nil
				}
				fired = st.w
				w.set(Leader{}, false)
				return nil
			}
			if err != nil {
				return err
			}
			fired = d.w
			l, err := decodeLeader(d.b)
			if err != nil {
				w.log.Warn("election: unreadable leader record", "path", w.cfg.LeaderPath, "err", err)
				w.set(Leader{}, false)
				return nil
			}
			w.set(l, true)
			return nil
		}()
		if err != nil {
			w.log.Debug("election: reading the leader record", "err", err)
			if !bo.wait(ctx) {
				return
			}
			continue
		}
		bo.reset()
		select {
		case <-fired:
		case <-ctx.Done():
			return
		}
	}
}

var closedEvents = func() <-chan zk.Event {
	ch := make(chan zk.Event)
	close(ch)
	return ch
}()

// LeaderAddress connects, returns the current leader (waiting while there is none,
// bounded by ctx) and disconnects. A process that asks more than once keeps a Watcher.
func LeaderAddress(ctx context.Context, cfg Config) (Leader, error) {
	w, err := NewWatcher(cfg)
	if err != nil {
		return Leader{}, err
	}
	defer w.Close()
	return w.Leader(ctx)
}
