// Command collect runs touchline's collector: an HTTP service that speaks the
// Segment tracking API and touchline's JSON form and publishes touchpoints to
// Kafka. Run `collect --help` for its flags.
package main

import (
	"os"

	"github.com/touchline-io/touchline/pkg/cli/collectcmd"
	"github.com/touchline-io/touchline/pkg/cli/command"
)

func main() { os.Exit(command.Main(command.Standalone(collectcmd.New))) }
