package hdfstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
)

func client(t *testing.T, addrs []string, user string) *hdfs.Client {
	t.Helper()
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: addrs, User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// closeWriter closes w, retrying while the NameNode reports the last block replicating.
func closeWriter(t *testing.T, w *hdfs.FileWriter) {
	t.Helper()
	var err error
	waitFor(t, "the last block to be reported", func() bool {
		err = w.Close()
		return !hdfs.IsErrReplicating(err)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func TestWriteReadSeveralBlocks(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/data", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")

	data := randomBytes(3*4096+777, 1)
	w, err := cl.Create("/data/f")
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes cross packet and block boundaries.
	for off := 0; off < len(data); off += 1000 {
		if _, err := w.Write(data[off:min(len(data), off+1000)]); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	sizes, err := c.Blocks("/data/f")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[4096 4096 4096 777]" {
		t.Fatalf("block sizes = %v", sizes)
	}
	got, err := cl.ReadFile("/data/f")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}
	f, err := cl.Open("/data/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 3000)
	if _, err := f.ReadAt(buf, 3000); err != nil { // across the first block boundary
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[3000:6000]) {
		t.Fatal("ReadAt across a block boundary returned different bytes")
	}
	if len(c.OpenFiles()) != 0 {
		t.Fatalf("open files after close: %v", c.OpenFiles())
	}
}

func TestListingIsPaged(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{ListingLimit: 3})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	var want []string
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("f%02d", i)
		want = append(want, name)
		if err := cl.CreateEmptyFile("/d/" + name); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Calls("getListing")
	fis, err := cl.ReadDir("/d")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fi := range fis {
		got = append(got, fi.Name())
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listing = %v, want %v", got, want)
	}
	if calls := c.Calls("getListing") - before; calls != 4 {
		t.Fatalf("getListing called %d times for 10 entries at 3 per page, want 4", calls)
	}
}

func TestSignedByteOrder(t *testing.T) {
	if compareJavaBytes("\u00e9", "z") >= 0 || compareJavaBytes("a", "ab") >= 0 || compareJavaBytes("b", "a") <= 0 {
		t.Fatal("compareJavaBytes does not order as Java signed bytes")
	}
}

func TestExceptions(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{})
	c.MkdirAll("/home", "alice", 0o755)
	c.MkdirAll("/private", "bob", 0o700)
	cl := client(t, []string{c.Addr()}, "alice")

	exceptionOf := func(err error) string {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if re, ok := err.(hdfs.Error); ok {
			return re.Exception()
		}
		return fmt.Sprintf("%T %v", err, err)
	}
	if err := cl.CreateEmptyFile("/home/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Stat("/private/x"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("stat below a 0700 dir of another user: %v", err)
	}
	if err := cl.Mkdir("/home/f/sub", 0o755); exceptionOf(err) != exParentNotDir {
		t.Errorf("mkdir below a file: %v", err)
	}
	if err := cl.CreateEmptyFile("/home/sub/x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("create in a missing directory: %v", err)
	}
	if err := cl.MkdirAll("/home/sub", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := cl.CreateEmptyFile("/home/sub/x"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Remove("/home/sub"); exceptionOf(err) != "syscall.Errno directory not empty" {
		t.Errorf("remove non-empty: %v", exceptionOf(err))
	}
	if err := cl.Remove("/home"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("remove in / (owned by hdfs, 0755) as alice: %v", err)
	}
	if _, err := cl.CreateFile("/home/x:y", 1, 4096, 0o644); exceptionOf(err) != exInvalidPath {
		t.Errorf("create a name with ':' = %v", exceptionOf(err))
	}
	c.FailNext("getFileInfo", "org.apache.hadoop.hdfs.server.namenode.SafeModeException", "safe mode")
	if _, err := cl.Stat("/home"); exceptionOf(err) != "org.apache.hadoop.hdfs.server.namenode.SafeModeException" {
		t.Errorf("injected: %v", err)
	}
	// Another client cannot write a file under construction.
	w, err := cl.Create("/home/open")
	if err != nil {
		t.Fatal(err)
	}
	other := client(t, []string{c.Addr()}, "alice")
	if _, err := other.Create("/home/open"); !errors.Is(err, os.ErrExist) {
		t.Errorf("create over a file being written by another client: %v", err)
	}
	closeWriter(t, w)
}

func TestCorruptionIsDetected(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	w, _ := cl.Create("/d/f")
	w.Write(randomBytes(5000, 2))
	closeWriter(t, w)
	if err := c.CorruptBlock("/d/f", 0, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ReadFile("/d/f"); err == nil {
		t.Fatal("reading a corrupted block succeeded")
	}
}

func TestCompleteWaitsForBlockReport(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockReportDelay: 300 * time.Millisecond})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	w, _ := cl.Create("/d/f")
	w.Write([]byte("hello"))
	err := w.Close()
	if !hdfs.IsErrReplicating(err) {
		t.Fatalf("first close = %v, want ErrReplicating", err)
	}
	closeWriter(t, w) // retried until the DataNode's delayed report arrives
	got, err := cl.ReadFile("/d/f")
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{})
	cl := client(t, []string{DeadAddr(t), c.AddStandby(t), c.Addr()}, "alice")
	if _, err := cl.Stat("/"); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseExpiresWithoutRenewal(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{LeaseHardLimit: 500 * time.Millisecond, BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	c.DropLeaseRenewals(true)
	w, err := cl.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(5000, 3))
	// Every NameNode call expires the leases past the hard limit (as the LeaseManager's
	// monitor would): call until the unrenewed lease is gone and its file closed.
	waitFor(t, "the unrenewed lease to expire", func() bool {
		_, _ = cl.Stat("/d")
		return len(c.OpenFiles()) == 0
	})
	_, err = io.Copy(w, bytes.NewReader(randomBytes(5000, 4)))
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		t.Fatal("write after the lease expired succeeded")
	}
	if len(c.OpenFiles()) != 0 {
		t.Fatalf("expired file still open: %v", c.OpenFiles())
	}
}
