package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendReopen(t *testing.T) {
	_, st := newStorage(t)
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
}

// buildSegment writes entries 1..n to a fresh journal and returns the bytes of log-1 and
// the offset where the last record starts.
func buildSegment(t *testing.T, n uint64) ([]byte, int) {
	t.Helper()
	dir, st := newStorage(t)
	j, _ := mustOpen(t, st, Options{})
	appendWait(t, j, 1, n)
	closeJ(t, j)
	b, err := os.ReadFile(filepath.Join(dir, segmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	return b, len(b) - int(recordSize(payload(n)))
}

// openDamaged writes content as log-1 of a fresh journal and opens it.
func openDamaged(t *testing.T, content []byte) (string, *Journal, *Recovered, *logRecorder, error) {
	t.Helper()
	dir, st := newStorage(t)
	if err := os.WriteFile(filepath.Join(dir, segmentName(1)), content, 0o600); err != nil {
		t.Fatal(err)
	}
	log := &logRecorder{}
	j, rec, err := Open(st, Options{Logf: log.Logf})
	return dir, j, rec, log, err
}

func TestTornTailEveryOffset(t *testing.T) {
	const n = 6
	full, start := buildSegment(t, n)
	for cut := start; cut < len(full); cut++ {
		dir, j, rec, log, err := openDamaged(t, full[:cut])
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
		if fi, err := os.Stat(filepath.Join(dir, segmentName(1))); err != nil || fi.Size() != int64(start) {
			t.Fatalf("cut at %d: segment not truncated to %d: %v %v", cut, start, fi.Size(), err)
		}
		// The journal continues right after the last good entry.
		appendWait(t, j, n, n)
		closeJ(t, j)
		st, _ := NewDirStorage(dir)
		_, rec = mustOpen(t, st, Options{})
		checkEntries(t, rec, 1, n)
	}
}

func TestCorruptLastRecordEveryByte(t *testing.T) {
	const n = 5
	full, start := buildSegment(t, n)
	for i := start; i < len(full); i++ {
		b := bytes.Clone(full)
		b[i] ^= 0x40
		_, j, rec, _, err := openDamaged(t, b)
		if err != nil {
			t.Fatalf("byte %d flipped: Open: %v", i, err)
		}
		checkEntries(t, rec, 1, n-1)
		if rec.DroppedBytes != int64(len(full)-start) {
			t.Fatalf("byte %d flipped: DroppedBytes %d, want %d", i, rec.DroppedBytes, len(full)-start)
		}
		closeJ(t, j)
	}
}

func TestZeroFilledTail(t *testing.T) {
	full, _ := buildSegment(t, 5)
	_, j, rec, _, err := openDamaged(t, append(bytes.Clone(full), make([]byte, 4096)...))
	if err != nil {
		t.Fatal(err)
	}
	defer closeJ(t, j)
	checkEntries(t, rec, 1, 5)
	if rec.DroppedBytes != 4096 {
		t.Fatalf("DroppedBytes %d, want 4096", rec.DroppedBytes)
	}
}

func TestCorruptMiddle(t *testing.T) {
	const n = 10
	full, _ := buildSegment(t, n)
	// Offset of record 5.
	off := 0
	for s := uint64(1); s < 5; s++ {
		off += int(recordSize(payload(s)))
	}
	for name, pos := range map[string]int{"length": off, "crc": off + 5, "seq": off + 9, "data": off + recordHeader + 2} {
		b := bytes.Clone(full)
		b[pos] ^= 0x01
		_, j, _, _, err := openDamaged(t, b)
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
	if _, _, _, _, err := openDamaged(t, b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("sequence gap: Open error %v, want ErrCorrupt", err)
	}
}

// multiSegment writes entries 1..n with tiny segments and returns the dir and the
// segment first seqs.
func multiSegment(t *testing.T, n uint64) (string, Storage, []uint64) {
	t.Helper()
	dir, st := newStorage(t)
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
	return dir, st, segs
}

func TestMissingOrDamagedSegment(t *testing.T) {
	t.Run("missing middle", func(t *testing.T) {
		dir, st, segs := multiSegment(t, 20)
		os.Remove(filepath.Join(dir, segmentName(segs[2])))
		if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open error %v, want ErrCorrupt", err)
		}
	})
	t.Run("missing first", func(t *testing.T) {
		dir, st, segs := multiSegment(t, 20)
		os.Remove(filepath.Join(dir, segmentName(segs[0])))
		if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open error %v, want ErrCorrupt", err)
		}
	})
	t.Run("torn older segment", func(t *testing.T) {
		dir, st, segs := multiSegment(t, 20)
		p := filepath.Join(dir, segmentName(segs[1]))
		fi, _ := os.Stat(p)
		os.Truncate(p, fi.Size()-3)
		if _, _, err := Open(st, Options{}); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open error %v, want ErrCorrupt", err)
		}
	})
	t.Run("intact", func(t *testing.T) {
		_, st, _ := multiSegment(t, 20)
		j, rec := mustOpen(t, st, Options{})
		checkEntries(t, rec, 1, 20)
		closeJ(t, j)
	})
}

func TestReplayDoesNotModify(t *testing.T) {
	full, start := buildSegment(t, 5)
	dir, st := newStorage(t)
	p := filepath.Join(dir, segmentName(1))
	os.WriteFile(p, full[:start+3], 0o600)
	rec, err := Replay(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, rec, 1, 4)
	if rec.DroppedBytes != 3 {
		t.Fatalf("DroppedBytes %d, want 3", rec.DroppedBytes)
	}
	if fi, _ := os.Stat(p); fi.Size() != int64(start+3) {
		t.Fatalf("Replay changed the segment to %d bytes", fi.Size())
	}
	// Replay works while a writer holds the lock.
	j, _ := mustOpen(t, st, Options{})
	appendWait(t, j, 5, 8)
	rec, err = Replay(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, rec, 1, 8)
	closeJ(t, j)
}

func TestIgnoresForeignAndTempFiles(t *testing.T) {
	dir, st := newStorage(t)
	os.WriteFile(filepath.Join(dir, "README"), []byte("hello"), 0o600)
	os.WriteFile(filepath.Join(dir, tmpPrefix+checkpointName(9)), []byte("partial"), 0o600)
	j, rec := mustOpen(t, st, Options{})
	defer closeJ(t, j)
	if rec.Checkpoint != nil || len(rec.Entries) != 0 {
		t.Fatalf("recovered %+v from foreign files", rec)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+checkpointName(9))); !os.IsNotExist(err) {
		t.Fatalf("stale temporary file not removed: %v", err)
	}
}
