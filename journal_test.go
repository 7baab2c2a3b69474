package unifiedfs_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// jenv is a namespace with a journal and a disk cache tier that a test can close and
// open again over the same in-memory stores.
type jenv struct {
	t      *testing.T
	stores *ufstest.Stores
	cfg    unifiedfs.Config
	fs     *unifiedfs.FS
}

func newJenv(t *testing.T, withDisk bool) *jenv {
	dir := t.TempDir()
	j := &jenv{t: t, stores: &ufstest.Stores{}}
	j.stores.Add("root", ufstest.ObjectStore)
	j.cfg = unifiedfs.Config{RootUFS: "mem://root/", Registry: j.stores.Registry(), JournalDir: filepath.Join(dir, "journal"),
		PersistRetryBase: time.Millisecond, CloseTimeout: 100 * time.Millisecond}
	if withDisk {
		j.cfg.CacheDir, j.cfg.CacheDiskCapacity = filepath.Join(dir, "cache"), 1<<30
	}
	j.open()
	t.Cleanup(func() {
		if j.fs != nil {
			j.fs.Close()
		}
	})
	return j
}

func (j *jenv) open() {
	j.t.Helper()
	fsys, err := unifiedfs.New(ctx, j.cfg)
	if err != nil {
		j.t.Fatal(err)
	}
	j.fs = fsys
}

func (j *jenv) restart() {
	j.t.Helper()
	if err := j.fs.Close(); err != nil {
		j.t.Fatalf("close: %v", err)
	}
	j.fs = nil
	j.open()
}

func (j *jenv) write(p, data string, wt unifiedfs.WriteType) {
	j.t.Helper()
	if err := j.fs.WriteFile(ctx, p, []byte(data), unifiedfs.CreateOptions{WriteType: wt, Recursive: true}); err != nil {
		j.t.Fatalf("write %s: %v", p, err)
	}
}

func (j *jenv) read(p string) (string, error) {
	b, err := fs.ReadFile(j.fs, p)
	return string(b), err
}

func TestJournalRestoresNamespaceState(t *testing.T) {
	j := newJenv(t, true)
	root := j.stores.Get("root")
	root.Direct().Put("data/persisted", []byte("from the UFS"))
	b := j.stores.Add("bucket", ufstest.ObjectStore)
	b.Direct().Mkdir("dir")
	j.stores.SetPassword("bucket", "pw")
	if err := j.fs.Mount(ctx, "/data/mnt", "mem://bucket/dir", unifiedfs.MountOptions{ReadOnly: false, Shared: true, Options: map[string]string{"mem.password": "pw"}}); err != nil {
		t.Fatal(err)
	}
	j.write("/data/mnt/cached", "must-cache content", unifiedfs.MustCache)
	j.write("/data/mnt/through", "cache-through content", unifiedfs.CacheThrough)
	if err := j.fs.Mkdir(ctx, "/data/mnt/nsdir"); err != nil {
		t.Fatal(err)
	}
	j.write("/data/mnt/nsdir/deep", "deep", unifiedfs.MustCache)
	if err := j.fs.Rename(ctx, "/data/mnt/cached", "/data/mnt/cached2"); err != nil {
		t.Fatal(err)
	}
	j.write("/gone", "x", unifiedfs.MustCache)
	if err := j.fs.Remove(ctx, "/gone"); err != nil {
		t.Fatal(err)
	}
	if err := j.fs.StartSync(ctx, "/data"); err != nil {
		t.Fatal(err)
	}
	before := j.fs.Mounts()
	j.restart()
	after := j.fs.Mounts()
	if len(after) != len(before) || after[1].Path != "/data/mnt" || !after[1].Shared || after[1].Options["mem.password"] != "<redacted>" || after[1].Error != "" {
		t.Fatalf("mounts after restart: %+v\nbefore: %+v", after, before)
	}
	for p, want := range map[string]string{"data/mnt/cached2": "must-cache content", "data/mnt/through": "cache-through content",
		"data/mnt/nsdir/deep": "deep", "data/persisted": "from the UFS"} {
		if got, err := j.read(p); err != nil || got != want {
			t.Errorf("%s after restart: %q, %v", p, got, err)
		}
	}
	for _, p := range []string{"data/mnt/cached", "gone"} {
		if _, err := j.fs.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s came back: %v", p, err)
		}
	}
	st, _ := j.fs.GetStatus(ctx, "/data/mnt/cached2")
	if st.PersistState != unifiedfs.NotPersisted {
		t.Errorf("state %v", st.PersistState)
	}
	if pts := j.fs.SyncPoints(); len(pts) != 1 || pts[0].Path != "/data" {
		t.Errorf("sync points %+v", pts)
	}
	// Persist after the restart works with the recovered blocks.
	if err := j.fs.Persist(ctx, "/data/mnt/cached2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Direct().Get("dir/cached2"); string(got) != "must-cache content" {
		t.Fatalf("persisted after restart: %q", got)
	}
}

func TestJournalLostFilesAndAsyncQueue(t *testing.T) {
	j := newJenv(t, false) // no disk tier: MUST_CACHE blocks die with the process
	root := j.stores.Get("root")
	j.write("/mc", "only in memory", unifiedfs.MustCache)
	rm := root.Inject(ufstest.Fault{Op: ufstest.OpClose}) // async persists fail until restart
	j.write("/async", "queued", unifiedfs.AsyncThrough)
	_ = j.fs.Close() // reports the unfinished persist
	j.fs = nil
	rm()
	j.cfg.CacheDir, j.cfg.CacheDiskCapacity = "", 0
	j.open()
	st, err := j.fs.GetStatus(ctx, "/mc")
	if err != nil || st.PersistState != unifiedfs.Lost {
		t.Fatalf("/mc after restart without disk tier: %+v %v", st, err)
	}
	if _, err := j.read("mc"); !errors.Is(err, unifiedfs.ErrLost) {
		t.Fatalf("read of a lost file: %v", err)
	}
	if err := j.fs.Remove(ctx, "/mc"); err != nil {
		t.Fatalf("remove lost: %v", err)
	}
	// The async file's blocks were in memory only too: lost, and its persist is not retried
	// with empty content.
	if st, _ := j.fs.GetStatus(ctx, "/async"); st.PersistState != unifiedfs.Lost {
		t.Fatalf("/async: %v", st.PersistState)
	}
	if root.Direct().Exists("async") {
		t.Fatal("lost async file persisted")
	}
}

func TestJournalResumesAsyncPersistFromDisk(t *testing.T) {
	j := newJenv(t, true)
	root := j.stores.Get("root")
	rm := root.Inject(ufstest.Fault{Op: ufstest.OpClose})
	j.write("/async", "queued content", unifiedfs.AsyncThrough)
	_ = j.fs.Close()
	j.fs = nil
	rm()
	j.open()
	testpeer.WaitFor(t, "the queued persist to resume after the restart", 5*time.Second, func() bool {
		got, ok := root.Direct().Get("async")
		return ok && string(got) == "queued content"
	})
}

func TestJournalLock(t *testing.T) {
	j := newJenv(t, false)
	_, err := unifiedfs.New(ctx, j.cfg)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second New on the same journal: %v", err)
	}
	j.restart() // the lock is released by Close
}

func TestJournalKeepsUnreachableMount(t *testing.T) {
	j := newJenv(t, false)
	j.stores.Add("flaky", ufstest.ObjectStore)
	if err := j.fs.Mount(ctx, "/flaky", "mem://flaky/", unifiedfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	j.stores.SetPassword("flaky", "now-required")
	j.restart()
	var found bool
	for _, m := range j.fs.Mounts() {
		if m.Path == "/flaky" {
			found = true
			if !strings.Contains(m.Error, "mem.password") {
				t.Errorf("mount error %q", m.Error)
			}
		}
	}
	if !found {
		t.Fatal("unreachable mount dropped")
	}
	if _, err := j.fs.ReadDir("flaky"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("readdir under an unreachable mount: %v", err)
	}
	if err := j.fs.Unmount(ctx, "/flaky"); err != nil {
		t.Fatalf("unmount of an unreachable mount: %v", err)
	}
}

func TestJournalCheckpointBoundsSize(t *testing.T) {
	j := newJenv(t, false)
	j.cfg.JournalCheckpointBytes = 64 << 10
	j.restart()
	size := func() int64 {
		var n int64
		_ = filepath.WalkDir(j.cfg.JournalDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					n += fi.Size()
				}
			}
			return nil
		})
		return n
	}
	for i := 0; i < 3000; i++ {
		p := "/churn/f"
		j.write(p, "x", unifiedfs.MustCache)
		if err := j.fs.Remove(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// A background checkpoint may still be finishing.
	if !testpeer.Eventually(5*time.Second, func() bool { return size() <= 1<<20 }) {
		t.Fatalf("journal holds %d bytes after 6000 entries with 64 KiB checkpoints", size())
	}
	j.write("/keep", "k", unifiedfs.MustCache)
	j.restart()
	if _, err := j.fs.Stat("keep"); err != nil {
		t.Fatalf("after checkpoints and restart: %v", err)
	}
	if _, err := j.fs.Stat("churn/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("deleted file came back: %v", err)
	}
}

func TestJournalCutsCorruptTail(t *testing.T) {
	j := newJenv(t, true)
	j.write("/a", "a", unifiedfs.MustCache)
	if err := j.fs.Close(); err != nil {
		t.Fatal(err)
	}
	j.fs = nil
	// Simulate a torn write: garbage after the last record of the newest segment.
	segs, _ := filepath.Glob(filepath.Join(j.cfg.JournalDir, "log-*"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte{0xAB}, 37))
	f.Close()
	var logs bytes.Buffer
	j.cfg.Logger = newTextLogger(&logs)
	j.open()
	if got, err := j.read("a"); err != nil || got != "a" {
		t.Fatalf("after a torn tail: %q %v", got, err)
	}
	if !strings.Contains(logs.String(), "37") {
		t.Fatalf("no log line about the dropped bytes: %s", logs.String())
	}
	// The journal files are private: they may hold mount secrets.
	fis, _ := os.ReadDir(j.cfg.JournalDir)
	for _, fi := range fis {
		info, _ := fi.Info()
		if !fi.IsDir() && info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", fi.Name(), info.Mode().Perm())
		}
	}
}

func TestJournalRecoveryDropsOrphanPinnedBlocks(t *testing.T) {
	j := newJenv(t, true)
	j.write("/keep", "pinned and journaled", unifiedfs.MustCache)
	// Pinned blocks whose completion never reached this journal (as when a process dies
	// between the cache's fsync and the journal's): written by an FS with no journal over
	// the same cache directory.
	j.fs.Close()
	j.fs = nil
	noJournal := j.cfg
	noJournal.JournalDir = ""
	other, err := unifiedfs.New(ctx, noJournal)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.WriteFile(ctx, "/orphan", bytes.Repeat([]byte("o"), 3<<20), unifiedfs.CreateOptions{WriteType: unifiedfs.MustCache}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	pins := func() int {
		n := 0
		_ = filepath.WalkDir(j.cfg.CacheDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".pin") {
				n++
			}
			return nil
		})
		return n
	}
	if n := pins(); n != 4 {
		t.Fatalf("setup: %d pinned block files, want 4", n)
	}
	j.open()
	if got, err := j.read("keep"); err != nil || got != "pinned and journaled" {
		t.Fatalf("keep: %q %v", got, err)
	}
	if n := pins(); n != 1 {
		t.Fatalf("%d pinned block files after recovery, want 1 (/keep's)", n)
	}
}
