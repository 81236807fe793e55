package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBenchDirIsMadeWhereTheEnvironmentSays(t *testing.T) {
	parent := t.TempDir()
	t.Setenv(BenchDirEnv, parent)
	dir, err := BenchDir("touchline-bench-test-")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != parent {
		t.Fatalf("BenchDir made %s, want a directory in %s", dir, parent)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("BenchDir's %s is not a directory: %v", dir, err)
	}
}

func TestBenchDirFailsOnAMissingParent(t *testing.T) {
	t.Setenv(BenchDirEnv, filepath.Join(t.TempDir(), "missing"))
	if dir, err := BenchDir("touchline-bench-test-"); err == nil {
		t.Fatalf("BenchDir made %s in a directory that does not exist", dir)
	}
}

func TestOnTmpfsIsFalseForAMissingDirectory(t *testing.T) {
	if onTmpfs(filepath.Join(t.TempDir(), "missing")) {
		t.Fatal("onTmpfs is true for a directory that does not exist")
	}
}
