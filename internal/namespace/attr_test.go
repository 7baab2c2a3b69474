package namespace

import (
	"reflect"
	"testing"

	"github.com/unifiedfs/unifiedfs/internal/inode"
)

// Attributes follow renames, go with deletes and overwrites, survive a snapshot, and the
// TTL index returns only the paths of ended buckets.
func TestAttributes(t *testing.T) {
	s := newState(t)
	mustApply(t, s, &Entry{Op: OpCreate, Path: "d", Node: dir(inode.NotPersisted)})
	mustApply(t, s, &Entry{Op: OpComplete, Path: "d/a", Node: file(5, inode.NotPersisted)})
	mustApply(t, s, &Entry{Op: OpComplete, Path: "d/b", Node: file(6, inode.NotPersisted)})
	minute := int64(60e9)
	mustApply(t, s, &Entry{Op: OpSetAttr, Path: "d", Targets: []string{"d/a", "d/b"},
		Attr: &AttrRecord{Set: AttrTTL | AttrTTLAction | AttrMode, TTL: 10 * minute, TTLBase: 100 * minute, TTLAction: 1, Mode: 0o600}})
	mustApply(t, s, &Entry{Op: OpSetAttr, Path: "d/b", Attr: &AttrRecord{Set: AttrTTL | AttrPinned, TTL: 30 * minute, TTLBase: 100 * minute, Pinned: true}})
	if err := s.Check(&Entry{Op: OpSetAttr, Path: "nope", Attr: &AttrRecord{}}); err == nil {
		t.Fatal("setAttribute of a missing path passed Check")
	}
	if a, _ := s.AttrOf("d/b"); a.TTL != 30*minute || !a.Pinned || a.TTLAction != 1 || !a.ModeSet || a.Mode != 0o600 {
		t.Fatalf("d/b attrs = %+v", a)
	}
	if got := s.DueTTL(110*minute - 1); len(got) != 0 {
		t.Fatalf("due before the first bucket ended: %v", got)
	}
	if got := s.DueTTL(111 * minute); !reflect.DeepEqual(got, []string{"d", "d/a"}) {
		t.Fatalf("due at 111m = %v", got)
	}
	if got := s.DueTTL(131 * minute); !reflect.DeepEqual(got, []string{"d", "d/a", "d/b"}) {
		t.Fatalf("due at 131m = %v", got)
	}

	// A snapshot rebuilds the same table (and index).
	r := New(Config{})
	entries, err := DecodeSnapshot(snapshot(t, s))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := r.Apply(e); err != nil {
			t.Fatalf("restore %s %s: %v", e.Op, e.Path, err)
		}
	}
	if !reflect.DeepEqual(r.attrs, s.attrs) || !reflect.DeepEqual(r.buckets, s.buckets) {
		t.Fatalf("restored attrs %v buckets %v, want %v %v", r.attrs, r.buckets, s.attrs, s.buckets)
	}

	mustApply(t, s, &Entry{Op: OpRename, Path: "d", Dst: "e"})
	if _, ok := s.AttrOf("d/a"); ok {
		t.Fatal("attrs stayed at the old path")
	}
	if got := s.AttrPaths("e"); !reflect.DeepEqual(got, []string{"e", "e/a", "e/b"}) {
		t.Fatalf("attrs after rename: %v", got)
	}
	if got := s.DueTTL(131 * minute); !reflect.DeepEqual(got, []string{"e", "e/a", "e/b"}) {
		t.Fatalf("index after rename: %v", got)
	}
	mustApply(t, s, &Entry{Op: OpSetAttr, Path: "e/a", Attr: &AttrRecord{Set: AttrUnsetTTL}})
	if a, _ := s.AttrOf("e/a"); a.TTL != 0 || a.Mode != 0o600 {
		t.Fatalf("after unset: %+v", a)
	}
	// An overwrite is a new file: the old attributes go; attributes in the entry apply.
	mustApply(t, s, &Entry{Op: OpComplete, Path: "e/b", Node: file(9, inode.NotPersisted), Attr: &AttrRecord{Set: AttrTTL, TTL: minute, TTLBase: 5}})
	if a, _ := s.AttrOf("e/b"); a.Pinned || a.TTL != minute {
		t.Fatalf("after overwrite: %+v", a)
	}
	mustApply(t, s, &Entry{Op: OpDelete, Path: "e"})
	if s.HasAttrs() || s.TTLBuckets() != 0 {
		t.Fatalf("attrs after delete: %v %v", s.attrs, s.buckets)
	}
}

// OpUpdateMount replaces a mount's options and flags in place, keeping its subtree; it
// refuses the root, other paths and another URI.
func TestUpdateMount(t *testing.T) {
	s := newState(t)
	mustApply(t, s, &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://b/", Options: map[string]string{"k": "1"}, MTime: 9}})
	mustApply(t, s, &Entry{Op: OpComplete, Path: "m/f", Node: file(5, inode.NotPersisted)})
	for _, bad := range []*Entry{
		{Op: OpUpdateMount, Path: "/", Mount: &MountRecord{ID: RootMountID, URI: "mem://root/"}},
		{Op: OpUpdateMount, Path: "m/f", Mount: &MountRecord{ID: 2, URI: "mem://b/"}},
		{Op: OpUpdateMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://other/"}},
		{Op: OpUpdateMount, Path: "m"},
	} {
		if err := s.Check(bad); err == nil {
			t.Errorf("Check passed %+v", bad)
		}
		if _, err := s.Apply(bad); err == nil {
			t.Errorf("Apply took %+v", bad)
		}
	}
	eff := mustApply(t, s, &Entry{Op: OpUpdateMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://b/", Options: map[string]string{"k": "2"}, ReadOnly: true}})
	m := s.Mounts().ByID(2)
	if eff.Remounted != m || m.Options["k"] != "2" || !m.ReadOnly || m.MTime != 9 || m.Path != "m" {
		t.Fatalf("after update: %+v (effects %+v)", m, eff)
	}
	if s.Lookup("m/f") == nil {
		t.Fatal("the subtree went")
	}
}

// Stable reads the tree and the attribute table as one state: while a file with
// attributes is renamed back and forth, a reader never sees it at a path without its
// attributes, nor attributes at a path without it.
func TestStableReadsOneState(t *testing.T) {
	s := newState(t)
	n0 := s.Applied()
	mustApply(t, s, &Entry{Op: OpComplete, Path: "a", Node: file(5, inode.NotPersisted)})
	mustApply(t, s, &Entry{Op: OpSetAttr, Path: "a", Attr: &AttrRecord{Set: AttrOwner, Owner: "alice"}})
	if n := s.Applied(); n != n0+4 {
		t.Fatalf("Applied after two entries = %d, want %d", n, n0+4)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			src, dst := "a", "b"
			if i%2 == 1 {
				src, dst = dst, src
			}
			if _, err := s.Apply(&Entry{Op: OpRename, Path: src, Dst: dst}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			if s.Applied()&1 != 0 {
				t.Fatal("Applied odd with no entry applying")
			}
			return
		default:
		}
		for _, p := range []string{"a", "b"} {
			var there bool
			var a Attr
			s.Stable(func() {
				there = s.Lookup(p) != nil
				a, _ = s.AttrOf(p)
			})
			if there != (a.Owner == "alice") {
				t.Fatalf("read %d of %s: file there %v, attributes %+v", reads, p, there, a)
			}
		}
	}
}
