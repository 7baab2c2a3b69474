package journal

import (
	"errors"
	"testing"
)

// crashWorkload appends and checkpoints through st until the storage "dies". It returns
// the highest seq whose Wait returned nil and the highest seq whose Checkpoint returned
// nil.
func crashWorkload(st Storage) (acked, ckAcked uint64) {
	j, _, err := Open(st, Options{SegmentSize: 150})
	if err != nil {
		return 0, 0
	}
	defer j.Close()
	for round := 0; round < 4; round++ {
		for i := 0; i < 7; i++ {
			tk := j.Append(payload(j.LastSeq() + 1))
			if tk.Wait() != nil {
				return acked, ckAcked
			}
			acked = tk.Seq()
		}
		if round == 3 {
			break
		}
		// One checkpoint a little behind the end, one at the end.
		seq := j.LastSeq() - uint64(round%2)
		if j.Checkpoint(snap(seq), seq) != nil {
			return acked, ckAcked
		}
		ckAcked = seq
	}
	return acked, ckAcked
}

// TestCrashAtEveryStorageOperation stops the storage after k mutating operations (the
// interrupted write leaves half its bytes), for every k, and checks that the journal
// recovers everything acknowledged, from a valid checkpoint, and stays usable.
func TestCrashAtEveryStorageOperation(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		torn, fromCheckpoint := 0, 0
		for k := 0; ; k++ {
			base := newStorage(t)
			w := &wrapStorage{Storage: base, limited: true, budget: k}
			acked, ckAcked := crashWorkload(w)
			j, rec, err := Open(base, Options{})
			if err != nil {
				t.Fatalf("crash after %d operations: reopen: %v", k, err)
			}
			if rec.CheckpointSeq < ckAcked {
				t.Fatalf("crash after %d operations: checkpoint %d, but checkpoint %d was acknowledged", k, rec.CheckpointSeq, ckAcked)
			}
			if rec.CheckpointSeq > 0 && string(rec.Checkpoint) != string(snap(rec.CheckpointSeq)) {
				t.Fatalf("crash after %d operations: checkpoint %d holds %q", k, rec.CheckpointSeq, rec.Checkpoint)
			}
			if rec.DroppedBytes > 0 {
				torn++
			}
			if rec.CheckpointSeq > 0 {
				fromCheckpoint++
			}
			last := rec.CheckpointSeq + uint64(len(rec.Entries))
			checkEntries(t, rec, rec.CheckpointSeq+1, last)
			if last < acked || j.LastSeq() != last {
				t.Fatalf("crash after %d operations: recovered up to %d (LastSeq %d), %d was acknowledged", k, last, j.LastSeq(), acked)
			}
			// Still usable: append, checkpoint, reopen.
			appendWait(t, j, last+1, last+3)
			if err := j.Checkpoint(snap(last+2), last+2); err != nil {
				t.Fatalf("crash after %d operations: checkpoint after recovery: %v", k, err)
			}
			closeJ(t, j)
			j, rec = mustOpen(t, base, Options{})
			closeJ(t, j)
			if rec.CheckpointSeq != last+2 {
				t.Fatalf("crash after %d operations: second reopen at checkpoint %d, want %d", k, rec.CheckpointSeq, last+2)
			}
			checkEntries(t, rec, last+3, last+3)
			w.mu.Lock()
			crashed := w.crashed
			w.mu.Unlock()
			if !crashed {
				t.Logf("workload completes after %d storage operations; crashed at each: %d torn tails cut, %d recoveries from a checkpoint", k, torn, fromCheckpoint)
				if torn == 0 || fromCheckpoint == 0 {
					t.Fatal("the crash points never produced a torn tail or a checkpoint recovery")
				}
				return
			}
		}
	})
}

func TestFailedSyncPoisons(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		base := newStorage(t)
		w := &wrapStorage{Storage: base}
		j, _ := mustOpen(t, w, Options{})
		appendWait(t, j, 1, 3)
		w.failSync.Store(true)
		if err := j.Append(payload(4)).Wait(); err == nil {
			t.Fatal("Wait succeeded although fsync failed")
		}
		w.failSync.Store(false)
		if err := j.Append(payload(5)).Wait(); err == nil {
			t.Fatal("Append on a failed journal succeeded")
		}
		if err := j.Checkpoint(snap(3), 3); err == nil {
			t.Fatal("Checkpoint on a failed journal succeeded")
		}
		if err := j.Close(); err == nil || errors.Is(err, ErrClosed) {
			t.Fatalf("Close of a failed journal: %v, want the failure", err)
		}
		// Reopening recovers (entry 4 was written, only its fsync "failed").
		j, rec := mustOpen(t, base, Options{})
		defer closeJ(t, j)
		if n := len(rec.Entries); n != 3 && n != 4 {
			t.Fatalf("recovered %d entries, want 3 or 4", n)
		}
		checkEntries(t, rec, 1, uint64(len(rec.Entries)))
	})
}

func TestTooLargeEntry(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		defer closeJ(t, j)
		tk := j.Append(make([]byte, MaxRecordSize+1))
		if tk.Seq() != 0 || tk.Wait() == nil {
			t.Fatalf("oversized entry accepted (seq %d)", tk.Seq())
		}
		appendWait(t, j, 1, 1) // the failed Append consumed no seq
	})
}

func TestFailedRollPoisons(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		for _, viaCheckpoint := range []bool{true, false} {
			base := newStorage(t)
			w := &wrapStorage{Storage: base}
			j, _ := mustOpen(t, w, Options{SegmentSize: 40})
			appendWait(t, j, 1, 1) // fills the segment: the next batch rolls
			w.failCreate.Store(true)
			if viaCheckpoint {
				if err := j.Checkpoint(snap(1), 1); err == nil {
					t.Fatal("Checkpoint succeeded although the new segment could not be opened")
				}
			} else {
				j.Append(payload(2)).Wait() // written, then the roll fails
			}
			if err := j.Append(payload(3)).Wait(); err == nil {
				t.Fatalf("viaCheckpoint=%v: Append after a failed roll succeeded", viaCheckpoint)
			}
			j.Close()
			// The stray empty segment the failed roll left does not break recovery.
			j, rec := mustOpen(t, base, Options{})
			last := uint64(len(rec.Entries))
			checkEntries(t, rec, 1, last)
			if last < 1 {
				t.Fatalf("lost entry 1")
			}
			appendWait(t, j, last+1, last+2)
			closeJ(t, j)
			j, rec = mustOpen(t, base, Options{})
			closeJ(t, j)
			checkEntries(t, rec, 1, last+2)
		}
	})
}
