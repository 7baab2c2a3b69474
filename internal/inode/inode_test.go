package inode

import (
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/unifiedfs/unifiedfs/ufs"
)

func names(d *Dir) []string {
	var out []string
	for _, c := range d.Children() {
		out = append(out, c.Name)
	}
	return out
}

// TestDirMatchesMap drives random puts and deletes and compares with a map model,
// across delta merges.
func TestDirMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	d := NewDir("", nil, 0, Persisted).Dir()
	model := map[string]int64{}
	for step := 0; step < 20000; step++ {
		name := fmt.Sprintf("n%04d", rng.Intn(3000))
		switch rng.Intn(10) {
		case 0, 1, 2:
			d.Delete(name)
			delete(model, name)
		case 3:
			var batch []*Inode
			for i := 0; i < 50; i++ {
				n := fmt.Sprintf("n%04d", rng.Intn(3000))
				if _, dup := model[n]; dup {
					continue
				}
				model[n] = int64(step)
				batch = append(batch, &Inode{Name: n, Size: int64(step)})
			}
			sort.Slice(batch, func(i, j int) bool { return batch[i].Name < batch[j].Name })
			uniq := batch[:0]
			for i, b := range batch {
				if i == 0 || b.Name != batch[i-1].Name {
					uniq = append(uniq, b)
				}
			}
			d.PutSorted(uniq)
		default:
			d.Put(&Inode{Name: name, Size: int64(step)})
			model[name] = int64(step)
		}
		if step%997 == 0 || step == 19999 {
			want := make([]string, 0, len(model))
			for n := range model {
				want = append(want, n)
			}
			sort.Strings(want)
			got := names(d)
			if fmt.Sprint(got) != fmt.Sprint(want) || d.Len() != len(want) {
				t.Fatalf("step %d: children (%d, Len %d) differ from model (%d)", step, len(got), d.Len(), len(want))
			}
			for n, size := range model {
				if in := d.Lookup(n); in == nil || in.Size != size {
					t.Fatalf("step %d: lookup %s = %v, want size %d", step, n, in, size)
				}
			}
		}
	}
	if d.Lookup("absent") != nil {
		t.Fatal("lookup of an absent name")
	}
}

func TestConcurrentReadersSeeConsistentSnapshots(t *testing.T) {
	d := NewDir("", nil, 0, Persisted).Dir()
	for i := 0; i < 1000; i++ {
		d.Put(&Inode{Name: fmt.Sprintf("k%04d", i)})
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d.Lookup("k0500") == nil {
					t.Error("stable entry missing")
					return
				}
				prev := ""
				d.Range(func(in *Inode) bool {
					if in.Name <= prev {
						t.Error("unsorted")
					}
					prev = in.Name
					return true
				})
			}
		}()
	}
	for i := 0; i < 5000; i++ {
		n := fmt.Sprintf("x%05d", i)
		d.Put(&Inode{Name: n})
		if i%2 == 0 {
			d.Delete(n)
		}
	}
	close(stop)
	wg.Wait()
	if d.Len() != 1000+2500 {
		t.Fatalf("Len %d", d.Len())
	}
}

func TestInodeCopies(t *testing.T) {
	var it Interner
	o := it.Intern(Owner{"a", "b", 0o644})
	if it.Intern(Owner{"a", "b", 0o644}) != o {
		t.Fatal("not interned")
	}
	d := NewDir("d", o, 1, NotPersisted)
	d.Dir().Put(&Inode{Name: "child"})
	p := d.WithPersist(Persisted)
	if !p.IsDir() || p.Persist() != Persisted || d.Persist() != NotPersisted || p.Dir() != d.Dir() {
		t.Fatal("WithPersist")
	}
	r := p.Renamed("e")
	if r.Name != "e" || r.Dir().Lookup("child") == nil || p.Name != "d" {
		t.Fatal("Renamed")
	}
}

// A local driver's size+mtime hash is kept without a string of its own and reads back the
// same; any other hash, or one of another size or mtime, is kept as it is.
func TestSetHashCompactsSizeMTimeHashes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hash    string
		compact bool
	}{
		{"own size and mtime", ufs.SizeMTimeHash(42, 1700000000123456789), true},
		{"other mtime", ufs.SizeMTimeHash(42, 1700000000123456788), false},
		{"other size", ufs.SizeMTimeHash(43, 1700000000123456789), false},
		{"etag", `"9b2cf535f27731c974343645a3985328"`, false},
		{"unknown", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Inode{Name: "f", Size: 42, MTime: 1700000000123456789}
			in.SetHash(tc.hash)
			if got := in.Hash(); got != tc.hash {
				t.Fatalf("Hash() = %q, want %q", got, tc.hash)
			}
			if !in.HashIs(tc.hash) || in.HashIs(tc.hash+"x") || in.HasHash() != (tc.hash != "") {
				t.Fatalf("HashIs(own) %v, HashIs(other) %v, HasHash %v", in.HashIs(tc.hash), in.HashIs(tc.hash+"x"), in.HasHash())
			}
			if (in.hash == sizeMTimeHash) != tc.compact {
				t.Fatalf("kept as %q: compact %v, want %v", in.hash, in.hash == sizeMTimeHash, tc.compact)
			}
		})
	}
}
