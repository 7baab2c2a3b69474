package kodo_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/kodo/kodotest"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
	"github.com/unifiedfs/unifiedfs/ufs/retry/retrytest"
)

// The frames of goroutines working for a call of this driver.
// (The SDK's uplog goroutine, started by its init, serves no call.)
var callFrames = []string{"unifiedfs/driver/kodo.", "unifiedfs/ufs/retry.", "go-sdk/v7/storagev2/", "go-sdk/v7/internal/clientv2."}

// toxicOpts are tight bounds for the proxy tests: each stall costs at most 300ms.
var toxicOpts = map[string]string{
	"unifiedfs.retry.attempts":   "6",
	"unifiedfs.retry.base.delay": "5ms",
	"unifiedfs.retry.max.delay":  "50ms",
	"unifiedfs.connect.timeout":  "300ms",
	"unifiedfs.response.timeout": "300ms",
	"unifiedfs.idle.timeout":     "300ms",
	"unifiedfs.request.timeout":  "1s",
	"unifiedfs.abort.timeout":    "500ms",
}

// proxies stand between the driver and each Kodo service it talks to.
type proxies struct{ io, rs, rsf, up *retrytest.Proxy }

var toxSeq atomic.Int64

// viaProxies mounts a fresh directory of the test bucket with every service (IO, RS, RSF,
// UP) reached through its own toxiproxy, and returns the UFS, the proxies and the key
// prefix of the mount's root.
func viaProxies(t *testing.T, srv *kodotest.Server, extra map[string]string) (ufs.UFS, proxies, string) {
	t.Helper()
	px := proxies{
		io: retrytest.NewProxy(t, srv.IOHost()), rs: retrytest.NewProxy(t, srv.RSHost()),
		rsf: retrytest.NewProxy(t, srv.RSFHost()), up: retrytest.NewProxy(t, srv.UPHost()),
	}
	opts := maps.Clone(toxicOpts)
	maps.Copy(opts, extra)
	opts["alluxio.underfs.kodo.endpoint"] = px.io.Addr
	opts["fs.kodo.rshost"] = px.rs.Addr
	opts["fs.kodo.rsfhost"] = px.rsf.Addr
	opts["fs.kodo.uphost"] = px.up.Addr
	dir := fmt.Sprintf("tox%d", toxSeq.Add(1))
	return mount(t, srv, "kodo://"+bucket+"/"+dir, opts), px, dir + "/"
}

func stats(u ufs.UFS) *retry.Stats { return u.(retry.Reporter).RetryStats() }

func readExact(t *testing.T, u ufs.UFS, p string, off, n int64, want []byte) {
	t.Helper()
	r, err := u.OpenRange(context.Background(), p, off, n)
	if err != nil {
		t.Fatalf("open %s [%d,+%d): %v", p, off, n, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s [%d,+%d): %d bytes, then %v", p, off, n, len(got), err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s [%d,+%d): %d bytes, sha256 %x; want %d bytes, sha256 %x", p, off, n,
			len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

const big = 16 << 20

func TestToxicResetPerConnection(t *testing.T) {
	srv := newServer(t)
	u, px, root := viaProxies(t, srv, nil)
	data := randBytes(1, big)
	srv.Put(bucket, root+"big", data)
	px.io.ResetAfter(retrytest.FromServer, 1<<20) // every download connection dies after 1 MiB
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 0, -1, data)
	t.Logf("16 MiB read, a reset every 1 MiB: %d resumes, %d retries, %v", s.Resumed.Load(), s.Retries.Load(), time.Since(start))
	if s.Resumed.Load() < 15 {
		t.Fatalf("%d resumes for 16 MiB cut every 1 MiB", s.Resumed.Load())
	}
	// A version read of a range resumes for the same version too.
	before := s.Resumed.Load()
	hash, _ := srv.Hash(bucket, root+"big")
	r, err := u.(ufs.VersionReader).OpenVersion(context.Background(), "big", hash, 12345, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data[12345:12345+4<<20]) {
		t.Fatalf("version read: %d bytes, %v", len(got), err)
	}
	if s.Resumed.Load()-before < 3 {
		t.Fatalf("version read of 4 MiB resumed %d times", s.Resumed.Load()-before)
	}
}

func TestToxicResetHalfTheConnections(t *testing.T) {
	srv := newServer(t)
	u, px, root := viaProxies(t, srv, map[string]string{"unifiedfs.retry.attempts": "10"})
	data := randBytes(2, big)
	srv.Put(bucket, root+"big", data)
	// A connection is reset in each 2 MiB it carries with probability 1/2.
	px.io.ResetShare(retrytest.FromServer, 0.5, 0, 2<<20, 42)
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 1000, -1, data[1000:])
	t.Logf("a 16 MiB read, a reset per 2 MiB with probability 1/2: %d resumes, %d retries, %v", s.Resumed.Load(), s.Retries.Load(), time.Since(start))
	if s.Resumed.Load() < 2 {
		t.Fatalf("%d resumes in 16 MiB: the toxic did not bite", s.Resumed.Load())
	}
}

func TestToxicReplacedMidReadIsChanged(t *testing.T) {
	srv := newServer(t)
	u, px, root := viaProxies(t, srv, nil)
	data := randBytes(3, 4<<20)
	srv.Put(bucket, root+"f", data)
	px.io.ResetAfter(retrytest.FromServer, 1<<20)
	r, err := u.OpenRange(context.Background(), "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	srv.Put(bucket, root+"f", randBytes(4, 4<<20)) // replaced while being read
	got, err := io.ReadAll(r)
	if !errors.Is(err, ufs.ErrChanged) {
		t.Fatalf("read across a replacement: %v after %d more bytes, want ufs.ErrChanged", err, len(got))
	}
	if !bytes.Equal(got, data[len(buf):len(buf)+len(got)]) {
		t.Fatal("bytes of the new version were delivered")
	}
}

func TestToxicBlackHole(t *testing.T) {
	srv := newServer(t)
	u, px, root := viaProxies(t, srv, map[string]string{"unifiedfs.retry.attempts": "3"})
	data := randBytes(5, big)
	srv.Put(bucket, root+"big", data)
	rsHole, ioHole := px.rs.Hole(), px.io.Hole()

	t.Run("Stat", func(t *testing.T) {
		rsHole.Set(true)
		defer rsHole.Set(false)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		before := stats(u).Retries.Load()
		start := time.Now()
		_, err := u.Stat(ctx, "big")
		el := time.Since(start)
		t.Logf("stat into a black hole: %v after %d attempts in %v", err, stats(u).Retries.Load()-before+1, el)
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) || el > 3*time.Second {
			t.Fatalf("stat into a black hole: %v after %v", err, el)
		}
		retrytest.WaitGone(t, time.Second, callFrames...)
	})
	t.Run("MidRead", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := u.OpenRange(ctx, "big", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		ioHole.Set(true)
		defer ioHole.Set(false)
		start := time.Now()
		_, err = io.Copy(io.Discard, r)
		el := time.Since(start)
		r.Close()
		t.Logf("read stalled by a black hole: %v after %v", err, el)
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) || el > 5*time.Second {
			t.Fatalf("stalled read: %v after %v", err, el)
		}
		retrytest.WaitGone(t, time.Second, callFrames...)
	})
	// The same FS recovers once the fault is gone.
	readExact(t, u, "big", 0, 1<<20, data[:1<<20])
	u.Close()
	retrytest.WaitGone(t, time.Second, "net/http.(*persistConn)")
}

func TestToxicLatencyAndSlicer(t *testing.T) {
	// Timeouts well above the latency: any retry here would be a spurious one.
	slow := map[string]string{"unifiedfs.response.timeout": "3s", "unifiedfs.idle.timeout": "3s", "unifiedfs.request.timeout": "10s"}
	srv := newServer(t)
	opts := maps.Clone(smallParts)
	maps.Copy(opts, slow)
	u, px, root := viaProxies(t, srv, opts)
	data := randBytes(6, 4<<20)
	srv.Put(bucket, root+"big", data)
	for _, p := range []*retrytest.Proxy{px.io, px.up, px.rs} {
		p.Latency(20 * time.Millisecond)
		p.Slicer(8<<10, 4<<10, 10*time.Microsecond)
	}
	start := time.Now()
	readExact(t, u, "big", 0, -1, data)
	up := randBytes(7, 3<<20)
	if err := ufs.WriteFile(context.Background(), u, "up", up); err != nil {
		t.Fatalf("upload through latency and slicing: %v", err)
	}
	t.Logf("4 MiB read + 3 MiB resumable upload under 20ms latency and 8 KiB slices: %v", time.Since(start))
	if got, _ := srv.Get(bucket, root+"up"); !bytes.Equal(got, up) {
		t.Fatal("uploaded content differs")
	}
	if n := stats(u).Retries.Load() + stats(u).Resumed.Load(); n != 0 {
		t.Fatalf("%d retries under latency alone (timeouts too tight?)", n)
	}
}

// Before issue 19 a refused connection failed a Kodo call at once.
func TestToxicProxyDownAndUp(t *testing.T) {
	srv := newServer(t)
	u, px, root := viaProxies(t, srv, map[string]string{"unifiedfs.retry.attempts": "30", "unifiedfs.retry.max.delay": "20ms"})
	srv.Put(bucket, root+"f", []byte("hello"))
	ctx := context.Background()

	px.rs.Down()
	done := make(chan error, 1)
	before := stats(u).Retries.Load()
	start := time.Now()
	go func() { _, err := u.Stat(ctx, "f"); done <- err }()
	testpeer.WaitFor(t, "two refused connections to be retried", 2*time.Second, func() bool {
		return stats(u).Retries.Load()-before >= 2
	})
	px.rs.Up()
	if err := <-done; err != nil {
		t.Fatalf("stat while RS came back: %v", err)
	}
	t.Logf("stat across proxy down/up: %d retries, %v", stats(u).Retries.Load()-before, time.Since(start))

	px.io.Down()
	start = time.Now()
	_, err := ufs.ReadFile(ctx, u, "f")
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 30 || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("read with IO down: %v, want 30 refused attempts", err)
	}
	t.Logf("read with the IO proxy down: %v in %v", err, time.Since(start))
	px.io.Up()
	if got, err := ufs.ReadFile(ctx, u, "f"); err != nil || string(got) != "hello" {
		t.Fatalf("the same FS did not recover: %q, %v", got, err)
	}
}

func TestToxicUploads(t *testing.T) {
	srv := newServer(t)
	parts := map[string]string{"fs.kodo.upload.threshold": "1MB", "fs.kodo.upload.partsize": "1MB",
		"alluxio.underfs.kodo.requests.max": "4", "unifiedfs.retry.attempts": "10"}
	ctx := context.Background()

	t.Run("HalfTheConnectionsReset", func(t *testing.T) {
		u, px, root := viaProxies(t, srv, parts)
		px.up.ResetShare(retrytest.ToServer, 0.5, 0, 2<<20, 7)
		data := randBytes(8, 8<<20)
		if err := ufs.WriteFile(ctx, u, "f", data); err != nil {
			t.Fatalf("upload with half the connections reset: %v", err)
		}
		t.Logf("8 MiB resumable upload, a reset per 2 MiB sent with probability 1/2: %d retries", stats(u).Retries.Load())
		if got, _ := srv.Get(bucket, root+"f"); !bytes.Equal(got, data) {
			t.Fatal("stored content differs")
		}
		if stats(u).Retries.Load() == 0 {
			t.Fatal("the toxic did not bite")
		}
	})
	t.Run("EveryConnectionResetNothingVisible", func(t *testing.T) {
		extra := maps.Clone(parts)
		extra["fs.kodo.upload.partsize"] = "2MB"
		extra["unifiedfs.retry.attempts"] = "3"
		u, px, root := viaProxies(t, srv, extra)
		px.up.ResetAfter(retrytest.ToServer, 1<<20) // no part of 2 MiB gets through
		err := ufs.WriteFile(ctx, u, "f", randBytes(9, 8<<20))
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) {
			t.Fatalf("an upload whose every part failed: %v", err)
		}
		if _, ok := srv.Get(bucket, root+"f"); ok {
			t.Fatal("a failed upload left an object")
		}
		if n := srv.Uploads(); n != 0 {
			t.Fatalf("%d multipart uploads not aborted", n)
		}
		retrytest.WaitGone(t, time.Second, callFrames...)
	})
	t.Run("AbortHasItsOwnBound", func(t *testing.T) {
		u, _, _ := viaProxies(t, srv, parts)
		remove := srv.Inject(kodotest.Fault{API: kodotest.APIAbortParts, Latency: 10 * time.Second})
		defer remove()
		cctx, cancel := context.WithCancel(ctx)
		w, err := u.Create(cctx, "aborted", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randBytes(10, 3<<20)); err != nil {
			t.Fatal(err)
		}
		cancel()
		start := time.Now()
		if err := w.Close(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close after cancel: %v", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("the abort of a cancelled upload took %v; unifiedfs.abort.timeout is 500ms", el)
		}
	})
}

func TestThrottling(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/throttle", map[string]string{"unifiedfs.retry.attempts": "3"})
	ctx := context.Background()
	if err := ufs.WriteFile(ctx, u, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// 573 (too many requests) on a management call is retried and counted.
	remove := srv.Inject(kodotest.Fault{API: kodotest.APIStat, Status: 573, Error: "too many requests", Times: 1})
	if _, err := u.Stat(ctx, "f"); err != nil {
		t.Fatalf("stat after one 573: %v", err)
	}
	remove()
	if n := stats(u).Throttled.Load(); n != 1 {
		t.Fatalf("throttles counted: %d", n)
	}
	// A download's Retry-After is honoured.
	slow := http.Header{"Retry-After": {"1"}}
	remove = srv.Inject(kodotest.Fault{API: kodotest.APIGet, Status: 503, Header: slow, Times: 1})
	start := time.Now()
	got, err := ufs.ReadFile(ctx, u, "f")
	remove()
	if err != nil || string(got) != "x" {
		t.Fatalf("read after a 503 with Retry-After: %q, %v", got, err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("retried after %v, before the Retry-After of 1s", el)
	}
	// A Retry-After past the deadline fails at once.
	remove = srv.Inject(kodotest.Fault{API: kodotest.APIGet, Status: 573, Header: http.Header{"Retry-After": {"30"}}})
	defer remove()
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start = time.Now()
	_, err = ufs.ReadFile(dctx, u, "f")
	if err == nil || !strings.Contains(err.Error(), "deadline") || time.Since(start) > time.Second {
		t.Fatalf("Retry-After 30s within a 2s deadline: %v after %v", err, time.Since(start))
	}
}

// A completion whose reply is lost is retried; the retry finds no upload, and the driver
// finds the object it stored instead of reporting a failure.
func TestLostCompleteReply(t *testing.T) {
	srv := newServer(t)
	u := mount(t, srv, "kodo://"+bucket+"/lost", smallParts)
	remove := srv.Inject(kodotest.Fault{API: kodotest.APICompleteParts, LoseReply: true, Times: 1})
	defer remove()
	data := randBytes(11, 3<<20)
	w, err := u.Create(context.Background(), "f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close with the completion's reply lost: %v", err)
	}
	if n := srv.Calls(kodotest.APICompleteParts); n != 2 {
		t.Fatalf("%d completions, want 2 (one lost reply, one retry)", n)
	}
	got, _ := srv.Get(bucket, "lost/f")
	hash, _ := srv.Hash(bucket, "lost/f")
	st, ok := w.(ufs.StatWriter).Written()
	if !bytes.Equal(got, data) || !ok || st.ContentHash != hash {
		t.Fatalf("stored %d bytes, Written %+v (%v), server hash %s", len(got), st, ok, hash)
	}
	// A completion that truly failed still fails.
	srv.Inject(kodotest.Fault{API: kodotest.APICompleteParts, Status: 599, Times: 0})
	err = ufs.WriteFile(context.Background(), u, "g", data)
	if err == nil {
		t.Fatal("a failed completion reported success")
	}
	if _, ok := srv.Get(bucket, "lost/g"); ok {
		t.Fatal("a failed upload is visible")
	}
}
