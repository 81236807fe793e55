// Package table holds query results and prints them for people and
// programs: an aligned text table, CSV or JSON. Every touchline command that
// shows rows (query, alerts, segments, identity) prints through it, so the
// formats, their escaping and their flags are the same everywhere.
package table

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Result is the outcome of a query: column names and rows of Go values
// (string, int64, uint64, float64, time.Time or nil for NULL).
type Result struct {
	Columns []string
	Rows    [][]any
}

// ErrTooManyRows reports a result longer than RunMax's bound.
var ErrTooManyRows = errors.New("too many rows")

// Run runs a query and collects its result. Integers become int64 or uint64,
// floats float64, dates and times time.Time in UTC, and NULL nil.
func Run(ctx context.Context, conn driver.Conn, sql string) (*Result, error) {
	return RunMax(ctx, conn, sql, 0)
}

// RunMax is Run that stops reading, and returns ErrTooManyRows, at a row
// after maxRows; 0 means no bound.
func RunMax(ctx context.Context, conn driver.Conn, sql string, maxRows int) (*Result, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("running query: %w", err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	res := &Result{Columns: rows.Columns()}
	for rows.Next() {
		if maxRows > 0 && len(res.Rows) == maxRows {
			return nil, fmt.Errorf("reading query result: more than %d rows: %w", maxRows, ErrTooManyRows)
		}
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading query result: %w", err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = plain(reflect.ValueOf(d).Elem())
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading query result: %w", err)
	}
	return res, nil
}

// plain converts a scanned value to one of the types Result documents.
func plain(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}
