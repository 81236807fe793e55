package servers

import (
	"path/filepath"
	"syscall"
	"testing"

	"go.uber.org/zap/zaptest"
)

// TestPauseReturnsOnceStopped pauses a child that keeps both cores busy
// and checks that, when Pause returns, no thread of it runs any more; after
// Resume they run again.
func TestPauseReturnsOnceStopped(t *testing.T) {
	dir := t.TempDir()
	p := &process{
		name:    "busy",
		dir:     dir,
		argv:    []string{"/bin/sh", "-c", "while :; do :; done & while :; do :; done"},
		outPath: filepath.Join(dir, "out"),
		log:     zaptest.NewLogger(t),
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.stop(0) })
	for range 20 {
		if err := p.pause(); err != nil {
			t.Fatal(err)
		}
		if running, err := runningThreads(p.running().pid); err != nil || running != 0 {
			t.Fatalf("%d threads running after pause (%v)", running, err)
		}
		if err := p.signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThreadStopped reads the state from /proc stat lines, including
// command names holding parentheses and spaces.
func TestThreadStopped(t *testing.T) {
	for stat, want := range map[string]bool{
		"12 (java) T 1 12":            true,
		"12 (java) t 1 12":            true,
		"12 (java) R 1 12":            false,
		"12 (java) S 1 12":            false,
		"12 (a) b) T 1":               true,
		"12 (C2 CompilerThre) D 1 12": false,
		"12 (x) Z 1":                  true,
		"garbage":                     false,
		"12 (x)":                      false,
	} {
		if got := threadStopped(stat); got != want {
			t.Errorf("threadStopped(%q) = %v, want %v", stat, got, want)
		}
	}
}
