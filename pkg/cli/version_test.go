package cli

import (
	"runtime"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/version"
)

func TestVersionCommand(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = "v1.2.0"
	out, err := execute(t, "version")
	if want := "touchline v1.2.0"; err != nil || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Errorf("touchline version: %q, %v; want %q ... and the Go release", out, err, want)
	}
	for _, name := range []string{"ingest", "identity", "alerts", "segments"} {
		if v := NewService(name).Version; !strings.HasPrefix(v, "touchline v1.2.0") {
			t.Errorf("%s --version: %q", name, v)
		}
	}
}
