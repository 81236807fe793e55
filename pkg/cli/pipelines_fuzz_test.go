package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// pipelinesParsers reads each pipelines file, by its name under
// pipelines/.
var pipelinesParsers = map[string]func(name string, data []byte) error{
	"alerts.yaml":      func(n string, d []byte) error { _, err := rules.ParseRules(n, d); return err },
	"attribution.yaml": func(n string, d []byte) error { _, err := analytics.ParseAttribution(n, d); return err },
	"channels.yaml":    func(n string, d []byte) error { _, err := channel.Parse(n, d); return err },
	"collect.yaml":     func(n string, d []byte) error { _, err := collect.ParseMapping(n, d); return err },
	"destinations.yaml": func(n string, d []byte) error {
		_, err := activate.Parse(n, d, activate.Rules{Hashed: []string{"email", "phone"}})
		return err
	},
	"identity.yaml": func(n string, d []byte) error { _, err := stitch.ParseRules(n, d); return err },
	"segments.yaml": func(n string, d []byte) error { _, err := engine.ParseDefinitions(n, d); return err },
	"stages.yaml":   func(n string, d []byte) error { _, err := analytics.ParseStages(n, d); return err },
}

// FuzzPipelinesFiles hands every pipelines file's reader arbitrary
// content, seeded with the shipped files: an operator's mistake, however
// odd, is an error naming the file, never a panic.
func FuzzPipelinesFiles(f *testing.F) {
	names := make([]string, 0, len(pipelinesParsers))
	for name := range pipelinesParsers {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		data, err := os.ReadFile(filepath.Join("..", "..", "pipelines", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), data)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		name := names[int(which)%len(names)]
		if err := pipelinesParsers[name](name, data); err != nil && !strings.HasPrefix(err.Error(), name) {
			t.Fatalf("%s: an error that does not name the file: %v", name, err)
		}
	})
}
