package testenv

import (
	"fmt"
	"os"
)

// BenchDirEnv names the environment variable that chooses where the
// benchmarks keep their servers' data (see BenchDir).
const BenchDirEnv = "TOUCHLINE_BENCH_DIR"

// sharedMemory is the tmpfs most Linux systems mount.
const sharedMemory = "/dev/shm"

// BenchDir makes a new directory, whose name begins with prefix, for a
// benchmark's servers and files: in $TOUCHLINE_BENCH_DIR when it is set,
// else in /dev/shm when that is a tmpfs, else in the system's temporary
// directory. It prints where, so that a run's figures say what they
// measured.
//
// A tmpfs is the default because the CPU time a file system spends
// creating files is charged to the server that creates them, and on some
// machines it swamps the work measured: on ext4 without a journal each new
// file's inode is found by scanning past every inode deleted in the last
// half minute, and ClickHouse creates some sixty files per part it writes
// (docs/architecture.md measures it). A tmpfs keeps files in the page
// cache, where the servers' reads and writes cost what they cost on a disk
// whose cache holds the data.
func BenchDir(prefix string) (string, error) {
	parent, why := os.Getenv(BenchDirEnv), "$"+BenchDirEnv
	if parent == "" {
		parent, why = os.TempDir(), "the system's temporary directory"
		if onTmpfs(sharedMemory) {
			parent, why = sharedMemory, "a tmpfs"
		}
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", fmt.Errorf("making a directory for the servers in %s: %w", parent, err)
	}
	fmt.Printf("servers' data in %s (%s; set %s to choose)\n", dir, why, BenchDirEnv)
	return dir, nil
}
