package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// session is one go-zookeeper connection used for one ZooKeeper session. go-zookeeper
// opens a new session on the same connection after an expiry, and would send requests
// queued before it in the new session; an elector therefore abandons a connection whose
// session expired, and every result it returns after the expiry is refused.
type session struct {
	conn      *zk.Conn
	events    <-chan zk.Event // closed when the connection's goroutines are done
	connected atomic.Bool     // has a live session right now
	expired   atomic.Bool     // the server said the session expired: the connection is dead to us
	closing   atomic.Bool     // close was called
	poke      chan struct{}   // a session event happened (capacity 1)
	onEvent   func(*session, zk.Event)
	guid      string // of this session's candidacy; used by the elector's run goroutine only
	member    bool   // an elector's session: dead to us once expired
}

// dial opens a connection; onEvent is called on go-zookeeper's goroutine for each session
// event, after connected/expired are updated. It must not block. A member's session is
// dead once expired; a watcher's goes on in go-zookeeper's next session.
func dial(cfg Config, member bool, onEvent func(*session, zk.Event)) (*session, error) {
	s := &session{poke: make(chan struct{}, 1), onEvent: onEvent, member: member}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{cfg.Logger}), zk.WithEventCallback(s.callback), zk.WithDialer(orderedDialer(&s.closing, max(cfg.SessionTimeout/3, 200*time.Millisecond))))
	if err != nil {
		return nil, fmt.Errorf("election: connecting to ZooKeeper %v: %w", cfg.Servers, err)
	}
	s.conn, s.events = conn, events
	return s, nil
}

func (s *session) callback(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		if !s.expired.Load() {
			s.connected.Store(true)
		}
	case zk.StateDisconnected:
		s.connected.Store(false)
	case zk.StateExpired:
		s.connected.Store(false)
		if s.member {
			s.expired.Store(true)
		}
	default:
		return
	}
	if s.onEvent != nil {
		s.onEvent(s, ev)
	}
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// id is the session id once established.
func (s *session) id() int64 { return s.conn.SessionID() }

// close closes the session (the server deletes its ephemeral nodes at once if it hears
// the close) and waits, at most wait, for the connection's goroutines to end.
func (s *session) close(wait time.Duration) bool {
	s.closing.Store(true)
	s.conn.Close()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-timer.C:
			return false
		}
	}
}

// call runs f, a go-zookeeper call, bounded by ctx. go-zookeeper takes no context: a call
// abandoned at ctx's end finishes in the background, at the latest when the connection
// closes. A call answered after the session expired fails with zk.ErrSessionExpired.
func call[T any](ctx context.Context, s *session, what string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	var zero T
	select {
	case r := <-ch:
		if s.expired.Load() {
			return zero, fmt.Errorf("zookeeper %s: %w", what, zk.ErrSessionExpired)
		}
		if r.err != nil {
			return r.v, fmt.Errorf("zookeeper %s: %w", what, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("zookeeper %s: %w", what, ctx.Err())
	}
}

type stat struct {
	ok   bool
	stat *zk.Stat
	w    <-chan zk.Event
}

func (s *session) children(ctx context.Context, path string) ([]string, error) {
	return call(ctx, s, "children of "+path, func() ([]string, error) {
		kids, _, err := s.conn.Children(path)
		return kids, err
	})
}

func (s *session) existsW(ctx context.Context, path string) (stat, error) {
	return call(ctx, s, "exists "+path, func() (stat, error) {
		ok, st, w, err := s.conn.ExistsW(path)
		return stat{ok, st, w}, err
	})
}

func (s *session) exists(ctx context.Context, path string) (stat, error) {
	return call(ctx, s, "exists "+path, func() (stat, error) {
		ok, st, err := s.conn.Exists(path)
		return stat{ok: ok, stat: st}, err
	})
}

type data struct {
	b    []byte
	stat *zk.Stat
	w    <-chan zk.Event
}

func (s *session) getW(ctx context.Context, path string) (data, error) {
	return call(ctx, s, "get "+path, func() (data, error) {
		b, st, w, err := s.conn.GetW(path)
		return data{b, st, w}, err
	})
}

func (s *session) set(ctx context.Context, path string, b []byte, version int32) (*zk.Stat, error) {
	return call(ctx, s, "set "+path, func() (*zk.Stat, error) { return s.conn.Set(path, b, version) })
}

func (s *session) create(ctx context.Context, path string, b []byte, flags int32) (string, error) {
	return call(ctx, s, "create "+path, func() (string, error) {
		return s.conn.Create(path, b, flags, zk.WorldACL(zk.PermAll))
	})
}

func (s *session) delete(ctx context.Context, path string, version int32) error {
	_, err := call(ctx, s, "delete "+path, func() (struct{}, error) { return struct{}{}, s.conn.Delete(path, version) })
	return err
}

func (s *session) multi(ctx context.Context, what string, ops ...any) ([]zk.MultiResponse, error) {
	return call(ctx, s, what, func() ([]zk.MultiResponse, error) { return s.conn.Multi(ops...) })
}

// ensurePath creates path and its missing ancestors as persistent nodes.
func (s *session) ensurePath(ctx context.Context, path string) error {
	for i := 2; i <= len(path); i++ { // from 2: the root exists
		if i < len(path) && path[i] != '/' {
			continue
		}
		_, err := s.create(ctx, path[:i], nil, 0)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// zkLogger routes go-zookeeper's lines (chatty: every connect and disconnect) to slog at
// debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	if z.l.Enabled(context.Background(), slog.LevelDebug) {
		z.l.Debug(fmt.Sprintf(format, args...), "component", "go-zookeeper")
	}
}

// backoff is a jittered exponential delay between retries.
type backoff struct{ next time.Duration }

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

func (b *backoff) reset() { b.next = 0 }

// wait sleeps for the next delay; false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = backoffMin
	}
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, backoffMax)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
