package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/activate"
	"github.com/touchline-io/touchline/pkg/alerts/rules"
	"github.com/touchline-io/touchline/pkg/analytics"
	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/channel"
	"github.com/touchline-io/touchline/pkg/cli/activatecmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/identity/stitch"
	"github.com/touchline-io/touchline/pkg/pipefile"
	"github.com/touchline-io/touchline/pkg/segments/engine"
)

// pipelinesFile is one file of the pipelines directory and the loader its
// service reads it with.
type pipelinesFile struct {
	name string
	// needs names the service that refuses to start without the file;
	// "" for a file that may be absent (the services then use defaults
	// or no rules).
	needs string
	load  func(path string) error
}

// pipelinesFiles are the files `touchline check` reads, with the loaders
// the services use, so that it accepts exactly what they accept.
var pipelinesFiles = []pipelinesFile{
	{app.ChannelsFile, "ingest", func(p string) error { _, err := channel.Load(p); return err }},
	{stitch.RulesFile, "", func(p string) error { _, err := stitch.LoadRules(p); return err }},
	{engine.DefinitionsFile, "segments", func(p string) error { _, err := engine.LoadDefinitions(p); return err }},
	{rules.RulesFile, "", func(p string) error { _, err := rules.LoadRules(p); return err }},
	{analytics.AttributionFile, "", func(p string) error { _, err := analytics.LoadAttribution(p); return err }},
	{analytics.StagesFile, "", func(p string) error { _, err := analytics.LoadStages(p); return err }},
	{collect.MappingFile, "", func(p string) error { _, err := collect.LoadMapping(p); return err }},
	{activate.DestinationsFile, "", func(p string) error { _, _, err := activatecmd.Load(filepath.Dir(p), "", p); return err }},
}

// errCheckFailed is the error of a check that found problems, which it
// has printed already.
var errCheckFailed = errors.New("the configuration has errors")

func newCheckCommand(g *command.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate touchline.yaml and every pipelines file; print every error as file:line: reason",
		Long: "Reads the configuration (--config, the environment and the flags) and every file of the\n" +
			"pipelines directory (--pipelines, or pipelines: in the config) as the services would, and\n" +
			"prints every error it finds, one a line, as file:line: reason, on standard error. Exits 1\n" +
			"when there is any error, 0 otherwise. Nothing is connected to.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var problems pipefile.List
			cfg, err := g.Assemble(cmd)
			// The file's errors name it; those of the flags and the
			// environment name their flag or variable.
			problems.Add("", err)
			if err == nil {
				problems.Add("", cfg.Validate())
			}
			for _, f := range pipelinesFiles {
				path := filepath.Join(cfg.Pipelines, f.name)
				if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
					if f.needs != "" {
						problems.Add(path, pipefile.Errorf(path, 0, "missing: the %s service needs it", f.needs))
					}
					continue
				}
				problems.Add(path, f.load(path))
			}
			for _, p := range problems {
				fmt.Fprintln(cmd.ErrOrStderr(), p)
			}
			if len(problems) > 0 {
				return fmt.Errorf("%w: %d found", errCheckFailed, len(problems))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "configuration and pipelines files in %s OK\n", cfg.Pipelines)
			return nil
		},
	}
}
