// Command identity runs touchline's identity resolver: link requests from
// Kafka applied to the identity map, merges recorded in ClickHouse. Run
// `identity --help` for its flags.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli"
)

func main() { os.Exit(cli.Main(cli.NewService("identity"))) }
