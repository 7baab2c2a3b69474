package zktest

import "syscall"

// procAttr puts the server in a process group of its own (signal reaches the JVM's
// children too) and kills it with the test process, even one killed with SIGKILL.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
