// Command dump prints, as JSON, every ClickHouse statement touchline ships:
// the migrations' statements in order and the named queries, for check.py to
// run on a current ClickHouse engine (chDB).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/dev"
)

type shipped struct {
	Migrations []string          `json:"migrations"`
	Queries    map[string]string `json:"queries"`
}

func main() {
	ms, err := clickhouse.Migrations()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := shipped{Queries: map[string]string{"dev.channel_report": dev.ChannelReportSQL}}
	for _, m := range ms {
		out.Migrations = append(out.Migrations, m.Statements...)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
