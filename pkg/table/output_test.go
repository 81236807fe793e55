package table

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var sample = &Result{
	Columns: []string{"channel", "conversions", "revenue", "roas"},
	Rows: [][]any{
		{"paid, \"search\"", uint64(3), 900.125, 3.6},
		{"direct", uint64(1), 100.0, nil},
	},
}

func TestWriteJSON(t *testing.T) {
	var out bytes.Buffer
	if err := sample.Write(&out, "json"); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(rows) != 2 || rows[0]["channel"] != `paid, "search"` || rows[0]["conversions"] != 3.0 ||
		rows[0]["revenue"] != 900.125 || rows[1]["roas"] != nil {
		t.Errorf("got %v", rows)
	}
	// Keys keep the column order.
	first := strings.SplitN(out.String(), "\n", 3)[1]
	if !strings.HasPrefix(strings.TrimSpace(first), `{"channel": `) || !strings.Contains(first, `"revenue": 900.125, "roas": 3.6}`) {
		t.Errorf("row not in column order: %s", first)
	}
	out.Reset()
	if err := (&Result{Columns: []string{"a"}}).Write(&out, "json"); err != nil || out.String() != "[]\n" {
		t.Errorf("empty result: %q, %v", out.String(), err)
	}
}

func TestWriteCSVAndTable(t *testing.T) {
	var out bytes.Buffer
	if err := sample.Write(&out, "csv"); err != nil {
		t.Fatal(err)
	}
	want := "channel,conversions,revenue,roas\n\"paid, \"\"search\"\"\",3,900.125,3.6\ndirect,1,100,\n"
	if out.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	res := &Result{Columns: []string{"channel", "cpa"}, Rows: [][]any{{"email", 13.043478260869565}, {"sms", nil}}}
	if err := res.Write(&out, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(strings.TrimRight(lines[1], " "), "13.0435") || !strings.HasSuffix(strings.TrimRight(lines[2], " "), "NULL") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestCheckFormat(t *testing.T) {
	if err := CheckFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}

// TestTableKeepsEachRowOnOneLine: a value with a newline, a tab or other
// control characters used to split its row over several lines.
func TestTableKeepsEachRowOnOneLine(t *testing.T) {
	res := &Result{Columns: []string{"campaign", "n"}, Rows: [][]any{
		{"spring\nsale\tA\\B\x00", uint64(1)},
		{"plain", uint64(22)},
	}}
	var out bytes.Buffer
	if err := res.Write(&out, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	if got := strings.Fields(lines[1]); len(got) != 2 || got[0] != `spring\nsale\tA\\B\x00` || got[1] != "1" {
		t.Errorf("row 1 = %q", lines[1])
	}
	if len(lines[1]) != len(lines[2]) {
		t.Errorf("rows not aligned:\n%s", out.String())
	}
}

// TestCSVNeutralisesFormulas: text cells a spreadsheet would run as a
// formula get a leading single quote (OWASP's CSV injection advice); numbers
// keep their sign.
func TestCSVNeutralisesFormulas(t *testing.T) {
	res := &Result{Columns: []string{"campaign", "delta"}, Rows: [][]any{
		{"=HYPERLINK(\"http://x\")", int64(-3)},
		{"+1", -0.5},
		{"-2", nil},
		{"@SUM(A1)", uint64(0)},
		{"\tx", int64(1)},
		{"a=b", int64(2)},
	}}
	var out bytes.Buffer
	if err := res.Write(&out, "csv"); err != nil {
		t.Fatal(err)
	}
	want := "campaign,delta\n" +
		"\"'=HYPERLINK(\"\"http://x\"\")\",-3\n" +
		"'+1,-0.5\n" +
		"'-2,\n" +
		"'@SUM(A1),0\n" +
		"'\tx,1\n" +
		"a=b,2\n"
	if out.String() != want {
		t.Errorf("csv:\n%q\nwant:\n%q", out.String(), want)
	}
}
