package unifiedfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/journal"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// What the journal holds. Every durable mutation's entry is appended (under applyMu,
// so sequence order is apply order) and fsynced before the call returns. Entries derived
// from the UFS (loads, sync updates) are volatile: after a restart, persisted metadata is
// loaded again lazily, so only state that cannot be re-derived from the UFS is kept —
// mounts with their options, entries that are not persisted (and the directories on
// their way), persist states (the async-persist queue is every ToBePersisted file), and
// sync points. A checkpoint is the list of entries that rebuilds that state.

// defaultCheckpointBytes triggers a checkpoint when the journal grew this much.
const defaultCheckpointBytes = 16 << 20

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
	f.journal = j
	return rec, nil
}

// appendEntry queues e in the journal; applyMu must be held. It returns nil when e is
// not journaled.
func (f *FS) appendEntry(e *entry) (journal.Ticket, error) {
	if f.journal == nil || f.replaying || e.Volatile || e.Op == opLoad {
		return nil, nil
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("unifiedfs: encoding journal entry: %w", err)
	}
	return f.journal.Append(data), nil
}

// replay rebuilds the namespace from a recovered journal: the checkpoint's entries, then
// the tail. Entries that no longer fit (they referred to metadata loaded from the UFS,
// which is loaded again lazily) are skipped.
func (f *FS) replay(ctx context.Context, rec *journal.Recovered) error {
	f.replaying = true
	defer func() { f.replaying = false }()
	var maxID uint64
	run := func(data []byte) error {
		var e entry
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("unifiedfs: journal entry: %w", err)
		}
		if e.Node != nil {
			maxID = max(maxID, e.Node.ID)
		}
		var opened ufs.UFS
		if e.Op == opMount {
			opened = f.reopenMount(ctx, e.Mount)
		}
		if err := f.apply(&e, opened); err != nil && opened != nil {
			_ = opened.Close()
		}
		return nil
	}
	if rec.Checkpoint != nil {
		var snap []json.RawMessage
		if err := json.Unmarshal(rec.Checkpoint, &snap); err != nil {
			return fmt.Errorf("unifiedfs: journal checkpoint: %w", err)
		}
		for _, raw := range snap {
			if err := run(raw); err != nil {
				return err
			}
		}
	}
	for _, r := range rec.Entries {
		if err := run(r.Data); err != nil {
			return err
		}
	}
	if n := f.nextID.Load(); maxID > n {
		f.nextID.Store(maxID)
	}
	return nil
}

// reopenMount opens a journaled mount's UFS. A UFS that cannot be reached is kept,
// reporting the failure on every operation (and in Mounts), rather than dropped.
func (f *FS) reopenMount(ctx context.Context, r *mountRecord) ufs.UFS {
	u, err := f.reg.Open(ctx, r.URI, r.Options)
	if err != nil {
		f.log.Warn("unifiedfs: mount from the journal is unreachable; kept", "uri", r.URI, "err", err)
		return &brokenUFS{err: err}
	}
	return u
}

// recoverFiles runs after replay: files that were being written when the process died
// are removed; unpersisted files whose blocks are not all in the disk tier become Lost;
// ToBePersisted files are queued again.
func (f *FS) recoverFiles() {
	pinned := map[uint64]cache.PinnedFile{}
	for _, pf := range f.cache.PinnedFiles() {
		pinned[pf.ID] = pf
	}
	var incomplete, lost []string
	var queue []*inode.Inode
	var queuePaths []string
	owned := map[uint64]bool{} // pinned ids some file still needs
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
			if in.Size > 0 && (!ok || !pf.Contiguous || pf.Bytes != in.Size) {
				lost = append(lost, p)
			} else if in.Persist() == inode.ToBePersisted {
				queue = append(queue, in)
				queuePaths = append(queuePaths, p)
			}
		}
	}
	walk(ufs.Root, f.root.Load())
	// Pinned blocks nobody needs: a file persisted before the crash (its unpin was lost)
	// or one whose completion never reached the journal.
	for id := range pinned {
		if !owned[id] {
			f.cache.Drop(id)
		}
	}
	for _, p := range incomplete {
		f.log.Warn("unifiedfs: removing a file whose write did not complete before the restart", "path", ufs.Rooted(p))
		_ = f.apply(&entry{Op: opDelete, Path: p}, nil)
	}
	for _, p := range lost {
		in := f.lookupLoaded(p)
		f.log.Warn("unifiedfs: unpersisted file lost: its cached blocks are gone", "path", ufs.Rooted(p))
		_ = f.apply(&entry{Op: opUpdate, Path: p, Volatile: true, Node: &nodeRecord{ID: in.ID, Size: in.Size, MTime: in.MTime, Persist: inode.Lost}}, nil)
	}
	for i, in := range queue {
		f.persist.enqueue(in.ID, queuePaths[i])
	}
}

// maybeCheckpoint writes a checkpoint when the journal grew past the threshold. One runs
// at a time, in the background.
func (f *FS) maybeCheckpoint() {
	if f.journal == nil || f.replaying || f.journal.SizeSinceCheckpoint() < f.checkpointBytes {
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
	if f.journal == nil {
		return nil
	}
	f.applyMu.Lock()
	snap, err := f.snapshotLocked()
	seq := f.journal.LastSeq()
	f.applyMu.Unlock()
	if err != nil {
		return err
	}
	return f.journal.Checkpoint(snap, seq)
}

// snapshotLocked encodes the entries that rebuild the durable state; applyMu held.
func (f *FS) snapshotLocked() ([]byte, error) {
	var out []json.RawMessage
	add := func(e *entry) error {
		b, err := json.Marshal(e)
		out = append(out, b)
		return err
	}
	mounts := f.mounts.Load()
	var walk func(p string, in *inode.Inode) error
	walk = func(p string, in *inode.Inode) error {
		if p != ufs.Root {
			switch {
			case in.IsMount():
				m := mounts.byID[in.Dir().MountID.Load()]
				if m == nil {
					return nil
				}
				rec := &mountRecord{ID: m.id, URI: m.uri.String(), Options: m.options, ReadOnly: m.readOnly, Shared: m.shared}
				if err := add(&entry{Op: opMount, Path: p, Mount: rec}); err != nil {
					return err
				}
			case !in.IsDir() && in.Persist() != inode.Persisted || in.IsDir() && in.Persist() != inode.Persisted:
				if err := add(&entry{Op: opCreate, Path: p, Node: recordOf(in)}); err != nil {
					return err
				}
			case !in.IsDir():
				return nil // persisted files are loaded again from the UFS
			}
		}
		if d := in.Dir(); d != nil {
			var err error
			d.Range(func(c *inode.Inode) bool {
				err = walk(ufs.Join(p, c.Name), c)
				return err == nil
			})
			return err
		}
		return nil
	}
	if err := walk(ufs.Root, f.root.Load()); err != nil {
		return nil, err
	}
	for _, sp := range f.active.snapshot() {
		if err := add(&entry{Op: opAddSyncPoint, Path: sp.path}); err != nil {
			return nil, err
		}
	}
	return json.Marshal(out)
}

// recordOf is the serialisable form of an inode.
func recordOf(in *inode.Inode) *nodeRecord {
	return &nodeRecord{Dir: in.IsDir(), ID: in.ID, Size: in.Size, MTime: in.MTime, Hash: in.Hash,
		Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode, Persist: in.Persist(),
		Open: in.Flags&inode.FlagOpen != 0, Pinned: in.Flags&inode.FlagPinned != 0}
}

// ensureParents creates the missing ancestors of p as persisted directories that were
// never listed, during replay only: they stand for directories that were loaded from the
// UFS (volatile) and will be loaded again lazily. applyMu held.
func (f *FS) ensureParents(p string) {
	if !f.replaying || p == ufs.Root {
		return
	}
	dir, _ := ufs.Split(p)
	if f.lookupLoaded(dir) != nil {
		return
	}
	f.ensureParents(dir)
	parent := f.lookupLoaded(parentPath(dir))
	if parent == nil || !parent.IsDir() {
		return
	}
	parent.Dir().Put(inode.NewDir(ufs.Base(dir), f.defDir, 0, inode.Persisted))
}

// brokenUFS stands for a journaled mount whose UFS cannot be reached: every operation
// reports the error that opening it gave.
type brokenUFS struct{ err error }

func (b *brokenUFS) fail(op, p string) error {
	return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("UFS unreachable since restart: %w", b.err)}
}
func (b *brokenUFS) Stat(_ context.Context, p string) (ufs.Status, error) {
	return ufs.Status{}, b.fail("stat", p)
}
func (b *brokenUFS) List(_ context.Context, p string, _ ufs.ListOptions) (ufs.ListPage, error) {
	return ufs.ListPage{}, b.fail("list", p)
}
func (b *brokenUFS) OpenRange(_ context.Context, p string, _, _ int64) (io.ReadCloser, error) {
	return nil, b.fail("open", p)
}
func (b *brokenUFS) Create(_ context.Context, p string, _ ufs.CreateOptions) (ufs.Writer, error) {
	return nil, b.fail("create", p)
}
func (b *brokenUFS) Mkdir(_ context.Context, p string) error       { return b.fail("mkdir", p) }
func (b *brokenUFS) Remove(_ context.Context, p string) error      { return b.fail("remove", p) }
func (b *brokenUFS) RemoveAll(_ context.Context, p string) error   { return b.fail("removeall", p) }
func (b *brokenUFS) Rename(_ context.Context, src, _ string) error { return b.fail("rename", src) }
func (b *brokenUFS) Capabilities() ufs.Capabilities                { return ufs.Capabilities{Kind: "unreachable"} }
func (b *brokenUFS) Close() error                                  { return nil }

// mountErr reports why a mount is unusable ("" when it works).
func mountErr(m *mount) string {
	if b, ok := m.ufs.(*brokenUFS); ok {
		return b.err.Error()
	}
	return ""
}
