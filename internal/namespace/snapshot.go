package namespace

import (
	"github.com/unifiedfs/unifiedfs/internal/inode"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Marshal encodes an entry for the journal.
func Marshal(e *Entry) ([]byte, error) { return marshalBinary(e), nil }

// Unmarshal decodes an entry Marshal encoded.
func Unmarshal(data []byte) (*Entry, error) {
	return unmarshalEntry(data) // the binary encoding, or the JSON of older journals
}

// Snapshot encodes the durable state as the entries that rebuild it on a state holding
// only the root mount: the watermarks, every mount, every entry only the namespace has
// (files and directories not persisted, with the directories on their way) and the
// active-sync points. Metadata of persisted entries is not in it: members load it from
// the UFS. Files being written are not either (their writes die with the member). The
// encoding is deterministic, so two states are equal exactly when their snapshots are.
func (s *State) Snapshot() ([]byte, error) {
	var out [][]byte
	add := func(e *Entry) error {
		b, err := Marshal(e)
		out = append(out, b)
		return err
	}
	if err := add(&Entry{Op: OpAllocIDs, Path: ufs.Root, IDHigh: s.idHigh, MountHigh: s.nextMount, Reqs: s.requests()}); err != nil {
		return nil, err
	}
	mounts := s.mounts.Load()
	var walk func(p string, in *inode.Inode) error
	walk = func(p string, in *inode.Inode) error {
		if p != ufs.Root {
			switch {
			case in.IsMount():
				m := mounts.ByID(in.Dir().MountID.Load())
				if m == nil {
					return nil
				}
				if err := add(&Entry{Op: OpMount, Path: p, Mount: m.Record()}); err != nil {
					return err
				}
			case in.Flags&inode.FlagOpen != 0:
				return nil
			case in.Persist() == inode.Persisted && !in.IsDir():
				return nil
			case in.Persist() != inode.Persisted && !in.IsDir():
				return add(&Entry{Op: OpComplete, Path: p, Node: s.Record(in)})
			case in.Persist() != inode.Persisted:
				if err := add(&Entry{Op: OpCreate, Path: p, Node: s.Record(in)}); err != nil {
					return err
				}
			}
		}
		var err error
		in.Dir().Range(func(c *inode.Inode) bool {
			err = walk(ufs.Join(p, c.Name), c)
			return err == nil
		})
		return err
	}
	if err := walk(ufs.Root, s.root.Load()); err != nil {
		return nil, err
	}
	for _, p := range s.SyncPoints() {
		if err := add(&Entry{Op: OpAddSyncPoint, Path: p}); err != nil {
			return nil, err
		}
	}
	for _, e := range s.attrEntries() {
		if err := add(e); err != nil {
			return nil, err
		}
	}
	return encodeSnapshot(out), nil
}

// DecodeSnapshot returns the entries of a snapshot, in the order to apply them.
func DecodeSnapshot(data []byte) ([]*Entry, error) {
	return decodeSnapshot(data) // binary, or the JSON of older checkpoints
}
