// Command touchline is touchline's command line: migrate, produce, generate,
// the services, and the all-in-one dev mode. Run `touchline --help`.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli"
	"github.com/touchline-io/touchline/pkg/cli/command"
)

func main() { os.Exit(command.Main(cli.NewRoot())) }
