//go:build unix && !linux

package zktest

import "syscall"

// procAttr puts the server in a process group of its own. Only Linux can also kill it
// with the test process (Pdeathsig): elsewhere a test killed with SIGKILL leaves it
// running until its stop.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
