// Command identity runs touchline's identity resolver: link requests from
// Kafka applied to the identity map, merges recorded in ClickHouse. Run
// `identity --help` for its flags.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/identitycmd"
)

func main() { os.Exit(command.Main(command.Standalone(identitycmd.New))) }
