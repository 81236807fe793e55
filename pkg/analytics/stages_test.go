package analytics

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseStagesRefusesBadFilesAtTheirLine(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "s.yaml: empty file"},
		{"unknown top key", "stage:\n  awareness: [impression]\n", "s.yaml:1: unknown key \"stage\""},
		{"unknown stage", "stages:\n  awareness: [impression]\n  loyalty: [login]\n", "s.yaml:3: unknown stage \"loyalty\""},
		{"not a list", "stages:\n  awareness: impression\n", "s.yaml:2: awareness: want a list of event types"},
		{"missing stage", "stages:\n  awareness: [impression]\n  consideration: [click]\n  conversion: [purchase]\n", "stage retention has no event types"},
		{"empty type", "stages:\n  awareness: ['']\n  consideration: [click]\n  conversion: [purchase]\n  retention: [login]\n", "stage awareness has an empty event type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStages("s.yaml", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestShippedStagesAreTheDefaults(t *testing.T) {
	got, err := LoadStages(filepath.Join("..", "..", "pipelines", StagesFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, DefaultStages()) {
		t.Errorf("pipelines/%s gives %v, the defaults are %v", StagesFile, got, DefaultStages())
	}
	missing, err := LoadStages(filepath.Join(t.TempDir(), StagesFile))
	if err != nil || !reflect.DeepEqual(missing, DefaultStages()) {
		t.Errorf("missing file: %v, %v; want the defaults", missing, err)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "pipelines", StagesFile)); err != nil {
		t.Fatal(err)
	}
}

func TestRetailAndStagesQueriesRefuseBadParameters(t *testing.T) {
	r := Range{From: MinTime.AddDate(1, 0, 0), To: MinTime.AddDate(2, 0, 0)}
	if _, err := (RetailKPIsQuery{Range: r, Attribution: DefaultAttribution(), By: "country"}).SQL(); err == nil ||
		!strings.Contains(err.Error(), `kpis by "country"`) {
		t.Errorf("by country: %v", err)
	}
	if _, err := (RetailKPIsQuery{Range: r, Attribution: DefaultAttribution(), Currency: Currency{Code: "usd"}}).SQL(); err == nil {
		t.Error("a lower-case currency was accepted")
	}
	for _, c := range []struct {
		model Model
		by    string
		want  string
	}{
		{"u_shaped", KPIsByChannel, `kpis: unknown attribution model "u_shaped"`},
		{Markov, KPIsByChannel, "kpis: markov: the data-driven models credit channels from the counts of whole paths"},
		{Linear, KPIsByCohort, `kpis: linear credits orders to channels and campaigns: want it with by channel or campaign, not "cohort"`},
	} {
		if _, err := (RetailKPIsQuery{Range: r, Attribution: DefaultAttribution(), By: c.by, Model: c.model}).SQL(); err == nil ||
			!strings.Contains(err.Error(), c.want) {
			t.Errorf("model %s by %s: %v, want %q", c.model, c.by, err, c.want)
		}
	}
	if _, err := (StagesQuery{Range: r, Stages: Stages{"awareness": {"impression"}}, Attribution: DefaultAttribution()}).SQL(); err == nil ||
		!strings.Contains(err.Error(), "stage consideration has no event types") {
		t.Errorf("incomplete stages: %v", err)
	}
}
