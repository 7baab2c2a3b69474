package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// # Epochs: one writer at a time on shared storage
//
// In a highly available namespace several processes share one journal on shared storage;
// ZooKeeper elects the one that writes it (the leader) and gives each leadership an epoch
// that only grows. OpenEpoch is how a leader of epoch E takes the journal over:
//
//  1. It records E as the current epoch in the epoch file (WriteAtomic). From then on the
//     previous leader, should it still run (paused in a long GC, cut off from ZooKeeper),
//     reads the newer epoch when it checks after its next fsync, and acknowledges nothing
//     more: every later Wait fails with ErrFenced.
//  2. Where the storage can revoke other writers (Sealer: HDFS lease recovery), it seals
//     the journal's files, so that the old leader's writes fail at once.
//  3. It recovers the history to its end (seq S) and records that epoch E starts at
//     S+1, then writes its own segments, named with the epoch.
//
// Entries a deposed leader writes after that — acknowledged to no one — sit at seqs from
// S+1 in its own segments, and every reader ignores them (see recoverState), as it ignores
// a deposed leader's late checkpoint. A follower (Follow) that applied such an entry
// before the new epoch appeared finds out (ErrDiverged) and must rebuild its state.

// ErrFenced is wrapped by the errors of a journal whose epoch a newer leader took over
// (or whose Options.Fence said so): nothing it appends is acknowledged any more.
var ErrFenced = errors.New("journal: fenced: a newer leader took over the journal")

// epochFile holds the current epoch and where each epoch's entries start.
const epochFile = "epoch"

const epochMagic = "unifiedfs journal epochs v1"

func (e *epochs) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\ncurrent %d\n", epochMagic, e.current)
	keys := make([]uint64, 0, len(e.start))
	for k := range e.start {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "start %d %d\n", k, e.start[k])
	}
	return b.Bytes()
}

func (e *epochs) decode(b []byte) error {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 0 || lines[0] != epochMagic {
		return errors.New("not an epoch file")
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "current":
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return fmt.Errorf("line %q: %w", l, err)
			}
			e.current = max(e.current, v)
		case len(f) == 3 && f[0] == "start":
			ep, err1 := strconv.ParseUint(f[1], 10, 64)
			seq, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || ep == 0 {
				return fmt.Errorf("line %q: bad numbers", l)
			}
			e.noteStart(fileID{seq, ep})
		default:
			return fmt.Errorf("line %q: unknown", l)
		}
	}
	return nil
}

// CurrentEpoch returns the newest epoch recorded in st (0 when there is none).
func CurrentEpoch(st Storage) (uint64, error) {
	e, err := readEpochs(st)
	if err != nil {
		return 0, err
	}
	return e.current, nil
}

// OpenEpoch takes over the journal in st as the leader of epoch (see Epochs above) and
// returns it ready to append after the last entry of the history, with what it
// recovered. It fails with ErrFenced when st already records epoch or a newer one. It
// does not take Storage.Lock: on shared storage the election and the epochs exclude other
// writers.
func OpenEpoch(st Storage, epoch uint64, opts Options) (*Journal, *Recovered, error) {
	if st == nil || epoch == 0 {
		return nil, nil, errors.New("journal: OpenEpoch needs a storage and an epoch above 0")
	}
	opts = opts.withDefaults()
	ep, err := readEpochs(st)
	if err != nil {
		return nil, nil, err
	}
	if ep.current >= epoch {
		return nil, nil, fmt.Errorf("%w: epoch %d is recorded, this leader's is %d", ErrFenced, ep.current, epoch)
	}
	ep.current = epoch
	if err := st.WriteAtomic(epochFile, ep.encode()); err != nil {
		return nil, nil, fmt.Errorf("journal: record epoch %d: %w", epoch, err)
	}
	if s, ok := st.(Sealer); ok {
		// Revoke every other writer (HDFS: lease recovery of each file), so that the
		// previous leader's next write fails at once instead of at its next fence check.
		if err := s.Seal(); err != nil {
			return nil, nil, fmt.Errorf("journal: seal the previous leader's files: %w", err)
		}
	}
	r, err := recoverState(st, opts.logf)
	if err != nil {
		return nil, nil, err
	}
	// Our entries start after the history; the entries an older epoch wrote there are not
	// history (recorded before any of ours is written, so that every reader agrees).
	first := r.lastSeq + 1
	r.epochs.current = max(r.epochs.current, epoch)
	r.epochs.start[epoch] = first
	if err := st.WriteAtomic(epochFile, r.epochs.encode()); err != nil {
		return nil, nil, fmt.Errorf("journal: record the start of epoch %d: %w", epoch, err)
	}
	var garbage []string // not history: a deposed leader's late files, damaged checkpoints
	for _, id := range r.stale {
		garbage = append(garbage, segName(id))
	}
	for _, id := range r.bad {
		garbage = append(garbage, ckptName(id))
	}
	for _, name := range garbage {
		if err := st.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			opts.logf("journal: remove %s: %v", name, err)
		}
	}
	j := newJournal(st, opts, func() error { return nil }, r)
	j.epoch = epoch
	j.segFirst = first
	j.segs = append(j.segs, fileID{first, epoch})
	if j.seg, err = st.Append(segName(fileID{first, epoch})); err != nil {
		return nil, nil, fmt.Errorf("journal: open segment: %w", err)
	}
	j.start()
	return j, r.rec, nil
}

// fenced reports whether this journal may no longer acknowledge: a newer epoch is
// recorded, or Options.Fence says so. Single-process journals (epoch 0) are never fenced
// by the epoch file.
func (j *Journal) fenced() error {
	if j.opts.Fence != nil {
		if err := j.opts.Fence(); err != nil {
			return fmt.Errorf("%w: %w", ErrFenced, err)
		}
	}
	if j.epoch == 0 {
		return nil
	}
	// Read the file itself: a journal whose epoch file is gone (its directory moved, an
	// NFS outage) can no longer tell that no newer leader took over.
	b, err := readAll(j.st, epochFile)
	if err != nil {
		return fmt.Errorf("%w: cannot read the epoch file: %w", ErrFenced, err)
	}
	ep := &epochs{start: map[uint64]uint64{}}
	if err := ep.decode(b); err != nil {
		return fmt.Errorf("%w: the epoch file is damaged: %w", ErrFenced, err)
	}
	if cur := ep.current; cur > j.epoch {
		return fmt.Errorf("%w: epoch %d started (this leader's is %d)", ErrFenced, cur, j.epoch)
	}
	return nil
}

// Epoch returns the journal's epoch (0 for a single-process journal).
func (j *Journal) Epoch() uint64 { return j.epoch }
