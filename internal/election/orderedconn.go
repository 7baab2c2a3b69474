package election

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// orderedConn works around a data race in go-zookeeper v1.0.4 (open upstream: samuel/
// go-zookeeper#260, go-zookeeper/zk#35): when a connection resumes a session, the client
// reads Conn.lastZxid to build its SetWatches request while its receive loop may already
// be writing lastZxid for the answer to a request that went out before SetWatches (one
// queued while disconnected, or sent right after the session was re-established). The
// values are benign, but the race detector fails every test that sees it.
//
// On a connection that resumes a session, orderedConn holds every packet written before
// SetWatches and writes them just after it. The answers to our requests then come after
// SetWatches has been handed to the send loop, which is ordered after the read. If no
// SetWatches comes (the client had no watches: then it reads nothing), the held packets
// go after setWatchesWait — unless the client is closing: then it may have dropped its
// SetWatches, the held packets are dropped too and the connection is closed (the client
// is ending every pending request anyway). go-zookeeper writes each packet with one Write
// call, which this relies on.
//
// It also bounds the handshake: go-zookeeper waits ten read timeouts (6.7 session
// timeouts) for the answer to its connect request, and a server that is still starting
// accepts connections it never answers; like the Java client, orderedConn gives the
// answer a fraction of the session timeout, after which the client tries again.
type orderedConn struct {
	net.Conn
	closing   *atomic.Bool // the session's: set before the client is closed
	handshake time.Duration
	handshook atomic.Bool // the connect response's header has been read
	mu        sync.Mutex
	packets   int
	holding   bool
	held      [][]byte
	timer     *time.Timer
}

const (
	opSetWatches   = 101 // go-zookeeper's opcode constant is unexported
	setWatchesWait = 500 * time.Millisecond
)

// orderedDialer returns go-zookeeper's Dialer for a client whose closing is flagged.
func orderedDialer(closing *atomic.Bool, handshake time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &orderedConn{Conn: c, closing: closing, handshake: handshake}, nil
	}
}

// SetReadDeadline shortens the deadline of the connect response. go-zookeeper clears the
// deadline once it has read that response's header, which ends the handshake.
func (c *orderedConn) SetReadDeadline(t time.Time) error {
	if !c.handshook.Load() {
		if t.IsZero() {
			c.handshook.Store(true)
		} else if limit := time.Now().Add(c.handshake); t.After(limit) {
			t = limit
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *orderedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.packets++
	if c.packets == 1 {
		// The connect request: length(4) protocolVersion(4) lastZxidSeen(8) timeOut(4)
		// sessionId(8) ... A non-zero session id resumes a session: SetWatches may follow.
		if len(p) >= 28 && binary.BigEndian.Uint64(p[20:28]) != 0 {
			c.holding = true
			c.timer = time.AfterFunc(setWatchesWait, c.release)
		}
		return c.Conn.Write(p)
	}
	if !c.holding {
		return c.Conn.Write(p)
	}
	// A request packet: length(4) xid(4) opcode(4) ...
	if len(p) >= 12 && int32(binary.BigEndian.Uint32(p[8:12])) == opSetWatches {
		c.holding = false
		c.timer.Stop()
		n, err := c.Conn.Write(p)
		if err != nil {
			return n, err
		}
		return n, c.flushLocked()
	}
	c.held = append(c.held, bytes.Clone(p)) // the caller reuses its buffer
	return len(p), nil
}

func (c *orderedConn) flushLocked() error {
	for _, p := range c.held {
		if _, err := c.Conn.Write(p); err != nil {
			c.held = nil
			return err
		}
	}
	c.held = nil
	return nil
}

func (c *orderedConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return
	}
	c.holding = false
	if c.closing.Load() {
		c.held = nil
		c.Conn.Close()
		return
	}
	if err := c.flushLocked(); err != nil {
		c.Conn.Close() // the client's receive loop sees it and reconnects
	}
}

func (c *orderedConn) Close() error {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.holding = false
	c.held = nil
	c.mu.Unlock()
	return c.Conn.Close()
}
