package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
	"github.com/unifiedfs/unifiedfs/ufs/ufstest"
)

func TestNewUFSStorageRefuses(t *testing.T) {
	_, err := NewUFSStorage(ufstest.New(ufstest.ObjectStore), "j")
	if err == nil || !strings.Contains(err.Error(), "object stores cannot append or flush") || !strings.Contains(err.Error(), "hdfs://") {
		t.Fatalf("an object store: %v", err)
	}
	_, err = NewUFSStorage(ufstest.New(ufstest.FileSystem), "j")
	if err == nil || !strings.Contains(err.Error(), "ufs.Appender") || !strings.Contains(err.Error(), "file:// on a shared mount") {
		t.Fatalf("a filesystem that cannot append: %v", err)
	}
	if _, err := NewUFSStorage(nil, "j"); err == nil {
		t.Fatal("a nil UFS was accepted")
	}
	u := rawLocal(t, t.TempDir())
	for _, dir := range []string{"../x", "a//b", "a\x00b"} {
		if _, err := NewUFSStorage(u, dir); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("directory %q: %v, want fs.ErrInvalid", dir, err)
		}
	}
	ufs.WriteFile(context.Background(), u, "file", []byte("x"))
	if _, err := NewUFSStorage(u, "file"); err == nil {
		t.Fatal("a file as the journal directory was accepted")
	}
	st, err := NewUFSStorage(u, "a/b/j")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(Sealer); ok {
		t.Fatal("a storage on local disk claims to be a Sealer")
	}
	if s, ok := st.(fmt.Stringer); !ok || s.String() != "local:/a/b/j" {
		t.Fatalf("String() = %v", st)
	}
}

// TestSealFencesTheOldHolder is the HA takeover: a new leader seals the journal while
// the old one is alive, opens it with every entry the old one synced, and the old one
// can neither append entries nor change the storage any more.
func TestSealFencesTheOldHolder(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		old := newStorage(t)
		if _, ok := old.Storage.(Sealer); !ok {
			t.Skip("the storage cannot revoke another process's writers (its UFS is no ufs.Sealer)")
		}
		j, _ := mustOpen(t, old, Options{SegmentSize: 1 << 20})
		appendWait(t, j, 1, 20)
		leader := old.reopen(t) // the new leader's process
		if _, _, err := Open(leader, Options{}); !errors.Is(err, ErrLocked) {
			t.Fatalf("Open while the old holder lives, without sealing: %v, want ErrLocked", err)
		}
		if err := leader.(Sealer).Seal(); err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if err := j.Append(payload(21)).Wait(); err == nil {
			t.Fatal("the sealed holder made an entry durable")
		}
		nj, rec := mustOpen(t, leader, Options{})
		checkEntries(t, rec, 1, 20)
		appendWait(t, nj, 21, 25)
		// The old holder's storage refuses every change: its lock is gone.
		_, err := old.Append(segmentName(100))
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("the sealed holder's Append: %v, want ErrLocked", err)
		}
		if err := old.WriteAtomic(checkpointName(5), snap(5)); !errors.Is(err, ErrLocked) {
			t.Fatalf("the sealed holder's WriteAtomic: %v, want ErrLocked", err)
		}
		if err := old.Remove(segmentName(1)); !errors.Is(err, ErrLocked) {
			t.Fatalf("the sealed holder's Remove: %v, want ErrLocked", err)
		}
		if err := old.Truncate(segmentName(1), 0); !errors.Is(err, ErrLocked) {
			t.Fatalf("the sealed holder's Truncate: %v, want ErrLocked", err)
		}
		if err := j.Close(); err == nil {
			t.Fatal("the sealed holder's journal closed without an error")
		}
		closeJ(t, nj)
		j, rec = mustOpen(t, old.reopen(t), Options{})
		closeJ(t, j)
		checkEntries(t, rec, 1, 25)
	})
}

// TestReplayTailsAWriter is a standby following the leader from another open: every
// replay is a valid prefix of the history, at least as long as what was durable when
// it began, across segment rolls, checkpoints and compaction.
func TestReplayTailsAWriter(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		standby := st.reopen(t)
		j, _ := mustOpen(t, st, Options{SegmentSize: 2048})
		var durable atomic.Uint64
		done := make(chan struct{})
		errc := make(chan error, 1)
		var replays, vanished int
		go func() {
			for {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				floor := durable.Load()
				rec, err := Replay(standby, Options{})
				if errors.Is(err, fs.ErrNotExist) {
					vanished++ // compacted under the replay: retry
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				if last := rec.CheckpointSeq + uint64(len(rec.Entries)); last < floor {
					errc <- fmt.Errorf("replay ends at %d, but %d was durable before it began", last, floor)
					return
				}
				if rec.CheckpointSeq > 0 && !bytes.Equal(rec.Checkpoint, snap(rec.CheckpointSeq)) {
					errc <- fmt.Errorf("checkpoint %d holds %q", rec.CheckpointSeq, rec.Checkpoint)
					return
				}
				for i, e := range rec.Entries {
					if seq := rec.CheckpointSeq + 1 + uint64(i); e.Seq != seq || !bytes.Equal(e.Data, payload(seq)) {
						errc <- fmt.Errorf("replayed entry %d: seq %d %q", seq, e.Seq, e.Data)
						return
					}
				}
				replays++
			}
		}()
		for s := uint64(1); s <= 300; s++ {
			appendWait(t, j, s, s)
			durable.Store(s)
			if s%60 == 0 {
				if err := j.Checkpoint(snap(s-10), s-10); err != nil {
					t.Fatal(err)
				}
			}
		}
		close(done)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		closeJ(t, j)
		t.Logf("%d replays checked, %d retried after compaction", replays, vanished)
		if replays == 0 {
			t.Fatal("the standby never replayed")
		}
	})
}
