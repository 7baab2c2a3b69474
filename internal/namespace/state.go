// Package namespace is the replicated state of a unified namespace: the inode tree, the
// mount table, the active-sync points and the content-id watermark. Only Apply of an
// Entry changes it.
//
// It is a deterministic state machine in the shape of hashicorp/raft's FSM: Apply reads
// no clock, does no I/O and draws no ids or random numbers (the times and ids an entry
// needs travel in it), so every member that applies the same entries holds the same
// durable state. What a member must do about a change — drop the cached blocks of a
// content version the tree no longer holds, open or close a mount's UFS — comes back as
// Effects, as etcd's applier keeps the physical effect apart from the logical result.
//
// Check says whether an entry applies to the current state, changing nothing: the leader
// checks an entry before journaling it, so a rejected entry never reaches the journal.
// Apply is lenient where a member's state may legitimately lack what the leader had —
// metadata loaded from the UFS is volatile and each member loads its own — so replay on a
// standby never stops at an entry about a path it has not loaded. Snapshot encodes the
// durable state; Restore rebuilds it.
//
// Reads (Root, Lookup, Mounts, SyncPoints) take no lock and see published, immutable
// values. Check and Apply must be serialised by the caller.
package namespace

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Errors of Check and Apply beyond io/fs's and ufs's sentinels.
var (
	// ErrNotMountPoint: unmount of a path that is not a mount point.
	ErrNotMountPoint = errors.New("not a mount point")
	// ErrMountPoint: the path is or holds a mount point and the operation would change it.
	ErrMountPoint = errors.New("path is or contains a mount point")
	// ErrCrossMount: a rename between two mounts, or of a mount point.
	ErrCrossMount = errors.New("operation crosses a mount point")
)

// RootMountID is the id of the mount at "/" (from the configuration, not the journal).
const RootMountID = 1

// Config holds what a State needs from its member's configuration.
type Config struct {
	// FileOwner and DirOwner are the owner, group and mode of entries that carry none.
	FileOwner, DirOwner inode.Owner
	// RootMTime is the root directory's mtime (Unix ns).
	RootMTime int64
	// TTLBucket is the width in nanoseconds of the TTL index's buckets (zero: a minute).
	TTLBucket int64
}

// State is the namespace state. The zero value is not usable; call New.
type State struct {
	root    atomic.Pointer[inode.Inode]
	mounts  atomic.Pointer[MountTable]
	points  atomic.Pointer[[]string] // active-sync points, sorted
	owners  inode.Interner
	defFile *inode.Owner
	defDir  *inode.Owner

	counts [countKinds]atomic.Int64

	extra   sync.Mutex        // guards holders and reqs, which readers ask outside Apply
	holders map[uint64]string // unpersisted content id -> the member holding its blocks
	reqs    map[string]bool   // recent request ids (exactly-once retries)
	reqRing []string          // reqs in arrival order, for the bound
	reqNext int
	attrs   map[string]Attr               // SetAttribute's attributes, by path (attr.go)
	buckets map[int64]map[string]struct{} // paths with a TTL, by expiry bucket

	ttlBucket int64
	nattrs    atomic.Int64  // len(attrs), read without the lock
	applied   atomic.Uint64 // twice the entries applied, +1 while one applies (Applied)

	// Under the caller's apply lock:
	nextMount uint32 // highest mount id applied
	idHigh    uint64 // content ids below may be in use
}

// New returns an empty namespace: a root directory with no mount.
func New(cfg Config) *State {
	s := &State{ttlBucket: cfg.TTLBucket}
	s.defFile = s.owners.Intern(cfg.FileOwner)
	s.defDir = s.owners.Intern(cfg.DirOwner)
	root := inode.NewDir("", s.defDir, cfg.RootMTime, inode.Persisted)
	root.Flags |= inode.FlagMount
	s.root.Store(root)
	s.counts[CountDirs].Store(1)
	s.mounts.Store(&MountTable{byID: map[uint32]*Mount{}})
	s.points.Store(&[]string{})
	return s
}

// Root returns the root directory.
func (s *State) Root() *inode.Inode { return s.root.Load() }

// Lookup returns the entry at the clean path p, or nil. It takes no lock and never
// touches the UFS.
func (s *State) Lookup(p string) *inode.Inode {
	cur := s.root.Load()
	if p == ufs.Root {
		return cur
	}
	for rest := p; ; {
		name, tail, more := Cut(rest)
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

// Cut splits "a/b/c" into "a", "b/c", true.
func Cut(p string) (string, string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}

// MountOf returns the id of the mount that holds the clean path p: the deepest mount
// point at or above it. Zero when p's ancestors are not all in the tree.
func (s *State) MountOf(p string) uint32 {
	cur := s.root.Load()
	id := cur.Dir().MountID.Load()
	if p == ufs.Root {
		return id
	}
	for rest := p; ; {
		name, tail, more := Cut(rest)
		d := cur.Dir()
		if d == nil {
			return 0
		}
		if cur = d.Lookup(name); cur == nil {
			return 0
		}
		if cur.IsMount() {
			id = cur.Dir().MountID.Load()
		}
		if !more {
			return id
		}
		rest = tail
	}
}

// Mounts returns the current mount table.
func (s *State) Mounts() *MountTable { return s.mounts.Load() }

// SyncPoints returns the active-sync points, sorted. The slice is shared: don't modify it.
func (s *State) SyncPoints() []string { return *s.points.Load() }

// NextMountID returns the id the next OpMount must carry.
func (s *State) NextMountID() uint32 { return max(s.nextMount, RootMountID) + 1 }

// IDHigh returns the content-id watermark: ids at or above it were never allocated.
func (s *State) IDHigh() uint64 { return s.idHigh }

// Intern returns the shared owner equal to o (for building inodes outside Apply).
func (s *State) Intern(o inode.Owner) *inode.Owner { return s.owners.Intern(o) }

// DefaultOwner returns the owner of entries that carry none.
func (s *State) DefaultOwner(dir bool) *inode.Owner {
	if dir {
		return s.defDir
	}
	return s.defFile
}

// CountKind names what Counts counts.
type CountKind int

// The kinds of entries Counts counts: files by persist state (the first four, in the
// order of inode.PersistState), files being written, and directories.
const (
	CountNotPersisted  CountKind = CountKind(inode.NotPersisted)
	CountToBePersisted CountKind = CountKind(inode.ToBePersisted)
	CountPersisted     CountKind = CountKind(inode.Persisted)
	CountLost          CountKind = CountKind(inode.Lost)
	CountIncomplete    CountKind = 4
	CountDirs          CountKind = 5
	countKinds                   = 6
)

// Counts returns how many entries of each kind the tree holds (the root included among
// the directories). It costs no walk.
func (s *State) Counts() [countKinds]int64 {
	var out [countKinds]int64
	for i := range out {
		out[i] = s.counts[i].Load()
	}
	return out
}

// maxRequests bounds how many request ids the state remembers: enough for the retries of
// every client in flight during a failover.
const maxRequests = 1 << 16

// HasRequest reports whether an entry with request id id was applied (among the last
// maxRequests).
func (s *State) HasRequest(id string) bool {
	s.extra.Lock()
	defer s.extra.Unlock()
	return s.reqs[id]
}

func (s *State) noteRequest(id string) {
	if id == "" {
		return
	}
	s.extra.Lock()
	defer s.extra.Unlock()
	if s.reqs == nil {
		s.reqs, s.reqRing = map[string]bool{}, make([]string, maxRequests)
	}
	if s.reqs[id] {
		return
	}
	if old := s.reqRing[s.reqNext]; old != "" {
		delete(s.reqs, old)
	}
	s.reqRing[s.reqNext] = id
	s.reqNext = (s.reqNext + 1) % maxRequests
	s.reqs[id] = true
}

// requests returns the remembered request ids, oldest first.
func (s *State) requests() []string {
	s.extra.Lock()
	defer s.extra.Unlock()
	var out []string
	for i := range len(s.reqRing) {
		if id := s.reqRing[(s.reqNext+i)%len(s.reqRing)]; id != "" {
			out = append(out, id)
		}
	}
	return out
}

// HolderOf returns the member holding the blocks of the unpersisted content id ("" when
// none is recorded: a single process, or persisted content).
func (s *State) HolderOf(id uint64) string {
	s.extra.Lock()
	defer s.extra.Unlock()
	return s.holders[id]
}

// Holders returns the unpersisted content ids held by each member.
func (s *State) Holders() map[string][]uint64 {
	s.extra.Lock()
	defer s.extra.Unlock()
	out := map[string][]uint64{}
	for id, h := range s.holders {
		out[h] = append(out[h], id)
	}
	return out
}

func (s *State) setHolder(id uint64, holder string) {
	s.extra.Lock()
	defer s.extra.Unlock()
	if holder == "" {
		delete(s.holders, id)
		return
	}
	if s.holders == nil {
		s.holders = map[uint64]string{}
	}
	s.holders[id] = holder
}

// Mount is one published mount. It is immutable.
type Mount struct {
	ID       uint32
	Path     string // clean namespace path of the mount point
	URI      ufs.URI
	Options  map[string]string // as given (secrets included: never print)
	ReadOnly bool
	Shared   bool
	MTime    int64
}

// Record returns the serialisable form of m.
func (m *Mount) Record() *MountRecord {
	return &MountRecord{ID: m.ID, URI: m.URI.String(), Options: m.Options, ReadOnly: m.ReadOnly, Shared: m.Shared, MTime: m.MTime}
}

// MountTable is an immutable snapshot of the mounts.
type MountTable struct {
	byID map[uint32]*Mount
}

// ByID returns the mount with id, or nil.
func (t *MountTable) ByID(id uint32) *Mount { return t.byID[id] }

// Len returns the number of mounts.
func (t *MountTable) Len() int { return len(t.byID) }

// Below returns the mounts at or below p (self: p's own too), sorted by path.
func (t *MountTable) Below(p string, self bool) []*Mount {
	var out []*Mount
	for _, m := range t.byID {
		if ufs.IsWithin(m.Path, p) && (self || m.Path != p) {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (t *MountTable) with(m *Mount) *MountTable {
	n := &MountTable{byID: make(map[uint32]*Mount, len(t.byID)+1)}
	for id, v := range t.byID {
		n.byID[id] = v
	}
	n.byID[m.ID] = m
	return n
}

func (t *MountTable) without(id uint32) *MountTable {
	n := &MountTable{byID: make(map[uint32]*Mount, len(t.byID))}
	for k, v := range t.byID {
		if k != id {
			n.byID[k] = v
		}
	}
	return n
}

// FirstNotPersisted returns the path of a file at or below in (at p) that is not
// persisted (its only copy is the cache), or "".
func FirstNotPersisted(p string, in *inode.Inode) string {
	if !in.IsDir() {
		if in.Persist() != inode.Persisted {
			return p
		}
		return ""
	}
	found := ""
	in.Dir().Range(func(c *inode.Inode) bool {
		found = FirstNotPersisted(ufs.Join(p, c.Name), c)
		return found == ""
	})
	return found
}

// OwnsEntries reports whether in, or an entry below it, is one only the namespace has:
// not persisted (a file or a directory), being written, or a mount point. A metadata
// sync never removes such an entry.
func OwnsEntries(in *inode.Inode) bool {
	if in.Persist() != inode.Persisted || in.Flags&inode.FlagOpen != 0 || in.IsMount() {
		return true
	}
	found := false
	if d := in.Dir(); d != nil {
		d.Range(func(c *inode.Inode) bool {
			found = OwnsEntries(c)
			return !found
		})
	}
	return found
}
