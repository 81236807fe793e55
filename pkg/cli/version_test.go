package cli

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	Version = "v1.2.0"
	out, err := execute(t, "version")
	if want := "touchline v1.2.0"; err != nil || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Errorf("touchline version: %q, %v; want %q ... and the Go release", out, err, want)
	}
	b := BuildInfo{Version: "v1.2.0", Commit: "0a1b2c3-modified", Built: "2026-11-02T10:00:00Z", Go: "go1.26.8 linux/amd64"}
	if got, want := b.String(), "touchline v1.2.0 (commit 0a1b2c3-modified, 2026-11-02T10:00:00Z) go1.26.8 linux/amd64"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	Version = ""
	if got := Build().Version; got != "devel" {
		t.Errorf("unstamped test binary: version %q, want devel", got)
	}
	for _, name := range []string{"ingest", "identity", "alerts", "segments"} {
		if v := NewService(name).Version; !strings.HasPrefix(v, "touchline ") {
			t.Errorf("%s --version: %q", name, v)
		}
	}
}
