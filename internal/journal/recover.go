package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
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
	// Epoch is the epoch of the last entry (of the checkpoint when there is none): the
	// leader term that wrote it, 0 in a single-process journal.
	Epoch uint64
}

// recovery is Recovered plus what Open needs to resume writing.
type recovery struct {
	rec      *Recovered
	lastSeq  uint64   // last good entry (at least rec.CheckpointSeq)
	segs     []fileID // the segments holding valid history, ascending
	stale    []fileID // segments holding none: written by a deposed leader after its cut
	ckpts    []fileID // checkpoints present and valid, ascending
	bad      []fileID // checkpoints found damaged, or past their epoch's cut
	tail     fileID   // the newest segment of valid history (seq 0: none)
	tailGood int64    // its size up to the end of the last good record
	reuse    bool     // the newest segment can take the next entry
	bytes    int64    // record bytes of rec.Entries
	epochs   *epochs  // the leader terms
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

// recoverState reads the valid history: the newest valid checkpoint and the entries
// after it.
//
// With epochs (an HA journal), a leader of epoch E starts writing at seq start(E), after
// the last entry it recovered; entries that a deposed leader of an older epoch e wrote
// at or after cut(e) — the start of the first newer epoch — were never acknowledged and
// are not history. A checkpoint of epoch e is valid only below cut(e) too.
func recoverState(st Storage, logf func(string, ...any)) (*recovery, error) {
	names, err := st.List()
	if err != nil {
		return nil, fmt.Errorf("journal: list: %w", err)
	}
	ep, err := readEpochs(st)
	if err != nil {
		return nil, err
	}
	r := &recovery{rec: &Recovered{}, epochs: ep}
	var segs, ckpts []fileID
	for _, n := range names {
		if id, ok := parseSegmentID(n); ok && id.seq > 0 {
			segs = append(segs, id)
			ep.noteStart(id)
		} else if id, ok := parseCheckpointID(n); ok && id.seq > 0 {
			ckpts = append(ckpts, id)
		}
	}
	byID := func(a, b fileID) int {
		if a.seq != b.seq {
			return cmpU(a.seq, b.seq)
		}
		return cmpU(a.epoch, b.epoch)
	}
	slices.SortFunc(segs, byID)
	slices.SortFunc(ckpts, byID)
	for _, s := range segs {
		if s.seq < ep.cut(s.epoch) {
			r.segs = append(r.segs, s)
		} else {
			r.stale = append(r.stale, s)
		}
	}
	for _, c := range ckpts {
		if c.seq < ep.cut(c.epoch) {
			r.ckpts = append(r.ckpts, c)
		} else {
			logf("journal: checkpoint %s was written by a deposed leader after its term ended; ignored", ckptName(c))
			r.bad = append(r.bad, c)
		}
	}

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
		if s.seq <= base+1 {
			start = i
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("%w: entries after seq %d are missing (oldest segment starts at %d)", ErrCorrupt, base, r.segs[0].seq)
	}
	next := r.segs[start].seq
	for i := start; i < len(r.segs); i++ {
		id := r.segs[i]
		name := segName(id)
		if id.seq != next {
			return nil, fmt.Errorf("%w: entries %d..%d are missing (next segment is %s)", ErrCorrupt, next, id.seq-1, name)
		}
		b, err := readAll(st, name)
		if err != nil {
			return nil, err
		}
		cut := ep.cut(id.epoch)
		off := 0
		for off < len(b) && next < cut {
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
				r.rec.Epoch = id.epoch
			}
			next++
			off += n
		}
		last := i == len(r.segs)-1
		if off < len(b) && next < cut {
			if !last {
				return nil, fmt.Errorf("%w: %s offset %d: damaged record (seq %d) in an older segment", ErrCorrupt, name, off, next)
			}
			if p := validRecordAfter(b, off, next-1); p >= 0 {
				return nil, fmt.Errorf("%w: %s offset %d: damaged record (seq %d) followed by a valid one at offset %d", ErrCorrupt, name, off, next, p)
			}
			r.rec.DroppedBytes = int64(len(b) - off)
		}
		r.tail, r.tailGood = id, int64(off)
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

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pickCheckpoint sets rec.Checkpoint from the newest valid checkpoint, recording invalid
// newer ones in r.bad.
func (r *recovery) pickCheckpoint(st Storage, logf func(string, ...any)) error {
	for i := len(r.ckpts) - 1; i >= 0; i-- {
		id := r.ckpts[i]
		b, err := readAll(st, ckptName(id))
		if err != nil {
			return err
		}
		payload, err := decodeCheckpoint(id.seq, b)
		if err != nil {
			logf("journal: checkpoint %s is invalid (%v); falling back to the previous one", ckptName(id), err)
			r.bad = append(r.bad, id)
			continue
		}
		if payload == nil {
			payload = []byte{}
		}
		r.rec.Checkpoint, r.rec.CheckpointSeq, r.rec.Epoch = payload, id.seq, id.epoch
		r.ckpts = r.ckpts[:i+1]
		return nil
	}
	if len(r.bad) > 0 {
		r.ckpts = nil
		if len(r.segs) == 0 || r.segs[0].seq != 1 {
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

// epochs is the history of leader terms: the current (highest) epoch, and where each
// epoch's entries start, from the epoch file and the segment names.
type epochs struct {
	current uint64
	start   map[uint64]uint64 // epoch -> seq of its first entry
}

func (e *epochs) noteStart(id fileID) {
	if id.epoch == 0 {
		return
	}
	if s, ok := e.start[id.epoch]; !ok || id.seq < s {
		e.start[id.epoch] = id.seq
	}
	e.current = max(e.current, id.epoch)
}

// cut returns the first seq that entries of epoch e may not have: the start of the
// first newer epoch (MaxUint64 when there is none).
func (e *epochs) cut(epoch uint64) uint64 {
	c := uint64(math.MaxUint64)
	for ep, s := range e.start {
		if ep > epoch && s < c {
			c = s
		}
	}
	return c
}

func readEpochs(st Storage) (*epochs, error) {
	e := &epochs{start: map[uint64]uint64{}}
	b, err := readAll(st, epochFile)
	if errors.Is(err, fs.ErrNotExist) {
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	if err := e.decode(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, epochFile, err)
	}
	return e, nil
}
