package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/servers"
	"github.com/touchline-io/touchline/test/testenv"
)

// loadedTables are the tables the load fills (testenv.LoadGenerated); the
// materialised views fill the others, on chDB as on the server.
var loadedTables = []string{"touchpoints", "spend"}

// chDBRequest is what chdb_timings.py reads on stdin.
type chDBRequest struct {
	Migrations []string          `json:"migrations"`
	Tables     map[string]string `json:"tables"`
	Queries    []chDBQuery       `json:"queries"`
	Runs       int               `json:"runs"`
}

type chDBQuery struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// chDBAnswer is what chdb_timings.py writes on stdout.
type chDBAnswer struct {
	Version string `json:"version"`
	Results []struct {
		Name    string  `json:"name"`
		Seconds float64 `json:"seconds"`
		TSV     string  `json:"tsv"`
		Error   string  `json:"error"`
	} `json:"results"`
}

// timeOnChDB copies the loaded tables of database from server into chDB,
// in Native format through files in dir, and times queries there. It
// returns chDB's version, and a timing and the rows (as TabSeparated text)
// per query, in the order of queries. A query that Go finishes from its
// rows (the data-driven models) is timed without that step.
func timeOnChDB(ctx context.Context, server *servers.ClickHouse, database, dir string, queries []query, runs int) (string, []namedTiming, []string, error) {
	ms, err := clickhouse.Migrations()
	if err != nil {
		return "", nil, nil, err
	}
	req := chDBRequest{Tables: map[string]string{}, Runs: runs}
	for _, m := range ms {
		req.Migrations = append(req.Migrations, m.Statements...)
	}
	for _, t := range loadedTables {
		file := filepath.Join(dir, database+"."+t+".native")
		if err := export(ctx, server, database, t, file); err != nil {
			return "", nil, nil, err
		}
		defer os.Remove(file)
		req.Tables[t] = file
	}
	for _, q := range queries {
		req.Queries = append(req.Queries, chDBQuery{Name: q.name, SQL: q.sql})
	}
	in, err := json.Marshal(req)
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.CommandContext(ctx, "python3", filepath.Join(testenv.RepoRoot(), "test", "bench", "queries", "chdb_timings.py"))
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, nil, fmt.Errorf("chdb_timings.py (pip install chdb): %w", err)
	}
	var answer chDBAnswer
	if err := json.Unmarshal(out, &answer); err != nil {
		return "", nil, nil, fmt.Errorf("reading chdb_timings.py's answer: %w", err)
	}
	if len(answer.Results) != len(queries) {
		return "", nil, nil, fmt.Errorf("chdb_timings.py timed %d queries, want %d", len(answer.Results), len(queries))
	}
	timings := make([]namedTiming, len(queries))
	rows := make([]string, len(queries))
	for i, r := range answer.Results {
		rows[i] = r.TSV
		t := timing{median: time.Duration(r.Seconds * float64(time.Second)), rows: len(lines(r.TSV))}
		if r.Error != "" {
			t = timing{err: fmt.Errorf("%s", firstLine(r.Error))}
		}
		timings[i] = namedTiming{queries[i].name, t}
	}
	return answer.Version, timings, rows, nil
}

// export writes table of database, in the server's Native format, to file.
func export(ctx context.Context, server *servers.ClickHouse, database, table, file string) error {
	body, err := server.Query(ctx, database, "SELECT * FROM "+table+" FORMAT Native")
	if err != nil {
		return fmt.Errorf("exporting %s: %w", table, err)
	}
	defer body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return fmt.Errorf("exporting %s: %w", table, err)
	}
	return f.Close()
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
