//go:build unix && !linux

package election

import "syscall"

// memberProcAttr: only Linux can kill a member with the test process (Pdeathsig).
func memberProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
