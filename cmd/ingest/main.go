// Command ingest runs touchline's ingest service: touchpoints and spend from
// Kafka into ClickHouse. Run `ingest --help` for its flags.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
)

func main() { os.Exit(command.Main(command.Standalone(ingestcmd.New))) }
