package testenv

import "syscall"

// tmpfsMagic is the file system type statfs(2) reports for a tmpfs.
const tmpfsMagic = 0x01021994

// onTmpfs tells whether path is a writable directory on a tmpfs.
func onTmpfs(path string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(path, &st) == nil && st.Type == tmpfsMagic && syscall.Access(path, 2 /* W_OK */) == nil
}
