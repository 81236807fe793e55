package gctune

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// restore puts back the collector's target and memory limit a test changes.
func restore(t *testing.T) {
	t.Helper()
	percent := debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

// write writes text to root/rel, making its directories.
func write(t *testing.T, root, rel, text string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestApplySetsTheTargetAndALimitUnderTheCgroups(t *testing.T) {
	restore(t)
	dir := t.TempDir()
	write(t, dir, "self", "0::/kubepods/pod1\n")
	write(t, dir, "cg/kubepods/pod1/memory.max", "1000000000\n")
	got := apply(250, env(nil), filepath.Join(dir, "self"), filepath.Join(dir, "cg"))
	if got.GCPercent != 250 || got.GCPercentFromEnv || got.MemoryLimit != 900_000_000 {
		t.Errorf("apply = %+v, want target 250 not from the environment and a limit of 900000000", got)
	}
	if p := debug.SetGCPercent(100); p != 250 {
		t.Errorf("the collector's target is %d, want 250", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 900_000_000 {
		t.Errorf("the memory limit is %d, want 900000000", l)
	}
}

func TestApplyKeepsWhatTheEnvironmentSet(t *testing.T) {
	restore(t)
	debug.SetGCPercent(75)
	debug.SetMemoryLimit(math.MaxInt64)
	dir := t.TempDir()
	write(t, dir, "self", "0::/\n")
	write(t, dir, "cg/memory.max", "1000000000\n")
	got := apply(250, env(map[string]string{"GOGC": "75", "GOMEMLIMIT": "2GiB"}), filepath.Join(dir, "self"), filepath.Join(dir, "cg"))
	if got.GCPercent != 75 || !got.GCPercentFromEnv || got.MemoryLimit != 0 {
		t.Errorf("apply = %+v, want GOGC's 75 kept and no limit set", got)
	}
	if p := debug.SetGCPercent(100); p != 75 {
		t.Errorf("the collector's target is %d, want GOGC's 75", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("the memory limit is %d, want it untouched", l)
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	cases := []struct {
		name  string
		self  string
		files map[string]string
		want  int64
	}{
		{"v2 group", "0::/a/b\n", map[string]string{"a/b/memory.max": "536870912\n"}, 536870912},
		{"v2 without a limit", "0::/a\n", map[string]string{"a/memory.max": "max\n", "memory.max": "1000"}, 0},
		{"v2 in its own namespace", "0::/\n", map[string]string{"memory.max": "1048576"}, 1048576},
		{"v1 memory group", "4:memory:/docker/x\n0::/\n", map[string]string{"memory/docker/x/memory.limit_in_bytes": "268435456"}, 268435456},
		{"v1 with cpu and memory together", "3:cpu,memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "4096"}, 4096},
		{"v1 without a limit", "4:memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712"}, 0},
		{"v1 at the mount", "4:memory:/gone\n", map[string]string{"memory/memory.limit_in_bytes": "8192"}, 8192},
		{"garbage", "0::/\n", map[string]string{"memory.max": "lots"}, 0},
		{"nothing", "", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "self", tc.self)
			for rel, text := range tc.files {
				write(t, dir, filepath.Join("cg", rel), text)
			}
			if got := cgroupMemoryLimit(filepath.Join(dir, "self"), filepath.Join(dir, "cg")); got != tc.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, tc.want)
			}
		})
	}
	if got := cgroupMemoryLimit(filepath.Join(t.TempDir(), "missing"), t.TempDir()); got != 0 {
		t.Errorf("without /proc/self/cgroup or files: %d, want 0", got)
	}
}
