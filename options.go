package unifiedfs

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/unifiedfs/unifiedfs/internal/inode"
)

// WriteType says where Create's bytes go, as Alluxio's write types.
type WriteType uint8

// Write types. The zero value means the FS default (Config.WriteType, itself CacheThrough
// by default: durable when Close returns).
const (
	WriteDefault WriteType = iota
	// MustCache writes only the cache. The blocks are pinned (never evicted) and the file
	// is NotPersisted until Persist. Without a disk cache tier, it lives only in memory.
	MustCache
	// CacheThrough writes the cache and the UFS; Close returns once the UFS upload
	// succeeded (and reports its failure).
	CacheThrough
	// Through writes only the UFS; nothing is cached.
	Through
	// AsyncThrough writes the cache (pinned) and persists in the background with retries;
	// Close returns after the cache write. The file is ToBePersisted, then Persisted.
	AsyncThrough
)

func (w WriteType) String() string {
	switch w {
	case WriteDefault:
		return "DEFAULT"
	case MustCache:
		return "MUST_CACHE"
	case CacheThrough:
		return "CACHE_THROUGH"
	case Through:
		return "THROUGH"
	case AsyncThrough:
		return "ASYNC_THROUGH"
	}
	return fmt.Sprintf("WriteType(%d)", uint8(w))
}

// ParseWriteType parses Alluxio's names (MUST_CACHE, CACHE_THROUGH, THROUGH,
// ASYNC_THROUGH), case-insensitively.
func ParseWriteType(s string) (WriteType, error) {
	for w := MustCache; w <= AsyncThrough; w++ {
		if strings.EqualFold(s, w.String()) {
			return w, nil
		}
	}
	return 0, errorf(fs.ErrInvalid, "unknown write type %q (want MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH)", s)
}

// ReadType says what reads do with the cache, as Alluxio's read types.
type ReadType uint8

// Read types. The zero value means the FS default (Config.ReadType, itself Cache).
const (
	ReadDefault ReadType = iota
	// NoCache reads from the UFS (or blocks already cached) and caches nothing.
	NoCache
	// Cache caches the blocks it reads in memory.
	Cache
	// CachePromote caches too, and moves blocks found in the disk tier to memory.
	CachePromote
)

func (r ReadType) String() string {
	switch r {
	case ReadDefault:
		return "DEFAULT"
	case NoCache:
		return "NO_CACHE"
	case Cache:
		return "CACHE"
	case CachePromote:
		return "CACHE_PROMOTE"
	}
	return fmt.Sprintf("ReadType(%d)", uint8(r))
}

// ParseReadType parses Alluxio's names (NO_CACHE, CACHE, CACHE_PROMOTE).
func ParseReadType(s string) (ReadType, error) {
	for r := NoCache; r <= CachePromote; r++ {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return 0, errorf(fs.ErrInvalid, "unknown read type %q (want NO_CACHE, CACHE or CACHE_PROMOTE)", s)
}

// PersistState says whether a file's content is in the UFS.
type PersistState = inode.PersistState

// Persist states.
const (
	NotPersisted  = inode.NotPersisted
	ToBePersisted = inode.ToBePersisted
	Persisted     = inode.Persisted
	Lost          = inode.Lost
)

// MountOptions tune Mount.
type MountOptions struct {
	// ReadOnly refuses every write under the mount with ErrReadOnly.
	ReadOnly bool
	// Shared gives other users the owner's permission bits, as Alluxio's --shared.
	Shared bool
	// Options go to the UFS driver (credentials, endpoints). Keys are case-insensitive.
	Options map[string]string
}

// MountInfo describes one mount. Options are redacted: secret values read "<redacted>".
type MountInfo struct {
	Path     string // rooted namespace path ("/" for the root mount)
	UFS      string // canonical UFS URI
	ReadOnly bool
	Shared   bool
	Options  map[string]string
	Kind     string // the UFS's kind ("local", "oss", ...)
	// Error is why the mount is unusable, when its UFS could not be reached again after
	// a restart (the mount is kept; every operation under it reports this).
	Error string
}

// CreateOptions tune Create and WriteFile. The zero value uses the FS defaults.
type CreateOptions struct {
	WriteType WriteType   // zero: Config.WriteType
	Mode      fs.FileMode // permission bits; zero: 0644
	// Recursive creates missing parent directories (like MkdirAll) instead of failing.
	Recursive bool
	// Overwrite replaces an existing file instead of failing with fs.ErrExist.
	Overwrite bool
}

// OpenOptions tune OpenFile.
type OpenOptions struct {
	ReadType ReadType // zero: Config.ReadType
}

// DeleteOptions tune Delete.
type DeleteOptions struct {
	// Recursive deletes a directory and everything below it.
	Recursive bool
	// Unmount lets a recursive delete unmount the mount points it contains instead of
	// failing with ErrMountPoint. Their UFS data is never deleted.
	Unmount bool
	// NamespaceOnly removes the entries from the namespace (and their cached blocks) but
	// leaves the UFS untouched, as Alluxio's rm --alluxioOnly.
	NamespaceOnly bool
}
