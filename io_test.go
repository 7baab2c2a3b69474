package unifiedfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func TestWriteTypes(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond}, ufstest.ObjectStore)
	data := strings.Repeat("0123456789", 1000)
	cases := []struct {
		wt        unifiedfs.WriteType
		inUFS     bool // right after Close
		state     unifiedfs.PersistState
		cached    bool
		eventualy bool // in the UFS eventually
	}{
		{unifiedfs.MustCache, false, unifiedfs.NotPersisted, true, false},
		{unifiedfs.CacheThrough, true, unifiedfs.Persisted, true, true},
		{unifiedfs.Through, true, unifiedfs.Persisted, false, true},
		{unifiedfs.AsyncThrough, false, unifiedfs.ToBePersisted, true, true},
		{unifiedfs.WriteDefault, true, unifiedfs.Persisted, true, true}, // CacheThrough
	}
	// Hold async persists back until we looked at the state after Close.
	release := e.root.Inject(ufstest.Fault{Op: ufstest.OpCreate, Under: "ASYNC_THROUGH", Latency: 300 * time.Millisecond, LatencyOnly: true})
	for _, c := range cases {
		p := c.wt.String()
		t.Run(p, func(t *testing.T) {
			w, err := e.fs.Create(ctx, p, unifiedfs.CreateOptions{WriteType: c.wt})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, strings.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			// Incomplete files are visible as such, and never in the UFS before Close.
			if st := e.status(p); !st.Incomplete {
				t.Errorf("%s: not incomplete while written", p)
			}
			if e.root.Direct().Exists(p) {
				t.Errorf("%s: in the UFS before Close", p)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%s: close: %v", p, err)
			}
			st := e.status(p)
			if got, ok := e.root.Direct().Get(p); ok != c.inUFS || ok && string(got) != data {
				t.Errorf("%s: in UFS after Close = %v (%d bytes), want %v", p, ok, len(got), c.inUFS)
			}
			if st.PersistState != c.state || st.Incomplete || st.Size != int64(len(data)) {
				t.Errorf("%s: status %v incomplete=%v size=%d", p, st.PersistState, st.Incomplete, st.Size)
			}
			if (st.CachedBytes == int64(len(data))) != c.cached {
				t.Errorf("%s: cached %d bytes", p, st.CachedBytes)
			}
			if e.read(p) != data {
				t.Errorf("%s: read back differs", p)
			}
		})
	}
	release()
	testpeer.WaitFor(t, "the async persist", 5*time.Second, func() bool { return e.status("ASYNC_THROUGH").PersistState == unifiedfs.Persisted })
	if got, _ := e.root.Direct().Get("ASYNC_THROUGH"); string(got) != data {
		t.Fatal("async persist did not land")
	}
	if st := e.status("ASYNC_THROUGH"); st.PersistState != unifiedfs.Persisted || st.Fingerprint == "" {
		t.Fatalf("async state %v fingerprint %q", st.PersistState, st.Fingerprint)
	}
	if e.root.Direct().Exists("MUST_CACHE") {
		t.Fatal("MUST_CACHE reached the UFS")
	}
}

func TestCacheThroughUploadFailureLeavesNothing(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	e.root.Inject(ufstest.Fault{Op: ufstest.OpClose, Nth: 1})
	err := e.fs.WriteFile(ctx, "/f", []byte("data"), unifiedfs.CreateOptions{})
	if !errors.Is(err, ufstest.ErrInjected) {
		t.Fatalf("WriteFile = %v, want the injected upload failure", err)
	}
	if _, err := e.fs.Stat("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed file visible: %v", err)
	}
	if e.root.Direct().Exists("f") {
		t.Fatal("failed upload visible in the UFS")
	}
	e.write("/f", "again", 0)
	if e.read("f") != "again" {
		t.Fatal("retry failed")
	}
}

func TestReadTypes(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	data := bytes.Repeat([]byte("x"), 3<<20)
	for _, n := range []string{"nocache", "cache", "promote"} {
		e.root.Direct().Put(n, data)
	}
	read := func(p string, rt unifiedfs.ReadType) {
		t.Helper()
		f, err := e.fs.OpenFile(ctx, p, unifiedfs.OpenOptions{ReadType: rt})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes, %v", p, len(got), err)
		}
	}
	e.root.ResetCalls()
	read("nocache", unifiedfs.NoCache)
	if st := e.status("nocache"); st.CachedBytes != 0 {
		t.Errorf("NO_CACHE cached %d bytes", st.CachedBytes)
	}
	opens := e.root.Calls(ufstest.OpOpen)
	read("nocache", unifiedfs.NoCache)
	if e.root.Calls(ufstest.OpOpen) <= opens {
		t.Error("second NO_CACHE read did not go to the UFS")
	}
	for _, c := range []struct {
		p  string
		rt unifiedfs.ReadType
	}{{"cache", unifiedfs.Cache}, {"promote", unifiedfs.CachePromote}} {
		read(c.p, c.rt)
		if st := e.status(c.p); st.CachedBytes != int64(len(data)) {
			t.Errorf("%v cached %d bytes", c.rt, st.CachedBytes)
		}
		before := e.root.Calls(ufstest.OpOpen)
		read(c.p, c.rt)
		read(c.p, unifiedfs.NoCache) // NO_CACHE still serves cached blocks
		if e.root.Calls(ufstest.OpOpen) != before {
			t.Errorf("%v: cached reads went to the UFS (%d opens)", c.rt, e.root.Calls(ufstest.OpOpen)-before)
		}
	}
	// ReaderAt and Seeker.
	f, _ := e.fs.Open("cache")
	defer f.Close()
	ra := f.(io.ReaderAt)
	buf := make([]byte, 10)
	if n, err := ra.ReadAt(buf, int64(len(data))-5); n != 5 || err != io.EOF {
		t.Fatalf("ReadAt at the end: %d %v", n, err)
	}
	if pos, err := f.(io.Seeker).Seek(-3, io.SeekEnd); err != nil || pos != int64(len(data))-3 {
		t.Fatalf("Seek: %d %v", pos, err)
	}
}

func TestLazyMetadataLoadsNoContent(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	for i := 0; i < 50; i++ {
		e.root.Direct().Put("d/f"+string(rune('a'+i%26))+strings.Repeat("x", i/26), []byte("content"))
	}
	e.root.Direct().Put("d/sub/deep/file", []byte("deep"))
	e.root.ResetCalls()
	if _, err := e.fs.Stat("d/sub/deep/file"); err != nil {
		t.Fatal(err)
	}
	entries, err := e.fs.ReadDir("d")
	if err != nil || len(entries) != 51 {
		t.Fatalf("ReadDir: %d entries, %v", len(entries), err)
	}
	for _, ent := range entries {
		if _, err := ent.Info(); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.root.Calls(ufstest.OpOpen) + e.root.Calls(ufstest.OpRead); n != 0 {
		t.Fatalf("metadata operations read content: %d calls", n)
	}
	// Loaded once: repeating costs no UFS call (SyncNever).
	calls := e.root.TotalCalls()
	_, _ = e.fs.ReadDir("d")
	_, _ = e.fs.Stat("d/sub/deep/file")
	_, _ = e.fs.Stat("d/missing")
	_, _ = e.fs.Stat("other-missing")
	_, _ = e.fs.Stat("other-missing")
	if extra := e.root.TotalCalls() - calls; extra != 1 {
		t.Fatalf("repeated lookups made %d UFS calls, want 1 (the first miss of other-missing)", extra)
	}
}

func TestFailedListingIsRetried(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	e.root.SetPageSize(2)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.root.Direct().Put("dir/"+n, []byte(n))
	}
	e.root.Inject(ufstest.Fault{Op: ufstest.OpList, Nth: 2}) // the second page fails
	if _, err := e.fs.ReadDir("dir"); !errors.Is(err, ufstest.ErrInjected) {
		t.Fatalf("first ReadDir = %v, want the injected failure", err)
	}
	entries, err := e.fs.ReadDir("dir")
	if err != nil || len(entries) != 5 {
		t.Fatalf("retried ReadDir: %d entries, %v", len(entries), err)
	}
}

func TestMustCacheOutOfSpace(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{CacheCapacity: 4 << 20, BlockSize: 1 << 20}, ufstest.ObjectStore)
	big := bytes.Repeat([]byte("p"), 3<<20)
	e.write("/pinned1", string(big), unifiedfs.MustCache)
	err := e.fs.WriteFile(ctx, "/pinned2", big, unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache})
	wantErr(t, "pinned data over capacity", err, unifiedfs.ErrNoSpace)
	if _, err := e.fs.Stat("pinned2"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed file left behind: %v", err)
	}
	// Nothing was lost: the first file is intact, even after pressure from other reads.
	e.root.Direct().Put("other", big)
	_ = e.read("other")
	if e.read("pinned1") != string(big) {
		t.Fatal("pinned file lost under pressure")
	}
	wantErr(t, "free of an unpersisted file", e.fs.Free(ctx, "/pinned1"), unifiedfs.ErrNotPersisted)
	// Persist, then it can be freed; the next read fetches from the UFS.
	if err := e.fs.Persist(ctx, "/pinned1"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Free(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/pinned1"); st.CachedBytes != 0 || st.PersistState != unifiedfs.Persisted {
		t.Fatalf("after free: %+v", st)
	}
	if err := e.fs.Load(ctx, "/pinned1"); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/pinned1"); st.CachedBytes != int64(len(big)) {
		t.Fatalf("after load: %d cached", st.CachedBytes)
	}
}

func TestPersistFaultsRetryAndNeverShowHalfObjects(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond}, ufstest.ObjectStore)
	remove := e.root.Inject(ufstest.Fault{Op: ufstest.OpClose, Under: "async"})
	e.write("/async", "payload", unifiedfs.AsyncThrough)
	if !testpeer.Eventually(5*time.Second, func() bool { return e.root.Calls(ufstest.OpClose) >= 3 }) {
		t.Fatalf("persist retried %d times", e.root.Calls(ufstest.OpClose))
	}
	if st := e.status("async"); st.PersistState != unifiedfs.ToBePersisted {
		t.Fatalf("state during failures: %v", st.PersistState)
	}
	if e.root.Direct().Exists("async") {
		t.Fatal("half-written object visible")
	}
	remove()
	testpeer.WaitFor(t, "the persist after the fault is gone", 5*time.Second, func() bool { return e.status("async").PersistState == unifiedfs.Persisted })
	if got, _ := e.root.Direct().Get("async"); string(got) != "payload" {
		t.Fatalf("after recovery the UFS holds %q", got)
	}
	// Explicit Persist reports the failure and leaves the state.
	e.write("/manual", "m", unifiedfs.MustCache)
	e.root.Inject(ufstest.Fault{Op: ufstest.OpClose, Under: "manual", Nth: 1})
	if err := e.fs.Persist(ctx, "/manual"); !errors.Is(err, ufstest.ErrInjected) {
		t.Fatalf("Persist = %v", err)
	}
	if st := e.status("manual"); st.PersistState != unifiedfs.NotPersisted || e.root.Direct().Exists("manual") {
		t.Fatalf("failed persist changed state: %v", st.PersistState)
	}
	if err := e.fs.Persist(ctx, "/manual"); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncPersistFollowsRenameAndIsCancelledByDelete(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond}, ufstest.ObjectStore)
	block := e.root.Inject(ufstest.Fault{Op: ufstest.OpCreate, Latency: 200 * time.Millisecond, LatencyOnly: true})
	e.write("/a", "A", unifiedfs.AsyncThrough)
	e.write("/b", "B", unifiedfs.AsyncThrough)
	if err := e.fs.Rename(ctx, "/a", "/a2"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Remove(ctx, "/b"); err != nil {
		t.Fatal(err)
	}
	block()
	if err := e.fs.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got, _ := e.root.Direct().Get("a2"); string(got) != "A" {
		t.Fatalf("renamed async file not persisted at its new name: %v", e.root.Direct().Keys())
	}
	if e.root.Direct().Exists("a") || e.root.Direct().Exists("b") {
		t.Fatalf("orphan objects: %v", e.root.Direct().Keys())
	}
}

func TestCloseReportsUnfinishedPersists(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond, CloseTimeout: 100 * time.Millisecond}, ufstest.ObjectStore)
	e.root.Inject(ufstest.Fault{Op: ufstest.OpClose})
	e.write("/stuck", "s", unifiedfs.AsyncThrough)
	err := e.fs.Close()
	if err == nil || !strings.Contains(err.Error(), "/stuck") {
		t.Fatalf("Close = %v, want a report naming /stuck", err)
	}
	if _, err := e.fs.Stat("stuck"); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("use after close: %v", err)
	}
}

func TestConcurrentOperationsOnDifferentSubtrees(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dir := "/g" + string(rune('a'+g))
			if err := e.fs.Mkdir(ctx, dir); err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 20; i++ {
				p := dir + "/f" + string(rune('a'+i))
				wt := []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through}[i%3]
				if err := e.fs.WriteFile(ctx, p, []byte(p), unifiedfs.CreateOptions{WriteType: wt}); err != nil {
					t.Error(err)
				}
				if _, err := e.fs.Stat(p[1:]); err != nil {
					t.Error(err)
				}
				if i%4 == 0 {
					if err := e.fs.Rename(ctx, p, p+"-r"); err != nil {
						t.Error(err)
					}
				}
			}
			if _, err := e.fs.ReadDir(dir[1:]); err != nil {
				t.Error(err)
			}
		}(g)
	}
	wg.Wait()
	entries, err := e.fs.ReadDir("gc")
	if err != nil || len(entries) != 20 {
		t.Fatalf("gc: %d entries, %v", len(entries), err)
	}
}

func TestCacheThroughWriteNeedsNoStat(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	if _, err := e.fs.ReadDir("."); err != nil { // listed once: creating a new name needs no lookup
		t.Fatal(err)
	}
	e.root.ResetCalls()
	e.write("/f", "payload", unifiedfs.CacheThrough)
	if n := e.root.Calls(ufstest.OpStat); n != 0 {
		t.Fatalf("a CACHE_THROUGH write made %d UFS Stat calls; the writer reports what it stored", n)
	}
	// The recorded fingerprint is the UFS's: a sync sees no change and keeps the blocks.
	st := e.status("/f")
	if st.Fingerprint == "" || st.CachedBytes != 7 {
		t.Fatalf("status %+v", st)
	}
	if err := e.fs.LoadMetadata(ctx, "/", unifiedfs.LoadMetadataOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if st2 := e.status("/f"); st2.Fingerprint != st.Fingerprint || st2.CachedBytes != 7 {
		t.Fatalf("sync treated our own write as a change: %+v", st2)
	}
}

func TestFailedDeleteKeepsPendingPersists(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PersistRetryBase: time.Millisecond}, ufstest.ObjectStore)
	block := e.root.Inject(ufstest.Fault{Op: ufstest.OpClose}) // persists fail for now
	if err := e.fs.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	e.write("/d/async", "later", unifiedfs.AsyncThrough)
	wantErr(t, "remove a non-empty directory", e.fs.Remove(ctx, "/d"), unifiedfs.ErrNotEmpty)
	block()
	if !testpeer.Eventually(5*time.Second, func() bool { return e.status("/d/async").PersistState == unifiedfs.Persisted }) {
		t.Fatal("the failed Remove cancelled the pending persist for good")
	}
	if got, _ := e.root.Direct().Get("d/async"); string(got) != "later" {
		t.Fatalf("persisted %q", got)
	}
}

func TestConcurrentReadDirsShareOneListing(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	for i := 0; i < 20; i++ {
		e.root.Direct().Put(fmt.Sprintf("d/f%02d", i), []byte("x"))
	}
	e.root.Inject(ufstest.Fault{Op: ufstest.OpList, Latency: 50 * time.Millisecond, LatencyOnly: true})
	e.root.ResetCalls()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ents, err := e.fs.ReadDir("d"); err != nil || len(ents) != 20 {
				t.Errorf("ReadDir: %d entries, %v", len(ents), err)
			}
		}()
	}
	wg.Wait()
	if n := e.root.Calls(ufstest.OpList); n != 1 {
		t.Fatalf("8 concurrent ReadDirs of one directory made %d listings", n)
	}
}
