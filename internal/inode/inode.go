// Package inode is the namespace's in-memory tree. An Inode is an immutable value: a change
// of attributes publishes a new Inode in its parent directory. A directory's children live
// in a Dir shared by every version of the directory's Inode, as a copy-on-write sorted
// snapshot behind an atomic pointer, so lookups and listings take no lock and scale with
// cores. Writers must be serialised by the caller (the namespace's apply lock).
package inode

import (
	"hash/maphash"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// PersistState says whether a file's content is in the UFS.
type PersistState uint8

// Persist states, as Alluxio's.
const (
	NotPersisted  PersistState = iota // only in the cache (MUST_CACHE), or a directory made only in the namespace
	ToBePersisted                     // cached and queued for asynchronous persist (ASYNC_THROUGH)
	Persisted                         // in the UFS
	Lost                              // not persisted and its cached blocks are gone
)

func (s PersistState) String() string {
	switch s {
	case NotPersisted:
		return "NOT_PERSISTED"
	case ToBePersisted:
		return "TO_BE_PERSISTED"
	case Persisted:
		return "PERSISTED"
	case Lost:
		return "LOST"
	}
	return "UNKNOWN"
}

// Flags are an Inode's boolean attributes and persist state.
type Flags uint32

// Flag bits. The low two bits hold the PersistState.
const (
	persistMask Flags = 3
	FlagDir     Flags = 1 << 2 // a directory
	FlagOpen    Flags = 1 << 3 // a file being written (not complete)
	FlagMount   Flags = 1 << 4 // a mount point (directories only)
	FlagPinned  Flags = 1 << 5 // content pinned in the cache
	FlagShadow  Flags = 1 << 6 // an unpersisted file hiding an older persisted object at its UFS path
	tombstone   Flags = 1 << 31
)

// Owner is an interned owner, group and permission triple shared by many inodes.
type Owner struct {
	Owner string
	Group string
	Mode  fs.FileMode // permission bits
}

// Inode is one immutable version of a namespace entry. Build a changed copy with With*
// methods or by copying the value; never modify an Inode that has been published.
type Inode struct {
	Name  string
	ID    uint64 // content identity: changes whenever the content changes (cache key)
	Size  int64
	MTime int64  // Unix nanoseconds
	hash  string // see Hash and SetHash
	Owner *Owner // never nil once published (Tree.Intern)
	Flags Flags
	dir   *Dir
}

// Hash returns the UFS content hash of the persisted content; "" when unknown.
func (in *Inode) Hash() string {
	if in.hash == sizeMTimeHash {
		return ufs.SizeMTimeHash(in.Size, in.MTime)
	}
	return in.hash
}

// SetHash sets the content hash of an Inode being built, after its Size and MTime. A hash
// that is ufs.SizeMTimeHash of those (the local driver's) is kept without a string of its
// own: on a local tree it would be the largest part of an inode.
func (in *Inode) SetHash(h string) {
	if strings.HasPrefix(h, "len:") { // cheap first: most stores' hashes are not of this form
		var b [48]byte
		if string(ufs.AppendSizeMTimeHash(b[:0], in.Size, in.MTime)) == h {
			h = sizeMTimeHash
		}
	}
	in.hash = h
}

// HashIs reports whether Hash() == h, without building the hash.
func (in *Inode) HashIs(h string) bool {
	if in.hash == sizeMTimeHash {
		var b [48]byte
		return string(ufs.AppendSizeMTimeHash(b[:0], in.Size, in.MTime)) == h
	}
	return in.hash == h
}

// HasHash reports whether the content hash is known.
func (in *Inode) HasHash() bool { return in.hash != "" }

// sizeMTimeHash stands for ufs.SizeMTimeHash(Size, MTime) in Inode.hash. No driver's
// hash starts with a NUL byte.
const sizeMTimeHash = "\x00size+mtime"

// IsDir reports whether in is a directory.
func (in *Inode) IsDir() bool { return in.Flags&FlagDir != 0 }

// Persist returns the persist state.
func (in *Inode) Persist() PersistState { return PersistState(in.Flags & persistMask) }

// IsMount reports whether in is a mount point.
func (in *Inode) IsMount() bool { return in.Flags&FlagMount != 0 }

// Dir returns the children of a directory, nil for files.
func (in *Inode) Dir() *Dir { return in.dir }

// WithPersist returns a copy with persist state s.
func (in *Inode) WithPersist(s PersistState) *Inode {
	c := *in
	c.Flags = c.Flags&^persistMask | Flags(s)
	return &c
}

// Clone returns a mutable copy sharing the directory's children.
func (in *Inode) Clone() *Inode { c := *in; return &c }

// Renamed returns a copy named name (sharing children).
func (in *Inode) Renamed(name string) *Inode { c := *in; c.Name = name; return &c }

// NewDir returns a directory inode with an empty, never-loaded Dir.
func NewDir(name string, owner *Owner, mtime int64, ps PersistState) *Inode {
	d := &Dir{}
	d.snap.Store(&kids{})
	return &Inode{Name: name, Owner: owner, MTime: mtime, Flags: FlagDir | Flags(ps), dir: d}
}

// Dir holds a directory's children and per-directory sync state.
type Dir struct {
	snap atomic.Pointer[kids]
	// SyncedAt is the Unix-nanosecond time of the last complete listing from the UFS (0:
	// never loaded); the sync engine reads and sets it.
	SyncedAt atomic.Int64
	// MountID is the id of the mount whose root this directory is (0 when none).
	MountID atomic.Uint32
}

// kids is an immutable snapshot: base and delta are sorted by name; delta shadows base
// and holds tombstones for deleted base entries. idx is an open-addressing hash table of
// base's inodes (nil = empty slot) so that a lookup in a large directory costs one hash
// and, usually, one inode load.
type kids struct {
	base  []*Inode
	delta []*Inode
	n     int    // live entries
	idx   []slot // hash index of base (nil below minIndexed)
}

// slot is one entry of a kids hash index: the position+1 of a base entry (0: empty) and
// the top half of its name's hash, compared first, so that probing past other names
// touches no inode (each would be a cache miss of its own).
type slot struct{ tag, pos uint32 }

var hashSeed = maphash.MakeSeed()

// minIndexed is the base size from which a hash index pays for itself.
const minIndexed = 8

// newKids builds a snapshot with its hash index.
func newKids(base, delta []*Inode, n int) *kids {
	k := &kids{base: base, delta: delta, n: n}
	if len(base) >= minIndexed {
		size := 1
		for size < len(base)+len(base)/2 { // load at most 2/3
			size <<= 1
		}
		k.idx = make([]slot, size)
		mask := uint64(size - 1)
		for i, in := range base {
			h := maphash.String(hashSeed, in.Name)
			j := h & mask
			for k.idx[j].pos != 0 {
				j = (j + 1) & mask
			}
			k.idx[j] = slot{tag: uint32(h >> 32), pos: uint32(i + 1)}
		}
	}
	return k
}

// lookupBase finds name in base.
func (k *kids) lookupBase(name string) *Inode {
	if k.idx == nil {
		if i, ok := search(k.base, name); ok {
			return k.base[i]
		}
		return nil
	}
	mask := uint64(len(k.idx) - 1)
	h := maphash.String(hashSeed, name)
	tag := uint32(h >> 32)
	for j := h & mask; ; j = (j + 1) & mask {
		switch sl := k.idx[j]; {
		case sl.pos == 0:
			return nil
		case sl.tag == tag:
			if in := k.base[sl.pos-1]; in.Name == name {
				return in
			}
		}
	}
}

func search(s []*Inode, name string) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].Name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s) && s[lo].Name == name
}

// Lookup returns the child named name, or nil. It takes no lock.
func (d *Dir) Lookup(name string) *Inode {
	k := d.snap.Load()
	if len(k.delta) > 0 {
		if i, ok := search(k.delta, name); ok {
			if in := k.delta[i]; in.Flags&tombstone == 0 {
				return in
			}
			return nil
		}
	}
	return k.lookupBase(name)
}

// Len returns the number of children.
func (d *Dir) Len() int { return d.snap.Load().n }

// Children returns the children sorted by name. The slice is the caller's.
func (d *Dir) Children() []*Inode {
	k := d.snap.Load()
	if len(k.delta) == 0 {
		return append([]*Inode(nil), k.base...)
	}
	return merge(k.base, k.delta, k.n)
}

// Range calls f for each child in name order until f returns false. It sees one snapshot.
func (d *Dir) Range(f func(*Inode) bool) {
	k := d.snap.Load()
	if len(k.delta) == 0 {
		for _, in := range k.base {
			if !f(in) {
				return
			}
		}
		return
	}
	for _, in := range merge(k.base, k.delta, k.n) {
		if !f(in) {
			return
		}
	}
}

// merge returns base overlaid with delta, tombstones dropped.
func merge(base, delta []*Inode, n int) []*Inode {
	out := make([]*Inode, 0, n)
	i, j := 0, 0
	for i < len(base) || j < len(delta) {
		switch {
		case j == len(delta) || i < len(base) && base[i].Name < delta[j].Name:
			out = append(out, base[i])
			i++
		default:
			if i < len(base) && base[i].Name == delta[j].Name {
				i++
			}
			if delta[j].Flags&tombstone == 0 {
				out = append(out, delta[j])
			}
			j++
		}
	}
	return out
}

// deltaLimit is how large the delta may grow before it is merged into the base: large
// enough that single inserts into a huge directory cost O(sqrt n), small enough that
// lookups stay a binary search in a short slice.
func deltaLimit(base int) int {
	l := 32
	for l*l < base {
		l *= 2
	}
	return l
}

// Put inserts or replaces the child with in.Name. Callers serialise writers.
func (d *Dir) Put(in *Inode) { d.update(in, false) }

// Delete removes the child named name (no-op when absent). Callers serialise writers.
func (d *Dir) Delete(name string) {
	if d.Lookup(name) == nil {
		return
	}
	d.update(&Inode{Name: name, Flags: tombstone}, true)
}

func (d *Dir) update(in *Inode, del bool) {
	k := d.snap.Load()
	n := k.n
	existed := false
	if i, ok := search(k.delta, in.Name); ok {
		existed = k.delta[i].Flags&tombstone == 0
	} else if k.lookupBase(in.Name) != nil {
		existed = true
	}
	switch {
	case del && existed:
		n--
	case !del && !existed:
		n++
	}
	i, found := search(k.delta, in.Name)
	nd := make([]*Inode, 0, len(k.delta)+1)
	nd = append(nd, k.delta[:i]...)
	nd = append(nd, in)
	if found {
		nd = append(nd, k.delta[i+1:]...)
	} else {
		nd = append(nd, k.delta[i:]...)
	}
	if len(nd) > deltaLimit(len(k.base)) {
		d.snap.Store(newKids(merge(k.base, nd, n), nil, n))
		return
	}
	d.snap.Store(&kids{base: k.base, delta: nd, n: n, idx: k.idx})
}

// PutSorted inserts or replaces many children at once; ins must be sorted by name with
// unique names. It costs one merge, so loading a listing page is linear.
func (d *Dir) PutSorted(ins []*Inode) {
	if len(ins) == 0 {
		return
	}
	k := d.snap.Load()
	cur := k.base
	if len(k.delta) > 0 {
		cur = merge(k.base, k.delta, k.n)
	}
	out := make([]*Inode, 0, len(cur)+len(ins))
	i, j := 0, 0
	for i < len(cur) || j < len(ins) {
		switch {
		case j == len(ins) || i < len(cur) && cur[i].Name < ins[j].Name:
			out = append(out, cur[i])
			i++
		default:
			if i < len(cur) && cur[i].Name == ins[j].Name {
				i++
			}
			out = append(out, ins[j])
			j++
		}
	}
	d.snap.Store(newKids(out, nil, len(out)))
}

// Clear removes every child.
func (d *Dir) Clear() { d.snap.Store(&kids{}) }

// Interner shares Owner values so that a million inodes of one owner hold one pointer
// each. It is safe for concurrent use.
type Interner struct {
	mu sync.Mutex
	m  map[Owner]*Owner
}

// Intern returns the shared *Owner equal to o.
func (t *Interner) Intern(o Owner) *Owner {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.m[o]; ok {
		return p
	}
	if t.m == nil {
		t.m = map[Owner]*Owner{}
	}
	p := &o
	t.m[o] = p
	return p
}
