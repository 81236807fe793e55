package activate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestJournalKnowsThePostInDoubt(t *testing.T) {
	path := JournalPath(t.TempDir(), "touchline-activate")
	j, outcomes, inDoubt, err := openJournal(path)
	if err != nil || len(outcomes) != 0 || len(inDoubt) != 0 {
		t.Fatalf("a new journal: %v, %v, %v", outcomes, inDoubt, err)
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 123e6, time.UTC)
	done := Record{Destination: "crm", IdempotencyKey: "k1", Segment: "s", Person: "p", Entered: true, ChangedAt: at, Status: Delivered, Attempts: 2, RecordedAt: at}
	for _, step := range []func() error{
		func() error { return j.intent("crm", "k0") },
		func() error { return j.outcome(Record{Destination: "crm", IdempotencyKey: "k0", Status: Delivered}) },
		j.reset, // k0 is in ClickHouse
		func() error { return j.intent("crm", "k1") },
		func() error { return j.outcome(done) },
		func() error { return j.intent("crm", "k2") }, // in flight at the kill
		func() error { return j.intent("ads", "k3", "k4") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// The kill cut the last line short.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"record":{"Destination":"ads","IdempotencyKey":"k3"`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	j, outcomes, inDoubt, err = openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if len(outcomes) != 1 || outcomes[0].IdempotencyKey != "k1" || !outcomes[0].ChangedAt.Equal(at) || outcomes[0].Attempts != 2 || !outcomes[0].Entered {
		t.Errorf("outcomes %+v, want k1's", outcomes)
	}
	slices.Sort(inDoubt["ads"])
	if len(inDoubt) != 2 || !slices.Equal(inDoubt["crm"], []string{"k2"}) || !slices.Equal(inDoubt["ads"], []string{"k3", "k4"}) {
		t.Errorf("in doubt %v, want crm's k2 and ads' k3 and k4", inDoubt)
	}
	if err := j.reset(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Errorf("after reset: %v, %v", st, err)
	}
}

func TestJournalRefusesAnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := openJournal(filepath.Join(file, "activate", "g.journal")); err == nil {
		t.Error("a journal under a file opened")
	}
}

// BenchmarkPost measures a webhook delivery to a local receiver without
// the journal (the old path) and with it (an intent and an outcome written
// per POST), alternating the two in each iteration so that both see the
// same machine, and reports each one's ns per POST and their ratio. The
// ClickHouse record, 100 outcomes at a time in both, is left out, so the
// ratio is an upper bound of the journal's cost; a real receiver is
// farther than this one, which makes it smaller still.
func BenchmarkPost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	svc, _ := testService(srv.URL, 1)
	hook := svc.hooks["crm"]
	hook.limit = newLimiter(1e9)
	j, _, _, err := openJournal(JournalPath(b.TempDir(), "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	at := time.Now()
	var spent [2]time.Duration // without, with the journal
	i := 0
	for b.Loop() {
		for k, journal := range []*journal{nil, j} {
			svc.journal = journal
			c := Change{Person: "p", Segment: "s", Entered: true, At: at.Add(time.Duration(i) * time.Millisecond)}
			i++
			start := time.Now()
			if _, err := svc.post(ctx, hook, batch{{c, payload(hook.d, c, nil)}}); err != nil {
				b.Fatal(err)
			}
			spent[k] += time.Since(start)
		}
		if i%(2*recordBatch) == 0 {
			if err := j.reset(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "ns/post-old")
	b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "ns/post-journal")
	b.ReportMetric(float64(spent[1])/float64(spent[0]), "ratio")
}
