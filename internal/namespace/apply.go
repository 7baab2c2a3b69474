package namespace

import (
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"sort"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Effects are what a member must do after an entry applied: they concern its own
// resources (cached blocks, open UFS handles), never the replicated state.
type Effects struct {
	// Released lists the content ids the tree no longer holds (a file deleted,
	// overwritten or changed in the UFS). Their blocks may go once no reader holds them.
	Released []uint64
	// Mounted is the mount an OpMount added: open its UFS.
	Mounted *Mount
	// Unmounted are the mounts removed (OpUnmount, OpDelete with Unmount): close them.
	Unmounted []*Mount
	// Remounted is the mount an OpUpdateMount changed: swap its UFS for one opened with
	// the new options.
	Remounted *Mount
}

func pathErr(op, p string, err error) error {
	return &fs.PathError{Op: op, Path: ufs.Rooted(p), Err: err}
}

func errorf(sentinel error, format string, a ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, a...))
}

// Check reports whether e applies to the current state, changing nothing. The error is
// a *fs.PathError naming e.Path with the reason (fs.ErrNotExist, fs.ErrExist, ...).
func (s *State) Check(e *Entry) error {
	switch e.Op {
	case OpMount:
		return s.checkMount(e)
	case OpUnmount:
		_, err := s.unmountTarget(e.Path)
		return err
	case OpCreate:
		return s.checkCreate(e)
	case OpComplete:
		return s.checkComplete(e)
	case OpUpdate:
		_, err := s.updateTarget(e)
		return err
	case OpRename:
		return s.checkRename(e)
	case OpDelete:
		return s.checkDelete(e)
	case OpLoad:
		if in := s.Lookup(e.Path); in == nil || !in.IsDir() {
			return pathErr("load", e.Path, fs.ErrNotExist)
		}
		return nil
	case OpAddSyncPoint:
		if in := s.Lookup(e.Path); in == nil || !in.IsDir() {
			return pathErr("startSync", e.Path, errorf(ufs.ErrNotDir, "%s is not a directory", ufs.Rooted(e.Path)))
		}
		if _, ok := slices.BinarySearch(s.SyncPoints(), e.Path); ok {
			return pathErr("startSync", e.Path, errorf(fs.ErrExist, "%s is already a sync point", ufs.Rooted(e.Path)))
		}
		return nil
	case OpRemoveSyncPoint:
		if _, ok := slices.BinarySearch(s.SyncPoints(), e.Path); !ok {
			return pathErr("stopSync", e.Path, errorf(fs.ErrNotExist, "%s is not a sync point", ufs.Rooted(e.Path)))
		}
		return nil
	case OpSetAttr:
		return s.checkSetAttr(e)
	case OpUpdateMount:
		_, err := s.updateMountTarget(e)
		return err
	case OpAllocIDs:
		if e.IDHigh <= s.idHigh && e.MountHigh <= s.nextMount {
			return pathErr("allocIDs", e.Path, errorf(fs.ErrInvalid, "watermark %d is not above %d", e.IDHigh, s.idHigh))
		}
		return nil
	}
	return pathErr("apply", e.Path, errorf(fs.ErrInvalid, "unknown entry op %d", e.Op))
}

// Apply applies e and returns its effects. It is deterministic: the same entries applied
// to the same durable state give the same durable state. On an entry that cannot apply
// at all (it refers to what this state does not have and cannot stand in for), it
// changes nothing and returns the reason; replay reports such entries as skipped.
func (s *State) Apply(e *Entry) (eff Effects, err error) {
	s.applied.Add(1)
	defer s.applied.Add(1)
	defer func() {
		if err == nil {
			s.noteRequest(e.ReqID)
			for _, r := range e.Reqs {
				s.noteRequest(r)
			}
			for _, id := range eff.Released {
				s.setHolder(id, "")
			}
		}
	}()
	switch e.Op {
	case OpMount:
		return s.applyMount(e)
	case OpUnmount:
		return s.applyUnmount(e)
	case OpCreate:
		return s.applyCreate(e)
	case OpComplete:
		return s.applyComplete(e)
	case OpUpdate:
		return s.applyUpdate(e)
	case OpRename:
		return s.applyRename(e)
	case OpDelete:
		return s.applyDelete(e)
	case OpLoad:
		return Effects{}, s.applyLoad(e)
	case OpAddSyncPoint, OpRemoveSyncPoint:
		// A sync point is a path: its directory is persisted, so a member may not have
		// loaded it yet.
		_, exists := slices.BinarySearch(s.SyncPoints(), e.Path)
		if add := e.Op == OpAddSyncPoint; add == exists {
			if add {
				return Effects{}, pathErr("startSync", e.Path, errorf(fs.ErrExist, "%s is already a sync point", ufs.Rooted(e.Path)))
			}
			return Effects{}, pathErr("stopSync", e.Path, errorf(fs.ErrNotExist, "%s is not a sync point", ufs.Rooted(e.Path)))
		}
		s.setSyncPoint(e.Path, e.Op == OpAddSyncPoint)
		return Effects{}, nil
	case OpSetAttr:
		return s.applySetAttr(e)
	case OpUpdateMount:
		return s.applyUpdateMount(e)
	case OpAllocIDs:
		s.idHigh = max(s.idHigh, e.IDHigh)
		s.nextMount = max(s.nextMount, e.MountHigh)
		return Effects{}, nil
	}
	return Effects{}, pathErr("apply", e.Path, errorf(fs.ErrInvalid, "unknown entry op %d", e.Op))
}

// parentDir returns the directory that holds p; the error names p.
func (s *State) parentDir(op, p string) (*inode.Inode, string, error) {
	dir, name := ufs.Split(p)
	parent := s.Lookup(dir)
	if parent == nil {
		return nil, "", pathErr(op, p, errorf(fs.ErrNotExist, "parent directory %s does not exist", ufs.Rooted(dir)))
	}
	if !parent.IsDir() {
		return nil, "", pathErr(op, p, errorf(ufs.ErrNotDir, "parent %s is a file", ufs.Rooted(dir)))
	}
	return parent, name, nil
}

// ensureParents makes p's missing ancestors, as persisted directories never listed: they
// stand for directories a member loads again from the UFS. An ancestor that is a file
// here (loaded before it was replaced by a directory) gives way. It returns the released
// ids.
func (s *State) ensureParents(p string, eff *Effects) {
	if p == ufs.Root {
		return
	}
	dir, _ := ufs.Split(p)
	if in := s.Lookup(dir); in != nil && in.IsDir() {
		return
	}
	s.ensureParents(dir, eff)
	parent := s.Lookup(parentOf(dir))
	name := ufs.Base(dir)
	if old := parent.Dir().Lookup(name); old != nil {
		collect(old, &eff.Released)
	}
	s.putNew(parent.Dir(), inode.NewDir(name, s.defDir, 0, inode.Persisted))
}

func parentOf(p string) string { d, _ := ufs.Split(p); return d }

// replace publishes a new version of the entry at p, which exists.
func (s *State) replace(p string, in *inode.Inode) {
	if p == ufs.Root {
		s.root.Store(in)
		return
	}
	s.putVersion(s.Lookup(parentOf(p)).Dir(), in)
}

// Counts: the entries of the tree by kind, kept as the tree changes, so that reporting
// them costs no walk.

// putNew puts in (a new entry, or one moved in) into d, replacing what had its name.
func (s *State) putNew(d *inode.Dir, in *inode.Inode) {
	if old := d.Lookup(in.Name); old != nil {
		s.countTree(old, -1)
	}
	d.Put(in)
	s.countTree(in, 1)
}

// putVersion puts a new version of an entry of d that shares the old one's children.
func (s *State) putVersion(d *inode.Dir, in *inode.Inode) {
	if old := d.Lookup(in.Name); old != nil {
		s.count(old, -1)
	}
	d.Put(in)
	s.count(in, 1)
}

// remove deletes the entry name of d with its subtree.
func (s *State) remove(d *inode.Dir, name string) {
	if old := d.Lookup(name); old != nil {
		s.countTree(old, -1)
	}
	d.Delete(name)
}

// count adds delta to the count of in's kind.
func (s *State) count(in *inode.Inode, delta int64) {
	k := CountDirs
	switch {
	case in.IsDir():
	case in.Flags&inode.FlagOpen != 0:
		k = CountIncomplete
	default:
		k = CountKind(in.Persist())
	}
	s.counts[k].Add(delta)
}

func (s *State) countTree(in *inode.Inode, delta int64) {
	s.count(in, delta)
	if d := in.Dir(); d != nil {
		d.Range(func(c *inode.Inode) bool { s.countTree(c, delta); return true })
	}
}

// collect appends the content ids of the files at or below in.
func collect(in *inode.Inode, ids *[]uint64) {
	if !in.IsDir() {
		*ids = append(*ids, in.ID)
		return
	}
	in.Dir().Range(func(c *inode.Inode) bool { collect(c, ids); return true })
}

// owner returns the interned owner a record implies, or def when it carries none.
func (s *State) owner(r *NodeRecord, def *inode.Owner) *inode.Owner {
	if r.Owner == "" && r.Group == "" && r.Mode == 0 {
		return def
	}
	mode := r.Mode.Perm()
	if mode == 0 {
		mode = def.Mode
	}
	return s.owners.Intern(inode.Owner{Owner: r.Owner, Group: r.Group, Mode: mode})
}

// nodeFrom builds the inode a record describes.
func (s *State) nodeFrom(name string, r *NodeRecord) *inode.Inode {
	if r.Dir {
		return inode.NewDir(name, s.owner(r, s.defDir), r.MTime, r.Persist)
	}
	in := &inode.Inode{Name: name, ID: r.ID, Size: r.Size, MTime: r.MTime, Owner: s.owner(r, s.defFile)}
	in.SetHash(r.Hash)
	in.Flags = fileFlags(r)
	return in
}

func fileFlags(r *NodeRecord) inode.Flags {
	f := inode.Flags(r.Persist)
	if r.Open {
		f |= inode.FlagOpen
	}
	if r.Pinned {
		f |= inode.FlagPinned
	}
	if r.Shadow {
		f |= inode.FlagShadow
	}
	return f
}

// --- mount ---

func (s *State) checkMount(e *Entry) error {
	r := e.Mount
	if r == nil {
		return pathErr("mount", e.Path, errorf(fs.ErrInvalid, "mount entry without a mount"))
	}
	u, err := ufs.ParseURI(r.URI)
	if err != nil {
		return pathErr("mount", e.Path, err)
	}
	if e.Path == ufs.Root {
		if r.ID != RootMountID || s.mounts.Load().ByID(RootMountID) != nil {
			return pathErr("mount", e.Path, errorf(fs.ErrExist, "the root is mounted by the configuration"))
		}
		return nil
	}
	if r.ID < s.NextMountID() {
		return pathErr("mount", e.Path, errorf(fs.ErrInvalid, "mount id %d is not above %d", r.ID, s.nextMount))
	}
	parent, name, err := s.parentDir("mount", e.Path)
	if err != nil {
		return err
	}
	if parent.Dir().Lookup(name) != nil {
		return pathErr("mount", e.Path, errorf(fs.ErrExist, "mount point %s already exists", ufs.Rooted(e.Path)))
	}
	for _, m := range s.mounts.Load().byID {
		if m.URI.Overlaps(u) {
			return pathErr("mount", e.Path, errorf(fs.ErrExist, "%s overlaps %s, already mounted at %s", u, m.URI, ufs.Rooted(m.Path)))
		}
	}
	return nil
}

func (s *State) applyMount(e *Entry) (Effects, error) {
	r := e.Mount
	if r == nil {
		return Effects{}, pathErr("mount", e.Path, errorf(fs.ErrInvalid, "mount entry without a mount"))
	}
	u, err := ufs.ParseURI(r.URI)
	if err != nil {
		return Effects{}, pathErr("mount", e.Path, err)
	}
	if r.ID == 0 || s.mounts.Load().ByID(r.ID) != nil {
		return Effects{}, pathErr("mount", e.Path, errorf(fs.ErrExist, "mount id %d is in use", r.ID))
	}
	m := &Mount{ID: r.ID, Path: e.Path, URI: u, Options: r.Options, ReadOnly: r.ReadOnly, Shared: r.Shared, MTime: r.MTime}
	var eff Effects
	if e.Path == ufs.Root {
		s.root.Load().Dir().MountID.Store(m.ID)
	} else {
		s.ensureParents(e.Path, &eff)
		parent := s.Lookup(parentOf(e.Path))
		name := ufs.Base(e.Path)
		if old := parent.Dir().Lookup(name); old != nil {
			if OwnsEntries(old) {
				return Effects{}, pathErr("mount", e.Path, errorf(fs.ErrExist, "mount point %s already exists", ufs.Rooted(e.Path)))
			}
			collect(old, &eff.Released) // metadata loaded from the parent's UFS gives way
		}
		mp := inode.NewDir(name, s.defDir, r.MTime, inode.Persisted)
		mp.Flags |= inode.FlagMount
		mp.Dir().MountID.Store(m.ID)
		s.putNew(parent.Dir(), mp)
	}
	s.nextMount = max(s.nextMount, m.ID)
	s.mounts.Store(s.mounts.Load().with(m))
	eff.Mounted = m
	return eff, nil
}

// updateMountTarget returns the mount an OpUpdateMount changes: the one at e.Path, with
// e.Mount's id and URI (the location never changes in place).
func (s *State) updateMountTarget(e *Entry) (*Mount, error) {
	r := e.Mount
	if r == nil {
		return nil, pathErr("updateMount", e.Path, errorf(fs.ErrInvalid, "updateMount entry without a mount"))
	}
	if e.Path == ufs.Root {
		return nil, pathErr("updateMount", e.Path, errorf(fs.ErrInvalid, "the root mount is set by the configuration"))
	}
	in := s.Lookup(e.Path)
	if in == nil {
		return nil, pathErr("updateMount", e.Path, fs.ErrNotExist)
	}
	if !in.IsMount() {
		return nil, pathErr("updateMount", e.Path, ErrNotMountPoint)
	}
	m := s.mounts.Load().ByID(in.Dir().MountID.Load())
	if m == nil || m.ID != r.ID || m.URI.String() != r.URI {
		return nil, pathErr("updateMount", e.Path, errorf(fs.ErrInvalid, "the mount at %s is not mount %d of %s", ufs.Rooted(e.Path), r.ID, r.URI))
	}
	return m, nil
}

func (s *State) applyUpdateMount(e *Entry) (Effects, error) {
	old, err := s.updateMountTarget(e)
	if err != nil {
		return Effects{}, err
	}
	r := e.Mount
	m := &Mount{ID: old.ID, Path: old.Path, URI: old.URI, Options: r.Options, ReadOnly: r.ReadOnly, Shared: r.Shared, MTime: old.MTime}
	s.mounts.Store(s.mounts.Load().with(m))
	return Effects{Remounted: m}, nil
}

// unmountTarget returns the mount point at p when it can be unmounted.
func (s *State) unmountTarget(p string) (*inode.Inode, error) {
	if p == ufs.Root {
		return nil, pathErr("unmount", p, errorf(fs.ErrInvalid, "cannot unmount the root"))
	}
	in := s.Lookup(p)
	if in == nil {
		return nil, pathErr("unmount", p, fs.ErrNotExist)
	}
	if !in.IsMount() {
		return nil, pathErr("unmount", p, ErrNotMountPoint)
	}
	if nested := s.mounts.Load().Below(p, false); len(nested) > 0 {
		return nil, pathErr("unmount", p, errorf(ErrMountPoint, "%s is mounted below; unmount it first", ufs.Rooted(nested[0].Path)))
	}
	return in, nil
}

func (s *State) applyUnmount(e *Entry) (Effects, error) {
	in, err := s.unmountTarget(e.Path)
	if err != nil {
		return Effects{}, err
	}
	var eff Effects
	s.removeMount(e.Path, in, &eff)
	return eff, nil
}

// removeMount takes the mount point in (at p) and its subtree out of the tree.
func (s *State) removeMount(p string, in *inode.Inode, eff *Effects) {
	t := s.mounts.Load()
	m := t.ByID(in.Dir().MountID.Load())
	collect(in, &eff.Released)
	s.remove(s.Lookup(parentOf(p)).Dir(), in.Name)
	s.dropSyncPointsUnder(p)
	s.dropAttrsUnder(p)
	if m != nil {
		s.mounts.Store(t.without(m.ID))
		eff.Unmounted = append(eff.Unmounted, m)
	}
}

// --- create and complete ---

func (s *State) checkCreate(e *Entry) error {
	if e.Node == nil {
		return pathErr("create", e.Path, errorf(fs.ErrInvalid, "create entry without a node"))
	}
	if e.Path == ufs.Root {
		return pathErr("create", e.Path, fs.ErrExist)
	}
	parent, name, err := s.parentDir("create", e.Path)
	if err != nil {
		return err
	}
	if old := parent.Dir().Lookup(name); old != nil {
		if !e.Overwrite || old.IsDir() || e.Node.Dir {
			return pathErr("create", e.Path, fs.ErrExist)
		}
	}
	return nil
}

func (s *State) applyCreate(e *Entry) (Effects, error) {
	if e.Node == nil || e.Path == ufs.Root {
		return Effects{}, s.checkCreate(e)
	}
	var eff Effects
	s.ensureParents(e.Path, &eff)
	parent := s.Lookup(parentOf(e.Path))
	name := ufs.Base(e.Path)
	in := s.nodeFrom(name, e.Node)
	if old := parent.Dir().Lookup(name); old != nil {
		if old.IsDir() && in.IsDir() {
			// A directory this member loaded from the UFS before the entry reached it:
			// take the entry's attributes, keep what was loaded below.
			next := old.Clone()
			next.Owner, next.MTime = in.Owner, in.MTime
			next.Flags = next.Flags&^3 | inode.Flags(in.Persist())
			s.putVersion(parent.Dir(), next)
			return eff, nil
		}
		if old.IsMount() {
			return Effects{}, pathErr("create", e.Path, errorf(ErrMountPoint, "%s is a mount point", ufs.Rooted(e.Path)))
		}
		collect(old, &eff.Released)
	}
	s.putNew(parent.Dir(), in)
	return eff, nil
}

func (s *State) checkComplete(e *Entry) error {
	if e.Node == nil || e.Node.Dir {
		return pathErr("complete", e.Path, errorf(fs.ErrInvalid, "complete entry without a file"))
	}
	parent, name, err := s.parentDir("complete", e.Path)
	if err != nil {
		return err
	}
	if old := parent.Dir().Lookup(name); old != nil && old.IsDir() {
		return pathErr("complete", e.Path, ufs.ErrIsDir)
	}
	return nil
}

func (s *State) applyComplete(e *Entry) (Effects, error) {
	if e.Node == nil || e.Node.Dir || e.Path == ufs.Root {
		return Effects{}, pathErr("complete", e.Path, errorf(fs.ErrInvalid, "complete entry without a file"))
	}
	var eff Effects
	s.ensureParents(e.Path, &eff)
	parent := s.Lookup(parentOf(e.Path))
	name := ufs.Base(e.Path)
	if old := parent.Dir().Lookup(name); old != nil {
		if old.IsMount() || old.IsDir() && OwnsEntries(old) {
			return Effects{}, pathErr("complete", e.Path, ufs.ErrIsDir)
		}
		if old.IsDir() || old.ID != e.Node.ID {
			collect(old, &eff.Released)
			s.dropAttrsUnder(e.Path) // a new file: the old one's attributes go with it
		}
	}
	s.putNew(parent.Dir(), s.nodeFrom(name, e.Node))
	if e.Attr != nil {
		s.changeAttr(e.Path, e.Attr)
	}
	if e.Node.Persist != inode.Persisted {
		s.setHolder(e.Node.ID, e.Node.Holder)
	}
	return eff, nil
}

// --- update ---

// updateTarget returns the entry an OpUpdate changes, checking its compare-and-set.
func (s *State) updateTarget(e *Entry) (*inode.Inode, error) {
	r := e.Node
	if r == nil {
		return nil, pathErr("update", e.Path, errorf(fs.ErrInvalid, "update entry without a node"))
	}
	cur := s.Lookup(e.Path)
	if cur == nil {
		return nil, pathErr("update", e.Path, fs.ErrNotExist)
	}
	if cur.IsDir() != r.Dir {
		return nil, pathErr("update", e.Path, errorf(fs.ErrNotExist, "%s is no longer a %s", ufs.Rooted(e.Path), kind(r.Dir)))
	}
	if !r.Dir && r.ID != 0 && cur.ID != r.ID {
		return nil, pathErr("update", e.Path, errorf(fs.ErrNotExist, "file was replaced"))
	}
	if r.Persist == inode.Lost && cur.Persist() == inode.Persisted {
		return nil, pathErr("update", e.Path, errorf(fs.ErrInvalid, "a persisted file cannot be lost"))
	}
	return cur, nil
}

func kind(dir bool) string {
	if dir {
		return "directory"
	}
	return "file"
}

func (s *State) applyUpdate(e *Entry) (Effects, error) {
	cur, err := s.updateTarget(e)
	if err != nil {
		return Effects{}, err
	}
	r := e.Node
	var eff Effects
	next := cur.Clone()
	if !cur.IsDir() {
		if r.NewID != 0 && r.NewID != cur.ID {
			eff.Released = append(eff.Released, cur.ID)
			next.ID = r.NewID
		}
		next.Size = r.Size
		next.Flags = fileFlags(r)
	} else {
		next.Flags = next.Flags&^3 | inode.Flags(r.Persist)
	}
	if r.MTime != 0 {
		next.MTime = r.MTime
	}
	if !next.IsDir() {
		next.SetHash(r.Hash) // after Size and MTime
	}
	if r.Owner != "" || r.Group != "" || r.Mode != 0 {
		next.Owner = s.owner(r, next.Owner)
	}
	s.replace(e.Path, next)
	if !next.IsDir() && (next.Persist() == inode.Persisted || next.Persist() == inode.Lost) {
		s.setHolder(next.ID, "") // in the UFS now, or gone: no member holds the only copy
	}
	return eff, nil
}

// --- rename ---

func (s *State) checkRename(e *Entry) error {
	if e.Path == ufs.Root || e.Dst == ufs.Root || ufs.IsWithin(e.Dst, e.Path) {
		return pathErr("rename", e.Path, errorf(fs.ErrInvalid, "cannot move %s to %s", ufs.Rooted(e.Path), ufs.Rooted(e.Dst)))
	}
	src := s.Lookup(e.Path)
	if src == nil {
		return pathErr("rename", e.Path, fs.ErrNotExist)
	}
	if src.IsMount() {
		return pathErr("rename", e.Path, errorf(ErrCrossMount, "%s is a mount point: unmount and mount it elsewhere", ufs.Rooted(e.Path)))
	}
	if nested := s.mounts.Load().Below(e.Path, false); len(nested) > 0 {
		return pathErr("rename", e.Path, errorf(ErrCrossMount, "%s holds the mount point %s", ufs.Rooted(e.Path), ufs.Rooted(nested[0].Path)))
	}
	dstParent, dstName, err := s.parentDir("rename", e.Dst)
	if err != nil {
		return err
	}
	if dstParent.Dir().Lookup(dstName) != nil {
		return pathErr("rename", e.Dst, fs.ErrExist)
	}
	if a, b := s.MountOf(parentOf(e.Path)), s.MountOf(parentOf(e.Dst)); a != b {
		return pathErr("rename", e.Path, errorf(ErrCrossMount, "%s and %s are in different mounts", ufs.Rooted(e.Path), ufs.Rooted(e.Dst)))
	}
	return nil
}

func (s *State) applyRename(e *Entry) (Effects, error) {
	if e.Path == ufs.Root || e.Dst == ufs.Root || ufs.IsWithin(e.Dst, e.Path) {
		return Effects{}, s.checkRename(e)
	}
	var eff Effects
	src := s.Lookup(e.Path)
	if src != nil && (src.IsMount() || len(s.mounts.Load().Below(e.Path, false)) > 0) {
		return Effects{}, s.checkRename(e)
	}
	s.ensureParents(e.Dst, &eff)
	dstParent := s.Lookup(parentOf(e.Dst))
	dstName := ufs.Base(e.Dst)
	if src == nil {
		// This member never loaded the source (metadata of persisted entries is loaded by
		// each member): what moved is in the UFS, so the destination's listing is stale.
		dstParent.Dir().SyncedAt.Store(0)
		s.moveSyncPoints(e.Path, e.Dst)
		s.moveAttrs(e.Path, e.Dst)
		return eff, nil
	}
	if old := dstParent.Dir().Lookup(dstName); old != nil {
		if OwnsEntries(old) {
			return Effects{}, pathErr("rename", e.Dst, fs.ErrExist)
		}
		collect(old, &eff.Released) // loaded here after the move: the moved entry replaces it
		s.countTree(old, -1)
	}
	moved := src.Renamed(dstName)
	if !moved.IsDir() {
		moved.Flags &^= inode.FlagShadow // whatever it hid stays at the old path (and goes)
	}
	s.Lookup(parentOf(e.Path)).Dir().Delete(src.Name) // a move: the counts do not change
	dstParent.Dir().Put(moved)
	s.moveSyncPoints(e.Path, e.Dst)
	s.dropAttrsUnder(e.Dst) // what the moved entry replaced
	s.moveAttrs(e.Path, e.Dst)
	return eff, nil
}

// --- delete ---

func (s *State) checkDelete(e *Entry) error {
	if e.Path == ufs.Root {
		return pathErr("delete", e.Path, errorf(fs.ErrInvalid, "cannot delete the root"))
	}
	if s.Lookup(e.Path) == nil {
		return pathErr("delete", e.Path, fs.ErrNotExist)
	}
	if nested := s.mounts.Load().Below(e.Path, true); len(nested) > 0 && !e.Unmount {
		return pathErr("delete", e.Path, errorf(ErrMountPoint, "%s is or holds the mount point %s; unmount it first", ufs.Rooted(e.Path), ufs.Rooted(nested[0].Path)))
	}
	return nil
}

func (s *State) applyDelete(e *Entry) (Effects, error) {
	if e.Path == ufs.Root {
		return Effects{}, s.checkDelete(e)
	}
	nested := s.mounts.Load().Below(e.Path, true)
	if len(nested) > 0 && !e.Unmount {
		return Effects{}, s.checkDelete(e)
	}
	var eff Effects
	for i := len(nested) - 1; i >= 0; i-- { // deepest first
		m := nested[i]
		if in := s.Lookup(m.Path); in != nil && in.IsMount() {
			s.removeMount(m.Path, in, &eff)
		}
	}
	// A path this member never loaded holds nothing of its own (unpersisted entries are
	// in every member's tree): there is nothing more to remove.
	if cur := s.Lookup(e.Path); cur != nil {
		collect(cur, &eff.Released)
		s.remove(s.Lookup(parentOf(e.Path)).Dir(), cur.Name)
	}
	s.dropSyncPointsUnder(e.Path)
	if !e.Volatile {
		// A volatile delete (a sync found the entry gone from the UFS) is not journaled:
		// the attributes stay, as replay keeps them, so that every member and a restart
		// agree; a TTL check clears what is left of a path that is gone.
		s.dropAttrsUnder(e.Path)
	}
	return eff, nil
}

// --- load ---

// applyLoad adds UFS entries below e.Path that the namespace does not have yet. Entries
// the namespace has are left alone (a sync updates them with OpUpdate), temporary upload
// names are skipped, and on object stores a file wins over a directory of the same name.
func (s *State) applyLoad(e *Entry) error {
	dirIno := s.Lookup(e.Path)
	if dirIno == nil || !dirIno.IsDir() {
		return pathErr("load", e.Path, fs.ErrNotExist)
	}
	d := dirIno.Dir()
	sts, built := e.Loaded, e.Built
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
		in := built[i]
		if in == nil {
			in = s.InodeFromStatus(st, s.loadedIDOf(e.Path, st))
		}
		add = append(add, in)
	}
	d.PutSorted(add)
	for _, in := range add {
		s.count(in, 1)
	}
	if e.Complete {
		d.SyncedAt.Store(e.SyncedAt)
	}
	return nil
}

// loadedIDOf returns LoadedID of the file st found in the directory dir.
func (s *State) loadedIDOf(dir string, st ufs.Status) uint64 {
	if st.IsDir {
		return 0
	}
	m := s.mounts.Load().ByID(s.MountOf(dir))
	if m == nil {
		return 0
	}
	return LoadedID(m.URI.String(), ufs.Rel(m.Path, ufs.Join(dir, st.Name)), st.Size, st.ContentHash)
}

// LoadedBit marks content ids derived from what the UFS reported (files loaded from the
// UFS); ids the leader draws (files written through the namespace) have it clear.
const LoadedBit = 1 << 63

// LoadedID returns the content id of a persisted file loaded from the UFS: a hash of
// where it is and of its fingerprint, so that every member, and a member after a
// restart, gives the same version the same id (and finds its blocks in a disk tier).
func LoadedID(mountURI, ufsPath string, size int64, hash string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(mountURI))
	h.Write([]byte{0})
	h.Write([]byte(ufsPath))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	var b [8]byte
	for i := range b {
		b[i] = byte(size >> (8 * i))
	}
	h.Write(b[:])
	return h.Sum64() | LoadedBit
}

// InodeFromStatus builds the persisted inode a UFS status describes; a file gets the
// content id id.
func (s *State) InodeFromStatus(st ufs.Status, id uint64) *inode.Inode {
	if st.IsDir {
		return inode.NewDir(st.Name, s.statusOwner(st, s.defDir), unixNano(st), inode.Persisted)
	}
	in := new(inode.Inode)
	s.FillFile(in, st, id)
	return in
}

// FillFile sets *in to the persisted file st describes, with content id id.
func (s *State) FillFile(in *inode.Inode, st ufs.Status, id uint64) {
	*in = inode.Inode{Name: st.Name, ID: id, Size: st.Size, MTime: unixNano(st),
		Owner: s.statusOwner(st, s.defFile), Flags: inode.Flags(inode.Persisted)}
	in.SetHash(st.ContentHash)
}

func unixNano(st ufs.Status) int64 {
	if st.ModTime.IsZero() {
		return 0
	}
	return st.ModTime.UnixNano()
}

// statusOwner returns the interned owner a status implies, or def when it carries none.
func (s *State) statusOwner(st ufs.Status, def *inode.Owner) *inode.Owner {
	if st.Owner == "" && st.Group == "" && st.Mode == 0 {
		return def
	}
	mode := st.Mode.Perm()
	if mode == 0 {
		mode = def.Mode
	}
	return s.owners.Intern(inode.Owner{Owner: st.Owner, Group: st.Group, Mode: mode})
}

// --- sync points ---

func (s *State) setSyncPoint(p string, add bool) {
	cur := s.SyncPoints()
	next := make([]string, 0, len(cur)+1)
	for _, q := range cur {
		if q != p {
			next = append(next, q)
		}
	}
	if add {
		next = append(next, p)
		sort.Strings(next)
	}
	s.points.Store(&next)
}

func (s *State) dropSyncPointsUnder(p string) {
	cur := s.SyncPoints()
	next := make([]string, 0, len(cur))
	for _, q := range cur {
		if !ufs.IsWithin(q, p) {
			next = append(next, q)
		}
	}
	if len(next) != len(cur) {
		s.points.Store(&next)
	}
}

func (s *State) moveSyncPoints(src, dst string) {
	cur := s.SyncPoints()
	moved := false
	next := make([]string, 0, len(cur))
	for _, q := range cur {
		if ufs.IsWithin(q, src) {
			q, moved = ufs.Join(dst, ufs.Rel(src, q)), true
		}
		next = append(next, q)
	}
	if moved {
		sort.Strings(next)
		s.points.Store(&next)
	}
}
