package journal

import (
	"errors"
	"fmt"
	"io/fs"
)

// Checkpoint durably records snapshot as the state after every entry with Seq <= seq,
// then compacts: entries and checkpoints no longer needed are removed (the previous
// checkpoint and the entries after it are kept as a fallback, see the package doc).
// seq must be at least the last checkpoint's and at most LastSeq. Checkpoint first waits
// until entries up to seq are durable; Appends may continue meanwhile, and concurrent
// Checkpoints are serialized. A crash at any point leaves a recoverable journal. If a new
// segment cannot be started the journal fails (see Failure in the package doc).
func (j *Journal) Checkpoint(snapshot []byte, seq uint64) error {
	j.ckMu.Lock()
	defer j.ckMu.Unlock()
	j.mu.Lock()
	last, ck, closed, ferr := j.last, j.ckptSeq, j.closed, j.err
	j.mu.Unlock()
	switch {
	case ferr != nil:
		return ferr
	case closed:
		return ErrClosed
	case seq > last:
		return fmt.Errorf("journal: checkpoint at seq %d is after the last entry %d", seq, last)
	case seq < ck:
		return fmt.Errorf("journal: checkpoint at seq %d is older than checkpoint %d", seq, ck)
	}
	if err := j.waitDurable(seq); err != nil {
		return err
	}
	// A new segment first, so that the segments holding entries <= seq stop growing
	// and the next compaction can remove them whole.
	j.wmu.Lock()
	err := j.roll()
	j.wmu.Unlock()
	if err != nil {
		j.mu.Lock()
		if j.err == nil {
			j.err = err
		}
		j.doneCond.Broadcast()
		j.mu.Unlock()
		return err
	}
	if err := j.fenced(); err != nil {
		return err
	}
	id := fileID{seq, j.epoch}
	name := ckptName(id)
	if err := j.st.WriteAtomic(name, encodeCheckpoint(seq, snapshot)); err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	j.mu.Lock()
	j.ckptSeq = seq
	j.sizes.reset(seq)
	j.mu.Unlock()
	if n := len(j.ckpts); n == 0 || j.ckpts[n-1] != id {
		j.ckpts = append(j.ckpts, id)
	}
	j.compact()
	return nil
}

// SizeSinceCheckpoint returns the record bytes appended after the last checkpoint's seq
// (including recovered ones); the caller triggers checkpoints from it.
func (j *Journal) SizeSinceCheckpoint() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.sizes.total - j.sizes.base
}

// compact removes all but the two newest checkpoints, then the segments whose entries
// are all covered by the older of those two (by the empty state while only one
// checkpoint exists). Oldest first, so a crash midway leaves a contiguous history.
// Failures are logged and retried by the next compaction. Caller holds ckMu.
func (j *Journal) compact() {
	for len(j.ckpts) > 2 {
		if err := j.fenced(); err != nil {
			return // not ours to remove any more
		}
		name := ckptName(j.ckpts[0])
		if err := j.st.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.opts.logf("journal: remove %s: %v", name, err)
			return
		}
		j.ckpts = j.ckpts[1:]
	}
	if len(j.ckpts) < 2 {
		return
	}
	floor := j.ckpts[0].seq
	j.wmu.Lock()
	var dead []fileID
	for i := 0; i+1 < len(j.segs) && j.segs[i+1].seq <= floor+1; i++ {
		dead = append(dead, j.segs[i])
	}
	j.wmu.Unlock()
	removed := 0
	for _, id := range dead {
		if err := j.fenced(); err != nil {
			break
		}
		name := segName(id)
		if err := j.st.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			j.opts.logf("journal: remove %s: %v", name, err)
			break
		}
		removed++
	}
	j.wmu.Lock()
	j.segs = j.segs[removed:]
	j.wmu.Unlock()
}

// sizeRing is how many recent entries' cumulative sizes are remembered, so that a
// checkpoint a little behind LastSeq still resets SizeSinceCheckpoint exactly.
const sizeRing = 4096

// sizeTracker counts record bytes appended; base is the count at the checkpoint seq.
type sizeTracker struct {
	total, base int64
	low, last   uint64 // cum holds seqs low..last
	cum         [sizeRing]int64
}

func (s *sizeTracker) init(last uint64, recovered int64) {
	s.total, s.low, s.last = recovered, last, last
	s.cum[last%sizeRing] = recovered
}

func (s *sizeTracker) add(seq uint64, n int64) {
	s.total += n
	s.cum[seq%sizeRing] = s.total
	s.last = seq
	if seq-s.low >= sizeRing {
		s.low = seq - sizeRing + 1
	}
}

// reset sets base to the count after entry seq; for a seq older than the ring it uses the
// oldest remembered count (so the size is underestimated, never negative).
func (s *sizeTracker) reset(seq uint64) {
	switch {
	case seq >= s.last:
		s.base = s.total
	case seq >= s.low:
		s.base = s.cum[seq%sizeRing]
	default:
		s.base = s.cum[s.low%sizeRing]
	}
}
