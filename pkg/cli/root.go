// Package cli is the touchline command: every service, and the commands
// that migrate, produce, generate, query, report, forget and run the all-in-one dev
// mode. The per-service mains under cmd/ run their own service's command
// package instead (pkg/cli/ingestcmd and its siblings), which this one
// gathers.
package cli

import (
	"github.com/spf13/cobra"

	"github.com/touchline-io/touchline/pkg/cli/activatecmd"
	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/cli/collectcmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/identitycmd"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/cli/segmentscmd"
	"github.com/touchline-io/touchline/pkg/cli/uicmd"
	"github.com/touchline-io/touchline/pkg/version"
)

// NewRoot returns the `touchline` command with all its subcommands.
func NewRoot() *cobra.Command {
	g := &command.Globals{}
	root := &cobra.Command{
		Use:           "touchline",
		Short:         "Streaming omnichannel marketing analytics: Kafka in, ClickHouse out",
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	g.Register(root)
	root.AddCommand(
		newMigrateCommand(g),
		newTopicsCommand(g),
		newProduceCommand(g),
		newRatesCommand(g),
		newGenerateCommand(g),
		ingestcmd.New(g),
		collectcmd.New(g),
		uicmd.New(g),
		identitycmd.New(g),
		newForgetCommand(g),
		newRetentionCommand(g),
		alertscmd.New(g),
		segmentscmd.New(g),
		activatecmd.New(g),
		newDevCommand(g),
		newQueryCommand(g),
		newReportCommand(g),
		newVersionCommand(),
		newCheckCommand(g),
		newProbeCommand(),
	)
	return root
}
