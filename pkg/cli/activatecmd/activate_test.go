package activatecmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/activate"
)

// pipelines returns a pipelines directory with the shipped identity rules
// and segments and the destinations file dest.
func pipelines(t *testing.T, dest string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"identity.yaml", "segments.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "pipelines", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, activate.DestinationsFile), []byte(dest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckCommand(t *testing.T) {
	t.Setenv("TL_SECRET", "x")
	for _, tc := range []struct{ dest, want string }{
		{"destinations:\n  - {name: crm, kind: webhook, segments: [cart_abandoners], url: 'https://h.example', secret_env: TL_SECRET}\n",
			"destinations.yaml: 1 destinations OK"},
		{"destinations:\n  - {name: crm, kind: webhook, segments: [cart_abandoner], url: 'https://h.example', secret_env: TL_SECRET}\n",
			`destinations.yaml:2: destination "crm": unknown segment "cart_abandoner"`},
		{"destinations:\n  - name: ads\n    kind: audience_file\n    directory: /tmp/a\n    segments: [lapsed_buyers]\n    clear_text: [phone]\n",
			`destinations.yaml:6: destination "ads": clear_text: phone is hashed at ingest`},
	} {
		path := filepath.Join(pipelines(t, tc.dest), activate.DestinationsFile)
		cmd := newCheckCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs([]string{path})
		err := cmd.Execute()
		got := out.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("check: %q, want %q", got, tc.want)
		}
	}
}
