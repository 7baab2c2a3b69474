package hdfs_test

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
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/retry"
	"github.com/unifiedfs/unifiedfs/ufs/retry/retrytest"
)

// The frames of goroutines working for a call of this driver (the client's lease renewer
// lives as long as the FS and is not one of them).
var callFrames = []string{"unifiedfs/driver/hdfs.", "colinmarc/hdfs/v2/internal/transfer."}

// waitGone is retrytest.WaitGone for callFrames, except the client's ack reader of a
// block stream that failed: colinmarc/hdfs v2.4.0 never closes its packet channel after
// an ack or write error (blockWriteStream.finish returns first), so that goroutine stays
// parked, holding nothing but the stream. It is counted and logged, not failed on.
func waitGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		var left []string
		parked := 0
		for _, g := range retrytest.Goroutines(callFrames...) {
			if strings.Contains(g, "(*blockWriteStream).ackPackets") && strings.Contains(g, "[chan receive") {
				parked++
				continue
			}
			left = append(left, g)
		}
		if len(left) == 0 {
			if parked > 0 {
				t.Logf("%d ack readers of failed block streams stay parked (client bug)", parked)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines outlived the call by 1s:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling interval of the condition above
	}
}

// toxicOpts are tight bounds for the proxy tests: each stall costs at most 300ms.
var toxicOpts = map[string]string{
	"unifiedfs.retry.attempts":   "6",
	"unifiedfs.retry.base.delay": "5ms",
	"unifiedfs.retry.max.delay":  "50ms",
	"unifiedfs.connect.timeout":  "300ms",
	"unifiedfs.idle.timeout":     "300ms",
	"unifiedfs.request.timeout":  "1s",
	"unifiedfs.abort.timeout":    "500ms",
}

// toxic is a cluster with 8 MiB blocks (so a DataNode connection carries megabytes) and
// a proxy in front of each of its NameNode and DataNode; block locations name the
// DataNode's proxy.
type toxic struct {
	c      *hdfstest.Cluster
	nn, dn *retrytest.Proxy
}

func newToxic(t *testing.T) *toxic {
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 8 << 20})
	x := &toxic{c: c, nn: retrytest.NewProxy(t, c.Addr()), dn: retrytest.NewProxy(t, c.DatanodeAddr())}
	c.AdvertiseDatanode(x.dn.Addr)
	return x
}

// mount opens a fresh directory through the NameNode's proxy, and the same directory
// directly (for the test's own writes), with extra options.
func (x *toxic) mount(t *testing.T, extra map[string]string) (proxied, direct ufs.UFS) {
	t.Helper()
	dir := fmt.Sprintf("/tox/%d", dirs.Add(1))
	x.c.MkdirAll(dir, x.c.User(), 0o755)
	opts := x.c.Options()
	maps.Copy(opts, toxicOpts)
	maps.Copy(opts, extra)
	var err error
	if proxied, err = ufs.Open(bg, "hdfs://"+x.nn.Addr+dir, opts); err != nil {
		t.Fatalf("open through the proxy: %v", err)
	}
	t.Cleanup(func() { _ = proxied.Close() })
	if direct, err = ufs.Open(bg, "hdfs://"+x.c.Addr()+dir, x.c.Options()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	return proxied, direct
}

func stats(u ufs.UFS) *retry.Stats { return u.(retry.Reporter).RetryStats() }

func seeded(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// readExact reads [off, off+n) of p and fails the test unless it is exactly want.
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

func write(t *testing.T, u ufs.UFS, p string, data []byte) {
	t.Helper()
	if err := ufs.WriteFile(bg, u, p, data); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
}

const big = 16 << 20

func TestToxicResetPerConnection(t *testing.T) {
	x := newToxic(t)
	u, direct := x.mount(t, nil)
	data := seeded(1, big)
	write(t, direct, "big", data)
	x.dn.ResetAfter(retrytest.FromServer, 1<<20) // every DataNode connection dies after 1 MiB
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 0, -1, data)
	t.Logf("16 MiB read, a reset every 1 MiB: %d resumes, %d retries, %v", s.Resumed.Load(), s.Retries.Load(), time.Since(start))
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
	x := newToxic(t)
	u, direct := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "10"})
	data := seeded(2, big)
	write(t, direct, "big", data)
	// A DataNode connection is reset in each 2 MiB it carries with probability 1/2, and a
	// NameNode connection in each KiB with probability 1/2.
	x.dn.ResetShare(retrytest.FromServer, 0.5, 0, 2<<20, 42)
	x.nn.ResetShare(retrytest.FromServer, 0.5, 0, 1<<10, 43)
	s := stats(u)
	start := time.Now()
	readExact(t, u, "big", 1000, -1, data[1000:])
	t.Logf("16 MiB read, resets with probability 1/2 per 2 MiB (DataNode) and per KiB (NameNode): %d resumes, %d retries, %v",
		s.Resumed.Load(), s.Retries.Load(), time.Since(start))
	if s.Resumed.Load() < 2 {
		t.Fatalf("%d resumes in 16 MiB: the toxic did not bite", s.Resumed.Load())
	}
}

func TestToxicReplacedMidReadIsChanged(t *testing.T) {
	x := newToxic(t)
	u, direct := x.mount(t, nil)
	data := seeded(3, 4<<20)
	write(t, direct, "f", data)
	x.dn.ResetAfter(retrytest.FromServer, 1<<20) // the read's connection breaks at 1 MiB
	r, err := u.OpenRange(bg, "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	write(t, direct, "f", seeded(4, 4<<20)) // replaced while being read: a new file
	got, err := io.ReadAll(r)
	if !errors.Is(err, ufs.ErrChanged) {
		t.Fatalf("read across a replacement: %v after %d more bytes, want ufs.ErrChanged", err, len(got))
	}
	if !bytes.Equal(got, data[len(buf):len(buf)+len(got)]) {
		t.Fatal("bytes of the new version were delivered")
	}
}

func TestToxicBlackHole(t *testing.T) {
	x := newToxic(t)
	u, direct := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "3"})
	data := seeded(5, big)
	write(t, direct, "big", data)

	nnHole, dnHole := x.nn.Hole(), x.dn.Hole()
	t.Run("Stat", func(t *testing.T) {
		nnHole.Set(true)
		defer nnHole.Set(false)
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
		waitGone(t)
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
		dnHole.Set(true)
		defer dnHole.Set(false)
		start := time.Now()
		_, err = io.Copy(io.Discard, r)
		el := time.Since(start)
		r.Close()
		t.Logf("read stalled by a black hole: %v after %v", err, el)
		var pe *fs.PathError
		if err == nil || !errors.As(err, &pe) || el > 5*time.Second {
			t.Fatalf("stalled read: %v after %v", err, el)
		}
		waitGone(t)
	})
	t.Run("DeadlineBeforeIdleTimeout", func(t *testing.T) {
		// The caller's deadline bounds a stalled read even when it is shorter than the
		// idle timeout.
		slow, slowDirect := x.mount(t, map[string]string{"unifiedfs.idle.timeout": "30s"})
		write(t, slowDirect, "big", data[:4<<20])
		ctx, cancel := context.WithTimeout(bg, 500*time.Millisecond)
		defer cancel()
		r, err := slow.OpenRange(ctx, "big", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		dnHole.Set(true)
		defer dnHole.Set(false)
		start := time.Now()
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if el := time.Since(start); err == nil || el > 2*time.Second {
			t.Fatalf("read past its 500ms deadline: %v after %v", err, el)
		}
	})
	t.Run("Upload", func(t *testing.T) {
		u, _ := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "3"})
		w, err := u.Create(bg, "f", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(seeded(12, 1<<20)); err != nil {
			t.Fatal(err)
		}
		dnHole.Set(true)
		start := time.Now()
		_, werr := w.Write(seeded(13, 9<<20)) // crosses into a second block
		err = w.Close()
		dnHole.Set(false)
		t.Logf("upload into a black hole: write %v, close %v after %v", werr, err, time.Since(start))
		if werr == nil && err == nil {
			t.Fatal("an upload into a black hole succeeded")
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("the failed upload took %v", el)
		}
		assertNothingLeft(t, u)
		waitGone(t)
	})
	// The same FS recovers once the faults are gone.
	readExact(t, u, "big", 0, 1<<20, data[:1<<20])
}

// assertNothingLeft fails the test unless the root of u is empty (no file, no temporary
// file of an upload).
func assertNothingLeft(t *testing.T, u ufs.UFS) {
	t.Helper()
	pg, err := u.List(bg, ufs.Root, ufs.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Entries) != 0 {
		var names []string
		for _, e := range pg.Entries {
			names = append(names, e.Name)
		}
		t.Fatalf("a failed upload left %v", names)
	}
}

func TestToxicLatencyAndSlicer(t *testing.T) {
	// Timeouts well above the latency: any retry here would be a spurious one.
	x := newToxic(t)
	u, direct := x.mount(t, map[string]string{"unifiedfs.idle.timeout": "3s", "unifiedfs.request.timeout": "10s"})
	data := seeded(6, 4<<20)
	write(t, direct, "big", data)
	for _, px := range []*retrytest.Proxy{x.nn, x.dn} {
		px.Latency(20 * time.Millisecond)
		px.Slicer(8<<10, 4<<10, 10*time.Microsecond)
	}
	start := time.Now()
	readExact(t, u, "big", 0, -1, data)
	up := seeded(7, 3<<20)
	write(t, u, "up", up)
	t.Logf("4 MiB read + 3 MiB upload under 20ms latency and 8 KiB slices: %v, %d retries", time.Since(start), stats(u).Retries.Load())
	readExact(t, direct, "up", 0, -1, up)
	if n := stats(u).Retries.Load() + stats(u).Resumed.Load(); n != 0 {
		t.Fatalf("%d retries under latency alone (timeouts too tight?)", n)
	}
}

func TestToxicProxyDownAndUp(t *testing.T) {
	x := newToxic(t)
	u, direct := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "30", "unifiedfs.retry.max.delay": "20ms"})
	write(t, direct, "f", []byte("hello"))

	x.nn.Down()
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
	x.nn.Up()
	if err := <-done; err != nil {
		t.Fatalf("stat while the proxy came back: %v", err)
	}
	t.Logf("stat across NameNode proxy down/up: %d retries, %v", stats(u).Retries.Load()-before, time.Since(start))

	// Down for good: refused connections fail the call once the attempts are used up.
	x.nn.Down()
	start = time.Now()
	_, err := u.Stat(bg, "f")
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 30 || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("stat with the proxy down: %v, want 30 refused attempts", err)
	}
	t.Logf("stat with the NameNode proxy down: %d attempts in %v", re.Attempts, time.Since(start))
	x.nn.Up()
	if _, err := u.Stat(bg, "f"); err != nil {
		t.Fatalf("the same FS did not recover: %v", err)
	}
}

func TestToxicUploads(t *testing.T) {
	x := newToxic(t)
	t.Run("NamenodeResets", func(t *testing.T) {
		u, direct := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "10"})
		// NameNode connections reset in each 2 KiB they carry with probability 1/4. The
		// driver's calls (create, complete, rename) are retried; the client's own calls
		// inside Write (addBlock) are not, so an upload may fail, leaving nothing.
		x.nn.ResetShare(retrytest.ToServer, 0.25, 0, 2<<10, 7)
		defer x.nn.Clear()
		ok := 0
		for i := range 4 {
			data := seeded(int64(20+i), 3<<20)
			name := fmt.Sprintf("f%d", i)
			if err := ufs.WriteFile(bg, u, name, data); err != nil {
				t.Logf("upload %d failed: %v", i, err)
				if _, serr := direct.Stat(bg, name); !errors.Is(serr, fs.ErrNotExist) {
					t.Fatalf("a failed upload is visible: %v", serr)
				}
				continue
			}
			ok++
			readExact(t, direct, name, 0, -1, data)
		}
		t.Logf("4 uploads of 3 MiB, NameNode connections reset with probability 1/4 per 2 KiB: %d succeeded, %d retries", ok, stats(u).Retries.Load())
		if stats(u).Retries.Load() == 0 {
			t.Fatal("the toxic did not bite")
		}
		pg, err := direct.List(bg, ufs.Root, ufs.ListOptions{})
		if err != nil || len(pg.Entries) != ok {
			t.Fatalf("entries %+v (%v), want the %d uploaded files and no temporary one", pg.Entries, err, ok)
		}
	})
	t.Run("DatanodeResetNothingVisible", func(t *testing.T) {
		u, _ := x.mount(t, map[string]string{"unifiedfs.retry.attempts": "3"})
		x.dn.ResetAfter(retrytest.ToServer, 1<<20)
		defer x.dn.Clear()
		err := ufs.WriteFile(bg, u, "f", seeded(9, 4<<20))
		if err == nil {
			t.Fatal("an upload whose pipeline broke succeeded")
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("not a PathError: %v", err)
		}
		assertNothingLeft(t, u)
		waitGone(t)
	})
	t.Run("CleanupHasItsOwnBound", func(t *testing.T) {
		u, _ := x.mount(t, nil)
		ctx, cancel := context.WithCancel(bg)
		w, err := u.Create(ctx, "cancelled", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(seeded(10, 1<<20)); err != nil {
			t.Fatal(err)
		}
		cancel()
		hole := x.nn.Hole()
		hole.Set(true)
		start := time.Now()
		err = w.Close()
		hole.Set(false)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Close after cancel: %v", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("the cleanup of a cancelled upload took %v; unifiedfs.abort.timeout is 500ms", el)
		}
		waitGone(t)
	})
}

// Replies lost after the NameNode acted: the retry finds the outcome and reports success.
func TestLostReplies(t *testing.T) {
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, toxicOpts)
	for _, method := range []string{"create", "complete", "rename2"} {
		c.LoseNextReply(method)
		calls := c.Calls(method)
		data := []byte("lost " + method)
		if err := ufs.WriteFile(bg, u, method, data); err != nil {
			t.Fatalf("write with the reply to %s lost: %v", method, err)
		}
		if n := c.Calls(method) - calls; n < 2 {
			t.Fatalf("%d calls of %s: the reply was not lost", n, method)
		}
		if got, err := ufs.ReadFile(bg, u, method); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back: %q, %v", got, err)
		}
	}
	pg, err := u.List(bg, ufs.Root, ufs.ListOptions{})
	if err != nil || len(pg.Entries) != 3 {
		t.Fatalf("entries after the lost replies: %+v, %v (want the three files, no temporary one)", pg.Entries, err)
	}
	c.LoseNextReply("delete")
	if err := u.Remove(bg, "create"); err != nil {
		t.Fatalf("remove with the reply lost: %v", err)
	}
	if _, err := u.Stat(bg, "create"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removed file: %v", err)
	}
	c.LoseNextReply("rename2")
	if err := u.Rename(bg, "complete", "moved"); err != nil {
		t.Fatalf("rename with the reply lost: %v", err)
	}
}

func TestTransientExceptionsAreRetried(t *testing.T) {
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, toxicOpts)
	if err := ufs.WriteFile(bg, u, "f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, class := range []string{
		"org.apache.hadoop.hdfs.server.namenode.SafeModeException",
		"org.apache.hadoop.ipc.RetriableException",
		"org.apache.hadoop.ipc.StandbyException",
	} {
		c.FailNext("getFileInfo", class, "injected")
		c.FailNext("getFileInfo", class, "injected")
		before := c.Calls("getFileInfo")
		if _, err := u.Stat(bg, "f"); err != nil {
			t.Fatalf("stat after two %s: %v", class, err)
		}
		if n := c.Calls("getFileInfo") - before; n != 3 {
			t.Fatalf("%s: %d calls, want 3", class, n)
		}
	}
	c.FailNext("getFileInfo", "org.apache.hadoop.security.AccessControlException", "injected")
	before := c.Calls("getFileInfo")
	if _, err := u.Stat(bg, "f"); !errors.Is(err, fs.ErrPermission) || c.Calls("getFileInfo")-before != 1 {
		t.Fatalf("AccessControlException: %v after %d calls, want one", err, c.Calls("getFileInfo")-before)
	}
}
