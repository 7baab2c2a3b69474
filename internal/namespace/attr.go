package namespace

import (
	"io/fs"
	"runtime"
	"sort"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// Attributes set by SetAttribute (TTL, pin, mode, owner, group) live in a table keyed by
// path beside the tree, not in the inodes: the metadata of persisted files is volatile
// (each member loads it from the UFS, a re-sync replaces it, a snapshot leaves it out),
// and these attributes must outlive all of that. A re-sync never touches the table, so
// on object stores (which have no owner or mode) the attributes stay namespace metadata
// and never make a file look changed. The table moves with renames and goes with deletes.
//
// The TTL index buckets the paths with a TTL by expiry time (Alluxio's TtlBucketList):
// bucket k holds the paths expiring in [k*width, (k+1)*width); a check visits only the
// buckets that ended, never the tree.

// Attr is the set of attributes recorded for one path.
type Attr struct {
	TTL       int64 // nanoseconds; 0: none
	TTLBase   int64 // Unix ns the TTL counts from (expiry: TTLBase + TTL)
	TTLAction uint8
	Pinned    bool
	ModeSet   bool
	Mode      fs.FileMode
	Owner     string // "": unchanged
	Group     string
}

func (a Attr) zero() bool { return a == Attr{} }

// Expiry returns the Unix-ns instant the TTL ends, or 0 without a TTL.
func (a Attr) Expiry() int64 {
	if a.TTL <= 0 {
		return 0
	}
	return a.TTLBase + a.TTL
}

// Bits of AttrRecord.Set: which attributes an OpSetAttr entry changes.
const (
	AttrTTL       = 1 << iota // set TTL and TTLBase
	AttrTTLAction             // set TTLAction
	AttrUnsetTTL              // clear the TTL (and its action)
	AttrPinned                // set Pinned
	AttrMode                  // set Mode
	AttrOwner                 // set Owner
	AttrGroup                 // set Group
)

// AttrRecord is the serialisable change of attributes of an OpSetAttr entry (also of an
// OpComplete that sets attributes of a new file, such as a default TTL).
type AttrRecord struct {
	Set       uint32      `json:",omitempty"`
	TTL       int64       `json:",omitempty"`
	TTLBase   int64       `json:",omitempty"`
	TTLAction uint8       `json:",omitempty"`
	Pinned    bool        `json:",omitempty"`
	Mode      fs.FileMode `json:",omitempty"`
	Owner     string      `json:",omitempty"`
	Group     string      `json:",omitempty"`
}

// apply returns a changed by r.
func (r *AttrRecord) apply(a Attr) Attr {
	if r.Set&AttrUnsetTTL != 0 {
		a.TTL, a.TTLBase, a.TTLAction = 0, 0, 0
	}
	if r.Set&AttrTTL != 0 {
		a.TTL, a.TTLBase = r.TTL, r.TTLBase
	}
	if r.Set&AttrTTLAction != 0 {
		a.TTLAction = r.TTLAction
	}
	if r.Set&AttrPinned != 0 {
		a.Pinned = r.Pinned
	}
	if r.Set&AttrMode != 0 {
		a.Mode, a.ModeSet = r.Mode.Perm(), true
	}
	if r.Set&AttrOwner != 0 {
		a.Owner = r.Owner
	}
	if r.Set&AttrGroup != 0 {
		a.Group = r.Group
	}
	return a
}

// recordOfAttr returns the record that sets a from nothing (snapshots).
func recordOfAttr(a Attr) *AttrRecord {
	r := &AttrRecord{TTL: a.TTL, TTLBase: a.TTLBase, TTLAction: a.TTLAction, Pinned: a.Pinned, Mode: a.Mode, Owner: a.Owner, Group: a.Group}
	if a.TTL != 0 {
		r.Set |= AttrTTL | AttrTTLAction
	}
	if a.Pinned {
		r.Set |= AttrPinned
	}
	if a.ModeSet {
		r.Set |= AttrMode
	}
	if a.Owner != "" {
		r.Set |= AttrOwner
	}
	if a.Group != "" {
		r.Set |= AttrGroup
	}
	return r
}

// AttrOf returns the attributes recorded for the clean path p (the zero Attr when none).
func (s *State) AttrOf(p string) (Attr, bool) {
	s.extra.Lock()
	defer s.extra.Unlock()
	a, ok := s.attrs[p]
	return a, ok
}

// HasAttrs reports whether any path has attributes (a fast path for Stat).
func (s *State) HasAttrs() bool {
	return s.nattrs.Load() > 0
}

// AttrPaths returns the paths at or below p that have attributes, sorted.
func (s *State) AttrPaths(p string) []string {
	s.extra.Lock()
	defer s.extra.Unlock()
	var out []string
	for q := range s.attrs {
		if ufs.IsWithin(q, p) {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

// DueTTL returns the paths of the TTL buckets that ended by now (Unix ns), sorted; each
// may or may not have expired yet (the caller compares Attr.Expiry with now).
func (s *State) DueTTL(now int64) []string {
	s.extra.Lock()
	defer s.extra.Unlock()
	w := s.ttlWidth()
	var out []string
	for k, paths := range s.buckets {
		if (k+1)*w <= now {
			for p := range paths {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TTLBuckets returns the number of TTL buckets (tests: a check visits only due ones).
func (s *State) TTLBuckets() int {
	s.extra.Lock()
	defer s.extra.Unlock()
	return len(s.buckets)
}

func (s *State) ttlWidth() int64 {
	if s.ttlBucket > 0 {
		return s.ttlBucket
	}
	return int64(defaultTTLBucket)
}

// defaultTTLBucket is the bucket width without Config.TTLBucket: one minute.
const defaultTTLBucket = 60e9

// setAttrLocked records a for p (removing the record when a is zero), keeping the TTL
// index; s.extra held.
func (s *State) setAttrLocked(p string, a Attr) {
	if old, ok := s.attrs[p]; ok && old.TTL > 0 {
		k := floorDiv(old.Expiry(), s.ttlWidth())
		if b := s.buckets[k]; b != nil {
			delete(b, p)
			if len(b) == 0 {
				delete(s.buckets, k)
			}
		}
	}
	defer func() { s.nattrs.Store(int64(len(s.attrs))) }()
	if a.zero() {
		delete(s.attrs, p)
		return
	}
	if s.attrs == nil {
		s.attrs = map[string]Attr{}
		s.buckets = map[int64]map[string]struct{}{}
	}
	s.attrs[p] = a
	if a.TTL > 0 {
		k := floorDiv(a.Expiry(), s.ttlWidth())
		if s.buckets[k] == nil {
			s.buckets[k] = map[string]struct{}{}
		}
		s.buckets[k][p] = struct{}{}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// changeAttr applies r to the attributes of p.
func (s *State) changeAttr(p string, r *AttrRecord) {
	s.extra.Lock()
	defer s.extra.Unlock()
	s.setAttrLocked(p, r.apply(s.attrs[p]))
}

// dropAttrsUnder forgets the attributes of p and of every path below it.
func (s *State) dropAttrsUnder(p string) {
	s.extra.Lock()
	defer s.extra.Unlock()
	for q := range s.attrs {
		if ufs.IsWithin(q, p) {
			s.setAttrLocked(q, Attr{})
		}
	}
}

// moveAttrs moves the attributes of src and below to dst.
func (s *State) moveAttrs(src, dst string) {
	s.extra.Lock()
	defer s.extra.Unlock()
	var moved []string
	for q := range s.attrs {
		if ufs.IsWithin(q, src) {
			moved = append(moved, q)
		}
	}
	sort.Strings(moved)
	vals := make([]Attr, len(moved))
	for i, q := range moved {
		vals[i] = s.attrs[q]
		s.setAttrLocked(q, Attr{})
	}
	for i, q := range moved {
		s.setAttrLocked(ufs.Join(dst, ufs.Rel(src, q)), vals[i])
	}
}

// attrEntries returns the OpSetAttr entries that rebuild the attribute table (snapshots).
func (s *State) attrEntries() []*Entry {
	s.extra.Lock()
	defer s.extra.Unlock()
	paths := make([]string, 0, len(s.attrs))
	for p := range s.attrs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := make([]*Entry, len(paths))
	for i, p := range paths {
		out[i] = &Entry{Op: OpSetAttr, Path: p, Attr: recordOfAttr(s.attrs[p])}
	}
	return out
}

func (s *State) checkSetAttr(e *Entry) error {
	if e.Attr == nil {
		return pathErr("setAttribute", e.Path, errorf(fs.ErrInvalid, "setAttribute entry without attributes"))
	}
	if s.Lookup(e.Path) == nil && e.Attr.Set != AttrUnsetTTL { // clearing a TTL may outlive the path
		return pathErr("setAttribute", e.Path, fs.ErrNotExist)
	}
	for _, t := range e.Targets {
		if !ufs.IsWithin(t, e.Path) {
			return pathErr("setAttribute", t, errorf(fs.ErrInvalid, "%s is not below %s", ufs.Rooted(t), ufs.Rooted(e.Path)))
		}
	}
	return nil
}

// applySetAttr changes the attributes of e.Path and of e.Targets (the entries below a
// directory that a recursive change reached, listed by the submitter). The paths need
// not be loaded here: the table is keyed by path.
func (s *State) applySetAttr(e *Entry) (Effects, error) {
	if e.Attr == nil {
		return Effects{}, s.checkSetAttr(e)
	}
	s.changeAttr(e.Path, e.Attr)
	for _, t := range e.Targets {
		if ufs.IsWithin(t, e.Path) {
			s.changeAttr(t, e.Attr)
		}
	}
	return Effects{}, nil
}

// Applied returns twice the number of entries applied so far, plus one while an entry is
// being applied (Apply calls are serialised by the caller). A reader that sees the same
// even value before and after reading the tree and the attribute table read one state.
func (s *State) Applied() uint64 { return s.applied.Load() }

// Stable calls read until no entry was applied while it ran, so that what it read of the
// tree and the attribute table is one state. read must be short and without side
// effects: it may run more than once.
func (s *State) Stable(read func()) {
	for {
		if n := s.applied.Load(); n&1 == 0 {
			read()
			if s.applied.Load() == n {
				return
			}
		}
		runtime.Gosched()
	}
}
