package journal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/driver/local"
	"github.com/unifiedfs/unifiedfs/ufs"

	_ "github.com/unifiedfs/unifiedfs/driver/hdfs"
)

// The storage-level tests run over every kind of storage: a local directory
// (NewDirStorage), and NewUFSStorage on the local driver and on the HDFS test cluster.
var storageKinds = []struct {
	name  string
	setup func(t *testing.T) func(t *testing.T) *testStore // per test: the kind's maker
}{
	{"dir", dirKind},
	{"ufs-local", localKind},
	{"ufs-hdfs", hdfsKind},
}

// forEachStorage runs test once per storage kind, as subtests named after the kinds.
func forEachStorage(t *testing.T, test func(t *testing.T, newStorage func(t *testing.T) *testStore)) {
	for _, k := range storageKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.setup(t)) })
	}
}

// testStore is a fresh storage in a directory "j" of a location, with raw access to its
// files through a UFS rooted at the location: below the Storage API, as damage or
// another process would see them.
type testStore struct {
	Storage
	raw ufs.UFS
	// reopen opens the same journal again (as another process would).
	reopen func(t *testing.T) Storage
	// spec tells a child process how to open it (openSpec).
	spec string
	// stale is the name of a temporary file a crashed WriteAtomic leaves.
	stale string
	// isDir: a dirStorage, whose directory is created 0700.
	isDir bool
}

func dirKind(t *testing.T) func(t *testing.T) *testStore {
	return func(t *testing.T) *testStore {
		t.Helper()
		loc := t.TempDir()
		open := func(t *testing.T) Storage {
			st, err := NewDirStorage(filepath.Join(loc, "j"))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		return &testStore{Storage: open(t), raw: rawLocal(t, loc), reopen: open, spec: "dir\t" + filepath.Join(loc, "j"),
			stale: tmpPrefix + checkpointName(9), isDir: true}
	}
}

func localKind(t *testing.T) func(t *testing.T) *testStore {
	return func(t *testing.T) *testStore {
		t.Helper()
		uri := "file://" + t.TempDir()
		open := func(t *testing.T) Storage { return openUFSStorage(t, uri, nil) }
		return &testStore{Storage: open(t), raw: rawLocal(t, strings.TrimPrefix(uri, "file://")), reopen: open,
			spec: "ufs\t" + uri, stale: ufs.TempName(checkpointName(9), "0123456789abcdef")}
	}
}

var hdfsDirs atomic.Int64

// hdfsKind starts a cluster for the test; each storage is a fresh directory of it. The
// soft limit is short so that a killed holder's lock frees quickly (the client renews
// every second, so it cannot be shorter than that).
func hdfsKind(t *testing.T) func(t *testing.T) *testStore {
	c := hdfstest.NewCluster(t, hdfstest.Config{LeaseSoftLimit: 2 * time.Second})
	return func(t *testing.T) *testStore {
		t.Helper()
		uri := c.URI(fmt.Sprintf("/journal/%d", hdfsDirs.Add(1)))
		opts := c.Options()
		open := func(t *testing.T) Storage { return openUFSStorage(t, uri, opts) }
		raw, err := ufs.Open(context.Background(), uri, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return &testStore{Storage: open(t), raw: raw, reopen: open, spec: "ufs\t" + uri + "\t" + c.User(),
			stale: ufs.TempName(checkpointName(9), "0123456789abcdef")}
	}
}

func rawLocal(t *testing.T, loc string) ufs.UFS {
	t.Helper()
	u, err := local.New(context.Background(), local.Options{Dir: loc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// openUFSStorage opens uri and a UFSStorage in its directory "j"; the UFS is closed when
// the test ends.
func openUFSStorage(t *testing.T, uri string, opts map[string]string) Storage {
	t.Helper()
	u, err := ufs.Open(context.Background(), uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	st, err := NewUFSStorage(u, "j")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// openSpec opens the storage a testStore's spec names, for a child process.
func openSpec(spec string) (Storage, error) {
	f := strings.Split(spec, "\t")
	if f[0] == "dir" {
		return NewDirStorage(f[1])
	}
	opts := map[string]string{}
	if len(f) > 2 {
		opts["hdfs.user"] = f[2]
	}
	u, err := ufs.Open(context.Background(), f[1], opts)
	if err != nil {
		return nil, err
	}
	return NewUFSStorage(u, "j")
}

func (s *testStore) rawPath(name string) string { return ufs.Join("j", name) }

// kernelLock reports whether the storage's lock is a flock, which the kernel releases
// as soon as its holder dies.
func (s *testStore) kernelLock() bool { return s.raw.Capabilities().Kind == "local" }

func (s *testStore) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := ufs.ReadFile(context.Background(), s.raw, s.rawPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *testStore) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := ufs.WriteFile(context.Background(), s.raw, s.rawPath(name), data); err != nil {
		t.Fatal(err)
	}
}

// size returns the size of name, -1 when it does not exist.
func (s *testStore) size(t *testing.T, name string) int64 {
	t.Helper()
	st, err := s.raw.Stat(context.Background(), s.rawPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size
}

func (s *testStore) remove(t *testing.T, name string) {
	t.Helper()
	if err := s.raw.Remove(context.Background(), s.rawPath(name)); err != nil {
		t.Fatal(err)
	}
}

func (s *testStore) truncate(t *testing.T, name string, size int64) {
	t.Helper()
	if err := s.raw.(ufs.Appender).Truncate(context.Background(), s.rawPath(name), size); err != nil {
		t.Fatal(err)
	}
}

// usage returns the bytes and the number of files in the journal directory (lock and
// temporary files included).
func (s *testStore) usage(t *testing.T) (total int64, files int) {
	t.Helper()
	ents, err := ufs.ListAll(context.Background(), s.raw, "j")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		total += e.Size
		files++
	}
	return total, files
}

// entries returns the names and statuses in the journal directory.
func (s *testStore) entries(t *testing.T) []ufs.Status {
	t.Helper()
	ents, err := ufs.ListAll(context.Background(), s.raw, "j")
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

// dirMode returns the permission bits of the journal directory.
func (s *testStore) dirMode(t *testing.T) fs.FileMode {
	t.Helper()
	st, err := s.raw.Stat(context.Background(), "j")
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode
}
