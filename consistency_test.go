package unifiedfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs"
	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

// Tests of the consistency rules: a read never changes another version's state, a write
// is invisible until it commits, a read is of exactly one version, and a removed write
// leaves nothing. Each one failed before the rule was implemented.

var allWriteTypes = []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through, unifiedfs.AsyncThrough}

// plainUFS hides the optional interfaces of a UFS (ufs.VersionReader above all), so that
// the namespace's fallback for stores without versioned reads is tested too.
type plainUFS struct{ ufs.UFS }

// newPlainEnv is newEnv whose root UFS does not implement ufs.VersionReader.
func newPlainEnv(t *testing.T, cfg unifiedfs.Config) *env {
	t.Helper()
	e := &env{t: t, stores: &ufstest.Stores{}}
	e.root = e.stores.Add("root", ufstest.FileSystem)
	reg := &ufs.Registry{}
	reg.Register("mem", func(ctx context.Context, uri ufs.URI, opts ufs.Options) (ufs.UFS, error) {
		u, err := e.stores.Open(ctx, uri, opts)
		if err != nil {
			return nil, err
		}
		return plainUFS{u}, nil
	})
	cfg.RootUFS, cfg.Registry = "mem://root/", reg
	fsys, err := unifiedfs.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	e.fs = fsys
	return e
}

// readAll opens p with the read type and reads it whole.
func readAll(fsys *unifiedfs.FS, p string, rt unifiedfs.ReadType) ([]byte, error) {
	f, err := fsys.OpenFile(ctx, p, unifiedfs.OpenOptions{ReadType: rt})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Item 1: one goroutine overwrites a small cache-only file and reads it back while four
// others only read it. Before: writes failed with "file dropped while being written" and
// written files were reported lost.
func TestReadersNeverDestroyCacheOnlyData(t *testing.T) {
	for _, wt := range []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.AsyncThrough} {
		t.Run(wt.String(), func(t *testing.T) {
			e := newEnv(t, unifiedfs.Config{BlockSize: 16, PersistRetryBase: time.Millisecond}, ufstest.FileSystem)
			e.root.Inject(ufstest.Fault{Op: ufstest.OpCreate, Latency: 50 * time.Microsecond, LatencyOnly: true})
			var written sync.Map
			first := "v-first-" + strings.Repeat("x", 30)
			written.Store(first, true)
			e.write("/f", first, wt)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var writes, reads int
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(stop)
				for i := 0; i < 400; i++ {
					v := fmt.Sprintf("v%d-", i) + strings.Repeat("y", i%50)
					written.Store(v, true)
					if err := e.fs.WriteFile(ctx, "/f", []byte(v), unifiedfs.CreateOptions{WriteType: wt, Overwrite: true}); err != nil {
						t.Errorf("write %d: %v", i, err)
						return
					}
					got, err := readAll(e.fs, "/f", unifiedfs.Cache)
					if err != nil || string(got) != v {
						t.Errorf("read back after write %d: %q, %v; want %q", i, got, err, v)
						return
					}
					writes++
				}
			}()
			var mu sync.Mutex
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
						got, err := readAll(e.fs, "/f", unifiedfs.Cache)
						if err != nil {
							t.Errorf("reader: %v", err)
							return
						}
						if _, ok := written.Load(string(got)); !ok {
							t.Errorf("reader got %q, which nobody wrote", got)
							return
						}
						mu.Lock()
						reads++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			t.Logf("%d writes, %d concurrent reads", writes, reads)
		})
	}
}

// Item 2: a file being written is not readable (no "" with a nil error), and an overwrite
// keeps the old version readable until Close.
func TestFileBeingWrittenIsNotReadable(t *testing.T) {
	for _, wt := range allWriteTypes {
		t.Run(wt.String(), func(t *testing.T) {
			e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
			w, err := e.fs.Create(ctx, "/new", unifiedfs.CreateOptions{WriteType: wt})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("partial")); err != nil {
				t.Fatal(err)
			}
			_, err = fs.ReadFile(e.fs, "new")
			wantErr(t, "ReadFile of a file being written", err, unifiedfs.ErrIncomplete)
			_, err = e.fs.Open("new")
			wantErr(t, "Open of a file being written", err, unifiedfs.ErrIncomplete)
			if st := e.status("/new"); !st.Incomplete {
				t.Fatalf("status of a file being written: %+v", st)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := e.read("new"); got != "partial" {
				t.Fatalf("after Close: %q", got)
			}

			e.write("/old", "old complete version", unifiedfs.CacheThrough)
			w, err = e.fs.Create(ctx, "/old", unifiedfs.CreateOptions{WriteType: wt, Overwrite: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("new version")); err != nil {
				t.Fatal(err)
			}
			if got := e.read("old"); got != "old complete version" {
				t.Fatalf("during an overwrite: %q, want the old version", got)
			}
			if st := e.status("/old"); st.Incomplete || st.Size != int64(len("old complete version")) {
				t.Fatalf("status during an overwrite: %+v", st)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := e.read("old"); got != "new version" {
				t.Fatalf("after the overwrite's Close: %q", got)
			}
		})
	}
}

// Item 2b: readers of a persisted file being overwritten get exactly one written version
// (or a clear error), never the old length filled with the new bytes; with and without
// versioned reads in the UFS.
func TestReadersDuringOverwriteSeeOneVersion(t *testing.T) {
	for _, versioned := range []bool{true, false} {
		for _, wt := range []unifiedfs.WriteType{unifiedfs.CacheThrough, unifiedfs.Through} {
			for _, rt := range []unifiedfs.ReadType{unifiedfs.Cache, unifiedfs.NoCache} {
				t.Run(fmt.Sprintf("versioned=%v/%v/%v", versioned, wt, rt), func(t *testing.T) {
					cfg := unifiedfs.Config{BlockSize: 8}
					var e *env
					if versioned {
						e = newEnv(t, cfg, ufstest.FileSystem)
					} else {
						e = newPlainEnv(t, cfg)
					}
					e.root.Inject(ufstest.Fault{Op: ufstest.OpRead, Latency: 30 * time.Microsecond, LatencyOnly: true})
					var written sync.Map
					v0 := "v0-" + strings.Repeat("x", 10)
					written.Store(v0, true)
					e.write("/k", v0, wt)
					stop := make(chan struct{})
					var wg sync.WaitGroup
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer close(stop)
						for i := 0; i < 200; i++ {
							v := fmt.Sprintf("v%d-", i) + strings.Repeat("x", i%13)
							written.Store(v, true)
							if err := e.fs.WriteFile(ctx, "/k", []byte(v), unifiedfs.CreateOptions{WriteType: wt, Overwrite: true}); err != nil {
								t.Errorf("write: %v", err)
								return
							}
						}
					}()
					var good, changed int
					var mu sync.Mutex
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
								b, err := readAll(e.fs, "/k", rt)
								mu.Lock()
								switch {
								case err == nil:
									if _, ok := written.Load(string(b)); !ok {
										t.Errorf("read %q with a nil error: nobody wrote it", b)
									}
									good++
								case errors.Is(err, unifiedfs.ErrChanged):
									changed++
								default:
									t.Errorf("read: %v", err)
								}
								mu.Unlock()
							}
						}()
					}
					wg.Wait()
					t.Logf("%d whole versions read, %d reads failed with ErrChanged", good, changed)
				})
			}
		}
	}
}

// Item 2c: a write whose file is removed meanwhile fails its Close and leaves nothing in
// the UFS; a rename onto the path then succeeds.
func TestRemoveDuringWriteLeavesNothing(t *testing.T) {
	for _, wt := range allWriteTypes {
		for _, overwrite := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/overwrite=%v", wt, overwrite), func(t *testing.T) {
				e := newEnv(t, unifiedfs.Config{}, ufstest.ObjectStore)
				if overwrite {
					e.write("/f", "old", unifiedfs.CacheThrough)
				}
				w, err := e.fs.Create(ctx, "/f", unifiedfs.CreateOptions{WriteType: wt, Overwrite: overwrite})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write([]byte("doomed")); err != nil {
					t.Fatal(err)
				}
				if err := e.fs.Remove(ctx, "/f"); err != nil {
					t.Fatal(err)
				}
				wantErr(t, "Close of a removed file", w.Close(), fs.ErrNotExist)
				if data, ok := e.root.Direct().Get("f"); ok {
					t.Fatalf("the UFS holds %q at the removed path", data)
				}
				if _, err := e.fs.Stat("f"); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("stat after: %v", err)
				}
				e.write("/g", "moved here", unifiedfs.CacheThrough)
				if err := e.fs.Rename(ctx, "/g", "/f"); err != nil {
					t.Fatalf("rename onto the path: %v", err)
				}
				if got := e.read("f"); got != "moved here" {
					t.Fatalf("read: %q", got)
				}
			})
		}
	}
}

// Item 2d and 3: a handle keeps the version it opened, whatever replaces it. Cache-only
// versions keep their blocks until the last handle closes; a persisted version is held in
// the cache before its object is replaced in the UFS.
func TestHandleKeepsItsVersion(t *testing.T) {
	old := strings.Repeat("old-version|", 20)
	for _, oldWT := range allWriteTypes {
		for _, newWT := range allWriteTypes {
			t.Run(fmt.Sprintf("%v-then-%v", oldWT, newWT), func(t *testing.T) {
				e := newEnv(t, unifiedfs.Config{BlockSize: 16, CacheCapacity: 1 << 20}, ufstest.FileSystem)
				e.write("/f", old, oldWT)
				f, err := e.fs.OpenFile(ctx, "/f", unifiedfs.OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				head := make([]byte, 5)
				if _, err := io.ReadFull(f, head); err != nil {
					t.Fatal(err)
				}
				if err := e.fs.WriteFile(ctx, "/f", []byte("the new version"), unifiedfs.CreateOptions{WriteType: newWT, Overwrite: true}); err != nil {
					t.Fatal(err)
				}
				rest, err := io.ReadAll(f)
				if err != nil {
					t.Fatalf("the handle's read failed: %v", err)
				}
				if got := string(head) + string(rest); got != old {
					t.Fatalf("the handle read %q, want the old version", got)
				}
				if got := e.read("f"); got != "the new version" {
					t.Fatalf("a new open reads %q", got)
				}
			})
		}
	}
}

// Item 4: a file changed in the UFS behind the namespace is never read as a mix: a read
// of the open version fails with ErrChanged (and the path is synced again, so the next
// open reads the new version), and ReadFile syncs and reads the new version at once.
// Complete blocks of the old version already cached may still be served (Alluxio's
// semantics), so the file is not read before it changes.
func TestStaleUFSContentIsNeverMixed(t *testing.T) {
	for _, versioned := range []bool{true, false} {
		for _, change := range []string{"grew", "shrank", "same-length"} {
			if !versioned && change == "same-length" {
				continue // without a content hash, only a change of length can be seen
			}
			for _, rt := range []unifiedfs.ReadType{unifiedfs.Cache, unifiedfs.NoCache} {
				t.Run(fmt.Sprintf("versioned=%v/%s/%v", versioned, change, rt), func(t *testing.T) {
					var e *env
					if versioned {
						e = newEnv(t, unifiedfs.Config{BlockSize: 4, ReadType: rt}, ufstest.FileSystem)
					} else {
						e = newPlainEnv(t, unifiedfs.Config{BlockSize: 4, ReadType: rt})
					}
					next := map[string]string{"grew": "original content, and more", "shrank": "orig", "same-length": "ORIGINAL CONTENT"}[change]
					for _, p := range []string{"f", "g"} {
						e.root.Direct().PutAt(p, []byte("original content"), time.Unix(100, 0))
						if st := e.status(p); st.Size != 16 {
							t.Fatalf("loaded: %+v", st)
						}
						e.root.Direct().PutAt(p, []byte(next), time.Unix(200, 0))
					}
					got, err := readAll(e.fs, "/f", rt)
					if err == nil {
						t.Fatalf("read of a file replaced behind the namespace: %q with a nil error", got)
					}
					wantErr(t, "read of a replaced file", err, unifiedfs.ErrChanged)
					if got, err := readAll(e.fs, "/f", rt); err != nil || string(got) != next {
						t.Fatalf("read after the failed one: %q, %v; want %q", got, err, next)
					}
					if got, err := fs.ReadFile(e.fs, "g"); err != nil || string(got) != next {
						t.Fatalf("ReadFile of a replaced file: %q, %v; want it to sync and read the new version %q", got, err, next)
					}
				})
			}
		}
	}
}

// Item 5: a MUST_CACHE directory (only in the namespace) survives listings and syncs.
func TestMustCacheEmptyDirSurvivesSync(t *testing.T) {
	for _, interval := range []time.Duration{unifiedfs.SyncNever, unifiedfs.SyncAlways} {
		t.Run(fmt.Sprint(interval), func(t *testing.T) {
			e := newEnv(t, unifiedfs.Config{WriteType: unifiedfs.MustCache, SyncInterval: interval}, ufstest.ObjectStore)
			if err := e.fs.Mkdir(ctx, "/foo"); err != nil {
				t.Fatal(err)
			}
			entries, err := e.fs.ReadDir(".")
			if err != nil || len(entries) != 1 || entries[0].Name() != "foo" {
				t.Fatalf("ReadDir: %v, %v", entries, err)
			}
			if st := e.status("/foo"); !st.IsDir || st.PersistState != unifiedfs.NotPersisted {
				t.Fatalf("status: %+v", st)
			}
			if err := e.fs.Mkdir(ctx, "/foo/sub"); err != nil {
				t.Fatalf("mkdir below: %v", err)
			}
			if err := e.fs.LoadMetadata(ctx, "/", unifiedfs.LoadMetadataOptions{Recursive: true, Force: true}); err != nil {
				t.Fatal(err)
			}
			if st := e.status("/foo/sub"); !st.IsDir {
				t.Fatalf("after a forced sync: %+v", st)
			}
		})
	}
}

// Item 6: renaming a path onto itself is a no-op, as rename(2).
func TestRenameOntoItself(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	e.write("/f", "data", unifiedfs.CacheThrough)
	if err := e.fs.Rename(ctx, "/f", "f"); err != nil {
		t.Fatalf("rename onto itself: %v", err)
	}
	if got := e.read("f"); got != "data" {
		t.Fatalf("after: %q", got)
	}
	wantErr(t, "rename of a missing path onto itself", e.fs.Rename(ctx, "/missing", "/missing"), fs.ErrNotExist)
}

// Item 7: errors name the path the caller passed, once, without repeated hints.
func TestErrorsNameTheCallersPath(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	e.stores.Add("ro", ufstest.FileSystem)
	e.mount("/ro", "mem://ro/", unifiedfs.MountOptions{ReadOnly: true})
	for _, c := range []struct {
		name string
		err  error
		path string
		is   error
	}{
		{"create without parent", e.fs.WriteFile(ctx, "/foo/bar", nil, unifiedfs.CreateOptions{}), "/foo/bar", fs.ErrNotExist},
		{"mkdir without parent", e.fs.Mkdir(ctx, "/foo/bar"), "/foo/bar", fs.ErrNotExist},
		{"create on a read-only mount", e.fs.WriteFile(ctx, "/ro/x", nil, unifiedfs.CreateOptions{}), "/ro/x", unifiedfs.ErrReadOnly},
		{"mkdir on a read-only mount", e.fs.Mkdir(ctx, "/ro/d"), "/ro/d", unifiedfs.ErrReadOnly},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, c.name, c.err, c.is)
			var pe *fs.PathError
			if !errors.As(c.err, &pe) || pe.Path != c.path {
				t.Fatalf("error %q names %q, want %q", c.err, pe.Path, c.path)
			}
			msg := c.err.Error()
			if strings.Count(msg, "unifiedfs:") > 1 {
				t.Fatalf("repeated prefix: %q", msg)
			}
		})
	}
}

// Item 8: Mkdir and MkdirAll take a mode.
func TestMkdirMode(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	if err := e.fs.Mkdir(ctx, "/d", unifiedfs.MkdirOptions{Mode: 0o700}); err != nil {
		t.Fatal(err)
	}
	if err := e.fs.MkdirAll(ctx, "/a/b", unifiedfs.MkdirOptions{Mode: 0o750}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{"/d": 0o700, "/a": 0o750, "/a/b": 0o750} {
		if st := e.status(p); st.Mode != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode, want)
		}
	}
	if err := e.fs.Mkdir(ctx, "/plain"); err != nil {
		t.Fatal(err)
	}
	if st := e.status("/plain"); st.Mode != 0o755 {
		t.Errorf("default mode %v", st.Mode)
	}
}

// Item 10: a trailing slash is not a file name.
func TestCreateWithTrailingSlashFails(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	wantErr(t, "WriteFile(/dir/)", e.fs.WriteFile(ctx, "/dir/", []byte("x"), unifiedfs.CreateOptions{}), fs.ErrInvalid)
	if _, err := e.fs.Stat("dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat: %v", err)
	}
}

// Item 10: an unknown mount option key is warned about, naming the key.
func TestUnknownMountOptionWarned(t *testing.T) {
	var log bytes.Buffer
	e := newEnv(t, unifiedfs.Config{Logger: newTextLogger(&log)}, ufstest.FileSystem)
	e.stores.Add("other", ufstest.FileSystem)
	e.mount("/m", "mem://other/", unifiedfs.MountOptions{Options: map[string]string{"mem.pasword": "typo", "MEM.PASSWORD": ""}})
	if !strings.Contains(log.String(), "mem.pasword") || strings.Contains(log.String(), "MEM.PASSWORD") {
		t.Fatalf("log: %s", log.String())
	}
	if strings.Contains(log.String(), "typo") {
		t.Fatalf("the log holds an option value: %s", log.String())
	}
}

// Item 12: one writer per file; a file being written does not move.
func TestOneWriterPerFile(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{}, ufstest.FileSystem)
	w, err := e.fs.Create(ctx, "/f", unifiedfs.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	_, err = e.fs.Create(ctx, "/f", unifiedfs.CreateOptions{Overwrite: true})
	wantErr(t, "second writer with Overwrite", err, unifiedfs.ErrBusy)
	_, err = e.fs.Create(ctx, "/f", unifiedfs.CreateOptions{})
	wantErr(t, "second writer", err, fs.ErrExist)
	wantErr(t, "rename of a file being written", e.fs.Rename(ctx, "/f", "/g"), unifiedfs.ErrBusy)
	if err := e.fs.WriteFile(ctx, "/d/x", nil, unifiedfs.CreateOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	w2, err := e.fs.Create(ctx, "/d/x", unifiedfs.CreateOptions{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Abort()
	wantErr(t, "rename of a directory holding a file being written", e.fs.Rename(ctx, "/d", "/e"), unifiedfs.ErrBusy)
}

// Item 15: a disk tier without a capacity gets the default one.
func TestCacheDirWithoutCapacity(t *testing.T) {
	e := newEnv(t, unifiedfs.Config{CacheDir: t.TempDir()}, ufstest.FileSystem)
	e.write("/f", "pinned on disk", unifiedfs.MustCache)
	if got := e.read("f"); got != "pinned on disk" {
		t.Fatalf("read %q", got)
	}
}

// A handle also survives the removal of its file, and a rename.
func TestHandleSurvivesRemoveAndRename(t *testing.T) {
	for _, wt := range allWriteTypes {
		for _, op := range []string{"remove", "rename"} {
			t.Run(fmt.Sprintf("%v/%s", wt, op), func(t *testing.T) {
				e := newEnv(t, unifiedfs.Config{BlockSize: 16}, ufstest.ObjectStore)
				content := strings.Repeat("content|", 30)
				e.write("/f", content, wt)
				if err := e.fs.Free(ctx, "/f"); err != nil && !errors.Is(err, unifiedfs.ErrNotPersisted) {
					t.Fatal(err)
				}
				f, err := e.fs.OpenFile(ctx, "/f", unifiedfs.OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				head := make([]byte, 3)
				if _, err := io.ReadFull(f, head); err != nil {
					t.Fatal(err)
				}
				if op == "remove" {
					err = e.fs.Remove(ctx, "/f")
				} else {
					err = e.fs.Rename(ctx, "/f", "/g")
				}
				if err != nil {
					t.Fatal(err)
				}
				rest, err := io.ReadAll(f)
				if err != nil || string(head)+string(rest) != content {
					t.Fatalf("read after %s: %q, %v", op, string(head)+string(rest), err)
				}
			})
		}
	}
}

// Item 9: the root's and mount points' mtimes are stable across restarts.
func TestMountPointMTimesStableAcrossRestarts(t *testing.T) {
	j := newJenv(t, false)
	j.stores.Get("root").Direct().Mkdir("sub")
	j.stores.Add("other", ufstest.FileSystem)
	if err := j.fs.Mount(ctx, "/m", "mem://other/", unifiedfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	times := func() (root, m time.Time) {
		r, err := j.fs.GetStatus(ctx, "/")
		if err != nil {
			t.Fatal(err)
		}
		ms, err := j.fs.GetStatus(ctx, "/m")
		if err != nil {
			t.Fatal(err)
		}
		return r.ModTime, ms.ModTime
	}
	r1, m1 := times()
	if m1.IsZero() {
		t.Fatal("the mount point has no mtime")
	}
	j.restart()
	r2, m2 := times()
	if !r1.Equal(r2) || !m1.Equal(m2) {
		t.Fatalf("mtimes changed across a restart: root %v -> %v, mount point %v -> %v", r1, r2, m1, m2)
	}
}

// Item 17: blocks loaded into a disk tier survive a restart, and Free drops them.
func TestLoadedBlocksSurviveRestart(t *testing.T) {
	j := newJenv(t, true)
	j.stores.Get("root").Direct().Put("data", bytes.Repeat([]byte("abc"), 1000))
	if err := j.fs.Load(ctx, "/data"); err != nil {
		t.Fatal(err)
	}
	cached := func() int64 {
		st, err := j.fs.GetStatus(ctx, "/data")
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedBytes
	}
	if n := cached(); n != 3000 {
		t.Fatalf("after load: %d bytes cached", n)
	}
	j.restart()
	if n := cached(); n != 3000 {
		t.Fatalf("after a restart: %d bytes cached, want 3000 (the disk tier's blocks)", n)
	}
	j.stores.Get("root").ClearFaults()
	calls := j.stores.Get("root").Calls(ufstest.OpOpen)
	if got, err := j.read("data"); err != nil || len(got) != 3000 {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if n := j.stores.Get("root").Calls(ufstest.OpOpen) - calls; n != 0 {
		t.Fatalf("the read went to the UFS %d times", n)
	}
	if err := j.fs.Free(ctx, "/data"); err != nil {
		t.Fatal(err)
	}
	if n := cached(); n != 0 {
		t.Fatalf("after free: %d bytes cached", n)
	}
}
