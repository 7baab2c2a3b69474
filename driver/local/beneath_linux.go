//go:build linux && (amd64 || arm64)

package local

import (
	"os"
	"syscall"
	"unsafe"
)

// sysOpenat2 is openat2(2)'s number on amd64 and arm64 (Linux 5.6).
const sysOpenat2 = 437

// openHow is struct open_how of openat2(2).
type openHow struct{ flags, mode, resolve uint64 }

const (
	resolveNoMagiclinks = 0x02
	resolveBeneath      = 0x08
)

// openDirBeneath opens the directory name below the directory open as dirfd in one
// openat2 call that the kernel confines to dirfd (symbolic links included, as os.Root
// does), where os.Root opens and closes every component in turn. ok is false when the
// call cannot be made (an older kernel, a sandbox that filters it) or failed: the
// caller then goes through os.Root, which also gives the error its usual form.
func openDirBeneath(dirfd int, name string) (f *os.File, ok bool) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return nil, false
	}
	how := openHow{flags: syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_CLOEXEC, resolve: resolveBeneath | resolveNoMagiclinks}
	for {
		fd, _, errno := syscall.Syscall6(sysOpenat2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch errno {
		case 0:
			return os.NewFile(fd, name), true
		case syscall.EINTR, syscall.EAGAIN:
			continue
		}
		return nil, false
	}
}
