package unifiedfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/journal"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// What the journal holds. Every durable mutation's entry is appended (under applyMu,
// so sequence order is apply order) and fsynced before the call returns. Entries derived
// from the UFS (loads, sync updates) are volatile: after a restart, persisted metadata is
// loaded again lazily, so only state that cannot be re-derived from the UFS is kept —
// mounts with their options, entries that are not persisted (and the directories on
// their way), persist states (the async-persist queue is every ToBePersisted file), and
// sync points. A checkpoint is the list of entries that rebuilds that state.

// openJournal opens (and locks) the journal in dir and returns what it recovered.
func (f *FS) openJournal(dir string) (*journal.Recovered, error) {
	st, err := journal.NewDirStorage(dir)
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: journal %s: %w", dir, err)
	}
	j, rec, err := journal.Open(st, journal.Options{Logf: func(format string, args ...any) {
		f.log.Warn(fmt.Sprintf(format, args...))
	}})
	if errors.Is(err, journal.ErrLocked) {
		return nil, fmt.Errorf("unifiedfs: journal %s is in use by another unifiedfs (one process per journal): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: journal %s: %w", dir, err)
	}
	f.jrn.Store(j)
	return rec, nil
}

// appendEntry queues e in the journal; applyMu must be held. It returns nil when e is
// not journaled.
func (f *FS) appendEntry(e *namespace.Entry) (journal.Ticket, error) {
	if e.Volatile || e.Op == namespace.OpLoad {
		return nil, nil
	}
	j := f.jnl()
	if j == nil {
		if f.ha != nil { // a standby: only the member holding the journal's epoch writes it
			return nil, f.checkLeader("journal", e.Path)
		}
		return nil, nil
	}
	data, err := namespace.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: encoding journal entry: %w", err)
	}
	return j.Append(data), nil
}

// recoveredEntries decodes what rec holds: the checkpoint's entries, then the tail's.
func recoveredEntries(rec *journal.Recovered) ([]*namespace.Entry, error) {
	var entries []*namespace.Entry
	if rec.Checkpoint != nil {
		snap, err := namespace.DecodeSnapshot(rec.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("unifiedfs: journal checkpoint: %w", err)
		}
		entries = snap
	}
	for _, r := range rec.Entries {
		e, err := namespace.Unmarshal(r.Data)
		if err != nil {
			return nil, fmt.Errorf("unifiedfs: journal entry %d: %w", r.Seq, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// replay rebuilds the namespace from a recovered journal: the checkpoint's entries, then
// the tail, each through namespace.Apply (they were checked when they were journaled).
// Entries that no longer apply are skipped and reported.
func (f *FS) replay(ctx context.Context, rec *journal.Recovered) error {
	entries, err := recoveredEntries(rec)
	if err != nil {
		return err
	}
	skipped := 0
	for _, e := range entries {
		if err := f.replayEntry(ctx, e); err != nil {
			skipped++
			f.log.Debug("unifiedfs: journal entry skipped on replay", "op", e.Op.String(), "path", ufs.Rooted(e.Path), "err", err)
		}
	}
	if skipped > 0 {
		f.log.Warn("unifiedfs: journal replay skipped entries that no longer apply", "skipped", skipped, "entries", len(entries))
	}
	return nil
}

// replayEntry applies one journaled entry.
func (f *FS) replayEntry(ctx context.Context, e *namespace.Entry) error {
	var opened ufs.UFS
	if (e.Op == namespace.OpMount || e.Op == namespace.OpUpdateMount) && e.Mount != nil {
		opened = f.reopenMount(ctx, e.Mount)
	}
	f.applyMu.Lock()
	eff, err := f.ns().Apply(e)
	var closing []*mount
	if err == nil {
		closing = f.effectsLocked(e, eff, opened)
	}
	f.applyMu.Unlock()
	f.closeMounts(closing)
	if err != nil && opened != nil {
		_ = opened.Close()
	}
	return err
}

// reopenMount opens a journaled mount's UFS. A UFS that cannot be reached is kept,
// reporting the failure on every operation (and in Mounts), rather than dropped.
func (f *FS) reopenMount(ctx context.Context, r *namespace.MountRecord) ufs.UFS {
	u, err := f.reg.Open(ctx, r.URI, r.Options)
	if err != nil {
		f.log.Warn("unifiedfs: mount from the journal is unreachable; kept", "uri", r.URI, "err", err)
		return &brokenUFS{err: err}
	}
	return u
}

// recoverFiles runs after replay: files that were being written when the process died
// are removed; unpersisted files whose blocks are not all in the disk tier become Lost;
// ToBePersisted files are queued again; pinned blocks no file owns are dropped.
func (f *FS) recoverFiles() {
	pinned := map[uint64]cache.PinnedFile{}
	for _, pf := range f.cache.PinnedFiles() {
		pinned[pf.ID] = pf
	}
	var incomplete, lost []string
	var queue []*inode.Inode
	var queuePaths []string
	owned := map[uint64]bool{} // pinned ids some file still needs
	alive := map[string]bool{} // other members holding unpersisted files, and whether they answer
	heldElsewhere := func(in *inode.Inode) bool {
		if f.ha == nil {
			return false
		}
		h := f.ns().HolderOf(in.ID)
		if h == "" || h == f.ha.cfg.Address {
			return false
		}
		up, seen := alive[h]
		if !seen {
			up = f.ha.memberAnswers(h)
			alive[h] = up
		}
		return up
	}
	var walk func(p string, in *inode.Inode)
	walk = func(p string, in *inode.Inode) {
		if in.IsDir() {
			in.Dir().Range(func(c *inode.Inode) bool { walk(ufs.Join(p, c.Name), c); return true })
			return
		}
		if _, ok := pinned[in.ID]; ok && in.Persist() != inode.Persisted && in.Flags&inode.FlagOpen == 0 {
			owned[in.ID] = true
		}
		switch {
		case in.Flags&inode.FlagOpen != 0:
			incomplete = append(incomplete, p)
		case in.Persist() == inode.NotPersisted || in.Persist() == inode.ToBePersisted:
			pf, ok := pinned[in.ID]
			if in.Size > 0 && (!ok || !pf.Contiguous || pf.Bytes != in.Size) && !heldElsewhere(in) {
				lost = append(lost, p)
			} else if in.Persist() == inode.ToBePersisted {
				queue = append(queue, in)
				queuePaths = append(queuePaths, p)
			}
		}
	}
	walk(ufs.Root, f.ns().Root())
	// Pinned blocks nobody needs: a file persisted before the crash (its unpin was lost)
	// or one whose completion never reached the journal.
	for id := range pinned {
		if !owned[id] {
			f.cache.Drop(id)
		}
	}
	for _, p := range incomplete {
		if f.adoptUploaded(p) {
			continue
		}
		f.log.Warn("unifiedfs: removing a file whose write did not complete before the restart", "path", ufs.Rooted(p))
		_ = f.apply(&namespace.Entry{Op: namespace.OpDelete, Path: p}, nil)
	}
	for _, p := range lost {
		f.log.Warn("unifiedfs: unpersisted file lost: its cached blocks are gone", "path", ufs.Rooted(p))
		f.markLost(p, f.ns().Lookup(p))
	}
	for i, in := range queue {
		f.persist.enqueue(in.ID, queuePaths[i])
	}
}

// adoptUploaded completes the file being written at p when the UFS holds an object there:
// its upload finished and only its completion missed the journal (the writer's process
// died in between). Journaled, so every member shows it; removing the entry instead would
// leave an object that only members listing the directory afresh would show.
func (f *FS) adoptUploaded(p string) bool {
	in := f.ns().Lookup(p)
	m := f.mountByID(f.ns().MountOf(parentPath(p)))
	if in == nil || in.IsDir() || in.Flags&inode.FlagOpen == 0 || m == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	st, err := m.ufs.Stat(ctx, ufs.Rel(m.Path, p))
	if err != nil || st.IsDir {
		return false
	}
	rec := &namespace.NodeRecord{ID: in.ID, Size: st.Size, Hash: st.ContentHash, Persist: inode.Persisted,
		Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode}
	if o, ok := statusOwner(st); ok {
		rec.Owner, rec.Group, rec.Mode = o.Owner, o.Group, o.Mode
	}
	if !st.ModTime.IsZero() {
		rec.MTime = st.ModTime.UnixNano()
	}
	if err := f.apply(&namespace.Entry{Op: namespace.OpComplete, Path: p, Node: rec}, nil); err != nil {
		return false
	}
	f.log.Warn("unifiedfs: adopted a file whose upload finished but whose completion was lost", "path", ufs.Rooted(p), "size", st.Size)
	return true
}

// markLost records that the unpersisted version in at p has no copy left, if p still
// holds exactly that version (a compare-and-set on its content id).
func (f *FS) markLost(p string, in *inode.Inode) {
	if in == nil || in.IsDir() || in.Persist() == inode.Persisted {
		return
	}
	rec := f.ns().Record(in)
	rec.Persist, rec.Pinned = inode.Lost, false
	_ = f.apply(&namespace.Entry{Op: namespace.OpUpdate, Path: p, Node: rec}, nil)
}

// maybeCheckpoint writes a checkpoint when the journal grew past the threshold. One runs
// at a time, in the background.
func (f *FS) maybeCheckpoint() {
	if j := f.jnl(); j == nil || j.SizeSinceCheckpoint() < f.checkpointBytes {
		return
	}
	if !f.checkpointing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer f.checkpointing.Store(false)
		if err := f.Checkpoint(); err != nil {
			f.log.Warn("unifiedfs: journal checkpoint failed", "err", err)
		}
	}()
}

// Checkpoint writes a snapshot of the durable namespace state to the journal and
// compacts the entries it covers. It is a no-op without Config.JournalDir. The FS calls
// it by itself as the journal grows; Close calls it once more.
func (f *FS) Checkpoint() error {
	j := f.jnl()
	if j == nil {
		return nil
	}
	f.applyMu.Lock()
	snap, err := f.ns().Snapshot()
	seq := j.LastSeq()
	f.applyMu.Unlock()
	if err != nil {
		return err
	}
	return j.Checkpoint(snap, seq)
}
