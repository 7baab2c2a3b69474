package unifiedfs

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/unifiedfs/unifiedfs/internal/cache"
	"github.com/unifiedfs/unifiedfs/internal/namespace"
	"github.com/unifiedfs/unifiedfs/ufs"
)

// Sentinel errors. Every error the FS returns is a *fs.PathError (an *os.LinkError-shaped
// *RenameError for Rename) whose chain satisfies errors.Is with one of these or with
// fs.ErrNotExist, fs.ErrExist, fs.ErrPermission or fs.ErrInvalid, and keeps the UFS
// driver's own error in the chain.
var (
	// ErrReadOnly: a write under a read-only mount.
	ErrReadOnly = errors.New("read-only mount")
	// ErrNotEmpty: removing a directory that has entries without RemoveAll.
	ErrNotEmpty = ufs.ErrNotEmpty
	// ErrNotDir: a path element or a target that must be a directory is a file.
	ErrNotDir = ufs.ErrNotDir
	// ErrIsDir: a file operation on a directory.
	ErrIsDir = ufs.ErrIsDir
	// ErrNotSupported: the UFS cannot do what was asked.
	ErrNotSupported = ufs.ErrNotSupported
	// ErrCrossMount: a rename between two mounts, or of (or onto) a mount point.
	ErrCrossMount = namespace.ErrCrossMount
	// ErrMountPoint: the path is (or contains) a mount point and the operation would
	// change it; unmount first, or ask for it explicitly.
	ErrMountPoint = namespace.ErrMountPoint
	// ErrNotMountPoint: Unmount of a path that is not a mount point.
	ErrNotMountPoint = namespace.ErrNotMountPoint
	// ErrNoSpace: pinned (unpersisted) data would exceed the cache's capacity.
	ErrNoSpace = cache.ErrNoSpace
	// ErrNotPersisted: Free of a file whose only copy is the cache.
	ErrNotPersisted = errors.New("file is not persisted")
	// ErrLost: the file was never persisted and its cached blocks are gone.
	ErrLost = errors.New("file content lost: not persisted and no longer cached")
	// ErrIncomplete: reading a file that is still being written (Stat and ReadDir show it
	// with FileStatus.Incomplete).
	ErrIncomplete = errors.New("file is being written")
	// ErrBusy: the file is being written by another writer (Create with Overwrite), or a
	// rename would move a file being written.
	ErrBusy = ufs.ErrBusy
	// ErrChanged: the file's content in the UFS is no longer the version the namespace
	// described when it was opened (it was replaced behind the namespace). Its metadata is
	// synced again: open it again to read the new version.
	ErrChanged = ufs.ErrChanged
	// ErrNotLeader: a mutation on a member of a highly available namespace that is not its
	// leader (a standby, or a leader whose ZooKeeper session is in doubt). The message
	// names the leader when one is known.
	ErrNotLeader = errors.New("not the leader")
	// ErrSyncLimit: a recursive metadata sync passed its limit (see SyncLimitError).
	ErrSyncLimit = errors.New("recursive sync limit exceeded")
	// ErrClosed: the FS was closed.
	ErrClosed = fs.ErrClosed
)

// RenameError records a failed rename, like *os.LinkError.
type RenameError struct {
	Op  string
	Old string
	New string
	Err error
}

func (e *RenameError) Error() string { return e.Op + " " + e.Old + " " + e.New + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RenameError) Unwrap() error { return e.Err }

// pathErr builds the FS's error for op on the clean path p, shown in rooted form.
func pathErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == op && pe.Path == ufs.Rooted(p) {
		return err
	}
	return &fs.PathError{Op: op, Path: ufs.Rooted(p), Err: err}
}

// errorf returns an error satisfying errors.Is with sentinel and with a formatted reason.
func errorf(sentinel error, format string, a ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, a...))
}
