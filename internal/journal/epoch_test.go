package journal

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func epochDir(t *testing.T) Storage {
	t.Helper()
	st, err := NewDirStorage(filepath.Join(t.TempDir(), "shared"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openEpoch(t *testing.T, st Storage, epoch uint64, opts Options) (*Journal, *Recovered) {
	t.Helper()
	j, rec, err := OpenEpoch(st, epoch, opts)
	if err != nil {
		t.Fatalf("OpenEpoch(%d): %v", epoch, err)
	}
	return j, rec
}

// A new leader fences the old one: the old one's appends after the takeover fail, and
// nothing it wrote then is history for anyone.
func TestNewEpochFencesTheOldLeader(t *testing.T) {
	st := epochDir(t)
	j1, _ := openEpoch(t, st, 1, Options{})
	appendWait(t, j1, 1, 10)

	j2, rec := openEpoch(t, st, 2, Options{})
	checkEntries(t, rec, 1, 10)
	err := j1.Append([]byte("deposed leader's entry")).Wait()
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the deposed leader's append: %v, want ErrFenced", err)
	}
	if err := j1.Append([]byte("deposed leader's entry")).Wait(); !errors.Is(err, ErrFenced) {
		t.Fatalf("a later append: %v", err)
	}
	appendWait(t, j2, 11, 20) // the new leader's entries take seqs 11.. of its own
	if err := j1.Checkpoint([]byte("stale"), 10); !errors.Is(err, ErrFenced) {
		t.Fatalf("the deposed leader's checkpoint: %v", err)
	}
	_ = j1.Close()
	rec, err = Replay(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, rec, 1, 20) // payload(11..20) are the new leader's: the old one's entry 11 is not there
	if rec.Epoch != 2 {
		t.Fatalf("epoch of the last entry: %d", rec.Epoch)
	}
	closeJ(t, j2)
	if _, _, err := OpenEpoch(st, 2, Options{}); !errors.Is(err, ErrFenced) {
		t.Fatalf("reopening an epoch already recorded: %v, want ErrFenced", err)
	}
	if _, _, err := Open(st, Options{}); err == nil {
		t.Fatal("a single-process Open of an HA journal succeeded")
	}
}

// Entries a deposed leader wrote after the new leader's recovery, and a follower applied
// before the new epoch appeared, are reported: the follower must rebuild.
func TestFollowerDetectsADeposedLeadersTail(t *testing.T) {
	st := epochDir(t)
	j1, _ := openEpoch(t, st, 1, Options{})
	appendWait(t, j1, 1, 5)
	f, rec, err := Follow(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, rec, 1, 5)

	// The new leader records its epoch (fencing j1 from its next fsync on) ...
	ep, _ := readEpochs(st)
	ep.current = 2
	if err := st.WriteAtomic(epochFile, ep.encode()); err != nil {
		t.Fatal(err)
	}
	// ... j1, not yet aware, writes entry 6 (its fsync's fence check then fails) ...
	if err := j1.Append(payload(6)).Wait(); !errors.Is(err, ErrFenced) {
		t.Fatalf("append after the epoch changed: %v", err)
	}
	// ... and the follower reads it before the new leader starts writing.
	got, err := f.Next()
	if err != nil || len(got) != 1 || got[0].Seq != 6 {
		t.Fatalf("follower: %v, %v", got, err)
	}
	// The new leader had recovered 1..5 only (entry 6 came later): its epoch starts at 6.
	ep.start[2] = 6
	if err := st.WriteAtomic(epochFile, ep.encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Next(); !errors.Is(err, ErrDiverged) {
		t.Fatalf("follower after the new epoch: %v, want ErrDiverged", err)
	}
	rec, err = Replay(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, rec, 1, 5)
	_ = j1.Close()
}

// A follower reads the leader's entries as they come, across segment rolls, checkpoints
// and a change of leader; when it falls behind a compaction it is told to start over.
func TestFollowerTailsTheLeader(t *testing.T) {
	st := epochDir(t)
	j1, _ := openEpoch(t, st, 1, Options{SegmentSize: 200})
	f, _, err := Follow(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := uint64(1)
	drain := func() {
		t.Helper()
		got, err := f.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		for _, r := range got {
			if r.Seq != next || string(r.Data) != string(payload(next)) {
				t.Fatalf("follower got %d %q, want %d", r.Seq, r.Data, next)
			}
			next++
		}
	}
	for s := uint64(1); s <= 40; s += 5 {
		appendWait(t, j1, s, s+4)
		drain()
	}
	if next != 41 {
		t.Fatalf("follower at %d", next)
	}
	if err := j1.Checkpoint([]byte("state@40"), 40); err != nil {
		t.Fatal(err)
	}
	appendWait(t, j1, 41, 45)
	drain()
	closeJ(t, j1) // the leader dies; a new one takes over
	j2, rec := openEpoch(t, st, 2, Options{SegmentSize: 200})
	if rec.CheckpointSeq != 40 {
		t.Fatalf("new leader recovered checkpoint %d", rec.CheckpointSeq)
	}
	checkEntries(t, rec, 41, 45)
	appendWait(t, j2, 46, 60)
	drain()
	if next != 61 {
		t.Fatalf("follower at %d after the new leader's entries", next)
	}
	// Two more checkpoints compact away what a lagging follower still needs.
	lag, _, err := Follow(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for s, ck := uint64(61), uint64(70); ck <= 90; s, ck = ck+1, ck+10 {
		appendWait(t, j2, s, ck)
		if err := j2.Checkpoint([]byte("state"), ck); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lag.Next(); !errors.Is(err, ErrCompacted) {
		t.Fatalf("a follower behind the compaction: %v, want ErrCompacted", err)
	}
	closeJ(t, j2)
}

// A deposed leader's checkpoint written after its term ended is not used.
func TestDeposedLeadersCheckpointIgnored(t *testing.T) {
	st := epochDir(t)
	j1, _ := openEpoch(t, st, 1, Options{})
	appendWait(t, j1, 1, 5)
	j2, _ := openEpoch(t, st, 2, Options{})
	appendWait(t, j2, 6, 8)
	// As if j1 had passed its fence check just before j2 started, then written late:
	late := fileID{7, 1}
	if err := st.WriteAtomic(ckptName(late), encodeCheckpoint(7, []byte("not history"))); err != nil {
		t.Fatal(err)
	}
	rec, err := Replay(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.CheckpointSeq != 0 {
		t.Fatalf("recovery used the deposed leader's checkpoint at %d", rec.CheckpointSeq)
	}
	checkEntries(t, rec, 1, 8)
	_ = j1.Close()
	closeJ(t, j2)
}

// Options.Fence stops acknowledgements at once (a leader whose ZooKeeper session is in doubt).
func TestFenceHookStopsAcknowledgements(t *testing.T) {
	st := epochDir(t)
	var doubt atomic.Bool
	j, _ := openEpoch(t, st, 1, Options{Fence: func() error {
		if doubt.Load() {
			return errors.New("zookeeper: disconnected")
		}
		return nil
	}})
	appendWait(t, j, 1, 3)
	doubt.Store(true)
	if err := j.Append(payload(4)).Wait(); !errors.Is(err, ErrFenced) {
		t.Fatalf("append in doubt: %v", err)
	}
	_ = j.Close()
}
