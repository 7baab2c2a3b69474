//go:build unix

package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// lockExclusive takes a non-blocking exclusive flock on f.
func lockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// busyErr reports a lock that lockExclusive found taken as ufs.ErrBusy.
func busyErr(err error) error {
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%w: another writer has it open for appending (flock): %w", ufs.ErrBusy, err)
	}
	return err
}

// ownerIDs returns the numeric owner and group of a file.
func ownerIDs(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return sys.Uid, sys.Gid, true
}
