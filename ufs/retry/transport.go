package retry

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// DialContext returns a dial function whose connections take at most connect to set up and
// fail a Read or Write that moves no byte for idle (the deadline moves forward with every
// call), so a stalled peer cannot hold a request forever. idle <= 0 sets no deadline.
func DialContext(connect, idle time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || idle <= 0 {
			return c, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}
}

// idleConn is a connection whose reads and writes time out after idle without progress.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Write sends p in pieces, each with a fresh deadline, so that a large buffer sent at a
// slow but steady pace does not time out. The read deadline moves too: a read blocked
// since before this request (the transport's idle read loop) must not expire mid-request.
func (c *idleConn) Write(p []byte) (int, error) {
	const piece = 64 << 10
	n := 0
	for n < len(p) {
		if err := c.Conn.SetDeadline(time.Now().Add(c.idle)); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(p[n:min(len(p), n+piece)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// NewTransport returns an HTTP transport with c's connect, response-header and idle
// timeouts, up to maxConns connections per host (0: no limit), proxies from the
// environment and TLS 1.2 or later.
func NewTransport(c Config, maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           DialContext(c.ConnectTimeout, c.IdleTimeout),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   max(min(maxConns, 64), 16),
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   c.ConnectTimeout,
		ResponseHeaderTimeout: c.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}
