package activate

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// exportEvery writes d's audience files at once and then every d.Every
// until ctx ends. A failed export is logged, counted and reported by
// /readyz until the next one succeeds.
func (s *Service) exportEvery(ctx context.Context, d Destination) error {
	t := time.NewTicker(d.Every)
	defer t.Stop()
	for {
		err := s.Export(ctx, d)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.m.exports.WithLabelValues(d.Name, "failed").Inc()
			s.health.Fail("destination "+d.Name, fmt.Errorf("audience export failed: %w", err))
			s.log.Warn("audience export failed", zap.String("destination", d.Name), zap.Error(err))
		} else {
			s.m.exports.WithLabelValues(d.Name, "ok").Inc()
			s.health.Pass("destination " + d.Name)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Export writes the audience files of d, one pair per segment, in
// d.Directory: <segment>.csv, every current member (erased persons left
// out) that has any of the identifiers d sends, one row each, sorted, under
// a header; and <segment>.delta.csv, the rows added ("add") and removed
// ("remove") since the previous export. Each file is replaced atomically
// (written aside, then renamed). The rows' persons are kept in
// .state/<segment>.json, for the next delta. A person erased since the
// previous export is in neither file: her row leaves the full file without
// a "remove" row, so that no file written after her erasure holds her
// identifiers, and uploading the full file removes her from the platform.
func (s *Service) Export(ctx context.Context, d Destination) error {
	if err := os.MkdirAll(filepath.Join(d.Directory, stateDir), 0o750); err != nil {
		return fmt.Errorf("audience directory: %w", err)
	}
	for _, segment := range d.Segments {
		statePath := filepath.Join(d.Directory, stateDir, segment+".json")
		previous, err := readState(statePath)
		if err != nil {
			return err
		}
		var members []string
		var ids map[string]map[string][]string
		var erased map[string]bool
		err = s.clickhouse(ctx, "reading the audience of "+segment, func(ctx context.Context) (err error) {
			if members, err = s.store.Members(ctx, segment); err != nil {
				return err
			}
			if ids, err = s.store.Identifiers(ctx, members); err != nil {
				return err
			}
			gone := make([]string, 0, len(previous))
			for p := range previous {
				gone = append(gone, p)
			}
			erased, err = s.store.Erased(ctx, gone)
			return err
		})
		if err != nil {
			return err
		}
		header, rows := s.audienceRows(d, members, ids)
		var delta [][]string
		for p, row := range previous {
			if !slices.Equal(rows[p], row) && !erased[p] {
				delta = append(delta, append([]string{"remove"}, row...))
			}
		}
		for p, row := range rows {
			if !slices.Equal(previous[p], row) {
				delta = append(delta, append([]string{"add"}, row...))
			}
		}
		if err := writeCSV(filepath.Join(d.Directory, segment+".csv"), header, values(rows)); err != nil {
			return err
		}
		if err := writeCSV(filepath.Join(d.Directory, segment+".delta.csv"), append([]string{"op"}, header...), delta); err != nil {
			return err
		}
		if err := writeState(statePath, rows); err != nil {
			return err
		}
		s.m.members.WithLabelValues(d.Name, segment).Set(float64(len(rows)))
	}
	return nil
}

// stateDir is the directory, inside an audience directory, of the persons
// of the last export's rows.
const stateDir = ".state"

// audienceRows returns the header (the identifier fields d sends) and the
// row of each member that has any of them.
func (s *Service) audienceRows(d Destination, members []string, ids map[string]map[string][]string) ([]string, map[string][]string) {
	header := s.exporter.Fields(d)
	rows := map[string][]string{}
	for _, p := range members {
		out := s.exporter.Export(d, ids[p])
		if len(out) == 0 {
			continue
		}
		row := make([]string, len(header))
		for i, h := range header {
			row[i] = out[h]
		}
		rows[p] = row
	}
	return header, rows
}

// values returns the rows of a map, sorted.
func values(rows map[string][]string) [][]string {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sortRows(out)
	return out
}

// sortRows sorts rows by their fields.
func sortRows(rows [][]string) {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], ",") < strings.Join(rows[j], ",") })
}

// writeCSV replaces path with a CSV file of header and rows (sorted).
func writeCSV(path string, header []string, rows [][]string) error {
	sortRows(rows)
	return replaceFile(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}

// readState reads the persons' rows of the last export; none when there
// was none.
func readState(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the last export: %w", err)
	}
	rows := map[string][]string{}
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("reading the last export %s: %w", path, err)
	}
	return rows, nil
}

// writeState replaces the persons' rows of the last export.
func writeState(path string, rows map[string][]string) error {
	return replaceFile(path, func(w io.Writer) error { return json.NewEncoder(w).Encode(rows) })
}

// replaceFile writes path through write, atomically: into a file beside it,
// synced, then renamed over it.
func replaceFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	w := bufio.NewWriter(tmp)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
