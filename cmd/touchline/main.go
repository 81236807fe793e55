// Command touchline is touchline's command line: migrate, produce, generate,
// the services, and the all-in-one dev mode. Run `touchline --help`.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli"
)

func main() { os.Exit(cli.Main(cli.NewRoot())) }
