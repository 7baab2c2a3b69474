package unifiedfs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/journal"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Every change of namespace state is a namespace.Entry handed to apply: the FS does the
// UFS I/O first, then submits the entry; the namespace checks it, the journal makes it
// durable, the namespace applies it, and the FS acts on the effects (cached blocks of
// released versions, UFS handles of mounts). Nothing else changes the replicated state.

// apply checks e, journals it (when there is a journal and e is durable), applies it and
// acts on its effects; opened is the UFS of an OpMount, opened by the caller outside the
// lock. A rejected entry changes nothing and never reaches the journal. The call returns
// once the entry is on disk: concurrent callers share one fsync.
func (f *FS) apply(e *namespace.Entry, opened ufs.UFS) error {
	f.applyMu.Lock()
	if err := f.ns().Check(e); err != nil {
		f.applyMu.Unlock()
		return err
	}
	ticket, err := f.appendEntry(e)
	if err != nil {
		f.applyMu.Unlock()
		if errors.Is(err, ErrNotLeader) {
			return err
		}
		return pathErr("journal", e.Path, err)
	}
	eff, err := f.ns().Apply(e)
	var closing []*mount
	if err == nil {
		closing = f.effectsLocked(e, eff, opened)
	} else if ticket != nil {
		// Check passed, so this is a bug of the namespace package: the journal now holds an
		// entry that replay will report as skipped.
		f.log.Error("unifiedfs: a checked entry failed to apply", "op", e.Op.String(), "path", ufs.Rooted(e.Path), "err", err)
	}
	f.applyMu.Unlock()
	f.closeMounts(closing)
	if ticket != nil {
		werr := ticket.Wait()
		if werr != nil && f.ha != nil {
			f.ha.journalFailed()
		}
		if errors.Is(werr, journal.ErrFenced) {
			// A deposed leader: the change is not history (every member drops it).
			return pathErr(e.Op.String(), e.Path, fmt.Errorf("%w: this member lost its leadership before the change was acknowledged: %w", ErrNotLeader, werr))
		}
		if werr != nil && f.ha != nil {
			return pathErr(e.Op.String(), e.Path, fmt.Errorf("%w: the shared journal failed, so this member gives its leadership up: %w", ErrNotLeader, werr))
		}
		if werr != nil {
			return pathErr("journal", e.Path, fmt.Errorf("namespace change not durable: %w", werr))
		}
		f.maybeCheckpoint()
	}
	return err
}

// effectsLocked acts on what an applied entry changed for this member; applyMu held. It
// returns the mounts whose UFS the caller closes once the lock is released.
func (f *FS) effectsLocked(e *namespace.Entry, eff namespace.Effects, opened ufs.UFS) []*mount {
	switch e.Op {
	case namespace.OpCreate, namespace.OpComplete, namespace.OpMount:
		f.absent.forget(e.Path)
	case namespace.OpRename:
		f.absent.forget(e.Dst)
		f.versions.renamed(e.Path, e.Dst)
	}
	var closing []*mount
	if m := eff.Mounted; m != nil {
		u := opened
		if u == nil {
			u = &brokenUFS{err: errors.New("mount applied without its UFS")}
		}
		f.setMount(&mount{Mount: m, ufs: u, caps: u.Capabilities()})
		f.absent.clear()
	}
	if m := eff.Remounted; m != nil {
		f.remountLocked(m, opened)
	}
	for _, m := range eff.Unmounted {
		if h := f.mountByID(m.ID); h != nil {
			closing = append(closing, h)
		}
		f.removeMount(m.ID)
		f.absent.clear()
	}
	f.versions.treeReleased(f, eff.Released)
	return closing
}

func (f *FS) closeMounts(ms []*mount) {
	for _, m := range ms {
		if err := m.ufs.Close(); err != nil {
			f.log.Warn("unifiedfs: closing unmounted UFS", "path", ufs.Rooted(m.Path), "uri", m.URI.String(), "err", err)
		}
	}
}

// mountByID returns the mount with id (its UFS handle), or nil.
func (f *FS) mountByID(id uint32) *mount { return (*f.mounts.Load())[id] }

// liveMount returns the mount m is now: the same mount with the UFS an UpdateMount swapped
// in since m was resolved, or m itself once unmounted (mount ids are never reused).
func (f *FS) liveMount(m *mount) *mount {
	if cur := f.mountByID(m.ID); cur != nil {
		return cur
	}
	return m
}

func (f *FS) setMount(m *mount) {
	cur := *f.mounts.Load()
	next := make(map[uint32]*mount, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[m.ID] = m
	f.mounts.Store(&next)
}

func (f *FS) removeMount(id uint32) {
	cur := *f.mounts.Load()
	next := make(map[uint32]*mount, len(cur))
	for k, v := range cur {
		if k != id {
			next[k] = v
		}
	}
	f.mounts.Store(&next)
}

// inodesFromStatuses builds the inodes of sts[i] (entries of the directory dir, in mount
// m) for which want(i) is true, nil elsewhere; the files of one call share one
// allocation, which matters to the garbage collector when a sync loads millions of them.
func (f *FS) inodesFromStatuses(m *mount, dir string, sts []ufs.Status, want func(int) bool) []*inode.Inode {
	var out []*inode.Inode
	var slab []inode.Inode
	uri := m.URI.String()
	for i, st := range sts {
		if !want(i) {
			continue
		}
		if out == nil {
			out = make([]*inode.Inode, len(sts))
		}
		if st.IsDir {
			out[i] = f.ns().InodeFromStatus(st, 0)
			continue
		}
		if len(slab) == 0 {
			slab = make([]inode.Inode, len(sts)-i)
		}
		id := namespace.LoadedID(uri, ufs.Rel(m.Path, ufs.Join(dir, st.Name)), st.Size, st.ContentHash)
		f.ns().FillFile(&slab[0], st, id)
		out[i], slab = &slab[0], slab[1:]
	}
	return out
}

// idAllocator draws content ids for files written through the namespace. Ids below the
// namespace's journaled watermark may have been used (by this member before a restart, or
// by an earlier leader), so the allocator starts above it and journals a higher one
// before it hands out ids past it.
type idAllocator struct {
	mu   sync.Mutex
	next uint64
}

// idBatch is how many ids one journaled watermark covers.
const idBatch = 1 << 20

// next returns a fresh content id.
func (f *FS) newID() (uint64, error) {
	a := &f.ids
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= f.ns().IDHigh() {
		if err := f.apply(&namespace.Entry{Op: namespace.OpAllocIDs, Path: ufs.Root, IDHigh: a.next + idBatch}, nil); err != nil {
			return 0, err
		}
	}
	a.next++
	return a.next, nil
}

// startIDs sets the allocator after recovery: above the watermark and above the clock in
// ns, so that ids stay unique also without a journal (blocks in a disk tier outlive the
// process).
func (f *FS) startIDs() {
	f.ids.mu.Lock()
	f.ids.next = max(f.ns().IDHigh(), uint64(f.now().UnixNano())) &^ namespace.LoadedBit
	f.ids.mu.Unlock()
}
