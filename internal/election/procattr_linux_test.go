package election

import "syscall"

// memberProcAttr kills a member process with the test process.
func memberProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
