// Package retrytest puts a fault-injecting TCP proxy (toxiproxy, in-process) between a
// driver and its loopback test peer, with deterministic toxics for the resilience tests of
// every driver: reset each connection after N bytes, reset a seeded share of connections,
// black hole, latency, slicing, proxy down and up. It also finds goroutines a failed call
// left behind.
package retrytest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

func init() {
	toxics.Register(resetType, new(resetToxic))
	toxics.Register(holeType, new(holeToxic))
}

var (
	serverOnce sync.Once
	server     *toxiproxy.ApiServer
	proxySeq   sync.Mutex
	proxyN     int
)

// Proxy is a toxiproxy proxy listening on loopback in front of one upstream address.
type Proxy struct {
	p    *toxiproxy.Proxy
	Addr string // "127.0.0.1:port" to give the driver instead of the upstream
	t    testing.TB
}

// NewProxy starts a proxy to upstream ("host:port"); it stops when the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	serverOnce.Do(func() {
		server = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	})
	proxySeq.Lock()
	proxyN++
	name := fmt.Sprintf("p%d", proxyN)
	proxySeq.Unlock()
	p := toxiproxy.NewProxy(server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &Proxy{p: p, Addr: p.Listen, t: t}
}

// Stream is a direction of a proxied connection.
type Stream string

const (
	FromServer Stream = "downstream" // responses
	ToServer   Stream = "upstream"   // requests (upload bodies)
)

// add adds a toxic on a stream and returns its name.
func (p *Proxy) add(s Stream, typ string, toxicity float32, attrs any) string {
	p.t.Helper()
	proxySeq.Lock()
	proxyN++
	name := fmt.Sprintf("%s_%d", typ, proxyN)
	proxySeq.Unlock()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": string(s),
		"toxicity": toxicity, "attributes": attrs})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.p.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		p.t.Fatalf("toxiproxy: add %s: %v", typ, err)
	}
	return name
}

// Clear removes every toxic. Connections keep the toxics they were opened with until
// they close; open ones are interrupted and continue clean.
func (p *Proxy) Clear() { p.p.Toxics.ResetToxics(context.Background()) }

// ResetAfter resets (TCP RST) every connection opened from now on once it has carried n
// bytes on stream s.
func (p *Proxy) ResetAfter(s Stream, n int64) { p.ResetShare(s, 1, n, 0, 1) }

// ResetShare resets (TCP RST) connections opened from now on: after the first `after`
// bytes on stream s, each window of `spread` bytes a connection carries ends in a reset at
// a uniformly drawn byte with probability share (spread 0: exactly at `after`, with
// probability share). The draws come from a generator seeded with seed, in the order the
// connections open, so a sequential client sees the same resets on every run.
func (p *Proxy) ResetShare(s Stream, share float64, after, spread, seed int64) {
	// A reset_peer toxic that never runs (toxicity 0) makes toxiproxy close both sides of
	// every connection with SO_LINGER 0: the closes done by resetToxic become resets.
	p.add(s, "reset_peer", 0, map[string]any{"timeout": 0})
	p.add(s, resetType, 1, map[string]any{"share": share, "after": after, "spread": spread, "seed": seed})
}

// BlackHole lets connections open but passes no byte from the server until Clear. Add it
// only while no connection has unread data in flight: toxiproxy changes a connection's
// toxics only between chunks, so it waits for a stalled reader. Use Hole to black-hole
// connections in the middle of a transfer.
func (p *Proxy) BlackHole() { p.add(FromServer, "timeout", 1, map[string]any{"timeout": 0}) }

// Hole installs a black hole for the server's data that Set switches on and off at any
// time, connections in the middle of a response included. It starts off.
func (p *Proxy) Hole() *Hole {
	h := &Hole{}
	holeSeq.Lock()
	holeN++
	id := holeN
	holes[id] = h
	holeSeq.Unlock()
	p.add(FromServer, holeType, 1, map[string]any{"id": id})
	return h
}

// Hole is a switchable black hole (see Proxy.Hole).
type Hole struct{ on atomic.Bool }

// Set switches the hole on (every byte from the server is dropped) or off.
func (h *Hole) Set(on bool) { h.on.Store(on) }

func (h *Hole) isOn() bool { return h.on.Load() }

var (
	holeSeq sync.Mutex
	holeN   int64
	holes   = map[int64]*Hole{}
)

const holeType = "unifiedfs_hole"

type holeToxic struct {
	ID int64 `json:"id"`
}

func (t *holeToxic) Pipe(stub *toxics.ToxicStub) {
	holeSeq.Lock()
	h := holes[t.ID]
	holeSeq.Unlock()
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if h.isOn() {
				continue // dropped
			}
			select {
			case stub.Output <- c:
			case <-stub.Interrupt:
				return
			}
		}
	}
}

// Latency delays each chunk from the server by d.
func (p *Proxy) Latency(d time.Duration) {
	p.add(FromServer, "latency", 1, map[string]any{"latency": d.Milliseconds(), "jitter": 0})
}

// Slicer cuts the server's data into pieces of about size bytes, delay apart.
func (p *Proxy) Slicer(size, variation int, delay time.Duration) {
	p.add(FromServer, "slicer", 1, map[string]any{"average_size": size, "size_variation": variation, "delay": delay.Microseconds()})
}

// Down stops the proxy: connections close and new ones are refused until Up.
func (p *Proxy) Down() { p.p.Stop() }

// Up starts the proxy again on the same address.
func (p *Proxy) Up() {
	p.t.Helper()
	if err := p.p.Start(); err != nil {
		p.t.Fatalf("toxiproxy: restart on %s: %v", p.Addr, err)
	}
}

const resetType = "unifiedfs_reset"

// resetToxic closes a seeded share of connections after a number of bytes.
type resetToxic struct {
	Share  float64 `json:"share"`
	After  int64   `json:"after"`
	Spread int64   `json:"spread"`
	Seed   int64   `json:"seed"`

	mu  sync.Mutex
	rng *rand.Rand
}

type resetState struct {
	doomed bool
	at     int64 // bytes passed before the reset
	sent   int64
}

// NewState draws one connection's fate.
func (t *resetToxic) NewState() any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rng == nil {
		t.rng = rand.New(rand.NewSource(t.Seed))
	}
	st := &resetState{at: t.After}
	if t.Spread <= 0 {
		st.doomed = t.rng.Float64() < t.Share
		return st
	}
	for windows := 0; windows < 1<<20; windows++ {
		if t.rng.Float64() < t.Share {
			st.doomed = true
			st.at += t.rng.Int63n(t.Spread)
			return st
		}
		st.at += t.Spread
	}
	return st
}

func (t *resetToxic) Pipe(stub *toxics.ToxicStub) {
	st := stub.State.(*resetState)
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			if !st.doomed || st.sent+int64(len(c.Data)) < st.at {
				st.sent += int64(len(c.Data))
				stub.Output <- c
				continue
			}
			if room := st.at - st.sent; room > 0 {
				stub.Output <- &stream.StreamChunk{Data: c.Data[:room], Timestamp: c.Timestamp}
			}
			stub.Close()
			return
		}
	}
}

// Goroutines returns the stacks of the goroutines (other than the caller's) with a frame
// whose function name contains one of match ("github.com/x/driver/oss.", "net/http.(*persistConn)").
func Goroutines(match ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		for _, m := range match {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// WaitGone polls until no goroutine matches, failing the test with their stacks when some
// are still there after within.
func WaitGone(t testing.TB, within time.Duration, match ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := Goroutines(match...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines outlived the call by %v:\n%s", len(left), within, strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling interval of the condition above
	}
}
