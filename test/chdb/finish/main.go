// Command finish computes, for check.py, the results of the analytics cases
// whose result Go computes from the rows of their SQL (the data-driven
// attribution models): it reads a JSON object of case name -> chDB's
// JSONCompact answer to the case's SQL ({"meta": [{"name", "type"}],
// "data": [[...]]}), converts each value to the type table.Run gives it,
// runs the case's Finish, and prints the results in the same shape.
//
//	go run ./test/chdb/finish < answers.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/touchline-io/touchline/pkg/table"
	"github.com/touchline-io/touchline/test/analyticscases"
)

type column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type answer struct {
	Meta  []column `json:"meta"`
	Data  [][]any  `json:"data"`
	Error string   `json:"error,omitempty"`
}

func main() {
	var in map[string]answer
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		fail(fmt.Errorf("reading the answers: %w", err))
	}
	cases, err := analyticscases.All()
	if err != nil {
		fail(err)
	}
	out := map[string]answer{}
	for _, c := range cases {
		a, ok := in[c.Name]
		if !ok || c.Finish == nil {
			continue
		}
		res, err := result(a)
		if err == nil {
			res, err = c.Finish(res)
		}
		if err != nil {
			out[c.Name] = answer{Error: err.Error()}
			continue
		}
		var done answer
		for _, name := range res.Columns {
			done.Meta = append(done.Meta, column{Name: name})
		}
		done.Data = res.Rows
		out[c.Name] = done
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

// result converts chDB's answer to what table.Run returns: integers as
// int64 or uint64, floats as float64, text as string, NULL as nil.
func result(a answer) (*table.Result, error) {
	res := &table.Result{}
	for _, c := range a.Meta {
		res.Columns = append(res.Columns, c.Name)
	}
	for _, row := range a.Data {
		out := make([]any, len(row))
		for i, v := range row {
			typ := strings.TrimSuffix(strings.TrimPrefix(a.Meta[i].Type, "Nullable("), ")")
			var err error
			switch x := v.(type) {
			case nil:
			case json.Number:
				out[i], err = number(typ, x.String())
			case string:
				if strings.HasPrefix(typ, "UInt") || strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "Float") {
					out[i], err = number(typ, x)
				} else {
					out[i] = x
				}
			default:
				err = fmt.Errorf("a %T in column %s", v, a.Meta[i].Name)
			}
			if err != nil {
				return nil, err
			}
		}
		res.Rows = append(res.Rows, out)
	}
	return res, nil
}

func number(typ, s string) (any, error) {
	switch {
	case strings.HasPrefix(typ, "UInt"):
		return strconv.ParseUint(s, 10, 64)
	case strings.HasPrefix(typ, "Int"):
		return strconv.ParseInt(s, 10, 64)
	}
	return strconv.ParseFloat(s, 64)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "finish:", err)
	os.Exit(1)
}
