package namespace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"slices"
	"testing"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

func newState(t testing.TB) *State {
	t.Helper()
	s := New(Config{FileOwner: inode.Owner{Owner: "u", Group: "g", Mode: 0o644}, DirOwner: inode.Owner{Owner: "u", Group: "g", Mode: 0o755}, RootMTime: 7})
	mustApply(t, s, &Entry{Op: OpMount, Path: ufs.Root, Mount: &MountRecord{ID: RootMountID, URI: "mem://root/"}})
	return s
}

func mustApply(t testing.TB, s *State, e *Entry) Effects {
	t.Helper()
	if err := s.Check(e); err != nil {
		t.Fatalf("check %s %s: %v", e.Op, e.Path, err)
	}
	eff, err := s.Apply(e)
	if err != nil {
		t.Fatalf("apply %s %s: %v", e.Op, e.Path, err)
	}
	return eff
}

func snapshot(t testing.TB, s *State) []byte {
	t.Helper()
	b, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func file(id uint64, ps inode.PersistState) *NodeRecord {
	return &NodeRecord{ID: id, Size: int64(id), MTime: 100, Persist: ps, Pinned: ps != inode.Persisted}
}

func dir(ps inode.PersistState) *NodeRecord { return &NodeRecord{Dir: true, MTime: 50, Persist: ps} }

// Each rejected entry is rejected by Check with the documented sentinel and changes
// nothing; each accepted one has the documented effects.
func TestCheckAndApply(t *testing.T) {
	type step struct {
		e       *Entry
		wantErr error    // Check's error; nil: it applies
		release []uint64 // Effects.Released
	}
	cases := []struct {
		name  string
		steps []step
		then  func(*testing.T, *State)
	}{
		{"create needs its parent", []step{
			{e: &Entry{Op: OpCreate, Path: "a/b", Node: dir(inode.Persisted)}, wantErr: fs.ErrNotExist},
			{e: &Entry{Op: OpCreate, Path: "a", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpCreate, Path: "a", Node: dir(inode.Persisted)}, wantErr: fs.ErrExist},
			{e: &Entry{Op: OpCreate, Path: "a/b", Node: dir(inode.NotPersisted)}},
		}, nil},
		{"complete replaces a file and releases its version", []step{
			{e: &Entry{Op: OpComplete, Path: "f", Node: file(1, inode.Persisted)}},
			{e: &Entry{Op: OpComplete, Path: "f", Node: file(2, inode.NotPersisted)}, release: []uint64{1}},
			{e: &Entry{Op: OpCreate, Path: "d", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpComplete, Path: "d", Node: file(3, inode.Persisted)}, wantErr: ufs.ErrIsDir},
		}, func(t *testing.T, s *State) {
			if in := s.Lookup("f"); in.ID != 2 || in.Persist() != inode.NotPersisted {
				t.Fatalf("f = %+v", in)
			}
		}},
		{"update is a compare-and-set on the content id", []step{
			{e: &Entry{Op: OpComplete, Path: "f", Node: file(1, inode.ToBePersisted)}},
			{e: &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: 9, Persist: inode.Persisted}}, wantErr: fs.ErrNotExist},
			{e: &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: 1, Size: 1, Hash: "h", Persist: inode.Persisted}}},
			{e: &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: 1, Persist: inode.Lost}}, wantErr: fs.ErrInvalid},
			{e: &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: 1, NewID: 5, Size: 3, Hash: "h2", Persist: inode.Persisted}}, release: []uint64{1}},
		}, func(t *testing.T, s *State) {
			if in := s.Lookup("f"); in.ID != 5 || in.Hash() != "h2" || in.Flags&inode.FlagPinned != 0 {
				t.Fatalf("f = %+v", in)
			}
		}},
		{"rename moves sync points, refuses mount points and existing targets", []step{
			{e: &Entry{Op: OpCreate, Path: "a", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpCreate, Path: "a/s", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpAddSyncPoint, Path: "a/s"}},
			{e: &Entry{Op: OpCreate, Path: "b", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpRename, Path: "a", Dst: "b"}, wantErr: fs.ErrExist},
			{e: &Entry{Op: OpRename, Path: "a", Dst: "a/x"}, wantErr: fs.ErrInvalid},
			{e: &Entry{Op: OpRename, Path: "a", Dst: "c"}},
			{e: &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://other/"}}},
			{e: &Entry{Op: OpRename, Path: "m", Dst: "n"}, wantErr: ErrCrossMount},
			{e: &Entry{Op: OpRename, Path: "c", Dst: "m/c"}, wantErr: ErrCrossMount},
		}, func(t *testing.T, s *State) {
			if got := s.SyncPoints(); !slices.Equal(got, []string{"c/s"}) {
				t.Fatalf("sync points %v", got)
			}
		}},
		{"delete takes its subtree, sync points and (with Unmount) mounts", []step{
			{e: &Entry{Op: OpCreate, Path: "a", Node: dir(inode.Persisted)}},
			{e: &Entry{Op: OpComplete, Path: "a/f", Node: file(4, inode.NotPersisted)}},
			{e: &Entry{Op: OpAddSyncPoint, Path: "a"}},
			{e: &Entry{Op: OpMount, Path: "a/m", Mount: &MountRecord{ID: 2, URI: "mem://x/"}}},
			{e: &Entry{Op: OpDelete, Path: "a"}, wantErr: ErrMountPoint},
			{e: &Entry{Op: OpDelete, Path: "a", Unmount: true}, release: []uint64{4}},
			{e: &Entry{Op: OpDelete, Path: ufs.Root}, wantErr: fs.ErrInvalid},
		}, func(t *testing.T, s *State) {
			if s.Lookup("a") != nil || len(s.SyncPoints()) != 0 || s.Mounts().Len() != 1 {
				t.Fatalf("after delete: %v %v %d", s.Lookup("a"), s.SyncPoints(), s.Mounts().Len())
			}
		}},
		{"mount ids only grow; overlapping locations are refused", []step{
			{e: &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 1, URI: "mem://x/"}}, wantErr: fs.ErrInvalid},
			{e: &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://x/a"}}},
			{e: &Entry{Op: OpMount, Path: "n", Mount: &MountRecord{ID: 3, URI: "mem://x/a/b"}}, wantErr: fs.ErrExist},
			{e: &Entry{Op: OpUnmount, Path: "m"}},
			{e: &Entry{Op: OpUnmount, Path: "m"}, wantErr: fs.ErrNotExist},
			{e: &Entry{Op: OpMount, Path: "m", Mount: &MountRecord{ID: 2, URI: "mem://x/a"}}, wantErr: fs.ErrInvalid},
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newState(t)
			for i, st := range c.steps {
				before := snapshot(t, s)
				err := s.Check(st.e)
				if st.wantErr != nil {
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d %s %s: Check = %v, want %v", i, st.e.Op, st.e.Path, err, st.wantErr)
					}
					if after := snapshot(t, s); !bytes.Equal(before, after) {
						t.Fatalf("step %d: a rejected entry changed the state", i)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d %s %s: Check = %v", i, st.e.Op, st.e.Path, err)
				}
				eff, err := s.Apply(st.e)
				if err != nil {
					t.Fatalf("step %d: Apply = %v", i, err)
				}
				if !slices.Equal(eff.Released, st.release) {
					t.Fatalf("step %d: released %v, want %v", i, eff.Released, st.release)
				}
			}
			if c.then != nil {
				c.then(t, s)
			}
		})
	}
}

// A member that never loaded what an entry refers to (metadata of persisted entries is
// loaded by each member) applies it anyway: replay never stops there.
func TestApplyStandsInForUnloadedPaths(t *testing.T) {
	s := newState(t)
	for _, e := range []*Entry{
		{Op: OpComplete, Path: "x/y/f", Node: file(1, inode.NotPersisted)},
		{Op: OpRename, Path: "p/q", Dst: "x/z"},
		{Op: OpDelete, Path: "never/loaded"},
		{Op: OpAddSyncPoint, Path: "not/loaded/dir"},
	} {
		if _, err := s.Apply(e); err != nil {
			t.Fatalf("apply %s %s: %v", e.Op, e.Path, err)
		}
	}
	if in := s.Lookup("x/y/f"); in == nil || in.ID != 1 {
		t.Fatalf("x/y/f = %+v", in)
	}
	if in := s.Lookup("x/y"); in == nil || !in.IsDir() || in.Persist() != inode.Persisted {
		t.Fatalf("x/y = %+v", in)
	}
}

// The replay test: a seeded stream of random operations, checked and applied to one state
// as a leader does, then the durable entries applied to a fresh state as a standby does,
// give identical snapshots; so does a state restored from the first one's snapshot.
func TestReplayGivesTheSameState(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			leader := newState(t)
			var journal []*Entry
			paths := []string{"a", "b", "a/c", "a/d", "b/e", "f", "a/c/g", "m", "m/h"}
			nextID := uint64(100)
			for i := 0; i < 400; i++ {
				p := paths[rng.Intn(len(paths))]
				var e *Entry
				switch rng.Intn(9) {
				case 0:
					e = &Entry{Op: OpCreate, Path: p, Node: dir(inode.PersistState(rng.Intn(2) * 2))}
				case 1, 2:
					nextID++
					e = &Entry{Op: OpComplete, Path: p, Node: file(nextID, inode.PersistState(rng.Intn(3)))}
				case 3:
					in := leader.Lookup(p)
					if in == nil || in.IsDir() {
						continue
					}
					e = &Entry{Op: OpUpdate, Path: p, Node: &NodeRecord{ID: in.ID, Size: in.Size, Persist: inode.Persisted, Hash: "h"}}
				case 4:
					e = &Entry{Op: OpRename, Path: p, Dst: paths[rng.Intn(len(paths))]}
				case 5:
					e = &Entry{Op: OpDelete, Path: p, Unmount: rng.Intn(2) == 0}
				case 6:
					e = &Entry{Op: OpMount, Path: p, Mount: &MountRecord{ID: leader.NextMountID(), URI: fmt.Sprintf("mem://s%d/", i), MTime: int64(i)}}
				case 7:
					e = &Entry{Op: OpAddSyncPoint, Path: p}
					if rng.Intn(2) == 0 {
						e.Op = OpRemoveSyncPoint
					}
				case 8:
					e = &Entry{Op: OpAllocIDs, IDHigh: leader.IDHigh() + 10}
				}
				if leader.Check(e) != nil {
					continue // rejected: never journaled
				}
				if _, err := leader.Apply(e); err != nil {
					t.Fatalf("op %d: a checked entry failed: %v", i, err)
				}
				journal = append(journal, e)
			}
			checkCounts(t, leader)
			want := snapshot(t, leader)
			standby := newState(t)
			for i, e := range journal {
				data, err := Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				back, err := Unmarshal(data)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := standby.Apply(back); err != nil {
					t.Fatalf("replay of entry %d (%s %s): %v", i, e.Op, e.Path, err)
				}
			}
			checkCounts(t, standby)
			if got := snapshot(t, standby); !bytes.Equal(got, want) {
				t.Fatalf("replayed state differs:\nleader:  %s\nstandby: %s", want, got)
			}
			entries, err := DecodeSnapshot(want)
			if err != nil {
				t.Fatal(err)
			}
			if len(journal) < 100 || len(entries) < 3 {
				t.Fatalf("the workload journaled %d entries and left a snapshot of %d: too little to compare", len(journal), len(entries))
			}
			restored := newState(t)
			for _, e := range entries {
				if _, err := restored.Apply(e); err != nil {
					t.Fatalf("restore %s %s: %v", e.Op, e.Path, err)
				}
			}
			if got := snapshot(t, restored); !bytes.Equal(got, want) {
				t.Fatalf("restored state differs:\nleader:   %s\nrestored: %s", want, got)
			}
		})
	}
}

// checkCounts compares the kept counts with a walk of the tree.
func checkCounts(t *testing.T, s *State) {
	t.Helper()
	var want [countKinds]int64
	var walk func(*inode.Inode)
	walk = func(in *inode.Inode) {
		switch {
		case in.IsDir():
			want[CountDirs]++
			in.Dir().Range(func(c *inode.Inode) bool { walk(c); return true })
		case in.Flags&inode.FlagOpen != 0:
			want[CountIncomplete]++
		default:
			want[in.Persist()]++
		}
	}
	walk(s.Root())
	if got := s.Counts(); got != want {
		t.Fatalf("counts %v, a walk finds %v", got, want)
	}
}

// A member holds an unpersisted file's only copy until the file is persisted, lost,
// replaced or deleted; snapshots keep who holds what.
func TestHolders(t *testing.T) {
	for _, end := range []struct {
		name string
		e    func(id uint64) *Entry
	}{
		{"persisted", func(id uint64) *Entry {
			return &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: id, Size: int64(id), Persist: inode.Persisted}}
		}},
		{"lost", func(id uint64) *Entry {
			return &Entry{Op: OpUpdate, Path: "f", Node: &NodeRecord{ID: id, Size: int64(id), Persist: inode.Lost}}
		}},
		{"deleted", func(uint64) *Entry { return &Entry{Op: OpDelete, Path: "f"} }},
		{"replaced", func(uint64) *Entry {
			return &Entry{Op: OpComplete, Path: "f", Node: &NodeRecord{ID: 9, Size: 9, Persist: inode.Persisted}}
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			s := newState(t)
			rec := file(5, inode.NotPersisted)
			rec.Holder = "10.0.0.1:19998"
			mustApply(t, s, &Entry{Op: OpComplete, Path: "f", Node: rec})
			if h := s.HolderOf(5); h != rec.Holder {
				t.Fatalf("holder after the write: %q", h)
			}
			entries, err := DecodeSnapshot(snapshot(t, s))
			if err != nil {
				t.Fatal(err)
			}
			back := newState(t)
			for _, e := range entries {
				if _, err := back.Apply(e); err != nil {
					t.Fatalf("restore %s %s: %v", e.Op, e.Path, err)
				}
			}
			if h := back.HolderOf(5); h != rec.Holder {
				t.Fatalf("holder after a snapshot: %q", h)
			}
			mustApply(t, s, end.e(5))
			if h := s.HolderOf(5); h != "" {
				t.Fatalf("holder once %s: %q", end.name, h)
			}
			if hs := s.Holders(); len(hs) != 0 {
				t.Fatalf("holders once %s: %v", end.name, hs)
			}
		})
	}
}
