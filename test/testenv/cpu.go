package testenv

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// JVMUpkeepTime returns the CPU time that the threads of the Java process
// pid which do the JVM's own work have used: its garbage collector's (G1's
// and the parallel GC threads) and its JIT compilers'. It is part of
// CPUTime(pid); a benchmark prints it to tell a broker's work per record
// from what its JVM spends catching up on a heap that filled earlier or on
// compiling a code path used for the first time.
func JVMUpkeepTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("listing the threads of process %d: %v", pid, cmp.Or(err, os.ErrNotExist))
	}
	var sum time.Duration
	for _, task := range tasks {
		comm, err1 := os.ReadFile(filepath.Join(task, "comm"))
		stat, err2 := os.ReadFile(filepath.Join(task, "stat"))
		if err1 != nil || err2 != nil {
			continue // the thread has ended
		}
		if !jvmUpkeep(strings.TrimSpace(string(comm))) {
			continue
		}
		t, err := parseCPUTime(stat)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// jvmUpkeepThreads are the name prefixes of the HotSpot threads that
// collect garbage ("G1 Conc#0", "G1 Refine#0", "GC Thread#1", "VM Thread")
// and compile ("C1 CompilerThre", "C2 CompilerThre": names are cut at 15
// bytes).
var jvmUpkeepThreads = []string{"G1 ", "GC Thread", "VM Thread", "C1 Compiler", "C2 Compiler"}

// jvmUpkeep reports whether a thread named comm does the JVM's own work.
func jvmUpkeep(comm string) bool {
	return slices.ContainsFunc(jvmUpkeepThreads, func(p string) bool { return strings.HasPrefix(comm, p) })
}

// MachineCPU is the machine's CPU time since boot, summed over its CPUs,
// from the first line of /proc/stat.
type MachineCPU struct {
	// Busy is the time spent running anything: user, nice, system, and
	// the interrupts' and soft interrupts' work, which the kernel
	// charges to no process (a loopback connection's delivery, for one).
	Busy time.Duration
	// Idle is the time with nothing to run, waiting for I/O included.
	Idle time.Duration
	// Steal is the time a virtual machine's CPUs were ready to run but
	// the host ran something else.
	Steal time.Duration
}

// Sub returns the times between an earlier reading and m.
func (m MachineCPU) Sub(earlier MachineCPU) MachineCPU {
	return MachineCPU{Busy: m.Busy - earlier.Busy, Idle: m.Idle - earlier.Idle, Steal: m.Steal - earlier.Steal}
}

// ReadMachineCPU returns the machine's CPU time from /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, fmt.Errorf("reading the machine's CPU time: %w", err)
	}
	return parseMachineCPU(stat)
}

// parseMachineCPU reads the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq and steal, in clock ticks (guest time is part
// of user time already).
func parseMachineCPU(stat []byte) (MachineCPU, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var ticks [8]int64
	for i := range ticks {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return MachineCPU{}, fmt.Errorf("reading /proc/stat line %q: %w", line, err)
		}
		ticks[i] = v
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	user, nice, system, idle, iowait, irq, softirq, steal := ticks[0], ticks[1], ticks[2], ticks[3], ticks[4], ticks[5], ticks[6], ticks[7]
	return MachineCPU{Busy: tick(user + nice + system + irq + softirq), Idle: tick(idle + iowait), Steal: tick(steal)}, nil
}
