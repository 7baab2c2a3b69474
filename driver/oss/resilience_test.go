package oss_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/oss/osstest"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
	"github.com/unifiedfs/unifiedfs/ufs/retry/retrytest"
)

// The frames of goroutines working for a call of this driver.
var callFrames = []string{"unifiedfs/driver/oss.", "unifiedfs/ufs/retry.", "alibabacloud-oss-go-sdk-v2/oss."}

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

// viaProxy mounts a fresh directory of srv's test bucket through a toxiproxy and returns
// the UFS, the proxy and the key prefix of the mount's root.
func viaProxy(t *testing.T, srv *osstest.Server, extra map[string]string) (ufs.UFS, *retrytest.Proxy, string) {
	t.Helper()
	srv.CreateBucket(testBucket)
	px := retrytest.NewProxy(t, srv.Endpoint())
	opts := srv.Options()
	maps.Copy(opts, toxicOpts)
	maps.Copy(opts, extra)
	opts["fs.oss.endpoint"] = "http://" + px.Addr
	dir := fmt.Sprintf("tox%d/root", dirSeq.Add(1))
	u, err := ufs.Open(bg, srv.URI(testBucket, dir), opts)
	if err != nil {
		t.Fatalf("open through the proxy: %v", err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u, px, dir + "/"
}

func mapPairs(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	return kv
}

func stats(u ufs.UFS) *retry.Stats { return u.(retry.Reporter).RetryStats() }

func seeded(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// readAll reads [off, off+n) of p and fails the test unless it is exactly want.
func readExact(t *testing.T, u ufs.UFS, p string, off, n int64, want []byte) {
	t.Helper()
	r, err := u.OpenRange(bg, p, off, n)
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
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, nil)
	data := seeded(1, big)
	srv.PutObject(testBucket, root+"big", data)
	px.ResetAfter(retrytest.FromServer, 1<<20) // every connection dies after 1 MiB
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 0, -1, data) // whole object: CRC-64 checked across the resumes
	t.Logf("16 MiB whole read, a reset every 1 MiB: %d resumes, %d retries, %v", s.Resumed.Load(), s.Retries.Load(), time.Since(start))
	if s.Resumed.Load() < 15 {
		t.Fatalf("%d resumes for 16 MiB cut every 1 MiB", s.Resumed.Load())
	}
	// A version read of a range resumes for the same version too.
	before := s.Resumed.Load()
	st, err := u.Stat(bg, "big")
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.(ufs.VersionReader).OpenVersion(bg, "big", st.ContentHash, 12345, 4<<20)
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
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, map[string]string{"unifiedfs.retry.attempts": "10"})
	data := seeded(2, big)
	srv.PutObject(testBucket, root+"big", data)
	// A connection is reset in each 2 MiB it carries with probability 1/2.
	px.ResetShare(retrytest.FromServer, 0.5, 0, 2<<20, 42)
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 1000, -1, data[1000:])
	t.Logf("a 16 MiB read, a reset per 2 MiB with probability 1/2: %d resumes, %d retries, %v", s.Resumed.Load(), s.Retries.Load(), time.Since(start))
	if s.Resumed.Load() < 2 {
		t.Fatalf("%d resumes in 16 MiB: the toxic did not bite", s.Resumed.Load())
	}
}

func TestToxicReplacedMidReadIsChanged(t *testing.T) {
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, nil)
	data := seeded(3, 4<<20)
	srv.PutObject(testBucket, root+"f", data)
	px.ResetAfter(retrytest.FromServer, 1<<20)
	r, err := u.OpenRange(bg, "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	srv.PutObject(testBucket, root+"f", seeded(4, 4<<20)) // replaced while being read
	got, err := io.ReadAll(r)
	if !errors.Is(err, ufs.ErrChanged) {
		t.Fatalf("read across a replacement: %v after %d more bytes, want ufs.ErrChanged", err, len(got))
	}
	if !bytes.Equal(got, data[len(buf):len(buf)+len(got)]) {
		t.Fatal("bytes of the new version were delivered")
	}
}

func TestToxicBlackHole(t *testing.T) {
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, map[string]string{"unifiedfs.retry.attempts": "3"})
	data := seeded(5, big)
	srv.PutObject(testBucket, root+"big", data)

	hole := px.Hole()
	t.Run("Stat", func(t *testing.T) {
		hole.Set(true)
		defer hole.Set(false)
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		before := stats(u).Retries.Load()
		start := time.Now()
		_, err := u.Stat(ctx, "big")
		el := time.Since(start)
		t.Logf("stat into a black hole: %v after %d attempts in %v", err, stats(u).Retries.Load()-before+1, el)
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) {
			t.Fatalf("stat into a black hole: %v", err)
		}
		if el > 3*time.Second {
			t.Fatalf("took %v, past the 3s deadline", el)
		}
		retrytest.WaitGone(t, time.Second, callFrames...)
	})
	t.Run("MidRead", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 5*time.Second)
		defer cancel()
		r, err := u.OpenRange(ctx, "big", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		hole.Set(true)
		defer hole.Set(false)
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
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, with(smallParts, mapPairs(slow)...))
	data := seeded(6, 4<<20)
	srv.PutObject(testBucket, root+"big", data)
	px.Latency(20 * time.Millisecond)
	px.Slicer(8<<10, 4<<10, 10*time.Microsecond)
	start := time.Now()
	readExact(t, u, "big", 0, -1, data)
	up := seeded(7, 3<<20)
	if err := ufs.WriteFile(bg, u, "up", up); err != nil {
		t.Fatalf("upload through latency and slicing: %v", err)
	}
	t.Logf("4 MiB read + 3 MiB multipart upload under 20ms latency and 8 KiB slices: %v, %d retries", time.Since(start), stats(u).Retries.Load())
	if got, _ := srv.Object(testBucket, root+"up"); !bytes.Equal(got, up) {
		t.Fatal("uploaded content differs")
	}
	if n := stats(u).Retries.Load() + stats(u).Resumed.Load(); n != 0 {
		t.Fatalf("%d retries under latency alone (timeouts too tight?)", n)
	}
}

func TestToxicProxyDownAndUp(t *testing.T) {
	srv := osstest.NewServer(t)
	u, px, root := viaProxy(t, srv, map[string]string{"unifiedfs.retry.attempts": "30", "unifiedfs.retry.max.delay": "20ms"})
	srv.PutObject(testBucket, root+"f", []byte("hello"))

	px.Down()
	ctx, cancel := context.WithTimeout(bg, 3*time.Second)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	before := stats(u).Retries.Load()
	go func() { _, err := u.Stat(ctx, "f"); done <- err }()
	// Bring the proxy back once two refused attempts have been retried.
	testpeer.WaitFor(t, "two refused connections to be retried", 2*time.Second, func() bool {
		return stats(u).Retries.Load()-before >= 2
	})
	px.Up()
	if err := <-done; err != nil {
		t.Fatalf("stat while the proxy came back: %v", err)
	}
	t.Logf("stat across proxy down/up: %d retries, %v", stats(u).Retries.Load()-before, time.Since(start))

	// Down for good: refused connections fail the call once the attempts are used up.
	px.Down()
	start = time.Now()
	_, err := u.Stat(bg, "f")
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 30 || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("stat with the proxy down: %v, want 30 refused attempts", err)
	}
	t.Logf("stat with the proxy down: %v in %v", err, time.Since(start))
	px.Up()
	if _, err := u.Stat(bg, "f"); err != nil {
		t.Fatalf("the same FS did not recover: %v", err)
	}
}

func TestToxicUploads(t *testing.T) {
	srv := osstest.NewServer(t)
	// Resets are what is tested: a part's answer gets time enough on a loaded machine (the
	// 300ms of toxicOpts is for the stall tests).
	parts := map[string]string{"fs.oss.multipart.threshold": "1MB", "fs.oss.multipart.partSize": "1MB", "fs.oss.multipart.threads": "4",
		"unifiedfs.retry.attempts": "10", "unifiedfs.response.timeout": "3s"}

	t.Run("HalfTheConnectionsReset", func(t *testing.T) {
		u, px, root := viaProxy(t, srv, parts)
		px.ResetShare(retrytest.ToServer, 0.5, 0, 2<<20, 7)
		data := seeded(8, 8<<20)
		if err := ufs.WriteFile(bg, u, "f", data); err != nil {
			t.Fatalf("upload with half the connections reset: %v", err)
		}
		t.Logf("8 MiB multipart upload, a reset per 2 MiB sent with probability 1/2: %d retries", stats(u).Retries.Load())
		if got, _ := srv.Object(testBucket, root+"f"); !bytes.Equal(got, data) {
			t.Fatal("stored content differs")
		}
		if stats(u).Retries.Load() == 0 {
			t.Fatal("the toxic did not bite")
		}
	})
	t.Run("EveryConnectionResetNothingVisible", func(t *testing.T) {
		u, px, root := viaProxy(t, srv, with(parts, "fs.oss.multipart.partSize", "2MB", "unifiedfs.retry.attempts", "3"))
		before := len(srv.Keys(testBucket))
		px.ResetAfter(retrytest.ToServer, 1<<20) // no part of 2 MiB gets through
		err := ufs.WriteFile(bg, u, "f", seeded(9, 8<<20))
		if err == nil {
			t.Fatal("an upload whose every part failed succeeded")
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("not a PathError: %v", err)
		}
		if _, ok := srv.Object(testBucket, root+"f"); ok || len(srv.Keys(testBucket)) != before {
			t.Fatal("a failed upload left an object")
		}
		if n := srv.Uploads(testBucket); n != 0 {
			t.Fatalf("%d multipart uploads not aborted", n)
		}
		retrytest.WaitGone(t, time.Second, callFrames...)
	})
	t.Run("AbortHasItsOwnBound", func(t *testing.T) {
		u, px, _ := viaProxy(t, srv, parts)
		_ = px
		remove := srv.Inject(osstest.Fault{Op: "AbortMultipartUpload", Latency: 10 * time.Second})
		defer remove()
		ctx, cancel := context.WithCancel(bg)
		w, err := u.Create(ctx, "aborted", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(seeded(10, 3<<20)); err != nil {
			t.Fatal(err)
		}
		cancel()
		start := time.Now()
		err = w.Close()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Close after cancel: %v", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("the abort of a cancelled upload took %v; unifiedfs.abort.timeout is 500ms", el)
		}
	})
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, map[string]string{"unifiedfs.retry.attempts": "3"})
	if err := ufs.WriteFile(bg, u, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	slow := http.Header{"Retry-After": {"1"}}
	remove := srv.Inject(osstest.Fault{Op: "HeadObject", Status: 503, Code: "SlowDown", Header: slow, Times: 1})
	start := time.Now()
	_, err := u.Stat(bg, "f")
	remove()
	if err != nil {
		t.Fatalf("stat after one SlowDown: %v", err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("retried after %v, before the Retry-After of 1s", el)
	}
	if n := stats(u).Throttled.Load(); n != 1 {
		t.Fatalf("throttles counted: %d", n)
	}
	// A Retry-After past the deadline fails at once, with the store's answer.
	remove = srv.Inject(osstest.Fault{Op: "HeadObject", Status: 503, Code: "SlowDown", Header: http.Header{"Retry-After": {"30"}}})
	defer remove()
	ctx, cancel := context.WithTimeout(bg, 2*time.Second)
	defer cancel()
	start = time.Now()
	_, err = u.Stat(ctx, "f")
	if serviceCode(err) != "SlowDown" || !strings.Contains(err.Error(), "deadline") || time.Since(start) > time.Second {
		t.Fatalf("Retry-After 30s within a 2s deadline: %v after %v", err, time.Since(start))
	}
	// 429 is throttling too, and 403 never retried.
	before := srv.Requests("HeadObject")
	remove()
	remove = srv.Inject(osstest.Fault{Op: "HeadObject", Status: 429, Times: 2})
	if _, err := u.Stat(bg, "f"); err != nil || srv.Requests("HeadObject")-before != 3 {
		t.Fatalf("two 429s then success: %v after %d requests", err, srv.Requests("HeadObject")-before)
	}
}

// A completion whose reply is lost is retried; the retry finds no upload, and the driver
// finds the object it stored instead of reporting a failure.
func TestLostCompleteReply(t *testing.T) {
	srv := osstest.NewServer(t)
	u := mount(t, srv, smallParts)
	remove := srv.Inject(osstest.Fault{Op: "CompleteMultipartUpload", TruncateBody: true, Times: 1})
	defer remove()
	data := seeded(11, 1<<20)
	w, err := u.Create(bg, "f", ufs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close with the completion's reply lost: %v", err)
	}
	if n := srv.Requests("CompleteMultipartUpload"); n != 2 {
		t.Fatalf("%d completions, want 2 (one lost reply, one retry)", n)
	}
	st, ok := w.(ufs.StatWriter).Written()
	if stat, err := u.Stat(bg, "f"); err != nil || !ok || st.ContentHash != stat.ContentHash || stat.Size != int64(len(data)) {
		t.Fatalf("Written %+v (%v), Stat %+v, %v", st, ok, stat, err)
	}
}
