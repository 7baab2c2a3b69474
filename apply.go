package unifiedfs

import (
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// entryOp names a namespace mutation.
type entryOp uint8

const (
	opMount           entryOp = iota + 1 // add a mount (and its mount-point directory)
	opUnmount                            // remove a mount and its subtree
	opCreate                             // add a file or directory
	opComplete                           // finish a file being written
	opUpdate                             // replace a file's or directory's attributes
	opRename                             // move an entry
	opDelete                             // remove an entry and its subtree
	opLoad                               // add entries found in the UFS (metadata only)
	opAddSyncPoint                       // register an active-sync point
	opRemoveSyncPoint                    // remove an active-sync point
)

// entry is one namespace mutation. It is a plain value so that the journal can write it
// and a standby can replay it; apply is the only code that changes the tree.
type entry struct {
	Op   entryOp
	Path string // clean namespace path
	Dst  string // opRename: destination
	// Node describes the entry for opCreate (the new inode), opComplete and opUpdate
	// (attributes to set; ID must match the current content id unless zero).
	Node *nodeRecord `json:",omitempty"`
	// Mount is the mount for opMount.
	Mount *mountRecord `json:",omitempty"`
	// Overwrite lets opCreate replace an existing file.
	Overwrite bool `json:",omitempty"`
	// Loaded are UFS statuses for opLoad, children of Path; Complete marks Path's listing
	// as fully loaded at SyncedAt.
	Loaded   []ufs.Status `json:",omitempty"`
	Complete bool         `json:",omitempty"`
	SyncedAt int64        `json:",omitempty"`
	// Volatile entries (derived from the UFS, or from configuration) are not journaled.
	Volatile bool `json:"-"`
	// built holds, parallel to Loaded, inodes already made from the statuses (by a sync's
	// prefetch workers, off the apply lock); nil elements are made by apply.
	built []*inode.Inode
}

// nodeRecord is the serialisable form of an inode's attributes.
type nodeRecord struct {
	Dir     bool               `json:",omitempty"`
	ID      uint64             `json:",omitempty"`
	Size    int64              `json:",omitempty"`
	MTime   int64              `json:",omitempty"`
	Hash    string             `json:",omitempty"`
	Owner   string             `json:",omitempty"`
	Group   string             `json:",omitempty"`
	Mode    fs.FileMode        `json:",omitempty"`
	Persist inode.PersistState `json:",omitempty"`
	Open    bool               `json:",omitempty"` // being written
	Pinned  bool               `json:",omitempty"`
}

// mountRecord is the serialisable form of a mount.
type mountRecord struct {
	ID       uint32
	URI      string
	Options  map[string]string `json:",omitempty"`
	ReadOnly bool              `json:",omitempty"`
	Shared   bool              `json:",omitempty"`
}

// apply performs one mutation under applyMu. opened is the UFS of an opMount (opened by
// the caller, outside the lock). It returns an error, without changing anything, when the
// entry no longer fits the tree (a concurrent operation won a race).
// The entry is appended to the journal first (when there is one and e is durable) and
// the call returns once it is on disk: concurrent callers share one fsync.
func (f *FS) apply(e *entry, opened ufs.UFS) error {
	f.applyMu.Lock()
	ticket, err := f.appendEntry(e)
	if err == nil {
		err = f.applyLocked(e, opened)
	}
	f.applyMu.Unlock()
	if ticket != nil {
		if werr := ticket.Wait(); werr != nil {
			return pathErr("journal", e.Path, fmt.Errorf("namespace change not durable: %w", werr))
		}
		f.maybeCheckpoint()
	}
	return err
}

func (f *FS) applyLocked(e *entry, opened ufs.UFS) error {
	switch e.Op {
	case opMount:
		return f.applyMount(e, opened)
	case opUnmount:
		return f.applyUnmount(e)
	case opCreate:
		return f.applyCreate(e)
	case opComplete, opUpdate:
		return f.applyUpdate(e)
	case opRename:
		return f.applyRename(e)
	case opDelete:
		return f.applyDelete(e)
	case opLoad:
		return f.applyLoad(e)
	case opAddSyncPoint, opRemoveSyncPoint:
		return f.applySyncPoint(e)
	}
	return pathErr("apply", e.Path, errorf(fs.ErrInvalid, "unknown entry op %d", e.Op))
}

// parentDir returns the directory inode that holds p; applyMu must be held.
func (f *FS) parentDir(op, p string) (*inode.Inode, string, error) {
	dir, name := ufs.Split(p)
	parent := f.lookupLoaded(dir)
	if parent == nil {
		return nil, "", pathErr(op, dir, fs.ErrNotExist)
	}
	if !parent.IsDir() {
		return nil, "", pathErr(op, dir, ErrNotDir)
	}
	return parent, name, nil
}

// lookupLoaded walks the in-memory tree only (no UFS access); nil when p is absent.
func (f *FS) lookupLoaded(p string) *inode.Inode {
	cur := f.root.Load()
	if p == ufs.Root {
		return cur
	}
	for rest := p; ; {
		name, tail, more := cut(rest)
		d := cur.Dir()
		if d == nil {
			return nil
		}
		cur = d.Lookup(name)
		if cur == nil || !more {
			return cur
		}
		rest = tail
	}
}

// cut splits "a/b/c" into "a", "b/c", true.
func cut(p string) (string, string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

// replace publishes a new version of the inode at p (which must exist); applyMu held.
func (f *FS) replace(p string, in *inode.Inode) {
	if p == ufs.Root {
		f.root.Store(in)
		return
	}
	dir, _ := ufs.Split(p)
	f.lookupLoaded(dir).Dir().Put(in)
}

func (f *FS) nodeFrom(name string, r *nodeRecord) *inode.Inode {
	mode := r.Mode.Perm()
	owner := f.defOwner
	if r.Dir {
		owner = f.defDir
	}
	if r.Owner != "" || r.Group != "" || mode != 0 {
		if mode == 0 {
			mode = owner.Mode
		}
		owner = f.owners.Intern(inode.Owner{Owner: r.Owner, Group: r.Group, Mode: mode})
	}
	var in *inode.Inode
	if r.Dir {
		in = inode.NewDir(name, owner, r.MTime, r.Persist)
	} else {
		in = &inode.Inode{Name: name, ID: r.ID, Size: r.Size, MTime: r.MTime, Hash: r.Hash, Owner: owner}
		in = in.WithPersist(r.Persist)
		if r.Open {
			in.Flags |= inode.FlagOpen
		}
		if r.Pinned {
			in.Flags |= inode.FlagPinned
		}
	}
	return in
}

func (f *FS) applyCreate(e *entry) error {
	f.ensureParents(e.Path)
	parent, name, err := f.parentDir("create", e.Path)
	if err != nil {
		return err
	}
	if old := parent.Dir().Lookup(name); old != nil {
		if !e.Overwrite || old.IsDir() || old.IsMount() {
			return pathErr("create", e.Path, fs.ErrExist)
		}
		f.cache.Drop(old.ID)
	}
	parent.Dir().Put(f.nodeFrom(name, e.Node))
	f.absent.forget(e.Path)
	return nil
}

func (f *FS) applyUpdate(e *entry) error {
	cur := f.lookupLoaded(e.Path)
	if cur == nil && f.replaying && e.Op == opComplete {
		// The file's (volatile) creation is not in the journal: its completion carries
		// the whole record.
		f.ensureParents(e.Path)
		parent, name, err := f.parentDir("complete", e.Path)
		if err != nil {
			return err
		}
		parent.Dir().Put(f.nodeFrom(name, e.Node))
		return nil
	}
	if cur == nil {
		return pathErr("update", e.Path, fs.ErrNotExist)
	}
	r := e.Node
	if r.ID != 0 && !cur.IsDir() && cur.ID != r.ID && e.Op == opComplete {
		return pathErr("complete", e.Path, errorf(fs.ErrNotExist, "file was replaced while being written"))
	}
	next := cur.Clone()
	if !cur.IsDir() {
		if r.ID != 0 && r.ID != cur.ID {
			f.cache.Drop(cur.ID)
			next.ID = r.ID
		}
		next.Size, next.Hash = r.Size, r.Hash
		next.Flags &^= inode.FlagOpen | inode.FlagPinned
		if r.Open {
			next.Flags |= inode.FlagOpen
		}
		if r.Pinned {
			next.Flags |= inode.FlagPinned
		}
	}
	if r.MTime != 0 {
		next.MTime = r.MTime
	}
	if r.Owner != "" || r.Group != "" || r.Mode != 0 {
		next.Owner = f.owners.Intern(inode.Owner{Owner: r.Owner, Group: r.Group, Mode: r.Mode.Perm()})
	}
	next = next.WithPersist(r.Persist)
	f.replace(e.Path, next)
	return nil
}

func (f *FS) applyRename(e *entry) error {
	src := f.lookupLoaded(e.Path)
	if src == nil {
		return pathErr("rename", e.Path, fs.ErrNotExist)
	}
	if e.Path == ufs.Root || ufs.IsWithin(e.Dst, e.Path) {
		return pathErr("rename", e.Path, errorf(fs.ErrInvalid, "cannot move %s into itself", ufs.Rooted(e.Path)))
	}
	f.ensureParents(e.Dst)
	dstParent, dstName, err := f.parentDir("rename", e.Dst)
	if err != nil {
		return err
	}
	if dstParent.Dir().Lookup(dstName) != nil {
		return pathErr("rename", e.Dst, fs.ErrExist)
	}
	srcDir, _ := ufs.Split(e.Path)
	f.lookupLoaded(srcDir).Dir().Delete(src.Name)
	dstParent.Dir().Put(src.Renamed(dstName))
	f.absent.forget(e.Dst)
	return nil
}

func (f *FS) applyDelete(e *entry) error {
	if e.Path == ufs.Root {
		return pathErr("delete", e.Path, errorf(fs.ErrInvalid, "cannot delete the root"))
	}
	cur := f.lookupLoaded(e.Path)
	if cur == nil {
		return pathErr("delete", e.Path, fs.ErrNotExist)
	}
	f.dropSubtree(cur)
	dir, _ := ufs.Split(e.Path)
	f.lookupLoaded(dir).Dir().Delete(cur.Name)
	return nil
}

// dropSubtree frees the cached blocks of every file at or below in.
func (f *FS) dropSubtree(in *inode.Inode) {
	if !in.IsDir() {
		f.cache.Drop(in.ID)
		return
	}
	in.Dir().Range(func(c *inode.Inode) bool { f.dropSubtree(c); return true })
}

// applyLoad adds UFS entries below e.Path that the namespace does not have yet. Entries
// the namespace has are left alone (the sync engine updates them), temporary upload names
// are skipped, and on object stores a file wins over a directory of the same name.
func (f *FS) applyLoad(e *entry) error {
	dirIno := f.lookupLoaded(e.Path)
	if dirIno == nil || !dirIno.IsDir() {
		return pathErr("load", e.Path, fs.ErrNotExist)
	}
	d := dirIno.Dir()
	sts, built := e.Loaded, e.built
	if len(built) != len(sts) {
		built = make([]*inode.Inode, len(sts))
	}
	if !sort.SliceIsSorted(sts, func(i, j int) bool { return sts[i].Name < sts[j].Name }) {
		idx := make([]int, len(sts))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return sts[idx[a]].Name < sts[idx[b]].Name })
		s2, b2 := make([]ufs.Status, len(sts)), make([]*inode.Inode, len(sts))
		for i, j := range idx {
			s2[i], b2[i] = sts[j], built[j]
		}
		sts, built = s2, b2
	}
	add := make([]*inode.Inode, 0, len(sts))
	for i, st := range sts {
		if ufs.IsTempName(st.Name) || i > 0 && sts[i-1].Name == st.Name && !sts[i-1].IsDir {
			continue
		}
		if i+1 < len(sts) && sts[i+1].Name == st.Name && st.IsDir && !sts[i+1].IsDir {
			continue // the file of the same name comes next and wins
		}
		if d.Lookup(st.Name) != nil {
			continue
		}
		if in := built[i]; in != nil {
			add = append(add, in)
		} else {
			add = append(add, f.inodeFromStatus(st))
		}
	}
	d.PutSorted(add)
	if e.Complete {
		d.SyncedAt.Store(e.SyncedAt)
	}
	return nil
}

// inodeFromStatus builds a persisted inode from a UFS status.
func (f *FS) inodeFromStatus(st ufs.Status) *inode.Inode {
	if st.IsDir {
		return inode.NewDir(st.Name, f.ownerOf(st, f.defDir), unixNano(st.ModTime), inode.Persisted)
	}
	in := new(inode.Inode)
	f.fillFile(in, st)
	return in
}

// fillFile sets *in to the persisted file described by st.
func (f *FS) fillFile(in *inode.Inode, st ufs.Status) {
	*in = inode.Inode{Name: st.Name, ID: f.newID(), Size: st.Size, MTime: unixNano(st.ModTime), Hash: st.ContentHash,
		Owner: f.ownerOf(st, f.defOwner), Flags: inode.Flags(inode.Persisted)}
}

// inodesFromStatuses builds the inodes of sts[i] for which want(i) is true (nil
// elsewhere); the files of one call share one allocation, which matters to the garbage
// collector when a sync loads millions of them.
func (f *FS) inodesFromStatuses(sts []ufs.Status, want func(int) bool) []*inode.Inode {
	var out []*inode.Inode
	var slab []inode.Inode
	for i, st := range sts {
		if !want(i) {
			continue
		}
		if out == nil {
			out = make([]*inode.Inode, len(sts))
		}
		if st.IsDir {
			out[i] = f.inodeFromStatus(st)
			continue
		}
		if len(slab) == 0 {
			slab = make([]inode.Inode, len(sts)-i)
		}
		f.fillFile(&slab[0], st)
		out[i], slab = &slab[0], slab[1:]
	}
	return out
}

// ownerOf returns the interned owner a status implies, or def when it carries none.
func (f *FS) ownerOf(st ufs.Status, def *inode.Owner) *inode.Owner {
	if st.Owner == "" && st.Group == "" && st.Mode == 0 {
		return def
	}
	mode := st.Mode.Perm()
	if mode == 0 {
		mode = def.Mode
	}
	return f.owners.Intern(inode.Owner{Owner: st.Owner, Group: st.Group, Mode: mode})
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
