package journal

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func snap(seq uint64) []byte { return []byte("state-up-to-" + strconv.FormatUint(seq, 10)) }

func TestCheckpointReplaysOnlyTail(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		appendWait(t, j, 1, 100)
		if err := j.Checkpoint(snap(60), 60); err != nil {
			t.Fatal(err)
		}
		appendWait(t, j, 101, 120)
		closeJ(t, j)
		j, rec := mustOpen(t, st, Options{})
		if rec.CheckpointSeq != 60 || string(rec.Checkpoint) != string(snap(60)) {
			t.Fatalf("checkpoint %d %q, want 60", rec.CheckpointSeq, rec.Checkpoint)
		}
		checkEntries(t, rec, 61, 120)
		if j.LastSeq() != 120 {
			t.Fatalf("LastSeq %d, want 120", j.LastSeq())
		}
		// A checkpoint at the last entry: reopening replays nothing.
		if err := j.Checkpoint(snap(120), 120); err != nil {
			t.Fatal(err)
		}
		closeJ(t, j)
		j, rec = mustOpen(t, st, Options{})
		defer closeJ(t, j)
		if rec.CheckpointSeq != 120 || len(rec.Entries) != 0 {
			t.Fatalf("after checkpoint at the end: seq %d, %d entries", rec.CheckpointSeq, len(rec.Entries))
		}
		appendWait(t, j, 121, 121)
	})
}

func TestCheckpointEmptySnapshot(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		appendWait(t, j, 1, 3)
		if err := j.Checkpoint(nil, 3); err != nil {
			t.Fatal(err)
		}
		closeJ(t, j)
		j, rec := mustOpen(t, st, Options{})
		defer closeJ(t, j)
		if rec.Checkpoint == nil || len(rec.Checkpoint) != 0 || rec.CheckpointSeq != 3 {
			t.Fatalf("empty checkpoint recovered as %v at %d", rec.Checkpoint, rec.CheckpointSeq)
		}
	})
}

func TestCheckpointArgs(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		appendWait(t, j, 1, 10)
		if err := j.Checkpoint(snap(11), 11); err == nil {
			t.Fatal("checkpoint after the last entry accepted")
		}
		if err := j.Checkpoint(snap(8), 8); err != nil {
			t.Fatal(err)
		}
		if err := j.Checkpoint(snap(5), 5); err == nil {
			t.Fatal("checkpoint older than the last one accepted")
		}
		closeJ(t, j)
		if err := j.Checkpoint(snap(10), 10); !errors.Is(err, ErrClosed) {
			t.Fatalf("Checkpoint after Close: %v, want ErrClosed", err)
		}
		if err := j.Append([]byte("x")).Wait(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Append after Close: %v, want ErrClosed", err)
		}
		if err := j.Close(); !errors.Is(err, ErrClosed) {
			t.Fatalf("second Close: %v, want ErrClosed", err)
		}
	})
}

func TestSizeSinceCheckpoint(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		size := func(from, to uint64) (n int64) {
			for s := from; s <= to; s++ {
				n += recordSize(payload(s))
			}
			return n
		}
		appendWait(t, j, 1, 30)
		if got := j.SizeSinceCheckpoint(); got != size(1, 30) {
			t.Fatalf("SizeSinceCheckpoint %d, want %d", got, size(1, 30))
		}
		if err := j.Checkpoint(snap(20), 20); err != nil {
			t.Fatal(err)
		}
		if got := j.SizeSinceCheckpoint(); got != size(21, 30) {
			t.Fatalf("after checkpoint at 20: %d, want %d", got, size(21, 30))
		}
		closeJ(t, j)
		j, _ = mustOpen(t, st, Options{})
		defer closeJ(t, j)
		if got := j.SizeSinceCheckpoint(); got != size(21, 30) {
			t.Fatalf("after reopen: %d, want %d", got, size(21, 30))
		}
		appendWait(t, j, 31, 40)
		if err := j.Checkpoint(snap(40), 40); err != nil {
			t.Fatal(err)
		}
		if got := j.SizeSinceCheckpoint(); got != 0 {
			t.Fatalf("after checkpoint at the end: %d, want 0", got)
		}
	})
}

func TestCheckpointFallback(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		build := func(t *testing.T, rounds int) *testStore {
			st := newStorage(t)
			j, _ := mustOpen(t, st, Options{})
			for r := 0; r < rounds; r++ {
				base := uint64(r * 10)
				appendWait(t, j, base+1, base+10)
				if err := j.Checkpoint(snap(base+5), base+5); err != nil {
					t.Fatal(err)
				}
			}
			appendWait(t, j, uint64(rounds*10)+1, uint64(rounds*10)+5)
			closeJ(t, j)
			return st
		}
		damage := func(t *testing.T, st *testStore, seq uint64) {
			b := st.read(t, checkpointName(seq))
			b[len(b)-1] ^= 1
			st.write(t, checkpointName(seq), b)
		}
		t.Run("previous checkpoint", func(t *testing.T) {
			st := build(t, 2) // checkpoints 5 and 15, entries 1..25
			damage(t, st, 15)
			log := &logRecorder{}
			j, rec := mustOpen(t, st, Options{Logf: log.Logf})
			if rec.CheckpointSeq != 5 || string(rec.Checkpoint) != string(snap(5)) {
				t.Fatalf("fell back to %d, want 5", rec.CheckpointSeq)
			}
			checkEntries(t, rec, 6, 25)
			if !strings.Contains(log.joined(), "invalid") {
				t.Fatalf("fallback not logged: %q", log.joined())
			}
			if st.size(t, checkpointName(15)) != -1 {
				t.Fatal("invalid checkpoint kept")
			}
			// The journal goes on and its next checkpoint is the newest.
			appendWait(t, j, 26, 27)
			if err := j.Checkpoint(snap(26), 26); err != nil {
				t.Fatal(err)
			}
			closeJ(t, j)
			j, rec = mustOpen(t, st, Options{})
			closeJ(t, j)
			if rec.CheckpointSeq != 26 {
				t.Fatalf("checkpoint %d, want 26", rec.CheckpointSeq)
			}
			checkEntries(t, rec, 27, 27)
		})
		t.Run("empty state", func(t *testing.T) {
			st := build(t, 1) // checkpoint 5, entries 1..15, log-1 still present
			damage(t, st, 5)
			j, rec := mustOpen(t, st, Options{})
			closeJ(t, j)
			if rec.Checkpoint != nil || rec.CheckpointSeq != 0 {
				t.Fatalf("fell back to %d, want the empty state", rec.CheckpointSeq)
			}
			checkEntries(t, rec, 1, 15)
		})
		t.Run("nothing to fall back to", func(t *testing.T) {
			st := build(t, 3) // checkpoints 15 and 25 kept; log-1 compacted away
			if st.size(t, checkpointName(5)) != -1 {
				t.Fatal("third-newest checkpoint not compacted")
			}
			if st.size(t, segmentName(1)) != -1 {
				t.Fatal("segment covered by the previous checkpoint not compacted")
			}
			damage(t, st, 25)
			damage(t, st, 15)
			if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error %v, want ErrCorrupt", err)
			}
		})
	})
}

func TestCompactionBoundsDisk(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{})
		const (
			threshold = 16 << 10
			snapSize  = 2 << 10
			total     = 20000
			batch     = 100
		)
		var maxBytes int64
		var maxFiles, checkpoints int
		var appended int64
		for s := uint64(1); s <= total; s += batch {
			appendWait(t, j, s, s+batch-1)
			for q := s; q < s+batch; q++ {
				appended += recordSize(payload(q))
			}
			if j.SizeSinceCheckpoint() >= threshold {
				last := j.LastSeq()
				if err := j.Checkpoint(append(snap(last), make([]byte, snapSize)...), last); err != nil {
					t.Fatal(err)
				}
				checkpoints++
			}
			b, f := st.usage(t)
			maxBytes, maxFiles = max(maxBytes, b), max(maxFiles, f)
		}
		// Retained: the entries after the previous checkpoint (two intervals, each at most
		// threshold plus one batch) and two snapshots.
		bound := int64(2*(threshold+batch*32) + 2*(snapSize+64) + 64)
		t.Logf("appended %d bytes in %d entries, %d checkpoints; max on disk %d bytes in %d files (bound %d)",
			appended, total, checkpoints, maxBytes, maxFiles, bound)
		if maxBytes > bound || maxFiles > 6 {
			t.Fatalf("journal grew to %d bytes in %d files, bound %d bytes", maxBytes, maxFiles, bound)
		}
		if appended < 10*bound {
			t.Fatalf("workload too small to show compaction")
		}
		last := j.LastSeq()
		closeJ(t, j)
		j, rec := mustOpen(t, st, Options{})
		defer closeJ(t, j)
		checkEntries(t, rec, rec.CheckpointSeq+1, last)
		if !strings.HasPrefix(string(rec.Checkpoint), string(snap(rec.CheckpointSeq))) {
			t.Fatalf("checkpoint payload %.30q does not match seq %d", rec.Checkpoint, rec.CheckpointSeq)
		}
	})
}

// TestConcurrentAppendCheckpoint runs appenders against periodic checkpoints and size
// rolls, then checks the recovered history is complete and contiguous.
func TestConcurrentAppendCheckpoint(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, _ := mustOpen(t, st, Options{SegmentSize: 2048, MaxBatch: 16})
		var apply sync.Mutex // the caller's apply lock: seq order is apply order
		data := map[uint64][]byte{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < 300; i++ {
					d := []byte(fmt.Sprintf("w%d-i%d", w, i))
					apply.Lock()
					tk := j.Append(d)
					data[tk.Seq()] = d
					apply.Unlock()
					if err := tk.Wait(); err != nil {
						t.Error(err)
						return
					}
				}
			}(w)
		}
		stop := make(chan struct{})
		ckDone := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					ckDone <- n
					return
				default:
				}
				apply.Lock()
				seq := j.LastSeq()
				apply.Unlock()
				if err := j.Checkpoint(snap(seq), seq); err != nil {
					t.Error(err)
				}
				n++
			}
		}()
		wg.Wait()
		close(stop)
		n := <-ckDone
		closeJ(t, j)
		j, rec := mustOpen(t, st, Options{})
		defer closeJ(t, j)
		if string(rec.Checkpoint) != string(snap(rec.CheckpointSeq)) {
			t.Fatalf("checkpoint %q at %d", rec.Checkpoint, rec.CheckpointSeq)
		}
		if last := rec.CheckpointSeq + uint64(len(rec.Entries)); last != 1200 || j.LastSeq() != 1200 {
			t.Fatalf("recovered up to %d (LastSeq %d), want 1200", last, j.LastSeq())
		}
		for i, r := range rec.Entries {
			if r.Seq != rec.CheckpointSeq+uint64(i)+1 || string(r.Data) != string(data[r.Seq]) {
				t.Fatalf("entry %d: seq %d %q, want %q", i, r.Seq, r.Data, data[r.Seq])
			}
		}
		t.Logf("%d checkpoints during 1200 appends; recovered checkpoint %d + %d entries", n, rec.CheckpointSeq, len(rec.Entries))
	})
}
