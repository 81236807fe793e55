// Command ui serves touchline's web UI and its JSON API on the analyses of
// `touchline query`. Run `ui --help` for its flags.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/command"
	"github.com/touchline-io/touchline/pkg/cli/uicmd"
)

func main() { os.Exit(command.Main(command.Standalone(uicmd.New))) }
