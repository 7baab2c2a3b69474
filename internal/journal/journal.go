package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

// ErrClosed is returned by operations on a closed Journal.
var ErrClosed = errors.New("journal: closed")

// Options tune a Journal. The zero value is usable.
type Options struct {
	// Logf receives recovery events, e.g. "journal: cut torn tail of log-...: dropped N
	// bytes after seq S". nil means silent. Lines never contain entry data.
	Logf func(format string, args ...any)
	// MaxBatch is the most entries written by one group commit (default 1024).
	MaxBatch int
	// SegmentSize is the size after which the journal starts a new segment (default
	// 64 MiB). Checkpoint also starts one, so compaction never waits for it.
	SegmentSize int64
	// Fence, when set, is asked after every fsync and before every checkpoint or removal
	// whether this journal may still acknowledge (an HA leader: is its leadership still
	// certain?). An error fences the journal: it wraps ErrFenced from then on.
	Fence func() error
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	return o
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Journal is an open, locked journal. Its methods are safe for concurrent use.
type Journal struct {
	st     Storage
	opts   Options
	unlock func() error
	done   chan struct{} // closed when the flusher exits
	epoch  uint64        // the leader term writing it (0: a single process)

	mu        sync.Mutex
	flushCond sync.Cond // wakes the flusher: work queued or closing
	doneCond  sync.Cond // wakes waiters: durable or err changed
	last      uint64    // last assigned seq
	durable   uint64    // last fsynced seq
	pending   []byte    // encoded records last-len(ends)+1 .. last
	ends      []int     // end offset in pending of each record
	spare     []byte    // recycled batch buffer
	err       error     // sticky write/sync failure
	closed    bool
	ckptSeq   uint64
	sizes     sizeTracker
	// Group commit: goroutines in Wait, how many the next batch waits for (those that
	// waited when the last one was done), the last write+fsync's duration, and whether
	// the flusher's wait for the next batch to gather timed out.
	waiting   int
	wantNext  int
	lastSync  time.Duration
	gathered  bool
	gatherGen uint64 // tells a late timer of an earlier gather from the current one's
	stats     Stats

	wmu      sync.Mutex // guards the open segment and segs
	seg      AppendFile
	segFirst uint64
	segBytes int64
	written  uint64   // last seq written to seg and synced
	segs     []fileID // the live segments, ascending
	werr     error    // a failed roll: seg must not be written any more

	ckMu  sync.Mutex // serializes Checkpoint, compaction and Close
	ckpts []fileID   // live checkpoints, ascending
}

// Open locks the journal in st, recovers it and returns it ready to append after the last
// good entry, with what it recovered. A torn tail is cut (logged, and counted in
// Recovered.DroppedBytes). The error wraps ErrLocked when another holder has the lock and
// ErrCorrupt when the history is damaged before its tail.
func Open(st Storage, opts Options) (*Journal, *Recovered, error) {
	if st == nil {
		return nil, nil, errors.New("journal: nil storage")
	}
	opts = opts.withDefaults()
	unlock, err := st.Lock()
	if err != nil {
		return nil, nil, fmt.Errorf("journal: open: %w", err)
	}
	j, rec, err := open(st, opts, unlock)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return j, rec, nil
}

func open(st Storage, opts Options, unlock func() error) (*Journal, *Recovered, error) {
	r, err := recoverState(st, opts.logf)
	if err != nil {
		return nil, nil, err
	}
	if r.epochs.current > 0 {
		return nil, nil, fmt.Errorf("journal: open: the journal was written by an HA leader (epoch %d): open it with OpenEpoch", r.epochs.current)
	}
	if r.rec.DroppedBytes > 0 {
		name := segName(r.tail)
		if err := st.Truncate(name, r.tailGood); err != nil {
			return nil, nil, fmt.Errorf("journal: cut torn tail of %s: %w", name, err)
		}
		opts.logf("journal: cut torn tail of %s: dropped %d bytes after seq %d", name, r.rec.DroppedBytes, r.lastSeq)
	}
	for _, id := range r.bad {
		if err := st.Remove(ckptName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("journal: remove invalid checkpoint: %w", err)
		}
		opts.logf("journal: removed invalid checkpoint %s", ckptName(id))
	}
	j := newJournal(st, opts, unlock, r)
	if r.reuse && r.tail.seq != 0 {
		j.segFirst, j.segBytes = r.tail.seq, r.tailGood
	} else {
		j.segFirst = r.lastSeq + 1
		j.segs = append(j.segs, fileID{j.segFirst, 0})
	}
	if j.seg, err = st.Append(segmentName(j.segFirst)); err != nil {
		return nil, nil, fmt.Errorf("journal: open segment: %w", err)
	}
	j.start()
	return j, r.rec, nil
}

// newJournal returns a Journal resuming after what r recovered; the caller opens its
// segment and calls start.
func newJournal(st Storage, opts Options, unlock func() error, r *recovery) *Journal {
	j := &Journal{
		st: st, opts: opts, unlock: unlock, done: make(chan struct{}),
		last: r.lastSeq, durable: r.lastSeq, written: r.lastSeq,
		ckptSeq: r.rec.CheckpointSeq, segs: r.segs, ckpts: r.ckpts,
	}
	j.flushCond.L, j.doneCond.L = &j.mu, &j.mu
	j.sizes.init(r.lastSeq, r.bytes)
	return j
}

// start finishes an interrupted compaction and starts the group commit.
func (j *Journal) start() {
	j.ckMu.Lock()
	j.compact() // finishes a compaction a crash interrupted
	j.ckMu.Unlock()
	go j.flushLoop()
}

// Ticket is the receipt of an Append.
type Ticket interface {
	// Seq is the entry's sequence number (0 if Append failed).
	Seq() uint64
	// Wait blocks until the entry, and every entry before it, is durable, and returns the
	// journal's failure if that can no longer happen. Concurrent waiters share one fsync.
	Wait() error
}

type ticket struct {
	j   *Journal
	seq uint64
}

func (t *ticket) Seq() uint64 { return t.seq }
func (t *ticket) Wait() error { return t.j.waitDurable(t.seq) }

type errTicket struct{ err error }

func (t errTicket) Seq() uint64 { return 0 }
func (t errTicket) Wait() error { return t.err }

// Append gives data the next sequence number and queues it; it does not wait for disk
// (call Wait on the Ticket). The caller calls Append while holding its own apply lock,
// so the sequence order is the apply order. data is copied. An entry larger than
// MaxRecordSize, or an Append on a closed or failed journal, gets a Ticket whose Wait
// returns the error.
func (j *Journal) Append(data []byte) Ticket {
	if len(data) > MaxRecordSize {
		return errTicket{fmt.Errorf("journal: entry of %d bytes exceeds MaxRecordSize", len(data))}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return errTicket{j.err}
	}
	if j.closed {
		return errTicket{ErrClosed}
	}
	j.last++
	j.pending = appendRecord(j.pending, j.last, data)
	j.ends = append(j.ends, len(j.pending))
	j.sizes.add(j.last, recordSize(data))
	j.flushCond.Signal()
	return &ticket{j: j, seq: j.last}
}

// LastSeq returns the sequence number of the last entry appended (queued, not
// necessarily durable yet), or the last recovered one.
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last
}

// Stats count the group commits of a Journal.
type Stats struct {
	Flushes   uint64        // batches written and synced
	Entries   uint64        // entries in them
	FlushTime time.Duration // spent writing and syncing them
}

// Stats returns the group-commit counts so far.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}

// DurableSeq returns the sequence number up to which entries are known to be durable.
func (j *Journal) DurableSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.durable
}

func (j *Journal) waitDurable(seq uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.durable >= seq {
		return nil
	}
	j.waiting++
	defer func() { j.waiting-- }()
	for j.durable < seq {
		if j.err != nil {
			return j.err
		}
		j.doneCond.Wait()
	}
	return nil
}

// flushLoop is the group commit: it writes everything queued (up to MaxBatch entries)
// with one write and one fsync, while later Appends queue up for the next round.
func (j *Journal) flushLoop() {
	defer close(j.done)
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		for len(j.ends) == 0 && !j.closed {
			j.flushCond.Wait()
		}
		j.gather()
		if len(j.ends) == 0 {
			return // closed and drained
		}
		n := min(len(j.ends), j.opts.MaxBatch)
		end := j.ends[n-1]
		lastSeq := j.last - uint64(len(j.ends)) + uint64(n)
		var batch []byte
		if n == len(j.ends) {
			batch, j.pending, j.ends = j.pending, j.spare[:0], j.ends[:0]
		} else {
			batch = append(j.spare[:0], j.pending[:end]...)
			j.pending = j.pending[:copy(j.pending, j.pending[end:])]
			j.ends = j.ends[:copy(j.ends, j.ends[n:])]
			for i := range j.ends {
				j.ends[i] -= end
			}
		}
		j.spare = nil
		j.mu.Unlock()
		t0 := time.Now()
		synced, err := j.writeBatch(batch, lastSeq)
		j.mu.Lock()
		j.lastSync = time.Since(t0)
		if synced {
			j.stats.Flushes++
			j.stats.Entries += uint64(n)
			j.stats.FlushTime += j.lastSync
		}
		if cap(batch) <= 4<<20 {
			j.spare = batch[:0]
		}
		if synced {
			j.durable = lastSeq
		}
		if err != nil {
			j.err = err
			j.pending, j.ends = nil, nil
		}
		// Every goroutine waiting now appends again soon: those in this batch once
		// woken, the others are queued already.
		j.wantNext = j.waiting
		j.doneCond.Broadcast()
		if err != nil {
			return
		}
	}
}

// gather waits, before a batch is taken, for as many entries as there were waiters when
// the last batch was done (woken, they append their next ones), for at most half the last
// fsync's duration. Without it batches settle at half the writers: the first writer back starts
// a batch of its own while the others are still on their way, and they wait for the
// round after. The wait is short next to the fsync it saves. j.mu is held.
func (j *Journal) gather() {
	want := min(j.wantNext, j.opts.MaxBatch)
	if len(j.ends) >= want || j.closed {
		return
	}
	j.gathered = false
	j.gatherGen++
	gen := j.gatherGen
	t := time.AfterFunc(min(j.lastSync/2, maxGather), func() {
		j.mu.Lock()
		if j.gatherGen == gen {
			j.gathered = true
			j.flushCond.Broadcast()
		}
		j.mu.Unlock()
	})
	for len(j.ends) < want && !j.gathered && !j.closed {
		j.flushCond.Wait()
	}
	t.Stop()
}

// maxGather bounds gather's wait.
const maxGather = 2 * time.Millisecond

// writeBatch writes and syncs b, whose last record is lastSeq, then starts a new segment
// if the current one is full. synced reports whether b is durable even if err is set.
func (j *Journal) writeBatch(b []byte, lastSeq uint64) (synced bool, err error) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.werr != nil {
		return false, j.werr
	}
	name := segName(fileID{j.segFirst, j.epoch})
	if _, err := j.seg.Write(b); err != nil {
		return false, fmt.Errorf("journal: write %s: %w", name, err)
	}
	if err := j.seg.Sync(); err != nil {
		return false, fmt.Errorf("journal: sync %s: %w", name, err)
	}
	// Durable, but acknowledged only if this journal still has the right to: a deposed
	// leader's entries are not history (see Epochs).
	if err := j.fenced(); err != nil {
		j.werr = err
		return false, err
	}
	j.segBytes += int64(len(b))
	j.written = lastSeq
	if j.segBytes >= j.opts.SegmentSize {
		if err := j.roll(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// roll starts a new segment after the last written entry, unless the current segment is
// empty. Everything written is already synced. Caller holds wmu.
//
// A failed roll stops all writing: the new segment may exist although Append failed, and
// entries written after it into the old segment would break the sequence.
func (j *Journal) roll() error {
	if j.werr != nil {
		return j.werr
	}
	if j.segBytes == 0 {
		return nil
	}
	first := fileID{j.written + 1, j.epoch}
	f, err := j.st.Append(segName(first))
	if err != nil {
		j.werr = fmt.Errorf("journal: start segment %s: %w", segName(first), err)
		return j.werr
	}
	old, oldName := j.seg, segName(fileID{j.segFirst, j.epoch})
	j.seg, j.segFirst, j.segBytes = f, first.seq, 0
	j.segs = append(j.segs, first)
	if err := old.Close(); err != nil {
		j.opts.logf("journal: close %s: %v", oldName, err)
	}
	return nil
}

// Close writes and syncs every queued entry, waits for a running Checkpoint, closes the
// segment and releases the lock. It returns the journal's failure, if any. Calling Close
// again returns ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	j.flushCond.Signal()
	j.mu.Unlock()
	<-j.done

	j.ckMu.Lock()
	defer j.ckMu.Unlock()
	j.wmu.Lock()
	cerr := j.seg.Close()
	j.wmu.Unlock()
	j.mu.Lock()
	ferr := j.err
	j.mu.Unlock()
	return errors.Join(ferr, cerr, j.unlock())
}
