package namespace

import (
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Op names a namespace mutation. The values are part of the journal format: never
// renumber them.
type Op uint8

const (
	OpMount           Op = iota + 1 // add a mount and its mount-point directory
	OpUnmount                       // remove a mount and its subtree
	OpCreate                        // add a directory, or a file being written
	OpComplete                      // publish a complete file version at a path
	OpUpdate                        // change an entry's attributes or persist state
	OpRename                        // move an entry (with the sync points below it)
	OpDelete                        // remove an entry, its subtree and its sync points
	OpLoad                          // add entries found in the UFS (metadata only)
	OpAddSyncPoint                  // register an active-sync point
	OpRemoveSyncPoint               // remove an active-sync point
	OpAllocIDs                      // raise the content-id watermark
	OpSetAttr                       // change attributes (TTL, pin, mode, owner, group) of paths
	OpUpdateMount                   // change a mount's options, read-only and shared flags in place
)

func (o Op) String() string {
	switch o {
	case OpMount:
		return "mount"
	case OpUnmount:
		return "unmount"
	case OpCreate:
		return "create"
	case OpComplete:
		return "complete"
	case OpUpdate:
		return "update"
	case OpRename:
		return "rename"
	case OpDelete:
		return "delete"
	case OpLoad:
		return "load"
	case OpAddSyncPoint:
		return "startSync"
	case OpRemoveSyncPoint:
		return "stopSync"
	case OpAllocIDs:
		return "allocIDs"
	case OpSetAttr:
		return "setAttribute"
	case OpUpdateMount:
		return "updateMount"
	}
	return "op?"
}

// Entry is one namespace mutation, a plain value that the journal stores and every
// member applies. Whatever varies between members (times, content ids, mount ids) is
// decided by the member that submits the entry and travels in it.
type Entry struct {
	Op   Op
	Path string // clean namespace path
	Dst  string `json:",omitempty"` // OpRename: destination
	// Node describes the entry: the new inode (OpCreate, OpComplete) or the attributes
	// to set (OpUpdate).
	Node *NodeRecord `json:",omitempty"`
	// Mount is the mount of OpMount.
	Mount *MountRecord `json:",omitempty"`
	// Overwrite lets OpCreate replace a file (journals written before OpComplete
	// published overwrites).
	Overwrite bool `json:",omitempty"`
	// Unmount lets OpDelete remove the mounts at or below Path (never their UFS data)
	// instead of failing with ErrMountPoint.
	Unmount bool `json:",omitempty"`
	// Loaded are UFS statuses for OpLoad, children of Path; Complete marks Path's
	// listing as fully loaded at SyncedAt.
	Loaded   []ufs.Status `json:",omitempty"`
	Complete bool         `json:",omitempty"`
	SyncedAt int64        `json:",omitempty"`
	// IDHigh is OpAllocIDs's new watermark: content ids below it may be in use.
	IDHigh uint64 `json:",omitempty"`
	// MountHigh, for OpAllocIDs, raises the mount-id watermark (snapshots carry it, so
	// that ids of removed mounts are not drawn again).
	MountHigh uint32 `json:",omitempty"`
	// ReqID identifies the request that made the entry, for exactly-once retries: a
	// retried request whose id the state holds was applied already (see HasRequest).
	ReqID string `json:",omitempty"`
	// Reqs, in a snapshot's OpAllocIDs, are the request ids the state remembers.
	Reqs []string `json:",omitempty"`
	// Attr is the change of OpSetAttr, or attributes OpComplete gives a new file.
	Attr *AttrRecord `json:",omitempty"`
	// Targets, for OpSetAttr, are the paths below Path that the change also applies to
	// (a recursive change: the entries the submitter found below Path).
	Targets []string `json:",omitempty"`

	// Volatile entries (derived from the UFS, or from configuration) are not journaled:
	// each member derives them again.
	Volatile bool `json:"-"`
	// Built holds, parallel to Loaded, inodes already made from the statuses (off the
	// apply lock); nil elements are made by Apply.
	Built []*inode.Inode `json:"-"`
}

// NodeRecord is the serialisable form of an inode's attributes.
type NodeRecord struct {
	Dir bool `json:",omitempty"`
	// ID is the content id of a file: the new file's for OpCreate and OpComplete; for
	// OpUpdate, the id the file must still have (a compare-and-set; zero: any).
	ID uint64 `json:",omitempty"`
	// NewID, for OpUpdate, gives the file a new content id (its content changed in the
	// UFS); the old id is released.
	NewID   uint64             `json:",omitempty"`
	Size    int64              `json:",omitempty"`
	MTime   int64              `json:",omitempty"`
	Hash    string             `json:",omitempty"`
	Owner   string             `json:",omitempty"`
	Group   string             `json:",omitempty"`
	Mode    fs.FileMode        `json:",omitempty"`
	Persist inode.PersistState `json:",omitempty"`
	Open    bool               `json:",omitempty"` // being written
	Pinned  bool               `json:",omitempty"`
	// Shadow says the UFS still holds an older, persisted version at the path that this
	// unpersisted file replaced: whoever moves or deletes the file removes that object.
	Shadow bool `json:",omitempty"`
	// Holder is the member (its advertised address) whose cache holds an unpersisted
	// file's blocks; empty in a single process.
	Holder string `json:",omitempty"`
}

// MountRecord is the serialisable form of a mount.
type MountRecord struct {
	ID       uint32
	URI      string
	Options  map[string]string `json:",omitempty"`
	ReadOnly bool              `json:",omitempty"`
	Shared   bool              `json:",omitempty"`
	MTime    int64             `json:",omitempty"` // the mount point's mtime
}

// Record returns the serialisable form of in's attributes, its holder included.
func (s *State) Record(in *inode.Inode) *NodeRecord {
	r := recordOf(in)
	if !in.IsDir() {
		r.Holder = s.HolderOf(in.ID)
	}
	return r
}

func recordOf(in *inode.Inode) *NodeRecord {
	return &NodeRecord{Dir: in.IsDir(), ID: in.ID, Size: in.Size, MTime: in.MTime, Hash: in.Hash(),
		Owner: in.Owner.Owner, Group: in.Owner.Group, Mode: in.Owner.Mode, Persist: in.Persist(),
		Open: in.Flags&inode.FlagOpen != 0, Pinned: in.Flags&inode.FlagPinned != 0, Shadow: in.Flags&inode.FlagShadow != 0}
}
