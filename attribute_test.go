package unifiedfs_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func readNoCache(fsys *unifiedfs.FS, p string) ([]byte, error) {
	fl, err := fsys.OpenFile(ctx, p, unifiedfs.OpenOptions{ReadType: unifiedfs.NoCache})
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	return io.ReadAll(fl)
}

func ptr[T any](v T) *T { return &v }

// TTLs with both actions survive a restart and act once due, by the injected clock;
// Config.CreateTTL gives new files one.
func TestTTLDeleteAndFreeAcrossRestart(t *testing.T) {
	clk := testpeer.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	j := newJenv(t, false)
	j.fs.Close()
	j.cfg.Clock, j.cfg.TTLCheckInterval = clk.Now, 10*time.Second
	j.open()
	j.write("/d/gone", "delete me", unifiedfs.CacheThrough)
	j.write("/d/sub/x", "below", unifiedfs.CacheThrough)
	j.write("/kept", "free me", unifiedfs.CacheThrough)
	j.write("/late", "later", unifiedfs.CacheThrough)
	if _, err := j.read("kept"); err != nil {
		t.Fatal(err)
	}
	must := func(p string, o unifiedfs.SetAttributeOptions) {
		t.Helper()
		if err := j.fs.SetAttribute(ctx, p, o); err != nil {
			t.Fatalf("setAttribute %s: %v", p, err)
		}
	}
	must("/d", unifiedfs.SetAttributeOptions{TTL: ptr(time.Minute)})
	must("/kept", unifiedfs.SetAttributeOptions{TTL: ptr(time.Minute), TTLAction: ptr(unifiedfs.TTLFree)})
	must("/late", unifiedfs.SetAttributeOptions{TTL: ptr(time.Hour)})
	wantErr(t, "TTL and unset", j.fs.SetAttribute(ctx, "/late", unifiedfs.SetAttributeOptions{TTL: ptr(time.Hour), UnsetTTL: true}), fs.ErrInvalid)
	wantErr(t, "negative TTL", j.fs.SetAttribute(ctx, "/late", unifiedfs.SetAttributeOptions{TTL: ptr(-time.Hour)}), fs.ErrInvalid)
	wantErr(t, "missing", j.fs.SetAttribute(ctx, "/nope", unifiedfs.SetAttributeOptions{TTL: ptr(time.Hour)}), fs.ErrNotExist)
	st, _ := j.fs.GetStatus(ctx, "/kept")
	if st.TTL != time.Minute || st.TTLAction != unifiedfs.TTLFree || st.CachedBytes == 0 {
		t.Fatalf("/kept: TTL %v %v cached %d", st.TTL, st.TTLAction, st.CachedBytes)
	}
	if st, _ := j.fs.GetStatus(ctx, "/d"); st.TTL != time.Minute || st.TTLAction != unifiedfs.TTLDelete {
		t.Fatalf("/d: TTL %v %v", st.TTL, st.TTLAction)
	}

	j.restart()
	if st, err := j.fs.GetStatus(ctx, "/kept"); err != nil || st.TTL != time.Minute || st.TTLAction != unifiedfs.TTLFree {
		t.Fatalf("after restart /kept: %+v %v", st, err)
	}
	if _, err := j.read("kept"); err != nil {
		t.Fatal(err)
	}
	clk.Add(50 * time.Second)
	if err := j.fs.CheckTTL(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.fs.GetStatus(ctx, "/d/gone"); err != nil {
		t.Fatalf("expired early: %v", err)
	}
	clk.Add(25 * time.Second) // past the end of the bucket the expiry falls in
	if err := j.fs.CheckTTL(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.fs.GetStatus(ctx, "/d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("/d after its TTL: %v", err)
	}
	root := j.stores.Get("root")
	if _, err := root.Stat(ctx, "/d/sub/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("/d/sub/x still in the UFS: %v", err)
	}
	st, err := j.fs.GetStatus(ctx, "/kept")
	if err != nil || st.CachedBytes != 0 || st.TTL != 0 {
		t.Fatalf("/kept after its TTL: %+v %v", st, err)
	}
	if got, _ := j.read("kept"); got != "free me" {
		t.Fatalf("/kept reads %q", got)
	}
	if st, _ := j.fs.GetStatus(ctx, "/late"); st.TTL != time.Hour {
		t.Fatalf("/late lost its TTL: %v", st.TTL)
	}
	// Unset survives a restart; the default TTL of the configuration applies to new files.
	if err := j.fs.SetAttribute(ctx, "/late", unifiedfs.SetAttributeOptions{UnsetTTL: true}); err != nil {
		t.Fatal(err)
	}
	j.fs.Close()
	j.cfg.CreateTTL, j.cfg.CreateTTLAction = time.Minute, unifiedfs.TTLDelete
	j.open()
	j.write("/new", "short lived", unifiedfs.CacheThrough)
	if st, _ := j.fs.GetStatus(ctx, "/new"); st.TTL != time.Minute {
		t.Fatalf("/new TTL %v", st.TTL)
	}
	clk.Add(2 * time.Hour)
	if err := j.fs.CheckTTL(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := j.fs.GetStatus(ctx, "/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("/new after its TTL: %v", err)
	}
	if _, err := j.fs.GetStatus(ctx, "/late"); err != nil {
		t.Fatalf("/late (TTL unset) went: %v", err)
	}
}

// Pinned blocks stay under cache pressure; unpinned ones go; a pin larger than the cache
// fails with ErrNoSpace; unpin makes the blocks evictable again.
func TestPinnedBlocksNeverEvicted(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{BlockSize: 1 << 10, CacheCapacity: 8 << 10}, ufstest.ObjectStore)
	data := strings.Repeat("p", 4<<10)
	e.write("/pinned", data, unifiedfs.Through)
	e.write("/plain", data, unifiedfs.Through)
	e.write("/huge", strings.Repeat("h", 16<<10), unifiedfs.Through)
	for i := range 8 {
		e.write(fmt.Sprintf("/other%d", i), data, unifiedfs.Through)
	}
	if err := e.fs.SetAttribute(ctx, "/pinned", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/pinned"); !st.Pinned || st.CachedBytes != 4<<10 {
		t.Fatalf("after pin: pinned %v cached %d", st.Pinned, st.CachedBytes)
	}
	e.read("plain")
	for i := range 8 {
		e.read(fmt.Sprintf("other%d", i))
	}
	if st := e.status("/pinned"); st.CachedBytes != 4<<10 {
		t.Fatalf("pinned blocks evicted: %d cached", st.CachedBytes)
	}
	if st := e.status("/plain"); st.CachedBytes == 4<<10 {
		t.Fatal("the control file was not evicted: no pressure")
	}
	wantErr(t, "free of a pinned file", e.fs.Free(ctx, "/pinned"), unifiedfs.ErrPinned)
	wantErr(t, "pin beyond capacity", e.fs.SetAttribute(ctx, "/huge", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}), unifiedfs.ErrNoSpace)
	if st := e.status("/huge"); st.Pinned {
		t.Fatal("a failed pin left the file pinned")
	}
	if err := e.fs.SetAttribute(ctx, "/pinned", unifiedfs.SetAttributeOptions{Pinned: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/pinned"); st.Pinned {
		t.Fatal("still pinned after unpin")
	}
	for i := range 8 {
		e.read(fmt.Sprintf("other%d", i))
	}
	if st := e.status("/pinned"); st.CachedBytes == 4<<10 {
		t.Fatal("unpinned blocks were never evicted")
	}
	if e.read("pinned") != data {
		t.Fatal("content changed")
	}
	if err := e.fs.SetAttribute(ctx, "/pinned", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.Free(ctx, "/pinned", unifiedfs.FreeOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/pinned"); !st.Pinned || st.CachedBytes != 0 {
		t.Fatalf("after a forced free: pinned %v cached %d", st.Pinned, st.CachedBytes)
	}
}

// chmod and chown reach the local UFS and Stat; on an object store they are namespace
// metadata that a forced re-sync neither resets nor takes for a content change.
func TestSetAttributePermissions(t *testing.T) {
	dir := t.TempDir()
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if err := fsys.WriteFile(ctx, "/f", []byte("x"), unifiedfs.CreateOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SetAttribute(ctx, "/f", unifiedfs.SetAttributeOptions{Mode: ptr(fs.FileMode(0o600))}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("local mode %v %v", fi.Mode(), err)
	}
	if st, _ := fsys.GetStatus(ctx, "/f"); st.Mode != 0o600 {
		t.Fatalf("Stat mode %v", st.Mode)
	}
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	if err := fsys.SetAttribute(ctx, "/f", unifiedfs.SetAttributeOptions{Owner: ptr(me.Username)}); err != nil {
		t.Fatalf("chown to oneself: %v", err)
	}
	if os.Geteuid() != 0 {
		wantErr(t, "chown to root", fsys.SetAttribute(ctx, "/f", unifiedfs.SetAttributeOptions{Owner: ptr("root")}), fs.ErrPermission)
		if st, _ := fsys.GetStatus(ctx, "/f"); st.Owner != me.Username {
			t.Fatalf("a refused chown changed the owner to %q", st.Owner)
		}
	}

	e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
	for _, p := range []string{"/o/a", "/o/b"} {
		if err := e.fs.WriteFile(ctx, p, []byte("obj"), unifiedfs.CreateOptions{Recursive: true}); err != nil {
			t.Fatal(err)
		}
	}
	before := e.status("/o/a")
	if err := e.fs.SetAttribute(ctx, "/o", unifiedfs.SetAttributeOptions{Recursive: true, Mode: ptr(fs.FileMode(0o640)), Owner: ptr("alice"), Group: ptr("staff")}); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.LoadMetadata(ctx, "/o", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/o", "/o/a", "/o/b"} {
		st := e.status(p)
		if st.Mode != 0o640 || st.Owner != "alice" || st.Group != "staff" {
			t.Fatalf("%s: %v %s:%s", p, st.Mode, st.Owner, st.Group)
		}
	}
	if after := e.status("/o/a"); after.Version != before.Version || after.Fingerprint != before.Fingerprint {
		t.Fatalf("metadata change seen as a content change: %d/%s -> %d/%s", before.Version, before.Fingerprint, after.Version, after.Fingerprint)
	}
	ro := e.stores.Add("ro", ufstest.ObjectStore)
	_ = ro
	e.mount("/ro", "mem://ro/", unifiedfs.MountOptions{ReadOnly: true})
	wantErr(t, "chmod under a read-only mount", e.fs.SetAttribute(ctx, "/ro", unifiedfs.SetAttributeOptions{Mode: ptr(fs.FileMode(0o700))}), unifiedfs.ErrReadOnly)
}

// UpdateMount rotates a mount's credentials and flags while readers keep reading; every
// call after it sees the new mount whole; the change survives a restart; secrets stay out
// of Mounts.
func TestUpdateMountWhileReading(t *testing.T) {
	j := newJenv(t, false)
	m := j.stores.Add("data", ufstest.ObjectStore)
	_ = m
	j.stores.SetPassword("data", "old-secret")
	if err := j.fs.Mount(ctx, "/m", "mem://data/", unifiedfs.MountOptions{Options: map[string]string{"mem.password": "old-secret"}}); err != nil {
		t.Fatal(err)
	}
	j.write("/m/f", "payload", unifiedfs.Through) // uncached: every NoCache read goes to the UFS
	j.stores.SetPassword("data", "new-secret")    // rotated at the store: reopening needs the new key

	wantErr(t, "update with the old key", j.fs.UpdateMount(ctx, "/m", unifiedfs.MountOptions{Options: map[string]string{"mem.password": "old-secret"}}), fs.ErrPermission)
	wantErr(t, "update of a plain dir", j.fs.UpdateMount(ctx, "/", unifiedfs.MountOptions{}), fs.ErrInvalid)

	stop := make(chan struct{})
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := readNoCache(j.fs, "/m/f")
				if err != nil || string(b) != "payload" {
					bad.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	testpeer.WaitFor(t, "50 reads before the update", 10*time.Second, func() bool { return reads.Load() >= 50 })
	if err := j.fs.UpdateMount(ctx, "/m", unifiedfs.MountOptions{ReadOnly: true, Options: map[string]string{"mem.password": "new-secret"}}); err != nil {
		t.Fatal(err)
	}
	n := reads.Load()
	testpeer.WaitFor(t, "50 reads after the update", 10*time.Second, func() bool { return reads.Load() >= n+50 })
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d reads failed or read wrong bytes during the update", bad.Load(), reads.Load())
	}
	check := func() {
		t.Helper()
		var got *unifiedfs.MountInfo
		for _, mi := range j.fs.Mounts() {
			if mi.Path == "/m" {
				got = &mi
			}
		}
		if got == nil || !got.ReadOnly || got.Options["mem.password"] == "new-secret" {
			t.Fatalf("mount after update: %+v", got)
		}
		wantErr(t, "write under the now read-only mount", j.fs.WriteFile(ctx, "/m/g", []byte("x"), unifiedfs.CreateOptions{}), unifiedfs.ErrReadOnly)
		if got, err := j.read("m/f"); err != nil || got != "payload" {
			t.Fatalf("read after update: %q %v", got, err)
		}
	}
	check()
	j.restart()
	check()
}

// CheckConsistency finds each kind of difference made out of band on a local mount, and
// Repair fixes exactly those.
func TestCheckConsistency(t *testing.T) {
	dir := t.TempDir()
	fsys, err := unifiedfs.New(ctx, unifiedfs.Config{RootUFS: "file://" + dir})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	for _, n := range []string{"a", "b", "c"} {
		if err := fsys.WriteFile(ctx, "/d/"+n, []byte("content "+n), unifiedfs.CreateOptions{Recursive: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fs.ReadDir(fsys, "d"); err != nil {
		t.Fatal(err)
	}
	if got, err := fsys.CheckConsistency(ctx, "/", unifiedfs.CheckConsistencyOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("consistent tree: %v %v", got, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dir, "d", "a")))
	must(os.WriteFile(filepath.Join(dir, "d", "b"), []byte("changed out of band, longer"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "d", "x"), []byte("new"), 0o644))
	got, err := fsys.CheckConsistency(ctx, "/d", unifiedfs.CheckConsistencyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path string
		kind unifiedfs.InconsistencyKind
	}{{"/d/a", unifiedfs.MissingInUFS}, {"/d/b", unifiedfs.Differs}, {"/d/x", unifiedfs.MissingInNamespace}}
	if len(got) != len(want) {
		t.Fatalf("found %v", got)
	}
	for i, w := range want {
		if got[i].Path != w.path || got[i].Kind != w.kind || got[i].Detail == "" {
			t.Fatalf("[%d] = %+v, want %s %s", i, got[i], w.path, w.kind)
		}
	}
	if _, err := fsys.CheckConsistency(ctx, "/d", unifiedfs.CheckConsistencyOptions{Repair: true}); err != nil {
		t.Fatal(err)
	}
	if again, err := fsys.CheckConsistency(ctx, "/", unifiedfs.CheckConsistencyOptions{}); err != nil || len(again) != 0 {
		t.Fatalf("after repair: %v %v", again, err)
	}
	if b, err := fs.ReadFile(fsys, "d/b"); err != nil || string(b) != "changed out of band, longer" {
		t.Fatalf("d/b after repair: %q %v", b, err)
	}
	if _, err := fsys.GetStatus(ctx, "/d/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("d/a after repair: %v", err)
	}
	if _, err := fsys.GetStatus(ctx, "/d/x"); err != nil {
		t.Fatalf("d/x after repair: %v", err)
	}
}

// Location reports each block and its tier; Capacity the tiers.
func TestLocationAndCapacity(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{BlockSize: 1 << 10, CacheCapacity: 64 << 10}, ufstest.ObjectStore)
	e.write("/f", strings.Repeat("z", 2500), unifiedfs.Through)
	locs, err := e.fs.Location(ctx, "/f")
	if err != nil || len(locs) != 3 || locs[2].Offset != 2048 || locs[2].Length != 452 || locs[0].Cached {
		t.Fatalf("before read: %+v %v", locs, err)
	}
	e.read("f")
	locs, _ = e.fs.Location(ctx, "/f")
	for _, l := range locs {
		if !l.Cached || l.Tier != "MEM" || l.Member != "" {
			t.Fatalf("after read: %+v", locs)
		}
	}
	_, err = e.fs.Location(ctx, "/")
	wantErr(t, "location of a directory", err, unifiedfs.ErrIsDir)
	c := e.fs.Capacity()
	if len(c) != 1 || c[0].Tier != "MEM" || c[0].Capacity != 64<<10 || c[0].Used < 2500 {
		t.Fatalf("capacity %+v", c)
	}
}

// A pin is journaled: after a restart the file's blocks are loaded and held again.
func TestPinSurvivesRestart(t *testing.T) {
	j := newJenv(t, false)
	j.write("/p", strings.Repeat("q", 3000), unifiedfs.Through)
	if err := j.fs.SetAttribute(ctx, "/p", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	j.restart()
	var st *unifiedfs.FileStatus
	held := testpeer.Eventually(10*time.Second, func() bool {
		var err error
		if st, err = j.fs.GetStatus(ctx, "/p"); err != nil {
			t.Fatal(err)
		}
		if !st.Pinned {
			t.Fatal("pin lost in the restart")
		}
		return st.CachedBytes == 3000
	})
	if !held {
		t.Fatalf("blocks not held again after the restart: %d cached", st.CachedBytes)
	}
}

// A recursive pin that fails part way (a file beyond the cache's capacity) undoes only
// the pins it added: a file pinned before keeps its pin and its blocks.
func TestFailedPinKeepsEarlierPins(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{BlockSize: 1 << 10, CacheCapacity: 8 << 10}, ufstest.ObjectStore)
	data := strings.Repeat("p", 4<<10)
	if err := e.fs.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	e.write("/d/a", data, unifiedfs.Through)
	e.write("/d/b", strings.Repeat("b", 1<<10), unifiedfs.Through)
	e.write("/d/z", strings.Repeat("h", 16<<10), unifiedfs.Through)
	for i := range 8 {
		e.write(fmt.Sprintf("/other%d", i), data, unifiedfs.Through)
	}
	if err := e.fs.SetAttribute(ctx, "/d/a", unifiedfs.SetAttributeOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "recursive pin beyond capacity", e.fs.SetAttribute(ctx, "/d", unifiedfs.SetAttributeOptions{Pinned: ptr(true), Recursive: true}), unifiedfs.ErrNoSpace)
	if st := e.status("/d/a"); !st.Pinned {
		t.Fatal("the failed pin unset an earlier one")
	}
	if st := e.status("/d/b"); st.Pinned {
		t.Fatal("the failed pin left a file it added pinned")
	}
	for i := range 8 {
		e.read(fmt.Sprintf("other%d", i))
	}
	if st := e.status("/d/a"); st.CachedBytes != 4<<10 {
		t.Fatalf("the blocks of a file pinned before a failed pin were evicted: %d cached", st.CachedBytes)
	}
	if st := e.status("/d/b"); st.CachedBytes != 0 {
		t.Fatalf("the blocks a failed pin held are still held: %d cached", st.CachedBytes)
	}
}
