package testenv

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestParseCPUTime reads utime and stime after a command name holding
// spaces and parentheses, and refuses lines that are not a stat line.
func TestParseCPUTime(t *testing.T) {
	got, err := parseCPUTime([]byte("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 3 0 100 0 0"))
	if err != nil {
		t.Fatal(err)
	}
	if want := 2670 * time.Millisecond; got != want {
		t.Errorf("CPU time %s, want %s (250 + 17 ticks)", got, want)
	}
	for _, bad := range []string{"", "4242 no parentheses", "4242 (x) S 1 2", "4242 (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 17"} {
		if _, err := parseCPUTime([]byte(bad)); err == nil {
			t.Errorf("parseCPUTime(%q) accepted it", bad)
		}
	}
}

// TestCPUTimeOfThisProcess burns 300 ms of CPU, as getrusage counts it,
// and checks that CPUTime of this process grew by as much, to the clock
// tick.
func TestCPUTimeOfThisProcess(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	start := rusage()
	for rusage()-start < 300*time.Millisecond {
	}
	used := rusage() - start
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := (after - before) - used; d < -30*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("CPUTime grew by %s while getrusage counted %s", after-before, used)
	}
}

// TestJVMUpkeepThreads: the garbage collector and compiler threads of a
// HotSpot broker (names as /proc gives them, cut at 15 bytes) count as
// the JVM's upkeep, its request handlers and network threads do not; a Go
// process has none, and a process that does not exist is an error.
func TestJVMUpkeepThreads(t *testing.T) {
	for comm, want := range map[string]bool{
		"G1 Conc#0": true, "G1 Refine#0": true, "G1 Main Marker": true, "GC Thread#1": true, "VM Thread": true,
		"C2 CompilerThre": true, "C1 CompilerThre": true,
		"data-plane-kafk": false, "kafka-1-raft-io": false, "java": false, "kafka-log-clean": false, "metrics-meter-t": false,
	} {
		if got := jvmUpkeep(comm); got != want {
			t.Errorf("jvmUpkeep(%q) = %t, want %t", comm, got, want)
		}
	}
	if got, err := JVMUpkeepTime(os.Getpid()); err != nil || got != 0 {
		t.Errorf("JVMUpkeepTime of this Go process = %s, %v; want 0", got, err)
	}
	if _, err := JVMUpkeepTime(1 << 30); err == nil {
		t.Error("JVMUpkeepTime of a process that does not exist: no error")
	}
}

// TestParseMachineCPU reads busy, idle and steal time from /proc/stat's
// first line, and refuses text that is not one.
func TestParseMachineCPU(t *testing.T) {
	got, err := parseMachineCPU([]byte("cpu  100 5 40 900 10 2 3 50 7 0\ncpu0 50 2 20 450 5 1 1 25 3 0\nintr 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	// busy: user 100 + nice 5 + system 40 + irq 2 + softirq 3 ticks;
	// idle: 900 + iowait 10; steal 50; guest (7) is inside user.
	want := MachineCPU{Busy: 1500 * time.Millisecond, Idle: 9100 * time.Millisecond, Steal: 500 * time.Millisecond}
	if got != want {
		t.Errorf("parseMachineCPU = %+v, want %+v", got, want)
	}
	if d := want.Sub(MachineCPU{Busy: time.Second, Idle: 9 * time.Second, Steal: 100 * time.Millisecond}); d != (MachineCPU{Busy: 500 * time.Millisecond, Idle: 100 * time.Millisecond, Steal: 400 * time.Millisecond}) {
		t.Errorf("Sub = %+v", d)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 3 4 5 6 7 x"} {
		if _, err := parseMachineCPU([]byte(bad)); err == nil {
			t.Errorf("parseMachineCPU(%q) accepted it", bad)
		}
	}
}
