package unifiedfs

import (
	"io/fs"
	"time"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// fileInfo is an fs.FileInfo and fs.DirEntry over one inode version.
type fileInfo struct {
	f   *FS
	dir string // clean path of the parent (shared by every entry of a listing)
	in  *inode.Inode
	m   *mount
	// attr, when set, holds the entry's attributes as read with in, in one namespace
	// state (Stat); else they are read from the table when asked (listings).
	attr *namespace.Attr
}

// attrs returns the attributes SetAttribute recorded for the entry.
func (fi *fileInfo) attrs() namespace.Attr {
	if fi.attr != nil {
		return *fi.attr
	}
	return fi.f.attrsOf(fi.path())
}

func (f *FS) info(r *resolved) *fileInfo {
	dir, _ := ufs.Split(r.path)
	if r.path == ufs.Root {
		dir = ""
	}
	return &fileInfo{f: f, dir: dir, in: r.node, m: r.mount}
}

// entries returns the children of the directory r, sorted, with one allocation for the
// infos and one for the slice.
func (f *FS) entries(r *resolved) []fs.DirEntry {
	kids := r.node.Dir().Children()
	infos := make([]fileInfo, len(kids))
	out := make([]fs.DirEntry, len(kids))
	for i, c := range kids {
		m := r.mount
		if c.IsMount() {
			if cm := f.mountByID(c.Dir().MountID.Load()); cm != nil {
				m = cm
			}
		}
		infos[i] = fileInfo{f: f, dir: r.path, in: c, m: m}
		out[i] = &infos[i]
	}
	return out
}

func (fi *fileInfo) path() string {
	if fi.dir == "" {
		return ufs.Root
	}
	return ufs.Join(fi.dir, fi.in.Name)
}

func (fi *fileInfo) Name() string {
	if fi.dir == "" {
		return "."
	}
	return fi.in.Name
}

func (fi *fileInfo) Size() int64 {
	if fi.in.IsDir() {
		return 0
	}
	return fi.in.Size
}

func (fi *fileInfo) perm() fs.FileMode { return fi.permOf(fi.attrs()) }

// permOf returns the entry's permission bits given its attributes a.
func (fi *fileInfo) permOf(a namespace.Attr) fs.FileMode {
	m := fi.in.Owner.Mode.Perm()
	if a.ModeSet {
		m = a.Mode
	}
	if fi.m.Shared {
		u := (m >> 6) & 7
		m |= u<<3 | u
	}
	return m
}

func (fi *fileInfo) Mode() fs.FileMode {
	if fi.in.IsDir() {
		return fs.ModeDir | fi.perm()
	}
	return fi.perm()
}

func (fi *fileInfo) Type() fs.FileMode { return fi.Mode().Type() }

func (fi *fileInfo) Info() (fs.FileInfo, error) { return fi, nil }

func (fi *fileInfo) IsDir() bool { return fi.in.IsDir() }

func (fi *fileInfo) String() string { return fs.FormatFileInfo(fi) }

func (fi *fileInfo) ModTime() time.Time {
	if fi.in.MTime == 0 {
		return time.Time{}
	}
	return time.Unix(0, fi.in.MTime)
}

// Sys returns a *FileStatus.
func (fi *fileInfo) Sys() any {
	in, m := fi.in, fi.m
	p := fi.path()
	a := fi.attrs() // once: the mode and the rest of one SetAttribute
	st := &FileStatus{
		Path: ufs.Rooted(p), Name: fi.Name(), IsDir: in.IsDir(), Size: fi.Size(), ModTime: fi.ModTime(),
		Mode: fi.permOf(a), Owner: in.Owner.Owner, Group: in.Owner.Group, PersistState: in.Persist(),
		UFSPath: m.ufsURI(p), MountPoint: ufs.Rooted(m.Path), IsMountPoint: in.IsMount(),
		Incomplete: in.Flags&inode.FlagOpen != 0, ReadOnly: m.ReadOnly, Pinned: in.Flags&inode.FlagPinned != 0,
	}
	withAttrs(st, a)
	if d := in.Dir(); d != nil {
		st.Children = d.Len()
	}
	if !in.IsDir() {
		st.Version = in.ID
		st.CachedBytes = fi.f.cache.CachedBytes(cacheFile(in))
		if in.Persist() == inode.Persisted {
			st.Fingerprint = ufs.Fingerprint{Type: ufs.TypeFile, UFS: m.caps.Kind, Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode, ContentHash: in.Hash()}.String()
		}
	}
	return st
}

// FileStatus is what Stat's fs.FileInfo.Sys() returns: the namespace's view of one entry.
type FileStatus struct {
	Path         string // rooted namespace path
	Name         string
	IsDir        bool
	Size         int64
	ModTime      time.Time
	Mode         fs.FileMode // permission bits (with the owner's bits copied to group and other on shared mounts)
	Owner        string
	Group        string
	PersistState PersistState
	// UFSPath is the entry's location in its UFS, as a URI.
	UFSPath string
	// MountPoint is the rooted path of the mount the entry is in; IsMountPoint says
	// whether the entry is that mount's root.
	MountPoint   string
	IsMountPoint bool
	// CachedBytes is how much of the file's content is in the block cache.
	CachedBytes int64
	// Fingerprint is the UFS fingerprint recorded for the entry ("" when unknown).
	Fingerprint string
	// Incomplete is true while the file is being written.
	Incomplete bool
	// Pinned is true while the cache holds the only copy of the file's content
	// (MUST_CACHE, or ASYNC_THROUGH before its persist), or when SetAttribute pinned it:
	// its blocks are never evicted.
	Pinned bool
	// TTL is the time to live SetAttribute (or Config.CreateTTL) gave the entry, 0 for
	// none; it expires at the time the TTL was set plus TTL, and TTLAction says what then.
	TTL       time.Duration `json:",omitempty"`
	TTLAction TTLAction     `json:",omitempty"`
	// Children is the number of entries the namespace holds for a directory (those
	// loaded so far), as Alluxio's ls shows for directories.
	Children int
	// ReadOnly is true under a read-only mount.
	ReadOnly bool
	// Version identifies the content of a file: it changes whenever the content changes
	// (an overwrite, a change found in the UFS), and only then.
	Version uint64 `json:",omitempty"`
}
