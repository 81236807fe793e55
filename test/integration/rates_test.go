package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/testenv"
)

// TestRatesLoadRestateReplay loads a file of the shape of the ECB's
// eurofxref-hist.csv with `touchline rates load`: every rate of its good
// lines reaches the exchange_rates table through the ingest service, each
// bad line is refused with its number, a second load restates one rate, and
// a replay of the whole topic changes nothing.
func TestRatesLoadRestateReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg, conn, cfgPath := setup(ctx, t, 2, nil)
	ecb := filepath.Join(testenv.RepoRoot(), "pkg", "rates", "testdata", "ecb-hist.csv")
	stdout, stderr, status := runTouchlineStatus(ctx, t, "rates", "load", "--config", cfgPath, "--file", ecb)
	if status != 1 {
		t.Fatalf("exit status %d, want 1 (bad lines)\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	for _, want := range []string{
		`ecb-hist.csv: line 6: date "2024-13-01" is neither YYYY-MM-DD`,
		`ecb-hist.csv: line 7: EUR/GBP: rate: -0.869050000 is not positive (invalid_field)`,
		`ecb-hist.csv: line 8: has 6 cells, the header has 10`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Lines 2-4 hold 8 rates each (CYP is N/A), line 5 seven (ILS empty).
	if !strings.Contains(stdout, "published 31 exchange rates") || !strings.Contains(stdout, "rejected 3 lines") {
		t.Errorf("stdout: %s", stdout)
	}
	restate := filepath.Join(t.TempDir(), "restate.csv")
	if err := os.WriteFile(restate, []byte("date,base,quote,rate,source\n2024-01-05,EUR,HUF,380.5,ecb-revised\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, status := runTouchlineStatus(ctx, t, "rates", "load", "--config", cfgPath, "--file", restate); status != 0 {
		t.Fatalf("restating: exit status %d\nstdout: %s\nstderr: %s", status, stdout, stderr)
	}
	check := func(stage string) {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT toString(date), base, quote, rate, source FROM exchange_rates FINAL ORDER BY date, quote")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var d, base, quote, source string
			var rate float64
			if err := rows.Scan(&d, &base, &quote, &rate, &source); err != nil {
				t.Fatal(err)
			}
			got[d+" "+base+"/"+quote] = fmt.Sprintf("%g %s", rate, source)
		}
		if len(got) != 31 {
			t.Fatalf("%s: %d rates, want 31: %v", stage, len(got), got)
		}
		for k, want := range map[string]string{
			"2024-01-05 EUR/HUF": "380.5 ecb-revised", // restated from 377.93
			"2024-01-05 EUR/USD": "1.0921 ecb",
			"2024-01-04 EUR/ILS": "4.0076 ecb",
			"2024-01-02 EUR/PLN": "4.3555 ecb",
			"2024-01-03 EUR/JPY": "156.1 ecb",
		} {
			if got[k] != want {
				t.Errorf("%s: %s = %q, want %q", stage, k, got[k], want)
			}
		}
		for _, absent := range []string{"2024-01-02 EUR/ILS", "2024-01-05 EUR/CYP", "2023-12-29 EUR/USD"} {
			if v, ok := got[absent]; ok {
				t.Errorf("%s: %s = %q, want no rate", stage, absent, v)
			}
		}
	}
	proc := startIngest(t, cfgPath, logPath(t))
	waitTopicsCommitted(ctx, t, cfg, cfg.Kafka.Topics.Rates())
	check("first pass")
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
	resetGroup(ctx, t, cfg, cfg.Ingest.Group, cfg.Kafka.Topics.Rates())
	proc = startIngest(t, cfgPath, logPath(t))
	waitTopicsCommitted(ctx, t, cfg, cfg.Kafka.Topics.Rates())
	check("after replay")
	if err := proc.Terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
}
