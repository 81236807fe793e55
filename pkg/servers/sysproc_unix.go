//go:build unix && !linux

package servers

import "syscall"

// sysProcAttr puts a child in its own process group, so that signals aimed at
// the parent's terminal group do not reach it and it can be signalled as a
// group. Only Linux can also tie the child's life to its parent's.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
