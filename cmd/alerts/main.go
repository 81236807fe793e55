// Command alerts runs touchline's alerts service: KPI rules evaluated against
// ClickHouse, notifications to webhooks, Kafka and Prometheus. Run
// `alerts --help` for its flags and subcommands.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/alertscmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
)

func main() { os.Exit(command.Main(command.Standalone(alertscmd.New))) }
