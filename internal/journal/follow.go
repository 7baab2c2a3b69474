package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// ErrDiverged is returned by Follower.Next when entries it already returned are not
// history after all: a deposed leader wrote them after a newer leader had taken the
// journal over (they were never acknowledged). Whoever applied them must rebuild its state
// from a new Follow.
var ErrDiverged = errors.New("journal: the follower applied entries a newer leader did not keep")

// ErrCompacted is returned by Follower.Next when the entries it needs next were removed
// by a checkpoint's compaction before it read them: it must start again from Follow.
var ErrCompacted = errors.New("journal: the entries the follower needs were compacted away")

// RangeOpener is implemented by storages that can open a file at an offset, so that a
// Follower reads only what was appended since its last call.
type RangeOpener interface {
	OpenAt(name string, off int64) (io.ReadCloser, error)
}

// Follower reads a journal that another process writes, as it grows: a standby's view of
// the leader's journal. It never modifies the storage. It is not safe for concurrent use.
type Follower struct {
	st    Storage
	opts  Options
	next  uint64 // seq of the next entry to return
	epoch uint64 // epoch of the last entry returned (or of the checkpoint)
	seg   fileID // the segment being read; seq 0 before the first
	off   int64  // bytes of seg consumed
}

// Follow recovers the journal in st as Replay does (the newest valid checkpoint and the
// entries after it) and returns a Follower positioned after them.
func Follow(st Storage, opts Options) (*Follower, *Recovered, error) {
	opts = opts.withDefaults()
	r, err := recoverState(st, opts.logf)
	if err != nil {
		return nil, nil, err
	}
	f := &Follower{st: st, opts: opts, next: r.lastSeq + 1, epoch: r.rec.Epoch}
	if r.tail.seq != 0 {
		f.seg, f.off = r.tail, r.tailGood
	}
	return f, r.rec, nil
}

// Position returns the seq and epoch of the last entry returned (or recovered).
func (f *Follower) Position() (seq, epoch uint64) { return f.next - 1, f.epoch }

// Next returns the complete entries appended since the last call, in order (none when
// nothing new is there). See ErrDiverged and ErrCompacted.
func (f *Follower) Next() ([]Record, error) {
	names, err := f.st.List()
	if err != nil {
		return nil, fmt.Errorf("journal: list: %w", err)
	}
	ep, err := readEpochs(f.st)
	if err != nil {
		return nil, err
	}
	var segs []fileID
	for _, n := range names {
		if id, ok := parseSegmentID(n); ok && id.seq > 0 {
			ep.noteStart(id)
			segs = append(segs, id)
		}
	}
	if last := f.next - 1; last > 0 && last >= ep.cut(f.epoch) {
		return nil, fmt.Errorf("%w: entry %d (epoch %d) is past the start of a newer epoch (%d)", ErrDiverged, last, f.epoch, ep.cut(f.epoch))
	}
	var eff []fileID
	for _, s := range segs {
		if s.seq < ep.cut(s.epoch) {
			eff = append(eff, s)
		}
	}
	slices.SortFunc(eff, func(a, b fileID) int { return cmpU(a.seq, b.seq) })
	var out []Record
	for {
		// The segment holding f.next: the last one starting at or before it.
		i := -1
		for k, s := range eff {
			if s.seq <= f.next {
				i = k
			}
		}
		if i < 0 {
			if len(eff) == 0 {
				return out, nil // nothing written yet
			}
			return out, fmt.Errorf("%w: entry %d is gone (oldest segment starts at %d)", ErrCompacted, f.next, eff[0].seq)
		}
		seg := eff[i]
		if seg != f.seg {
			f.seg, f.off = seg, 0
		}
		recs, n, err := f.readFrom(seg, ep.cut(seg.epoch))
		if errors.Is(err, fs.ErrNotExist) {
			return out, fmt.Errorf("%w: %s was removed: %w", ErrCompacted, segName(seg), err)
		}
		if err != nil {
			return out, err
		}
		out = append(out, recs...)
		f.off += n
		if len(recs) > 0 {
			f.epoch = seg.epoch
		}
		// Move on when a later segment takes over from here; otherwise this one is
		// still being written (or its writer was deposed and nothing follows yet).
		if i+1 < len(eff) && eff[i+1].seq == f.next {
			continue
		}
		return out, nil
	}
}

// readFrom returns the complete records of seg from f.off on, those with seq f.next,
// f.next+1, ... below cut, and how many bytes they took.
func (f *Follower) readFrom(seg fileID, cut uint64) ([]Record, int64, error) {
	name := segName(seg)
	var rc io.ReadCloser
	var err error
	if ro, ok := f.st.(RangeOpener); ok {
		rc, err = ro.OpenAt(name, f.off)
	} else if rc, err = f.st.Open(name); err == nil {
		if _, err = io.CopyN(io.Discard, rc, f.off); err != nil {
			rc.Close()
			return nil, 0, fmt.Errorf("journal: read %s: %w", name, err)
		}
	}
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: read %s: %w", name, err)
	}
	var out []Record
	off := 0
	for off < len(b) && f.next < cut {
		seq, data, n, ok := parseRecord(b[off:])
		if !ok {
			break // a record being written (or a torn tail nobody will finish)
		}
		if seq != f.next {
			return nil, 0, fmt.Errorf("%w: %s offset %d: record has seq %d, want %d", ErrCorrupt, name, f.off+int64(off), seq, f.next)
		}
		out = append(out, Record{Seq: seq, Data: slices.Clone(data)})
		f.next++
		off += n
	}
	return out, int64(off), nil
}

// OpenAt implements RangeOpener.
func (d *dirStorage) OpenAt(name string, off int64) (io.ReadCloser, error) {
	p, err := d.path("open", name)
	if err != nil {
		return nil, err
	}
	fl, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if _, err := fl.Seek(off, io.SeekStart); err != nil {
		fl.Close()
		return nil, err
	}
	return fl, nil
}
