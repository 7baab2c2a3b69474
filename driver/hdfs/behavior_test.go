package hdfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unifiedfs/unifiedfs/driver/hdfs/hdfstest"
	"github.com/unifiedfs/unifiedfs/internal/testpeer"
	"github.com/unifiedfs/unifiedfs/ufs"
)

var bg = context.Background()

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func mustWrite(t *testing.T, u ufs.UFS, p string, data []byte) {
	t.Helper()
	if err := ufs.WriteFile(bg, u, p, data); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
}

func readRange(u ufs.UFS, p string, off, n int64) ([]byte, error) {
	r, err := u.OpenRange(bg, p, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestBlockBoundaries writes a file of many 1 KiB blocks and reads ranges that start,
// end and cross at block and checksum-chunk boundaries.
func TestBlockBoundaries(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 1024})
	u := open(t, c, nil)
	data := randBytes(1, 10*1024+300)
	mustWrite(t, u, "f", data)
	blocks, err := c.Blocks(ufs.Unwrap(u).(interface{ Root() string }).Root() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 11 || blocks[10] != 300 {
		t.Fatalf("blocks = %v, want ten of 1024 and one of 300", blocks)
	}
	for _, r := range [][2]int64{{0, -1}, {1023, 2}, {1024, 1024}, {1000, 3000}, {511, 514}, {5 * 1024, -1},
		{10 * 1024, 300}, {10*1024 + 299, 10}, {3, 10240}} {
		got, err := readRange(u, "f", r[0], r[1])
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		end := int64(len(data))
		if r[1] >= 0 {
			end = min(end, r[0]+r[1])
		}
		if !bytes.Equal(got, data[r[0]:end]) {
			t.Fatalf("range %v: %d bytes differ from the file's", r, len(got))
		}
	}
}

// TestCorruptChecksum corrupts one byte of stored block data: a read covering it fails
// and never returns the corrupted byte, a read elsewhere succeeds.
func TestCorruptChecksum(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 4096})
	u := open(t, c, nil)
	data := randBytes(2, 3*4096)
	mustWrite(t, u, "f", data)
	abs := ufs.Unwrap(u).(interface{ Root() string }).Root() + "/f"
	// The last chunk of the last block: with large reads the client hands out the bytes
	// of a chunk before noticing its checksum is wrong, and would report success here.
	if err := c.CorruptBlock(abs, 2, 4000); err != nil {
		t.Fatal(err)
	}
	r, err := u.OpenRange(bg, "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(data))
	n, err := io.ReadFull(r, got)
	if err == nil {
		t.Fatal("reading a corrupted block succeeded")
	}
	if n > 2*4096+3584 {
		t.Fatalf("read %d bytes, past the start of the corrupted chunk at %d", n, 2*4096+3584)
	}
	if !bytes.Equal(got[:n], data[:n]) {
		t.Fatal("bytes before the corruption differ")
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.EOF) {
		t.Fatalf("corruption reported as %v", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/f" {
		t.Fatalf("error %v is not a *fs.PathError for f", err)
	}
	// Ranges that avoid the corrupt chunk still read.
	if got, err := readRange(u, "f", 0, 2*4096+3584); err != nil || !bytes.Equal(got, data[:2*4096+3584]) {
		t.Fatalf("clean range: %v", err)
	}
}

// TestFailover opens through a list of NameNodes whose first is down and whose second is
// a standby (StandbyException): the client fails over to the active one.
func TestFailover(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	c.URI("/fo")
	dead, standby := hdfstest.DeadAddr(t), c.AddStandby(t)
	for _, tc := range []struct{ uri, namenodes string }{
		{"hdfs://" + dead + "," + c.Addr() + "/fo", ""},
		{"hdfs://cluster1/fo", dead + "," + standby + "," + c.Addr()},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			opts := c.Options()
			if tc.namenodes != "" {
				opts["hdfs.namenodes"] = tc.namenodes
			}
			u, err := ufs.Open(bg, tc.uri, opts)
			if err != nil {
				t.Fatalf("%s: %v", tc.uri, err)
			}
			mustWrite(t, u, "x", []byte("hi"))
			if got, err := ufs.ReadFile(bg, u, "x"); err != nil || string(got) != "hi" {
				t.Fatalf("%s: read %q, %v", tc.uri, got, err)
			}
			u.Close()
		})
	}
	// Every NameNode down (or standby): Open fails, and not with fs.ErrNotExist.
	opts := c.Options()
	opts["hdfs.namenodes"] = dead + "," + standby
	_, err := ufs.Open(bg, "hdfs://x/fo", opts)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open with no active NameNode: %v", err)
	}
}

// TestCloseRetriesWhileReplicating delays the DataNode's block reports: the NameNode's
// complete answers false until they arrive, and Close retries until it succeeds.
func TestCloseRetriesWhileReplicating(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockReportDelay: 150 * time.Millisecond})
	u := open(t, c, map[string]string{"hdfs.complete.initial.delay": "40ms"})
	before := c.Calls("complete")
	mustWrite(t, u, "f", []byte("replicated"))
	if calls := c.Calls("complete") - before; calls < 2 {
		t.Fatalf("complete called %d times, want retries", calls)
	}
	if got, _ := ufs.ReadFile(bg, u, "f"); string(got) != "replicated" {
		t.Fatalf("read %q", got)
	}

	// Without retries Close fails and leaves nothing behind.
	u0 := open(t, c, map[string]string{"hdfs.complete.retries": "0"})
	err := ufs.WriteFile(bg, u0, "g", []byte("lost"))
	if err == nil {
		t.Fatal("close without retries succeeded while the block was replicating")
	}
	if _, err := u0.Stat(bg, "g"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after a failed close: %v", err)
	}
	if page, _ := u0.List(bg, ufs.Root, ufs.ListOptions{}); len(page.Entries) != 0 {
		t.Fatalf("entries left after a failed close: %+v", page.Entries)
	}
}

// TestLongWriteKeepsLease pauses a writer for longer than the NameNode's lease limit:
// the client's background renewal keeps the lease and Close succeeds. With renewals
// dropped the same write fails, which shows the limit is enforced.
func TestLongWriteKeepsLease(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{LeaseHardLimit: 1500 * time.Millisecond, BlockSize: 4096})
	u := open(t, c, nil)
	write := func(name string, pause func()) error {
		w, err := u.Create(bg, name, ufs.CreateOptions{})
		if err != nil {
			return err
		}
		if _, err := w.Write(randBytes(3, 5000)); err != nil {
			return err
		}
		pause()
		if _, err := w.Write(randBytes(4, 5000)); err != nil {
			_ = w.Abort()
			return err
		}
		return w.Close()
	}
	// Deliberate delay: twice the hard limit passes while the client renews; the lease
	// must survive it.
	if err := write("slow", func() { time.Sleep(3 * time.Second) /* deliberate: past the hard limit */ }); err != nil {
		t.Fatalf("slow write with lease renewal: %v", err)
	}
	c.DropLeaseRenewals(true)
	// Without renewals the NameNode expires the lease (on its next call past the limit).
	err := write("expired", func() {
		testpeer.WaitFor(t, "the unrenewed lease to expire", 20*time.Second, func() bool {
			_, _ = u.Stat(bg, ufs.Root)
			return len(c.OpenFiles()) == 0
		})
	})
	if err == nil {
		t.Fatal("slow write succeeded although its lease expired")
	}
	if !strings.Contains(err.Error(), "LeaseExpiredException") {
		t.Logf("error (expected a lease failure): %v", err)
	}
	if _, err := u.Stat(bg, "expired"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat expired: %v", err)
	}
}

// TestListLargeDirectory lists a directory of 120 entries, which the NameNode returns 7
// at a time, in pages of 25: all entries arrive once, in byte order (the NameNode's own
// order is by signed bytes), reading the directory once for the walk, and an entry
// created mid-walk after the token's position appears.
func TestListLargeDirectory(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{ListingLimit: 7})
	u := open(t, c, nil)
	var want []string
	for i := 0; i < 117; i++ {
		want = append(want, fmt.Sprintf("f%03d", i))
	}
	want = append(want, "é", "日本", "Z")
	for _, n := range want {
		mustWrite(t, u, "d/"+n, nil)
	}
	sort.Strings(want)

	before := c.Calls("getListing")
	var got []string
	opts := ufs.ListOptions{PageSize: 25}
	for pages := 0; ; pages++ {
		page, err := u.List(bg, "d", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			got = append(got, e.Name)
		}
		if pages == 1 {
			mustWrite(t, u, "d/zz-late", nil) // sorts after every token to come
			want = append(want, "zz-late")
		}
		if page.NextPageToken == "" {
			break
		}
		opts.PageToken = page.NextPageToken
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
	// One full read (18 getListing calls of 7) before the new entry, one after.
	if calls := c.Calls("getListing") - before; calls > 2*18 {
		t.Fatalf("getListing called %d times: the walk re-read the directory per page", calls)
	}
}

// TestStatusAttributes checks owner, group, mode and the content hash.
func TestStatusAttributes(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, nil)
	w, err := u.Create(bg, "f", ufs.CreateOptions{Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("12345"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := u.Stat(bg, "f")
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner != c.User() || st.Group != "supergroup" || st.Mode != 0o600 || st.Size != 5 {
		t.Fatalf("status = %+v", st)
	}
	// Length, modification time and file id: a new version is a new file, so two
	// same-length writes within one millisecond still differ.
	prefix := fmt.Sprintf("len:5,mtime:%d,id:", st.ModTime.UnixMilli())
	id, ok := strings.CutPrefix(st.ContentHash, prefix)
	if n, err := strconv.ParseUint(id, 10, 64); !ok || err != nil || n == 0 {
		t.Fatalf("content hash %q, want %q and the file id", st.ContentHash, prefix)
	}
	mustWrite(t, u, "f", []byte("54321"))
	if st2, err := u.Stat(bg, "f"); err != nil || st2.ContentHash == st.ContentHash || strings.HasSuffix(st2.ContentHash, ",id:"+id) {
		t.Fatalf("content hash after a same-length rewrite: %q (was %q), %v", st2.ContentHash, st.ContentHash, err)
	}
	if caps := u.Capabilities(); caps.Kind != "hdfs" || !caps.AtomicRename || !caps.Owners || caps.ObjectStore {
		t.Fatalf("capabilities = %+v", caps)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Stat(bg, "f"); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("stat after close: %v", err)
	}
	if err := u.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// TestSyncIsDurable: Sync sends every packet with the DataNode's sync flag and waits for
// the acknowledgements, so the DataNode has made every synced byte durable.
func TestSyncIsDurable(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 64 << 10})
	u := open(t, c, nil)
	abs := ufs.Unwrap(u).(interface{ Root() string }).Root() + "/log"
	w, err := u.(ufs.Appender).Append(bg, "log")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	data := randBytes(3, 200_000)
	for _, cut := range []int{10, 513, 65_536, 140_001, 200_000} {
		prev, _ := c.SyncedLength(abs)
		if _, err := w.Write(data[prev:cut]); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if n, err := c.SyncedLength(abs); err != nil || n != int64(cut) {
			t.Fatalf("after a Sync at %d the DataNode has made %d bytes durable (%v)", cut, n, err)
		}
	}
}

// TestLongNames stores names of HDFS's limit (255 bytes, dfs.namenode.fs-limits.
// max-component-length): uploads go through a temporary name that must fit too. A
// longer name fails with fs.ErrInvalid and leaves nothing behind.
func TestLongNames(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, nil)
	names := []string{strings.Repeat("n", 251) + ".txt", strings.Repeat("日", 85)}
	for i, name := range names {
		data := []byte(fmt.Sprintf("content %d", i))
		mustWrite(t, u, "d/"+name, data)
		if got, err := ufs.ReadFile(bg, u, "d/"+name); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read a %d-byte name: %q, %v", len(name), got, err)
		}
		if st, err := u.Stat(bg, "d/"+name); err != nil || st.Name != name {
			t.Fatalf("stat a %d-byte name: %+v, %v", len(name), st, err)
		}
	}
	if err := u.Rename(bg, "d/"+names[0], "d/"+strings.Repeat("m", 255)); err != nil {
		t.Fatalf("rename to a 255-byte name: %v", err)
	}
	err := ufs.WriteFile(bg, u, "d/"+strings.Repeat("x", 256), []byte("x"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrInvalid) || !errors.As(err, &pe) {
		t.Fatalf("write a 256-byte name: %v, want a *fs.PathError wrapping fs.ErrInvalid", err)
	}
	all, err := ufs.ListAll(bg, u, "d")
	if err != nil || len(all) != 2 {
		t.Fatalf("after a failed upload d holds %v (%v), want the two files", all, err)
	}
}

// TestAppendNeedsPlainDataTransfer: with data transfer protection the acknowledgements
// Sync waits for are wrapped, so Append says it is not supported.
func TestAppendNeedsPlainDataTransfer(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	u := open(t, c, map[string]string{"hdfs.data.transfer.protection": "authentication"})
	_, err := u.(ufs.Appender).Append(bg, "log")
	var pe *fs.PathError
	if !errors.Is(err, ufs.ErrNotSupported) || !errors.As(err, &pe) {
		t.Fatalf("Append with data transfer protection: %v, want ErrNotSupported", err)
	}
	if _, err := u.Stat(bg, "log"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused Append left a file: %v", err)
	}
}

// TestVersionReadsWhileReplaced reads versions of a file a writer keeps replacing with
// same-length content, across several blocks: every read returns exactly the version
// its hash names, or fails with ufs.ErrChanged.
func TestVersionReadsWhileReplaced(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{BlockSize: 4096})
	u := open(t, c, nil)
	vr := u.(ufs.VersionReader)
	const size, versions, readers = 3*4096 + 100, 15, 4
	content := func(v int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("v%04d;", v)), size/6+1)[:size]
	}
	var hashes sync.Map // content hash -> version
	mustWrite(t, u, "v", content(0))
	st, _ := u.Stat(bg, "v")
	hashes.Store(st.ContentHash, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, changes atomic.Int64
	errs := make(chan error, readers)
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := u.Stat(bg, "v")
				if err != nil {
					errs <- err
					return
				}
				rc, err := vr.OpenVersion(bg, "v", st.ContentHash, 0, st.Size)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(rc)
					rc.Close()
				}
				if errors.Is(err, ufs.ErrChanged) {
					changes.Add(1)
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				v, ok := hashes.Load(st.ContentHash)
				if !ok || !bytes.Equal(got, content(v.(int))) {
					errs <- fmt.Errorf("read of version %v (hash %s) returned other bytes (%.12q...)", v, st.ContentHash, got)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for v := 1; v <= versions; v++ {
		mustWrite(t, u, "v", content(v))
		st, err := u.Stat(bg, "v")
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := hashes.LoadOrStore(st.ContentHash, v); dup {
			t.Fatalf("version %d has the hash of an earlier version: %s", v, st.ContentHash)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d version reads returned their version, %d reported ErrChanged", reads.Load(), changes.Load())
	if reads.Load() == 0 {
		t.Fatal("no read completed")
	}
}

// TestFailedAppenderReleasesTheFile: an AppendWriter whose context was cancelled fails,
// and its Close recovers its own lease, so that the next appender gets the file at once
// (not after the lease's soft limit) with every synced byte.
func TestFailedAppenderReleasesTheFile(t *testing.T) {
	t.Parallel()
	c := hdfstest.NewCluster(t, hdfstest.Config{})
	a, b := openPair(t, c)
	t.Cleanup(func() { a.Close(); b.Close() })
	ctx, cancel := context.WithCancel(bg)
	w, err := a.(ufs.Appender).Append(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("synced;")); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := w.Write([]byte("lost")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v", err)
	}
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel: %v", err)
	}
	w2, err := b.(ufs.Appender).Append(bg, "f")
	if err != nil {
		t.Fatalf("Append after the failed writer closed: %v", err)
	}
	if _, err := w2.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := ufs.ReadFile(bg, a, "f"); err != nil || string(got) != "synced;next" {
		t.Fatalf("f holds %q, %v", got, err)
	}
}
