package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"github.com/unifiedfs/unifiedfs/ufs"
)

var procLockFileEx = syscall.NewLazyDLL("kernel32.dll").NewProc("LockFileEx")

const (
	lockfileFailImmediately = 0x1
	lockfileExclusiveLock   = 0x2
	errorLockViolation      = syscall.Errno(33) // ERROR_LOCK_VIOLATION
)

// lockExclusive takes a non-blocking exclusive lock on the first byte of f (LockFileEx;
// compile-checked only: the project's CI runs on Linux).
func lockExclusive(f *os.File) error {
	var ol syscall.Overlapped
	r, _, err := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock|lockfileFailImmediately, 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r == 0 {
		return err
	}
	return nil
}

// busyErr reports a lock that lockExclusive found taken as ufs.ErrBusy.
func busyErr(err error) error {
	if errors.Is(err, errorLockViolation) {
		return fmt.Errorf("%w: another writer has it open for appending (LockFileEx): %w", ufs.ErrBusy, err)
	}
	return err
}

// ownerIDs: Windows has no numeric owner and group; statuses carry none.
func ownerIDs(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
