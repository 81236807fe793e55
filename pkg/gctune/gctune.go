// Package gctune sets a service's Go garbage collector: its target (what
// GOGC sets) and a soft memory limit under the container's, each unless
// the operator set it in the environment.
package gctune

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Settings is what Apply left in effect.
type Settings struct {
	// GCPercent is the garbage collector's target: the heap grows by this
	// percentage of the live heap before the next collection.
	GCPercent int
	// GCPercentFromEnv is true when GOGC was set, and so was kept.
	GCPercentFromEnv bool
	// MemoryLimit is the soft memory limit Apply set from the cgroup, in
	// bytes; 0 when it set none (GOMEMLIMIT was set, or no limit was found).
	MemoryLimit int64
}

// memoryLimitShare is the share of the cgroup's memory limit that Apply
// sets as the soft limit, leaving room for memory the Go runtime does not
// count (thread stacks of C code, the binary, the page cache's share).
const memoryLimitShare = 0.9

// Apply sets the garbage collector's target to gcPercent unless GOGC is set
// in the environment, and, unless GOMEMLIMIT is set, a soft memory limit of
// nine tenths of the memory limit of the cgroup the process runs in, if it
// has one: near that limit the garbage collector then runs as often as it
// must instead of letting the heap grow to gcPercent and the process be
// killed.
func Apply(gcPercent int) Settings {
	return apply(gcPercent, os.LookupEnv, "/proc/self/cgroup", "/sys/fs/cgroup")
}

func apply(gcPercent int, env func(string) (string, bool), selfCgroup, cgroupRoot string) Settings {
	var s Settings
	if _, ok := env("GOGC"); ok {
		s.GCPercentFromEnv = true
		s.GCPercent = debug.SetGCPercent(-1)
		debug.SetGCPercent(s.GCPercent)
	} else {
		debug.SetGCPercent(gcPercent)
		s.GCPercent = gcPercent
	}
	if _, ok := env("GOMEMLIMIT"); !ok {
		if limit := cgroupMemoryLimit(selfCgroup, cgroupRoot); limit > 0 {
			s.MemoryLimit = int64(float64(limit) * memoryLimitShare)
			debug.SetMemoryLimit(s.MemoryLimit)
		}
	}
	return s
}

// unlimitedV1 is where cgroup v1 reports no limit: anything this large is
// none (the kernel reports the largest multiple of the page size).
const unlimitedV1 = 1 << 62

// cgroupMemoryLimit returns the memory limit of the process's cgroup, in
// bytes, or 0 when there is none or it cannot be read. selfCgroup is the
// process's /proc/self/cgroup and root the cgroup file system's mount.
// Under cgroup v2 it reads memory.max of the process's group, under v1
// memory.limit_in_bytes of its memory group; either falls back to the
// mount's own file, which is the group's in a container with its own cgroup
// namespace.
func cgroupMemoryLimit(selfCgroup, root string) int64 {
	v2, v1 := groups(selfCgroup)
	for _, path := range []string{
		filepath.Join(root, v2, "memory.max"),
		filepath.Join(root, "memory.max"),
		filepath.Join(root, "memory", v1, "memory.limit_in_bytes"),
		filepath.Join(root, "memory", "memory.limit_in_bytes"),
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		text := strings.TrimSpace(string(b))
		if text == "max" {
			return 0
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n <= 0 || n >= unlimitedV1 {
			return 0
		}
		return n
	}
	return 0
}

// groups returns the process's cgroup v2 path and its v1 memory group's
// path from /proc/self/cgroup ("" for one that is not there).
func groups(selfCgroup string) (v2, v1 string) {
	f, err := os.Open(selfCgroup)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2 = parts[2]
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			v1 = parts[2]
		}
	}
	return v2, v1
}
