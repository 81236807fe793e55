package servers

import "syscall"

// sysProcAttr puts a child in its own process group, so that signals aimed at
// the parent's terminal group do not reach it and it can be signalled as a
// group, and has the kernel kill it when its parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
