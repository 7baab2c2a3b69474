package unifiedfs

import (
	"context"
	"hash/fnv"
	"sync"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// A content version is immutable: a file's content id names exactly one sequence of
// bytes, and whatever changes the content gives the file a new id. The cached blocks of a
// version are released only when neither the tree nor an open handle refers to it, so a
// reader never sees another version's bytes and a read never changes another version's
// state.

// versionRefs counts the open handles of content versions, so that a version the tree
// releases (deleted, overwritten, changed in the UFS) keeps its blocks until its last
// reader closes, and a version that was pinned when a reader opened it stays pinned
// until that reader closes (an ASYNC_THROUGH file persisted meanwhile is unpinned then).
type versionRefs struct {
	mu sync.Mutex
	m  map[uint64]*versionRef // only versions with open handles or deferred work
}

type versionRef struct {
	path       string       // where the version is now (follows renames)
	in         *inode.Inode // the version, as acquired
	m          *mount       // the mount it was opened in
	held       bool         // its blocks are held in the cache (holdReaders)
	handles    int          // open readers
	pinHolders int          // of those, readers that opened the version while it was pinned
	released   bool         // the tree no longer holds it: drop its blocks after the last reader
	unpin      bool         // persisted meanwhile: unpin after the last pin holder
}

// acquire registers a reader of the version in at path p and returns the tree's current
// inode of that version and whether the reader holds its pin (release needs both). It
// fails (nil) when the tree no longer holds that version at p, as seen under the lock
// that treeReleased takes: the caller looks the path up again.
func (v *versionRefs) acquire(f *FS, p string, in *inode.Inode, m *mount) (cur *inode.Inode, pinned bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur = f.ns().Lookup(p)
	if cur == nil || cur.IsDir() || cur.ID != in.ID {
		return nil, false
	}
	if v.m == nil {
		v.m = map[uint64]*versionRef{}
	}
	r := v.m[in.ID]
	if r == nil {
		r = &versionRef{}
		v.m[in.ID] = r
	}
	r.path, r.in, r.m = p, cur, m
	r.handles++
	if pinned = cur.Flags&inode.FlagPinned != 0; pinned {
		r.pinHolders++
	}
	return cur, pinned
}

// release ends a reader registered by acquire (pinned: whether it counted as a pin
// holder, i.e. the version was pinned when acquire ran).
func (v *versionRefs) release(f *FS, id uint64, pinned bool) {
	v.mu.Lock()
	r := v.m[id]
	if r == nil {
		v.mu.Unlock()
		return
	}
	r.handles--
	if pinned {
		r.pinHolders--
	}
	drop := r.released && r.handles == 0
	unpin := (r.unpin && r.pinHolders == 0 || r.held && r.handles == 0) && !drop
	if unpin {
		r.unpin = false
		if a, _ := f.ns().AttrOf(r.path); a.Pinned && !r.released {
			unpin = false // SetAttribute pinned it since: its unpin unpins
		}
	}
	if r.handles == 0 {
		delete(v.m, id)
	}
	if unpin {
		// Under v.mu, so that a SetAttribute pin (keepPinned, then Hold) either cancels
		// this unpin or holds the blocks again after it.
		f.cache.Unpin(id)
	}
	v.mu.Unlock()
	if drop {
		f.cache.Drop(id)
	}
}

// holdReaders is called, under the path lock of p, before the UFS object at p is
// replaced or removed: every persisted version that readers hold there (or below, for a
// directory) is loaded and held in the cache, so that those readers still read it whole.
// When the cache cannot hold it, its readers will fail with ErrChanged instead.
func (f *FS) holdReaders(ctx context.Context, p string) {
	v := &f.versions
	type job struct {
		id uint64
		in *inode.Inode
		m  *mount
		at string
	}
	var jobs []job
	v.mu.Lock()
	for id, r := range v.m {
		if !r.held && r.handles > 0 && ufs.IsWithin(r.path, p) && r.in.Persist() == inode.Persisted && r.in.Flags&inode.FlagPinned == 0 {
			jobs = append(jobs, job{id, r.in, r.m, r.path})
		}
	}
	v.mu.Unlock()
	for _, j := range jobs {
		// The caller holds p's lock: no rename moves these objects meanwhile, and a fetch
		// that waited for that lock (movedFrom) would wait for this very call.
		if err := f.cache.Hold(ctx, cacheFile(j.in), f.versionFetcher(j.m, j.at, j.in, false)); err != nil {
			f.log.Debug("unifiedfs: could not hold a version for its readers", "path", ufs.Rooted(j.at), "err", err)
			continue
		}
		v.mu.Lock()
		if r := v.m[j.id]; r != nil {
			r.held = true
		} else if a, _ := f.ns().AttrOf(j.at); !a.Pinned {
			// Its last reader left meanwhile. A SetAttribute pin keeps its blocks, as in
			// release: the commit may still fail and leave this version in place, pinned.
			f.cache.Unpin(j.id)
		}
		v.mu.Unlock()
	}
}

// renamed makes the versions held below src follow a rename to dst (under applyMu).
func (v *versionRefs) renamed(src, dst string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.m {
		if ufs.IsWithin(r.path, src) {
			r.path = ufs.Join(dst, ufs.Rel(src, r.path))
		}
	}
}

// pathOf returns where the held version id is now (or was last, when the tree released
// it: the UFS may still hold it there), or def when no reader holds it.
func (v *versionRefs) pathOf(id uint64, def string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r := v.m[id]; r != nil {
		return r.path
	}
	return def
}

// treeReleased is called (under applyMu) for versions the tree stopped holding: their
// blocks go now, or after their last reader.
func (v *versionRefs) treeReleased(f *FS, ids []uint64) {
	if len(ids) == 0 {
		return
	}
	v.mu.Lock()
	var drop []uint64
	for _, id := range ids {
		if r := v.m[id]; r != nil && r.handles > 0 {
			r.released = true
			continue
		}
		drop = append(drop, id)
	}
	v.mu.Unlock()
	for _, id := range drop {
		f.cache.Drop(id)
	}
}

// persisted is called, under the path lock of p, when version id at p reached the UFS:
// its blocks become evictable as unpinAfterHolders says, unless SetAttribute pinned p
// (then its unpin does that).
func (v *versionRefs) persisted(f *FS, p string, id uint64) {
	if a, _ := f.ns().AttrOf(p); a.Pinned {
		return
	}
	v.unpinAfterHolders(f, id)
}

// keepPinned cancels the unpin that persisted deferred for version id until its pin
// holders close (SetAttribute pins it, under its path lock).
func (v *versionRefs) keepPinned(id uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if r := v.m[id]; r != nil {
		r.unpin = false
	}
}

// unpinAfterHolders makes the blocks of the persisted version id evictable, now or once
// the readers that opened it while it was pinned (and read only the cache) are gone.
func (v *versionRefs) unpinAfterHolders(f *FS, id uint64) {
	v.mu.Lock()
	if r := v.m[id]; r != nil && r.pinHolders > 0 {
		r.unpin = true
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	f.cache.Unpin(id)
}

// cacheFile names the cached content of the file version in. The generation of a loaded
// version is a second, independent hash of its identity, so two versions whose ids
// collide still never share blocks.
func cacheFile(in *inode.Inode) cache.File {
	f := cache.File{ID: in.ID, Size: in.Size}
	if in.ID&namespace.LoadedBit != 0 {
		h := fnv.New64()
		var b [16]byte
		for i := range 8 {
			b[i] = byte(in.ID >> (8 * i))
			b[8+i] = byte(in.Size >> (8 * i))
		}
		h.Write(b[:])
		h.Write([]byte(in.Hash()))
		f.Gen = h.Sum64()
	}
	return f
}
