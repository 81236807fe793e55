// Command activate runs touchline's activation service: segment changes
// delivered to webhooks, exactly once, and segment members exported as
// hashed audience files. Run `activate --help` for its flags and
// subcommands.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/activatecmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
)

func main() { os.Exit(command.Main(command.Standalone(activatecmd.New))) }
