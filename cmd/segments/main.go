// Command segments runs touchline's segments service: touchpoints routed by
// person, segment definitions evaluated on every event and on timers,
// entries and exits to Kafka and ClickHouse. Run `segments --help` for its
// flags and subcommands.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/segmentscmd"
)

func main() { os.Exit(command.Main(command.Standalone(segmentscmd.New))) }
