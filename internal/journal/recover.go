package journal

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// Record is one recovered entry.
type Record struct {
	Seq  uint64
	Data []byte
}

// Recovered is what Open (or Replay) found in the storage.
type Recovered struct {
	Checkpoint    []byte   // newest valid checkpoint payload, nil if none
	CheckpointSeq uint64   // seq covered by it (entries with Seq <= this are inside it)
	Entries       []Record // every entry after the checkpoint, in order, seq contiguous
	DroppedBytes  int64    // torn/corrupt tail cut at the last good entry
}

// recovery is Recovered plus what Open needs to resume writing.
type recovery struct {
	rec      *Recovered
	lastSeq  uint64   // last good entry (at least rec.CheckpointSeq)
	segs     []uint64 // first seqs of the segments present, ascending
	ckpts    []uint64 // checkpoints present and not found invalid, ascending
	bad      []uint64 // checkpoints found invalid
	tail     uint64   // first seq of the newest segment (0: none)
	tailGood int64    // its size up to the end of the last good record
	reuse    bool     // the newest segment can take the next entry
	bytes    int64    // record bytes of rec.Entries
}

// Replay reads the journal in st without locking or modifying it, e.g. to follow a
// journal that another process is writing. A torn tail is reported in DroppedBytes but
// not cut (for a live writer it is simply a record being written). If the writer compacts
// concurrently a file may vanish under Replay (an error wrapping fs.ErrNotExist): retry.
func Replay(st Storage, opts Options) (*Recovered, error) {
	r, err := recoverState(st, opts.logf)
	if err != nil {
		return nil, err
	}
	return r.rec, nil
}

func recoverState(st Storage, logf func(string, ...any)) (*recovery, error) {
	names, err := st.List()
	if err != nil {
		return nil, fmt.Errorf("journal: list: %w", err)
	}
	r := &recovery{rec: &Recovered{}}
	for _, n := range names {
		if s, ok := parseSegmentName(n); ok && s > 0 {
			r.segs = append(r.segs, s)
		} else if s, ok := parseCheckpointName(n); ok && s > 0 {
			r.ckpts = append(r.ckpts, s)
		}
	}
	slices.Sort(r.segs)
	slices.Sort(r.ckpts)

	if err := r.pickCheckpoint(st, logf); err != nil {
		return nil, err
	}
	base := r.rec.CheckpointSeq
	r.lastSeq = base
	if len(r.segs) == 0 {
		return r, nil
	}
	start := -1
	for i, s := range r.segs {
		if s <= base+1 {
			start = i
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: entries after seq %d are missing (oldest segment starts at %d)", ErrCorrupt, base, r.segs[0])
	}
	next := r.segs[start]
	for i := start; i < len(r.segs); i++ {
		name := segmentName(r.segs[i])
		if r.segs[i] != next {
			return nil, fmt.Errorf("%w: entries %d..%d are missing (next segment is %s)", ErrCorrupt, next, r.segs[i]-1, name)
		}
		b, err := readAll(st, name)
		if err != nil {
			return nil, err
		}
		off := 0
		for off < len(b) {
			seq, data, n, ok := parseRecord(b[off:])
			if ok && seq != next {
				return nil, fmt.Errorf("%w: %s offset %d: record has seq %d, want %d", ErrCorrupt, name, off, seq, next)
			}
			if !ok {
				break
			}
			if seq > base {
				r.rec.Entries = append(r.rec.Entries, Record{Seq: seq, Data: data})
				r.bytes += int64(n)
			}
			next++
			off += n
		}
		if off < len(b) {
			if i != len(r.segs)-1 {
				return nil, fmt.Errorf("%w: %s offset %d: damaged record (seq %d) in an older segment", ErrCorrupt, name, off, next)
			}
			if p := validRecordAfter(b, off, next-1); p >= 0 {
				return nil, fmt.Errorf("%w: %s offset %d: damaged record (seq %d) followed by a valid one at offset %d", ErrCorrupt, name, off, next, p)
			}
			r.rec.DroppedBytes = int64(len(b) - off)
		}
		r.tail, r.tailGood = r.segs[i], int64(off)
	}
	r.lastSeq = next - 1
	r.reuse = true
	if r.lastSeq < base {
		// Cannot happen with this package's write order (a checkpoint is written only
		// after its entries are durable); the checkpoint holds the state, so go on from it
		// in a fresh segment rather than appending out of sequence.
		logf("journal: checkpoint %d is ahead of the last entry %d; continuing after the checkpoint", base, r.lastSeq)
		r.lastSeq, r.reuse = base, false
	}
	return r, nil
}

// pickCheckpoint sets rec.Checkpoint from the newest valid checkpoint, recording invalid
// newer ones in r.bad.
func (r *recovery) pickCheckpoint(st Storage, logf func(string, ...any)) error {
	for i := len(r.ckpts) - 1; i >= 0; i-- {
		seq := r.ckpts[i]
		b, err := readAll(st, checkpointName(seq))
		if err != nil {
			return err
		}
		payload, err := decodeCheckpoint(seq, b)
		if err != nil {
			logf("journal: checkpoint %s is invalid (%v); falling back to the previous one", checkpointName(seq), err)
			r.bad = append(r.bad, seq)
			continue
		}
		if payload == nil {
			payload = []byte{}
		}
		r.rec.Checkpoint, r.rec.CheckpointSeq = payload, seq
		r.ckpts = r.ckpts[:i+1]
		return nil
	}
	if len(r.bad) > 0 {
		r.ckpts = nil
		if len(r.segs) == 0 || r.segs[0] != 1 {
			return fmt.Errorf("%w: no valid checkpoint (%d invalid) and entries from seq 1 are gone", ErrCorrupt, len(r.bad))
		}
		logf("journal: no valid checkpoint; replaying every entry from seq 1")
	}
	return nil
}

// validRecordAfter returns the offset of a valid record after b[from] whose seq follows
// last, or -1. It tells a torn tail (nothing valid after the damage) from corruption in
// the middle (history continues after it).
func validRecordAfter(b []byte, from int, last uint64) int {
	maxSeq := last + uint64(len(b)-from)/recordHeader + 1
	for p := from + 1; p+recordHeader <= len(b); p++ {
		seq := binary.LittleEndian.Uint64(b[p+8:])
		if seq <= last || seq > maxSeq {
			continue
		}
		if _, _, _, ok := parseRecord(b[p:]); ok {
			return p
		}
	}
	return -1
}

func readAll(st Storage, name string) ([]byte, error) {
	rc, err := st.Open(name)
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	return b, nil
}
