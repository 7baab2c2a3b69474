package journal

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestAppendReopen(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		j, rec := mustOpen(t, st, Options{})
		if rec.Checkpoint != nil || rec.CheckpointSeq != 0 || len(rec.Entries) != 0 || j.LastSeq() != 0 {
			t.Fatalf("fresh journal recovered %+v, LastSeq %d", rec, j.LastSeq())
		}
		appendWait(t, j, 1, 50)
		if j.LastSeq() != 50 || j.DurableSeq() != 50 {
			t.Fatalf("LastSeq %d DurableSeq %d, want 50", j.LastSeq(), j.DurableSeq())
		}
		closeJ(t, j)
		j, rec = mustOpen(t, st, Options{})
		checkEntries(t, rec, 1, 50)
		if rec.DroppedBytes != 0 {
			t.Fatalf("DroppedBytes %d on a clean journal", rec.DroppedBytes)
		}
		appendWait(t, j, 51, 60)
		closeJ(t, j)
		_, rec = mustOpen(t, st, Options{})
		checkEntries(t, rec, 1, 60)
	})
}

// buildSegment writes entries 1..n to a fresh journal and returns the bytes of log-1 and
// the offset where the last record starts.
func buildSegment(t *testing.T, newStorage func(*testing.T) *testStore, n uint64) ([]byte, int) {
	t.Helper()
	st := newStorage(t)
	j, _ := mustOpen(t, st, Options{})
	appendWait(t, j, 1, n)
	closeJ(t, j)
	b := st.read(t, segmentName(1))
	return b, len(b) - int(recordSize(payload(n)))
}

// openDamaged writes content as log-1 of a fresh journal and opens it.
func openDamaged(t *testing.T, newStorage func(*testing.T) *testStore, content []byte) (*testStore, *Journal, *Recovered, *logRecorder, error) {
	t.Helper()
	st := newStorage(t)
	st.write(t, segmentName(1), content)
	log := &logRecorder{}
	j, rec, err := Open(st, Options{Logf: log.Logf})
	return st, j, rec, log, err
}

func TestTornTailEveryOffset(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		const n = 6
		full, start := buildSegment(t, newStorage, n)
		for cut := start; cut < len(full); cut++ {
			st, j, rec, log, err := openDamaged(t, newStorage, full[:cut])
			if err != nil {
				t.Fatalf("cut at %d: Open: %v", cut, err)
			}
			checkEntries(t, rec, 1, n-1)
			if want := int64(cut - start); rec.DroppedBytes != want {
				t.Fatalf("cut at %d: DroppedBytes %d, want %d", cut, rec.DroppedBytes, want)
			}
			if cut > start && !strings.Contains(log.joined(), fmt.Sprintf("dropped %d bytes after seq %d", cut-start, n-1)) {
				t.Fatalf("cut at %d: log %q does not report the cut", cut, log.joined())
			}
			if size := st.size(t, segmentName(1)); size != int64(start) {
				t.Fatalf("cut at %d: segment not truncated to %d: %d bytes", cut, start, size)
			}
			// The journal continues right after the last good entry.
			appendWait(t, j, n, n)
			closeJ(t, j)
			_, rec = mustOpen(t, st.reopen(t), Options{})
			checkEntries(t, rec, 1, n)
		}
	})
}

func TestCorruptLastRecordEveryByte(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		const n = 5
		full, start := buildSegment(t, newStorage, n)
		for i := start; i < len(full); i++ {
			b := bytes.Clone(full)
			b[i] ^= 0x40
			_, j, rec, _, err := openDamaged(t, newStorage, b)
			if err != nil {
				t.Fatalf("byte %d flipped: Open: %v", i, err)
			}
			checkEntries(t, rec, 1, n-1)
			if rec.DroppedBytes != int64(len(full)-start) {
				t.Fatalf("byte %d flipped: DroppedBytes %d, want %d", i, rec.DroppedBytes, len(full)-start)
			}
			closeJ(t, j)
		}
	})
}

func TestZeroFilledTail(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		full, _ := buildSegment(t, newStorage, 5)
		_, j, rec, _, err := openDamaged(t, newStorage, append(bytes.Clone(full), make([]byte, 4096)...))
		if err != nil {
			t.Fatal(err)
		}
		defer closeJ(t, j)
		checkEntries(t, rec, 1, 5)
		if rec.DroppedBytes != 4096 {
			t.Fatalf("DroppedBytes %d, want 4096", rec.DroppedBytes)
		}
	})
}

func TestCorruptMiddle(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		const n = 10
		full, _ := buildSegment(t, newStorage, n)
		// Offset of record 5.
		off := 0
		for s := uint64(1); s < 5; s++ {
			off += int(recordSize(payload(s)))
		}
		for name, pos := range map[string]int{"length": off, "crc": off + 5, "seq": off + 9, "data": off + recordHeader + 2} {
			b := bytes.Clone(full)
			b[pos] ^= 0x01
			_, j, _, _, err := openDamaged(t, newStorage, b)
			if !errors.Is(err, ErrCorrupt) {
				if j != nil {
					j.Close()
				}
				t.Fatalf("%s of record 5 damaged: Open error %v, want ErrCorrupt", name, err)
			}
		}
		// A record with a valid checksum but the wrong sequence number.
		b := bytes.Clone(full[:off])
		b = appendRecord(b, 7, payload(7))
		if _, _, _, _, err := openDamaged(t, newStorage, b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("sequence gap: Open error %v, want ErrCorrupt", err)
		}
	})
}

// multiSegment writes entries 1..n with tiny segments and returns the storage and the
// segment first seqs.
func multiSegment(t *testing.T, newStorage func(*testing.T) *testStore, n uint64) (*testStore, []uint64) {
	t.Helper()
	st := newStorage(t)
	j, _ := mustOpen(t, st, Options{SegmentSize: 100})
	for s := uint64(1); s <= n; s++ {
		appendWait(t, j, s, s)
	}
	closeJ(t, j)
	names, _ := st.List()
	var segs []uint64
	for _, nm := range names {
		if s, ok := parseSegmentName(nm); ok {
			segs = append(segs, s)
		}
	}
	if len(segs) < 4 {
		t.Fatalf("only %d segments", len(segs))
	}
	return st, segs
}

func TestMissingOrDamagedSegment(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		t.Run("missing middle", func(t *testing.T) {
			st, segs := multiSegment(t, newStorage, 20)
			st.remove(t, segmentName(segs[2]))
			if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error %v, want ErrCorrupt", err)
			}
		})
		t.Run("missing first", func(t *testing.T) {
			st, segs := multiSegment(t, newStorage, 20)
			st.remove(t, segmentName(segs[0]))
			if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error %v, want ErrCorrupt", err)
			}
		})
		t.Run("torn older segment", func(t *testing.T) {
			st, segs := multiSegment(t, newStorage, 20)
			st.truncate(t, segmentName(segs[1]), st.size(t, segmentName(segs[1]))-3)
			if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error %v, want ErrCorrupt", err)
			}
		})
		t.Run("intact", func(t *testing.T) {
			st, _ := multiSegment(t, newStorage, 20)
			j, rec := mustOpen(t, st, Options{})
			checkEntries(t, rec, 1, 20)
			closeJ(t, j)
		})
	})
}

func TestReplayDoesNotModify(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		full, start := buildSegment(t, newStorage, 5)
		st := newStorage(t)
		st.write(t, segmentName(1), full[:start+3])
		rec, err := Replay(st, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, rec, 1, 4)
		if rec.DroppedBytes != 3 {
			t.Fatalf("DroppedBytes %d, want 3", rec.DroppedBytes)
		}
		if size := st.size(t, segmentName(1)); size != int64(start+3) {
			t.Fatalf("Replay changed the segment to %d bytes", size)
		}
		// Replay works while a writer holds the lock, from another open too (a standby).
		j, _ := mustOpen(t, st, Options{})
		appendWait(t, j, 5, 8)
		for _, reader := range []Storage{st, st.reopen(t)} {
			rec, err = Replay(reader, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, rec, 1, 8)
		}
		closeJ(t, j)
	})
}

func TestIgnoresForeignAndTempFiles(t *testing.T) {
	forEachStorage(t, func(t *testing.T, newStorage func(*testing.T) *testStore) {
		st := newStorage(t)
		st.write(t, "README", []byte("hello"))
		st.write(t, st.stale, []byte("partial"))
		j, rec := mustOpen(t, st, Options{})
		defer closeJ(t, j)
		if rec.Checkpoint != nil || len(rec.Entries) != 0 {
			t.Fatalf("recovered %+v from foreign files", rec)
		}
		if size := st.size(t, st.stale); size != -1 {
			t.Fatalf("stale temporary file not removed (%d bytes)", size)
		}
	})
}
