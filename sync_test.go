package unifiedfs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock                   { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func exists(e *env, p string) bool       { _, err := e.fs.Stat(p); return err == nil }
func names(t *testing.T, v fs.ReadDirFS, p string) string {
	t.Helper()
	ents, err := v.ReadDir(p)
	if err != nil {
		t.Fatalf("readdir %s: %v", p, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return strings.Join(out, ",")
}

func TestSyncNeverNeverSeesChanges(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	e.root.Direct().Put("d/a", []byte("1"))
	if got := names(t, e.fs, "d"); got != "a" {
		t.Fatal(got)
	}
	_ = e.read("d/a")
	e.root.Direct().Put("d/b", []byte("2"))
	e.root.Direct().Put("d/a", []byte("changed"))
	if got := names(t, e.fs, "d"); got != "a" {
		t.Fatalf("SyncNever saw a new entry: %s", got)
	}
	if exists(e, "d/b") {
		t.Fatal("SyncNever loaded a file created after the listing")
	}
	if e.read("d/a") != "1" {
		t.Fatal("SyncNever served new content")
	}
	// InvalidateSync forces one re-sync even with SyncNever.
	e.fs.InvalidateSync("/d")
	if got := names(t, e.fs, "d"); got != "a,b" {
		t.Fatalf("after InvalidateSync: %s", got)
	}
	if e.read("d/a") != "changed" {
		t.Fatal("after InvalidateSync: old content")
	}
}

func TestSyncAlwaysAndViews(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncInterval: unifiedfs.SyncAlways}, ufstest.ObjectStore)
	e.root.Direct().Put("d/a", []byte("1"))
	if got := names(t, e.fs, "d"); got != "a" {
		t.Fatal(got)
	}
	e.root.Direct().Put("d/b", []byte("2"))
	if got := names(t, e.fs, "d"); got != "a,b" {
		t.Fatalf("SyncAlways: %s", got)
	}
	e.root.Direct().Delete("d/a")
	if exists(e, "d/a") {
		t.Fatal("SyncAlways: deleted file still there on Stat")
	}
	// A SyncNever view of the same FS does not sync.
	never := e.fs.WithSyncInterval(unifiedfs.SyncNever)
	e.root.Direct().Put("d/c", []byte("3"))
	if got := names(t, never, "d"); got != "b" {
		t.Fatalf("SyncNever view: %s", got)
	}
	if got := names(t, e.fs, "d"); got != "b,c" {
		t.Fatalf("default view: %s", got)
	}
}

func TestSyncIntervalWithClock(t *testing.T) {
	clk := newClock()
	e := newEnv(t, unifiedfs.Config{SyncInterval: time.Minute, Clock: clk.Now}, ufstest.ObjectStore)
	e.root.SetClock(clk.Now)
	e.root.Direct().Put("d/a", []byte("v1"))
	if e.read("d/a") != "v1" || names(t, e.fs, "d") != "a" {
		t.Fatal("initial")
	}
	e.root.Direct().Put("d/a", []byte("v2-longer"))
	e.root.Direct().Put("d/new", []byte("n"))
	clk.Advance(30 * time.Second)
	if e.read("d/a") != "v1" || exists(e, "d/new") || names(t, e.fs, "d") != "a" {
		t.Fatal("synced before the interval passed")
	}
	calls := e.root.TotalCalls()
	_ = e.read("d/a")
	if e.root.TotalCalls() != calls {
		t.Fatalf("a cached read within the interval made %d UFS calls", e.root.TotalCalls()-calls)
	}
	clk.Advance(31 * time.Second)
	if got := e.read("d/a"); got != "v2-longer" {
		t.Fatalf("after the interval: %q", got)
	}
	if !exists(e, "d/new") || names(t, e.fs, "d") != "a,new" {
		t.Fatal("new entry not seen after the interval")
	}
	// A file synced on its own more recently than its parent does not make the parent
	// (or itself) re-sync on every access (Alluxio #15265).
	clk.Advance(59 * time.Second)
	calls = e.root.TotalCalls()
	for i := 0; i < 5; i++ {
		_, _ = e.fs.Stat("d/a")
		_, _ = e.fs.ReadDir("d")
	}
	if n := e.root.TotalCalls() - calls; n != 0 {
		t.Fatalf("repeated access within the interval made %d UFS calls", n)
	}
}

func TestPathSyncIntervalsOverrideForSubtreeOnly(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{PathSyncIntervals: map[string]time.Duration{"/hot": unifiedfs.SyncAlways}}, ufstest.ObjectStore)
	e.root.Direct().Put("hot/a", []byte("1"))
	e.root.Direct().Put("cold/a", []byte("1"))
	_ = names(t, e.fs, "hot")
	_ = names(t, e.fs, "cold")
	e.root.Direct().Put("hot/b", []byte("2"))
	e.root.Direct().Put("cold/b", []byte("2"))
	if got := names(t, e.fs, "hot"); got != "a,b" {
		t.Fatalf("hot: %s", got)
	}
	if got := names(t, e.fs, "cold"); got != "a" {
		t.Fatalf("cold synced: %s", got)
	}
	if _, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "mem://root/", Registry: e.stores.Registry(), PathSyncIntervals: map[string]time.Duration{"/a/../b": 1}}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("bad path configuration accepted: %v", err)
	}
}

func TestSyncReconciles(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncInterval: unifiedfs.SyncAlways}, ufstest.FileSystem)
	e.root.Direct().Put("d/content", []byte("old"))
	e.root.Direct().Put("d/meta", []byte("m"))
	e.root.Direct().Put("d/gone", []byte("g"))
	e.root.Direct().Put("d/typechange", []byte("file"))
	e.write("/d/unpersisted", "only in the namespace", unifiedfs.MustCache)
	if err := e.fs.Load(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/d/content"); st.CachedBytes != 3 {
		t.Fatalf("cached %d", st.CachedBytes)
	}
	metaBefore := e.status("/d/meta")
	e.root.Direct().Put("d/content", []byte("new!"))
	e.root.Direct().Chown("d/meta", "alice", "staff", 0o600)
	e.root.Direct().Delete("d/gone")
	e.root.Direct().Delete("d/typechange")
	e.root.Direct().Put("d/typechange/inner", []byte("x"))
	e.root.Direct().Put("d/created", []byte("c"))
	if got := names(t, e.fs, "d"); got != "content,created,meta,typechange,unpersisted" {
		t.Fatalf("after sync: %s", got)
	}
	if st := e.status("/d/content"); st.Size != 4 || st.CachedBytes != 0 {
		t.Fatalf("content change: size %d, cached %d (blocks must be freed)", st.Size, st.CachedBytes)
	}
	if e.read("d/content") != "new!" {
		t.Fatal("stale content served")
	}
	st := e.status("/d/meta")
	if st.Owner != "alice" || st.Mode != 0o600 || st.CachedBytes != metaBefore.CachedBytes || metaBefore.CachedBytes == 0 {
		t.Fatalf("metadata-only change: %+v (cached before %d)", st, metaBefore.CachedBytes)
	}
	if !e.status("/d/typechange").IsDir || e.read("d/typechange/inner") != "x" {
		t.Fatal("file replaced by a directory not seen")
	}
	if e.read("d/unpersisted") != "only in the namespace" {
		t.Fatal("unpersisted file lost by sync")
	}
	// A directory that vanished from the UFS keeps the unpersisted files below it.
	e.write("/d/typechange/mine", "m", unifiedfs.MustCache)
	e.root.Direct().Delete("d/typechange")
	if got := names(t, e.fs, "d/typechange"); got != "mine" {
		t.Fatalf("vanished dir: %s", got)
	}
	if st := e.status("/d/typechange"); st.PersistState != unifiedfs.NotPersisted {
		t.Fatalf("vanished dir state %v", st.PersistState)
	}
}

func TestSyncNeverLoadsTempFiles(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncInterval: unifiedfs.SyncAlways}, ufstest.FileSystem)
	e.root.Direct().Put("d/.unifiedfs.tmp.f.123", []byte("in flight"))
	e.root.Direct().Put("d/f", []byte("f"))
	if got := names(t, e.fs, "d"); got != "f" {
		t.Fatalf("listing: %s", got)
	}
	if exists(e, "d/.unifiedfs.tmp.f.123") {
		t.Fatal("temp file loaded by Stat")
	}
}

func TestFailedFirstSyncIsRetried(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncInterval: time.Hour}, ufstest.ObjectStore)
	e.root.Direct().Put("d/a", []byte("a"))
	remove := e.root.Inject(ufstest.Fault{Op: ufstest.OpList})
	if _, err := e.fs.ReadDir("d"); !errors.Is(err, ufstest.ErrInjected) {
		t.Fatalf("want the listing failure, got %v", err)
	}
	remove()
	if got := names(t, e.fs, "d"); got != "a" {
		t.Fatalf("retry: %q", got)
	}
}

// tree12 puts 12 files below /dataset: 3 directories of 3 files and 3 files at the top.
func tree12(m *ufstest.MemFS) {
	for _, d := range []string{"x", "y", "z"} {
		for i := 0; i < 3; i++ {
			m.Direct().Put(fmt.Sprintf("dataset/%s/f%d", d, i), []byte("f"))
		}
	}
	for i := 0; i < 3; i++ {
		m.Direct().Put(fmt.Sprintf("dataset/top%d", i), []byte("t"))
	}
}

func TestLoadMetadataLimit(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncConcurrency: 1}, ufstest.ObjectStore)
	e.root.Direct().Mkdir("dataset")
	for i := 0; i < 12; i++ {
		e.root.Direct().Put(fmt.Sprintf("dataset/f%02d", i), []byte("x"))
	}
	err := e.fs.LoadMetadata(ctx, "/dataset", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true, Limit: 10})
	var le *unifiedfs.SyncLimitError
	if !errors.As(err, &le) || !errors.Is(err, unifiedfs.ErrSyncLimit) {
		t.Fatalf("want a SyncLimitError, got %v", err)
	}
	want := "Recursive sync on dir /dataset is aborted prematurely for being oversized. succeeded=10, failed=0 and the limit is 10."
	if err.Error() != want {
		t.Fatalf("message:\n%s\nwant\n%s", err.Error(), want)
	}
	if le.Succeeded != 10 || le.Failed != 0 || le.Limit != 10 || le.Path != "/dataset" {
		t.Fatalf("fields %+v", le)
	}
	// What was loaded stays; the directory is not marked fully synced (a later access
	// lists it again and finds the rest).
	if !exists(e, "dataset/f00") {
		t.Fatal("loaded entries lost")
	}
	if err := e.fs.LoadMetadata(ctx, "/dataset", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true, Limit: -1}); err != nil {
		t.Fatalf("Limit -1: %v", err)
	}
	if got := names(t, e.fs, "dataset"); strings.Count(got, ",") != 11 {
		t.Fatalf("after Limit -1: %s", got)
	}
	// The configured limit applies when the call gives none.
	e2 := newEnv(t, unifiedfs.Config{SyncLimit: 5}, ufstest.ObjectStore)
	tree12(e2.root)
	if err := e2.fs.LoadMetadata(ctx, "/dataset", unifiedfs.LoadMetadataOptions{Recursive: true}); !errors.Is(err, unifiedfs.ErrSyncLimit) {
		t.Fatalf("configured limit: %v", err)
	}
}

func TestTraversalOrder(t *testing.T) {
	for _, c := range []struct {
		order unifiedfs.Traversal
		want  string
	}{
		{unifiedfs.BFS, "dataset dataset/x dataset/y dataset/z dataset/x/a dataset/y/b"},
		{unifiedfs.DFS, "dataset dataset/x dataset/x/a dataset/y dataset/y/b dataset/z"},
	} {
		t.Run(c.order.String(), func(t *testing.T) {
			e := newEnv(t, unifiedfs.Config{SyncTraversal: c.order, SyncConcurrency: 1}, ufstest.ObjectStore)
			tree12(e.root)
			e.root.Direct().Put("dataset/x/a/deep", []byte("d"))
			e.root.Direct().Put("dataset/y/b/deep", []byte("d"))
			e.root.ResetCalls()
			e.root.Record(true)
			if err := e.fs.LoadMetadata(ctx, "/dataset", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true}); err != nil {
				t.Fatal(err)
			}
			var lists []string
			for _, call := range e.root.Log() {
				if call.Op == ufstest.OpList {
					lists = append(lists, call.Path)
				}
			}
			if got := strings.Join(lists, " "); got != c.want {
				t.Fatalf("listing order:\n%s\nwant\n%s", got, c.want)
			}
			if e.read("dataset/y/b/deep") != "d" {
				t.Fatal("tree not loaded")
			}
		})
	}
}

func TestPrefetchedTraversalLoadsEverything(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncConcurrency: 8}, ufstest.ObjectStore)
	e.root.SetPageSize(7)
	e.root.Inject(ufstest.Fault{Op: ufstest.OpList, Latency: time.Millisecond, LatencyOnly: true})
	n := 0
	for a := 0; a < 6; a++ {
		for b := 0; b < 6; b++ {
			for f := 0; f < 10; f++ {
				e.root.Direct().Put(fmt.Sprintf("t/%d/%d/f%d", a, b, f), []byte("x"))
				n++
			}
		}
	}
	if err := e.fs.LoadMetadata(ctx, "/t", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	calls := e.root.TotalCalls()
	count := 0
	_ = fs.WalkDir(e.fs, "t", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			count++
		}
		return err
	})
	if count != n || e.root.TotalCalls() != calls {
		t.Fatalf("walk found %d of %d files with %d extra UFS calls", count, n, e.root.TotalCalls()-calls)
	}
}

func TestActiveSyncQuietPeriod(t *testing.T) {
	clk := newClock()
	e := newEnv(t, unifiedfs.Config{Clock: clk.Now, ActiveSyncInterval: time.Hour, ActiveSyncMaxActivities: 5, ActiveSyncMaxAge: 3}, ufstest.ObjectStore)
	e.root.Direct().Put("s/a", []byte("a"))
	if err := e.fs.StartSync(ctx, "/s"); err != nil {
		t.Fatal(err)
	}
	if pts := e.fs.SyncPoints(); len(pts) != 1 || pts[0].Path != "/s" || pts[0].LastSync.IsZero() {
		t.Fatalf("sync points %+v", pts)
	}
	wantErr(t, "second StartSync", e.fs.StartSync(ctx, "/s"), fs.ErrExist)
	// A busy UFS: 20 changes per interval keeps activity >= 5; the sync waits until the
	// max age (3 intervals) passes.
	busy := func(round int) {
		for i := 0; i < 20; i++ {
			e.root.Direct().Put(fmt.Sprintf("s/busy%d-%d", round, i), []byte("x"))
		}
	}
	synced := func() bool { return exists(e, "s/busy1-0") }
	busy(1)
	clk.Advance(time.Hour)
	e.fs.ActiveSyncTick(ctx) // activity 20, age 1
	if synced() {
		t.Fatal("synced while busy")
	}
	busy(2)
	clk.Advance(time.Hour)
	e.fs.ActiveSyncTick(ctx) // activity 22, age 2
	if synced() {
		t.Fatal("synced while busy (2)")
	}
	busy(3)
	clk.Advance(time.Hour)
	e.fs.ActiveSyncTick(ctx) // age 3 = max age: sync
	if !synced() || !exists(e, "s/busy3-19") {
		t.Fatal("max age did not force a sync")
	}
	// Quiet: activity decays 32 -> 3 < 5 with no new events: the next change syncs at once.
	e.root.Direct().Put("s/quiet", []byte("q"))
	clk.Advance(time.Hour)
	e.fs.ActiveSyncTick(ctx) // activity 32/10 + 1 = 4 < 5
	if !exists(e, "s/quiet") {
		t.Fatal("quiet period did not sync")
	}
	if err := e.fs.StopSync(ctx, "/s"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "StopSync twice", e.fs.StopSync(ctx, "/s"), fs.ErrNotExist)
	e.root.Direct().Put("s/after", []byte("x"))
	e.fs.ActiveSyncTick(ctx)
	if exists(e, "s/after") {
		t.Fatal("stopped sync point still syncs")
	}
	// Unmount stops sync points below the mount.
	m := e.stores.Add("m", ufstest.ObjectStore)
	m.Direct().Put("dir/x", []byte("x"))
	e.mount("/m", "mem://m/", unifiedfs.MountOptions{})
	if err := e.fs.StartSync(ctx, "/m/dir"); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Unmount(ctx, "/m"); err != nil {
		t.Fatal(err)
	}
	if len(e.fs.SyncPoints()) != 0 {
		t.Fatalf("sync points after unmount: %+v", e.fs.SyncPoints())
	}
}

func TestCloseStopsARunningSync(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{SyncConcurrency: 2}, ufstest.ObjectStore)
	for i := 0; i < 50; i++ {
		e.root.Direct().Put(fmt.Sprintf("big/d%02d/f", i), []byte("x"))
	}
	entered := make(chan ufstest.Call)
	e.root.Inject(ufstest.Fault{Op: ufstest.OpList, Latency: 20 * time.Millisecond, LatencyOnly: true})
	e.root.Inject(ufstest.Fault{Op: ufstest.OpList, Entered: entered}) // signals only
	done := make(chan error, 1)
	go func() {
		done <- e.fs.LoadMetadata(ctx, "/big", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true})
	}()
	// Close once the sync is listing below /big (its second List call), not before it runs.
	<-entered
	<-entered
	stop := make(chan struct{})
	defer close(stop)
	go func() { // later calls signal too: take their signals until the test ends
		for {
			select {
			case <-entered:
			case <-stop:
				return
			}
		}
	}()
	start := time.Now()
	e.fs.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("sync finished without error although Close came first")
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("sync took %v to stop", time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the sync")
	}
}

// When a new leader's epoch begins every listing goes stale: what the deposed leader left
// in the UFS without journaling (an object made, one deleted) shows at the next access,
// in a directory listed before and for a path remembered as missing. Before that, with
// the default interval (never), neither shows.
func TestNewEpochMakesListingsStale(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	if err := e.fs.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	e.write("/d/kept", "k", unifiedfs.Through)
	e.write("/d/gone", "g", unifiedfs.Through)
	names := func() string {
		t.Helper()
		des, err := e.fs.ReadDir("d")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, de := range des {
			out = append(out, de.Name())
		}
		return strings.Join(out, ",")
	}
	if got := names(); got != "gone,kept" {
		t.Fatalf("listing %q", got)
	}
	if _, err := e.fs.Stat("d/orphan"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing file: %v", err)
	}
	e.root.Direct().Mkdir("e") // never listed: a miss below it is remembered
	if _, err := e.fs.Stat("e/orphan"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a missing file: %v", err)
	}
	e.root.Direct().Put("e/orphan", []byte("o"))
	e.root.Direct().Put("d/orphan", []byte("o")) // made, never journaled
	e.root.Direct().Delete("d/gone")             // deleted, never journaled
	if got := names(); got != "gone,kept" {
		t.Fatalf("listing changed before the new epoch: %q", got)
	}
	for _, p := range []string{"d/orphan", "e/orphan"} {
		if _, err := e.fs.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: a remembered miss was looked up again before the new epoch: %v", p, err)
		}
	}
	e.fs.ListingsStale()
	if _, err := e.fs.Stat("e/orphan"); err != nil {
		t.Fatalf("stat of a remembered miss after the new epoch: %v", err)
	}
	if _, err := e.fs.Stat("d/orphan"); err != nil {
		t.Fatalf("stat of the orphan after the new epoch: %v", err)
	}
	if got := names(); got != "kept,orphan" {
		t.Fatalf("listing after the new epoch %q, want kept,orphan", got)
	}
	if e.read("d/orphan") != "o" {
		t.Fatal("orphan content")
	}
}
