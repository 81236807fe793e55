package cli

import (
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/activatecmd"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/identitycmd"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/cli/segmentscmd"
	"github.com/touchline-io/touchline/pkg/version"
)

func TestVersionCommand(t *testing.T) {
	defer func(v string) { version.Version = v }(version.Version)
	version.Version = "v1.2.0"
	out, err := execute(t, "version")
	if want := "touchline v1.2.0"; err != nil || !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Errorf("touchline version: %q, %v; want %q ... and the Go release", out, err, want)
	}
	for _, newCommand := range []func(*command.Globals) *cobra.Command{ingestcmd.New, identitycmd.New, alertscmd.New, segmentscmd.New, activatecmd.New} {
		if cmd := command.Standalone(newCommand); !strings.HasPrefix(cmd.Version, "touchline v1.2.0") {
			t.Errorf("%s --version: %q", cmd.Name(), cmd.Version)
		}
	}
}
