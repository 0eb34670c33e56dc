//go:build unix

package storage

import "syscall"

// statfsFree is the default FreeSpaceFunc: the blocks available to unprivileged users.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}
