package hdfstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/unifiedfs/unifiedfs/internal/testpeer"
)

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, what, 20*time.Second, cond)
}

// exceptionClass returns the Java exception class of a go client error.
func exceptionClass(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if re, ok := err.(hdfs.Error); ok {
		return re.Exception()
	}
	return fmt.Sprintf("%T %v", err, err)
}

// lastBlock returns the last block of the file at p as the NameNode has it.
func (c *Cluster) lastBlock(t *testing.T, p string) blockInfo {
	t.Helper()
	c.nn.mu.Lock()
	defer c.nn.mu.Unlock()
	ip, err := c.nn.resolve(p)
	if err != nil || ip.last() == nil || ip.last().lastBlock() == nil {
		t.Fatalf("%s has no last block (%v)", p, err)
	}
	return *ip.last().lastBlock()
}

// writeFile creates p with data through cl.
func writeFile(t *testing.T, cl *hdfs.Client, p string, data []byte) {
	t.Helper()
	w, err := cl.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	closeWriter(t, w)
}

func mustReadFile(t *testing.T, cl *hdfs.Client, p string, want []byte) {
	t.Helper()
	got, err := cl.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s holds %d bytes, want %d (prefix equal: %v)", p, len(got), len(want), bytes.HasPrefix(want, got))
	}
}

// flushed writes data through w, flushes it and waits until the DataNode holds size
// bytes of the file's last block (the go client's Flush does not wait for the ack).
func flushed(t *testing.T, c *Cluster, w *hdfs.FileWriter, p string, data []byte, size int64) {
	t.Helper()
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	id := c.lastBlock(t, p).id
	waitFor(t, fmt.Sprintf("the DataNode to hold %d bytes", size), func() bool { return c.replicaSize(id) == size })
}

func TestAppendReopensLastBlock(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	want := randomBytes(1000, 5)
	writeFile(t, cl, "/d/f", want)
	// Into the partial last block (inside a checksum chunk), up to the block's end, then
	// from a block boundary, then across blocks.
	for i, n := range []int{1000, 2096, 10, 8197} {
		more := randomBytes(n, int64(10+i))
		w, err := cl.Append("/d/f")
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		for off := 0; off < n; off += 999 {
			if _, err := w.Write(more[off:min(n, off+999)]); err != nil {
				t.Fatal(err)
			}
		}
		closeWriter(t, w)
		want = append(want, more...)
		mustReadFile(t, cl, "/d/f", want)
	}
	if sizes, _ := c.Blocks("/d/f"); fmt.Sprint(sizes) != "[4096 4096 4096 15]" {
		t.Fatalf("blocks after the appends = %v", sizes)
	}
	if err := cl.CreateEmptyFile("/d/empty"); err != nil {
		t.Fatal(err)
	}
	w, err := cl.Append("/d/empty")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("now not empty"))
	closeWriter(t, w)
	mustReadFile(t, cl, "/d/empty", []byte("now not empty"))
	if _, err := cl.Append("/d/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("append of a missing file: %v", err)
	}
	if _, err := cl.Append("/d"); err == nil {
		t.Fatal("append of a directory succeeded")
	}
	if len(c.OpenFiles()) != 0 {
		t.Fatalf("open files after the appends: %v", c.OpenFiles())
	}
}

// TestFsyncPublishesLength checks hflush's NameNode half: readers see what fsync
// published, partial checksum chunks included, and only the holder may publish.
func TestFsyncPublishesLength(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	a := client(t, []string{c.Addr()}, "alice")
	b := client(t, []string{c.Addr()}, "alice")
	data := randomBytes(5000, 6)
	w, err := a.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	flushed(t, c, w, "/d/f", data[:700], 700)
	if fi, err := b.Stat("/d/f"); err != nil || fi.Size() != 0 {
		t.Fatalf("before fsync a reader sees %v bytes (%v), want 0", fi.Size(), err)
	}
	ra := newRawClient(t, c, "alice", a.Name())
	if err := ra.fsync("/d/f", 700); err != nil {
		t.Fatal(err)
	}
	mustReadFile(t, b, "/d/f", data[:700])
	var loc getBlockLocationsResp
	ra.mustCall("getBlockLocations", getBlockLocationsReq{Src: "/d/f", Length: 1 << 30}, &loc)
	if l := loc.Locations; l.FileLength != 0 || !l.UnderConstruction || l.IsLastBlockComplete || l.LastBlock == nil ||
		len(l.Blocks) != 1 || l.Blocks[0].B.NumBytes != 700 {
		t.Fatalf("locations of a file under construction: %+v", l)
	}
	// The next packet completes the partial chunk; the DataNode extends its checksum.
	flushed(t, c, w, "/d/f", data[700:1000], 1000)
	if err := ra.fsync("/d/f", 1000); err != nil {
		t.Fatal(err)
	}
	mustReadFile(t, b, "/d/f", data[:1000])
	rb := newRawClient(t, c, "alice", b.Name())
	if err := rb.fsync("/d/f", 1000); classOf(err) != exLeaseExpired {
		t.Fatalf("fsync by a client without the lease: %v", err)
	}
	if _, err := w.Write(data[1000:]); err != nil {
		t.Fatal(err)
	}
	closeWriter(t, w)
	mustReadFile(t, b, "/d/f", data)
	if err := ra.fsync("/d/f", 10); classOf(err) != exLeaseExpired {
		t.Fatalf("fsync of a closed file: %v", err)
	}
}

func TestSecondWriterRefused(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	a := client(t, []string{c.Addr()}, "alice")
	b := client(t, []string{c.Addr()}, "alice")
	w, err := a.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	flushed(t, c, w, "/d/f", randomBytes(700, 7), 700)
	_, err = b.Append("/d/f")
	if exceptionClass(err) != exAlreadyCreated || !strings.Contains(err.(*os.PathError).Err.(hdfs.Error).Message(), a.Name()) {
		t.Fatalf("append by another client: %v, want AlreadyBeingCreatedException naming %s", err, a.Name())
	}
	if _, err := a.Append("/d/f"); exceptionClass(err) != exAlreadyCreated {
		t.Fatalf("append by the holder itself: %v", err)
	}
	rb := newRawClient(t, c, "alice", b.Name())
	if _, err := rb.truncate("/d/f", 0); classOf(err) != exAlreadyCreated {
		t.Fatalf("truncate by another client: %v", err)
	}
	closeWriter(t, w)
	w, err = b.Append("/d/f")
	if err != nil {
		t.Fatalf("append once the writer closed: %v", err)
	}
	closeWriter(t, w)
}

// TestRecoverLeaseFencesTheWriter: recoverLease closes a file another client is writing
// at what the DataNode holds, with a new generation stamp; the old writer's later
// writes fail and never land.
func TestRecoverLeaseFencesTheWriter(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	a := client(t, []string{c.Addr()}, "alice")
	b := client(t, []string{c.Addr()}, "alice")
	third := client(t, []string{c.Addr()}, "alice")
	data := randomBytes(700, 8)
	w, err := a.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	flushed(t, c, w, "/d/f", data, 700)
	before := c.lastBlock(t, "/d/f")
	rb := newRawClient(t, c, "alice", b.Name())

	c.PauseBlockRecovery(true)
	if closed, err := rb.recoverLease("/d/f"); err != nil || closed {
		t.Fatalf("recoverLease of a file with data being written = %v, %v; want false (recovery started)", closed, err)
	}
	if h, _ := c.Holder("/d/f"); h != b.Name() {
		t.Fatalf("during recovery the lease is held by %q, want the recovering client %q", h, b.Name())
	}
	rec := c.lastBlock(t, "/d/f")
	if rec.state != blockUnderRecovery || rec.recoveryID <= before.gs {
		t.Fatalf("block after recoverLease: state %d, recovery id %d (gs was %d)", rec.state, rec.recoveryID, before.gs)
	}
	if closed, err := rb.recoverLease("/d/f"); err != nil || closed || c.lastBlock(t, "/d/f").recoveryID != rec.recoveryID {
		t.Fatalf("second recoverLease: %v, %v; it must not start another recovery", closed, err)
	}
	if _, err := third.Append("/d/f"); exceptionClass(err) != exRecoveryInProgress {
		t.Fatalf("append during recovery: %v, want RecoveryInProgressException", err)
	}
	if rb.isFileClosed("/d/f") {
		t.Fatal("isFileClosed during recovery")
	}
	c.PauseBlockRecovery(false)
	waitFor(t, "the recovery to close the file", func() bool { return rb.isFileClosed("/d/f") })
	after := c.lastBlock(t, "/d/f")
	if after.state != blockComplete || after.gs != rec.recoveryID || after.numBytes != 700 {
		t.Fatalf("recovered block: state %d gs %d (recovery id %d) %d bytes", after.state, after.gs, rec.recoveryID, after.numBytes)
	}
	if closed, err := rb.recoverLease("/d/f"); err != nil || !closed {
		t.Fatalf("recoverLease of a closed file = %v, %v", closed, err)
	}
	// The old writer: its pipeline is gone, its lease too.
	_, werr := w.Write(randomBytes(200_000, 9))
	cerr := w.Close()
	if werr == nil && cerr == nil {
		t.Fatal("the fenced writer's writes and close succeeded")
	}
	mustReadFile(t, b, "/d/f", data)
	w, err = b.Append("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("!"))
	closeWriter(t, w)
	mustReadFile(t, third, "/d/f", append(bytes.Clone(data), '!'))
	if _, err := rb.recoverLease("/d"); classOf(err) != exFileNotFound {
		t.Fatalf("recoverLease of a directory: %v", err)
	}
	if _, err := rb.recoverLease("/d/missing"); classOf(err) != exFileNotFound {
		t.Fatalf("recoverLease of a missing file: %v", err)
	}
}

// TestRecoverLeaseOfAnEmptyBlock: a writer that allocated a block but never opened its
// pipeline loses that block; the file closes at once.
func TestRecoverLeaseOfAnEmptyBlock(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	const name = "DFSClient_writer"
	rw := newRawClient(t, c, "alice", name)
	var cr fileStatusResp
	rw.mustCall("create", createReq{Src: "/d/f", Masked: fsPermission{Perm: 0o644}, ClientName: name, CreateFlag: 1, Replication: 1, BlockSize: 4096}, &cr)
	rw.mustCall("addBlock", addBlockReq{Src: "/d/f", ClientName: name, FileID: cr.FS.FileID}, &blockResp{})
	rb := newRawClient(t, c, "alice", "DFSClient_recoverer")
	if closed, err := rb.recoverLease("/d/f"); err != nil || !closed {
		t.Fatalf("recoverLease = %v, %v; want closed at once", closed, err)
	}
	if sizes, _ := c.Blocks("/d/f"); len(sizes) != 0 {
		t.Fatalf("blocks = %v, want none", sizes)
	}
	if err := rw.call("addBlock", addBlockReq{Src: "/d/f", ClientName: name, FileID: cr.FS.FileID}, &blockResp{}); classOf(err) != exLeaseExpired {
		t.Fatalf("the fenced writer's addBlock: %v", err)
	}
}

// TestSoftLimitStartsRecovery: a renewed lease keeps other writers out past the soft
// limit; once renewals stop, another writer's append starts recovery and then succeeds.
func TestSoftLimitStartsRecovery(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096, LeaseSoftLimit: 2 * time.Second})
	c.MkdirAll("/d", "alice", 0o755)
	a := client(t, []string{c.Addr()}, "alice")
	b := client(t, []string{c.Addr()}, "alice")
	data := randomBytes(700, 11)
	w, err := a.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	flushed(t, c, w, "/d/f", data, 700)
	time.Sleep(3 * time.Second) // deliberate: past the soft limit, with renewals running
	if _, err := b.Append("/d/f"); exceptionClass(err) != exAlreadyCreated {
		t.Fatalf("append while the holder renews: %v", err)
	}
	c.DropLeaseRenewals(true)
	seen := map[string]int{}
	var bw *hdfs.FileWriter
	waitFor(t, "the append to take over the file", func() bool {
		bw, err = b.Append("/d/f")
		if err != nil {
			seen[exceptionClass(err)]++
		}
		return err == nil
	})
	if seen[exRecoveryInProgress] == 0 {
		t.Fatalf("the takeover saw %v, never RecoveryInProgressException", seen)
	}
	bw.Write([]byte("?"))
	closeWriter(t, bw)
	mustReadFile(t, b, "/d/f", append(bytes.Clone(data), '?'))
	if err := w.Close(); err == nil {
		t.Fatal("the writer whose lease was recovered closed successfully")
	}
}

func TestHardLimitRecoversData(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096, LeaseHardLimit: 300 * time.Millisecond})
	c.MkdirAll("/d", "alice", 0o755)
	a := client(t, []string{c.Addr()}, "alice")
	b := client(t, []string{c.Addr()}, "alice")
	c.DropLeaseRenewals(true)
	data := randomBytes(5000, 12)
	w, err := a.Create("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	flushed(t, c, w, "/d/f", data, 5000-4096)
	waitFor(t, "the NameNode to recover the expired lease", func() bool {
		b.Stat("/d") // any call runs the lease monitor
		h, _ := c.Holder("/d/f")
		return h == ""
	})
	mustReadFile(t, b, "/d/f", data)
	if err := w.Close(); err == nil {
		t.Fatal("close after the lease expired succeeded")
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	cl := client(t, []string{c.Addr()}, "alice")
	data := randomBytes(3*4096+1000, 13)
	writeFile(t, cl, "/d/f", data)
	rc := newRawClient(t, c, "alice", "DFSClient_truncater")
	if done, err := rc.truncate("/d/f", uint64(len(data))); err != nil || !done {
		t.Fatalf("truncate to the same size = %v, %v", done, err)
	}
	if done, err := rc.truncate("/d/f", 2*4096); err != nil || !done {
		t.Fatalf("truncate at a block boundary = %v, %v; want done at once", done, err)
	}
	mustReadFile(t, cl, "/d/f", data[:2*4096])
	c.PauseBlockRecovery(true)
	if done, err := rc.truncate("/d/f", 5000); err != nil || done {
		t.Fatalf("truncate inside a block = %v, %v; want false (recovery)", done, err)
	}
	if fi, err := cl.Stat("/d/f"); err != nil || fi.Size() != 5000 {
		t.Fatalf("during the truncate's recovery: size %v, %v", fi.Size(), err)
	}
	if _, err := cl.Append("/d/f"); exceptionClass(err) != exRecoveryInProgress {
		t.Fatalf("append during the truncate's recovery: %v", err)
	}
	c.PauseBlockRecovery(false)
	waitFor(t, "the truncate to finish", func() bool { return rc.isFileClosed("/d/f") })
	mustReadFile(t, cl, "/d/f", data[:5000])
	if sizes, _ := c.Blocks("/d/f"); fmt.Sprint(sizes) != "[4096 904]" {
		t.Fatalf("blocks after the truncate = %v", sizes)
	}
	if _, err := rc.truncate("/d/f", 6000); classOf(err) != exIllegalArgument {
		t.Fatalf("truncate to a larger size: %v", err)
	}
	if _, err := rc.truncate("/d", 0); classOf(err) != exFileNotFound {
		t.Fatalf("truncate of a directory: %v", err)
	}
	// The cut replica takes appends inside its partial chunk (checksum recomputed).
	w, err := cl.Append("/d/f")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("tail"))
	closeWriter(t, w)
	mustReadFile(t, cl, "/d/f", append(bytes.Clone(data[:5000]), "tail"...))
}

// TestDataNodeSyncAndAppendStage drives DataTransferProtocol directly: the sync flag
// makes bytes durable, a packet inside a chunk must end at the chunk's end, and
// PIPELINE_SETUP_APPEND checks the replica as FsDatasetImpl.append does.
func TestDataNodeSyncAndAppendStage(t *testing.T) {
	t.Parallel()
	c := NewCluster(t, Config{BlockSize: 4096})
	c.MkdirAll("/d", "alice", 0o755)
	const name = "DFSClient_raw"
	rc := newRawClient(t, c, "alice", name)
	var cr fileStatusResp
	rc.mustCall("create", createReq{Src: "/d/raw", Masked: fsPermission{Perm: 0o644}, ClientName: name, CreateFlag: 1, Replication: 1, BlockSize: 4096}, &cr)
	var br blockResp
	rc.mustCall("addBlock", addBlockReq{Src: "/d/raw", ClientName: name, FileID: cr.FS.FileID}, &br)
	pl, err := openPipeline(t, c, br.Block, name, "PIPELINE_SETUP_CREATE", br.Block.B.GenerationStamp)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(2000, 14)
	if st := pl.send(data[:600], false, false); st != "SUCCESS" {
		t.Fatal(st)
	}
	if n, _ := c.SyncedLength("/d/raw"); n != 0 {
		t.Fatalf("synced %d bytes without the sync flag", n)
	}
	if st := pl.send(data[600:700], true, false); st != "SUCCESS" {
		t.Fatal(st)
	}
	if n, _ := c.SyncedLength("/d/raw"); n != 700 {
		t.Fatalf("synced %d bytes after a packet with the sync flag, want 700", n)
	}
	if st := pl.send(data[700:1025], false, false); st == "SUCCESS" { // 700 % 512 = 188: room for 324
		t.Fatal("a packet inside a chunk that runs past the chunk's end was accepted")
	}

	// Appends to a finalized replica (a file the go client wrote and closed).
	cl := client(t, []string{c.Addr()}, "alice")
	writeFile(t, cl, "/d/app", data[:1000])
	const appender = "DFSClient_appender"
	ra := newRawClient(t, c, "alice", appender)
	var ar appendResp
	ra.mustCall("append", appendReq{Src: "/d/app", ClientName: appender}, &ar)
	if ar.Block == nil || ar.Block.B.NumBytes != 1000 || ar.Stat == nil || ar.Stat.FileID == 0 {
		t.Fatalf("append response: %+v", ar)
	}
	lb := *ar.Block
	if _, err := openPipeline(t, c, lb, appender, "PIPELINE_SETUP_APPEND", lb.B.GenerationStamp-1); err == nil || !strings.Contains(err.Error(), "generation stamp") {
		t.Fatalf("append with an older generation stamp: %v", err)
	}
	short := lb
	short.B.NumBytes = 999
	if _, err := openPipeline(t, c, short, appender, "PIPELINE_SETUP_APPEND", lb.B.GenerationStamp); err == nil || !strings.Contains(err.Error(), "expected length") {
		t.Fatalf("append expecting the wrong length: %v", err)
	}
	pl, err = openPipeline(t, c, lb, appender, "PIPELINE_SETUP_APPEND", lb.B.GenerationStamp)
	if err != nil {
		t.Fatal(err)
	}
	if st := pl.send(data[1000:1024], true, false); st != "SUCCESS" { // completes the chunk at 488
		t.Fatal(st)
	}
	if _, err := openPipeline(t, c, lb, appender, "PIPELINE_SETUP_APPEND", lb.B.GenerationStamp); err == nil || !strings.Contains(err.Error(), "unfinalized") {
		t.Fatalf("a second append pipeline on a replica being written: %v", err)
	}
	if st := pl.send(data[1024:1500], false, true); st != "SUCCESS" {
		t.Fatal(st)
	}
	blk := extendedBlock{PoolID: lb.B.PoolID, BlockID: lb.B.BlockID, GenerationStamp: lb.B.GenerationStamp, NumBytes: 1500}
	var done resultResp
	waitFor(t, "complete", func() bool {
		ra.mustCall("complete", completeReq{Src: "/d/app", ClientName: appender, Last: &blk, FileID: ar.Stat.FileID}, &done)
		return done.Result
	})
	mustReadFile(t, cl, "/d/app", data[:1500])
}
