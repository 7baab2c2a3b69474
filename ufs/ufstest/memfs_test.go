package ufstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func TestConformanceFileSystemFlavor(t *testing.T) {
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return ufs.Guard(ufstest.New(ufstest.FileSystem)) }})
}

func TestConformanceObjectStoreFlavor(t *testing.T) {
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS { return ufs.Guard(ufstest.New(ufstest.ObjectStore)) }})
}

func TestConformanceWithShortReads(t *testing.T) {
	ufstest.Run(t, ufstest.Harness{New: func(t *testing.T) ufs.UFS {
		m := ufstest.New(ufstest.ObjectStore)
		m.ShortReads(true)
		return ufs.Guard(m)
	}})
}

// overwritingRename breaks the no-overwrite contract of Rename, as colinmarc/hdfs does.
type overwritingRename struct{ *ufstest.MemFS }

func (o overwritingRename) Rename(ctx context.Context, src, dst string) error {
	_ = o.MemFS.RemoveAll(ctx, dst)
	return o.MemFS.Rename(ctx, src, dst)
}

// unsortedList returns each page reversed.
type unsortedList struct{ *ufstest.MemFS }

func (u unsortedList) List(ctx context.Context, dir string, opts ufs.ListOptions) (ufs.ListPage, error) {
	p, err := u.MemFS.List(ctx, dir, opts)
	for i, j := 0, len(p.Entries)-1; i < j; i, j = i+1, j-1 {
		p.Entries[i], p.Entries[j] = p.Entries[j], p.Entries[i]
	}
	return p, err
}

// swallowingClose reports success even when the upload failed (Alluxio's Kodo bug).
type swallowingClose struct{ *ufstest.MemFS }

type swallowWriter struct{ ufs.Writer }

func (w swallowWriter) Close() error { _ = w.Writer.Close(); return nil }

func (s swallowingClose) Create(ctx context.Context, p string, o ufs.CreateOptions) (ufs.Writer, error) {
	w, err := s.MemFS.Create(ctx, p, o)
	if err != nil {
		return nil, err
	}
	return swallowWriter{w}, nil
}

// wrongWritten reports a stale content hash from Written (a writer that records what it
// meant to store, not what the store answered).
type wrongWritten struct{ *ufstest.MemFS }

type wrongWrittenWriter struct{ ufs.Writer }

func (w wrongWrittenWriter) Written() (ufs.Status, bool) {
	st, ok := w.Writer.(ufs.StatWriter).Written()
	st.ContentHash += "-stale"
	return st, ok
}

func (s wrongWritten) Create(ctx context.Context, p string, o ufs.CreateOptions) (ufs.Writer, error) {
	w, err := s.MemFS.Create(ctx, p, o)
	if err != nil {
		return nil, err
	}
	return wrongWrittenWriter{w}, nil
}

// deafCounter implements ufs.ChangeCounter but never counts a change.
type deafCounter struct{ *ufstest.MemFS }

func (d deafCounter) ChangesSince(ctx context.Context, dir string, cursor uint64) (int, uint64, error) {
	_, now, err := d.MemFS.ChangesSince(ctx, dir, cursor)
	return 0, now, err
}

// unguarded is a driver handed out without ufs.Guard whose Close does nothing, as a driver
// that forgets the closed check.
type unguarded struct{ *ufstest.MemFS }

func (unguarded) Close() error { return nil }

// laxPaths resolves ".." instead of refusing it, as a driver that forgets CheckPath would
// through a lenient SDK; it is not guarded.
type laxPaths struct{ *ufstest.MemFS }

func lax(p string) string { return strings.ReplaceAll(path.Clean("/"+p), "\x00", "") }

func (l laxPaths) Stat(ctx context.Context, p string) (ufs.Status, error) {
	return l.MemFS.Stat(ctx, lax(p))
}
func (l laxPaths) Mkdir(ctx context.Context, p string) error { return l.MemFS.Mkdir(ctx, lax(p)) }

// TestBrokenDriverHelper runs the suite over a deliberately broken driver; it is meant to
// fail and only runs when TestSuiteCatchesBrokenDrivers re-executes the test binary.
func TestBrokenDriverHelper(t *testing.T) {
	kind := os.Getenv("UFSTEST_BROKEN")
	if kind == "" {
		t.Skip("run by TestSuiteCatchesBrokenDrivers")
	}
	var s ufstest.Stores
	s.Add("bucket", ufstest.ObjectStore)
	s.SetPassword("bucket", "pw")
	h := ufstest.Harness{
		New: func(t *testing.T) ufs.UFS {
			m := ufstest.New(ufstest.FileSystem)
			switch kind {
			case "rename":
				return ufs.Guard(overwritingRename{m})
			case "list":
				return ufs.Guard(unsortedList{m})
			case "close":
				m.Inject(ufstest.Fault{Op: ufstest.OpClose, Under: "cx"})
				return ufs.Guard(swallowingClose{m})
			case "written":
				return ufs.Guard(wrongWritten{m})
			case "changes":
				return ufs.Guard(deafCounter{m})
			case "unguarded":
				return unguarded{m}
			case "paths":
				return laxPaths{m}
			case "missing", "credentials":
				return ufs.Guard(m)
			}
			t.Fatalf("unknown kind %q", kind)
			return nil
		},
		OpenMissing: func(t *testing.T) (ufs.UFS, error) {
			if kind == "missing" { // mounts a missing bucket silently, as Alluxio does
				return ufs.Guard(ufstest.New(ufstest.ObjectStore)), nil
			}
			return s.Registry().Open(bg, "mem://no-such-bucket/", nil)
		},
		OpenBadCredentials: func(t *testing.T) (ufs.UFS, error) {
			if kind == "credentials" { // reports a refused login as a missing bucket
				_, err := s.Registry().Open(bg, "mem://bucket/", map[string]string{"mem.password": "wrong"})
				return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
			}
			return s.Registry().Open(bg, "mem://bucket/", map[string]string{"mem.password": "wrong"})
		},
	}
	ufstest.Run(t, h)
}

var bg = context.Background()

func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, c := range []struct{ kind, failing string }{
		{"rename", "--- FAIL: TestBrokenDriverHelper/RenameOntoExisting"},
		{"list", "--- FAIL: TestBrokenDriverHelper/ListOrderAndPaging"},
		{"close", "--- FAIL: TestBrokenDriverHelper/CancelledContext"},
		{"written", "--- FAIL: TestBrokenDriverHelper/WrittenMatchesStat"},
		{"changes", "--- FAIL: TestBrokenDriverHelper/ChangeCounter"},
		{"unguarded", "--- FAIL: TestBrokenDriverHelper/ClosedUFS"},
		{"unguarded", "--- FAIL: TestBrokenDriverHelper/Guarded"},
		{"paths", "--- FAIL: TestBrokenDriverHelper/InvalidPaths"},
		{"missing", "--- FAIL: TestBrokenDriverHelper/OpenMissing"},
		{"credentials", "--- FAIL: TestBrokenDriverHelper/OpenBadCredentials"},
	} {
		t.Run(c.kind+"/"+path.Base(c.failing), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenDriverHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "UFSTEST_BROKEN="+c.kind)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite passed over the %q-broken driver:\n%s", c.kind, out)
			}
			if !strings.Contains(string(out), c.failing) {
				t.Fatalf("broken %q: want %q in the output:\n%s", c.kind, c.failing, out)
			}
		})
	}
}

func TestInjectedUploadFailureSurfacesFromClose(t *testing.T) {
	for _, flavor := range []ufstest.Flavor{ufstest.FileSystem, ufstest.ObjectStore} {
		m := ufstest.New(flavor)
		m.Inject(ufstest.Fault{Op: ufstest.OpClose, Nth: 1})
		ctx := context.Background()
		w, err := m.Create(ctx, "up/f", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		err = w.Close()
		if !errors.Is(err, ufstest.ErrInjected) {
			t.Fatalf("%v: Close = %v, want the injected fault", flavor, err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != "up/f" {
			t.Fatalf("%v: Close error %v is not a PathError for up/f", flavor, err)
		}
		if m.Direct().Exists("up/f") {
			t.Fatalf("%v: failed upload is visible", flavor)
		}
		// The second upload (fault was for the first Close only) succeeds.
		if err := ufs.WriteFile(ctx, m, "up/f", []byte("data")); err != nil {
			t.Fatalf("%v: second upload: %v", flavor, err)
		}
		if got, _ := m.Direct().Get("up/f"); string(got) != "data" {
			t.Fatalf("%v: got %q", flavor, got)
		}
	}
}

func TestFaultsAndCounters(t *testing.T) {
	ctx := context.Background()
	m := ufstest.New(ufstest.ObjectStore)
	m.Direct().Put("a/b", []byte("hello"))
	if _, err := m.Stat(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if m.Calls(ufstest.OpStat) != 1 || m.Calls(ufstest.OpOpen) != 0 || m.Calls(ufstest.OpRead) != 0 {
		t.Fatalf("counters: stat %d open %d read %d", m.Calls(ufstest.OpStat), m.Calls(ufstest.OpOpen), m.Calls(ufstest.OpRead))
	}
	// Nth: only the 2nd list fails.
	m.Inject(ufstest.Fault{Op: ufstest.OpList, Nth: 2})
	for i, wantFail := range []bool{false, true, false} {
		_, err := m.List(ctx, "a", ufs.ListOptions{})
		if (err != nil) != wantFail || wantFail && !errors.Is(err, ufstest.ErrInjected) {
			t.Fatalf("list %d: err %v, want failure %v", i+1, err, wantFail)
		}
	}
	// Probability with a seed: deterministic and roughly the rate.
	m.ClearFaults()
	m.Seed(42)
	m.Inject(ufstest.Fault{Op: ufstest.OpStat, Prob: 0.3})
	fails := 0
	for i := 0; i < 1000; i++ {
		if _, err := m.Stat(ctx, "a/b"); err != nil {
			fails++
		}
	}
	if fails < 200 || fails > 400 {
		t.Fatalf("%d/1000 failures at p=0.3", fails)
	}
	// Custom error and path restriction.
	m.ClearFaults()
	m.Inject(ufstest.Fault{Op: ufstest.OpStat, Under: "a", Err: fs.ErrPermission})
	if _, err := m.Stat(ctx, "a/b"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("custom error: %v", err)
	}
	if _, err := m.Stat(ctx, "elsewhere"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("fault leaked outside its path: %v", err)
	}
	// Latency honours the context.
	m.ClearFaults()
	m.Inject(ufstest.Fault{Op: ufstest.OpStat, Latency: time.Hour, LatencyOnly: true})
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := m.Stat(cctx, "a/b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("latency with deadline: %v", err)
	}
	// Read faults hit a reader mid-stream.
	m.ClearFaults()
	m.Inject(ufstest.Fault{Op: ufstest.OpRead, Nth: 1})
	r, err := m.OpenRange(ctx, "a/b", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ufstest.ErrInjected) {
		t.Fatalf("read fault: %v", err)
	}
	// The call log records order.
	m.ClearFaults()
	m.ResetCalls()
	m.Record(true)
	_, _ = m.Stat(ctx, "a")
	_, _ = m.List(ctx, "a", ufs.ListOptions{})
	log := m.Log()
	if len(log) != 2 || log[0] != (ufstest.Call{Op: ufstest.OpStat, Path: "a"}) || log[1].Op != ufstest.OpList {
		t.Fatalf("log = %v", log)
	}
}

func TestDirectChangesOutOfBand(t *testing.T) {
	ctx := context.Background()
	for _, flavor := range []ufstest.Flavor{ufstest.FileSystem, ufstest.ObjectStore} {
		m := ufstest.New(flavor)
		d := m.Direct()
		d.Put("x/y/z", []byte("1"))
		st, err := m.Stat(ctx, "x/y")
		if err != nil || !st.IsDir {
			t.Fatalf("%v: implied/created parent: %+v %v", flavor, st, err)
		}
		before, _ := m.Stat(ctx, "x/y/z")
		d.Chown("x/y/z", "alice", "staff", 0o600)
		after, _ := m.Stat(ctx, "x/y/z")
		fb, fa := ufs.FingerprintOf("memory", before), ufs.FingerprintOf("memory", after)
		if !fb.MetadataChanged(fa) || fb.ContentChanged(fa) {
			t.Fatalf("%v: chown should be a metadata-only change: %v -> %v", flavor, fb, fa)
		}
		d.Put("x/y/z", []byte("2"))
		after2, _ := m.Stat(ctx, "x/y/z")
		if !fa.ContentChanged(ufs.FingerprintOf("memory", after2)) {
			t.Fatalf("%v: new content not a content change", flavor)
		}
		if !d.Delete("x") || d.Exists("x/y/z") || d.Exists("x") {
			t.Fatalf("%v: delete failed", flavor)
		}
		if m.TotalCalls() != 4 { // the four Stats above
			t.Fatalf("%v: direct access counted as calls: %d", flavor, m.TotalCalls())
		}
		d.Put("files/a", []byte("a"))
		d.Mkdir("files/empty")
		if got := d.Files("files"); len(got) != 1 || got[0] != "files/a" {
			t.Fatalf("%v: files = %v", flavor, got)
		}
		if got, ok := d.Get("files/a"); !ok || !bytes.Equal(got, []byte("a")) {
			t.Fatalf("%v: get = %q %v", flavor, got, ok)
		}
	}
}

func TestConformancePrefixedStore(t *testing.T) {
	var s ufstest.Stores
	s.Add("locked", ufstest.ObjectStore)
	s.SetPassword("locked", "pw")
	n := 0
	ufstest.Run(t, ufstest.Harness{
		New: func(t *testing.T) ufs.UFS {
			n++
			m := s.Add("b", ufstest.ObjectStore)
			dir := "root" + string(rune('a'+n%26)) + "/x" + strings.Repeat("y", n/26)
			m.Direct().Mkdir(dir)
			u, err := s.Registry().Open(context.Background(), "mem://b/"+dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			return u
		},
		OpenMissing: func(t *testing.T) (ufs.UFS, error) {
			return s.Registry().Open(context.Background(), "mem://nope/", nil)
		},
		OpenBadCredentials: func(t *testing.T) (ufs.UFS, error) {
			return s.Registry().Open(context.Background(), "mem://locked/", map[string]string{"mem.password": "nope"})
		},
	})
}

// TestFaultSignals checks Entered and Hold: a test learns a call is in flight and holds it
// until it lets go, with no sleep.
func TestFaultSignals(t *testing.T) {
	m := ufstest.New(ufstest.ObjectStore)
	m.Direct().Put("d/f", []byte("x"))
	entered := make(chan ufstest.Call)
	hold := make(chan struct{})
	m.Inject(ufstest.Fault{Op: ufstest.OpStat, Under: "d", Entered: entered, Hold: hold})
	done := make(chan error, 1)
	go func() { _, err := m.Stat(bg, "d/f"); done <- err }()
	if c := <-entered; c != (ufstest.Call{Op: ufstest.OpStat, Path: "d/f"}) {
		t.Fatalf("entered %v", c)
	}
	select {
	case err := <-done:
		t.Fatalf("held call returned %v before its release", err)
	default:
	}
	close(hold)
	if err := <-done; err != nil {
		t.Fatalf("a signalling fault without Err failed the call: %v", err)
	}
	// A call outside the fault's path is not signalled.
	if _, err := m.Stat(bg, "elsewhere"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	// With Err the signalled call fails; a done context releases a held call.
	m.ClearFaults()
	m.Inject(ufstest.Fault{Op: ufstest.OpList, Err: fs.ErrPermission, Hold: make(chan struct{})})
	ctx, cancel := context.WithCancel(bg)
	go func() { _, err := m.List(ctx, "d", ufs.ListOptions{}); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("held call with a cancelled context: %v", err)
	}
	m.ClearFaults()
	m.Inject(ufstest.Fault{Op: ufstest.OpList, Nth: 2, Err: fs.ErrPermission, Entered: entered})
	if _, err := m.List(bg, "d", ufs.ListOptions{}); err != nil {
		t.Fatalf("first list (not the Nth): %v", err)
	}
	go func() { _, err := m.List(bg, "d", ufs.ListOptions{}); done <- err }()
	<-entered
	if err := <-done; !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("the Nth list: %v, want the fault's error", err)
	}
}
