//go:build !linux

package testenv

// onTmpfs reports false: only Linux is known to mount a tmpfs at
// /dev/shm.
func onTmpfs(string) bool { return false }
