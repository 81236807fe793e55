package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is Linux's USER_HZ, the clock tick of the CPU times in /proc: 100
// on every architecture Linux supports.
const userHZ = 100

// CPUTime returns the CPU time (user and system, all threads) that process
// pid has used, from /proc/<pid>/stat, to the clock tick of 10 ms. The
// benchmarks take the difference of two readings around what they measure.
func CPUTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	return parseCPUTime(stat)
}

// parseCPUTime reads utime and stime from a /proc/<pid>/stat line. The
// command name, in parentheses, may hold spaces and parentheses, so the
// fields are counted after its last ')': state is the first, utime the
// 12th and stime the 13th.
func parseCPUTime(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat %q", stat)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("reading /proc stat %q: %w", stat, err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}
