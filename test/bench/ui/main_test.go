package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/touchline-io/touchline/test/testenv"
)

// TestAppRequestsCoverTheApp checks that the benchmark sends a request to
// every analysis the app's pages ask for, and to no other.
func TestAppRequestsCoverTheApp(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "pkg", "ui", "web", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`query\(.*?, '([a-z-]+)', `), regexp.MustCompile(`api\('([a-z-]*)'`)} {
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			want = append(want, m[1])
		}
	}
	all, pages := appRequests("p_1", "vip")
	var got []string
	for _, ep := range all {
		name, _, _ := strings.Cut(ep.path, "?")
		got = append(got, name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if want, got := slices.Compact(want), slices.Compact(got); !slices.Equal(got, want) {
		t.Errorf("the benchmark asks for %q, the app for %q", got, want)
	}
	sent := 0
	for _, p := range pages {
		for _, stage := range p.stages {
			sent += len(stage)
		}
	}
	if sent != len(all) {
		t.Errorf("the pages send %d requests, want each of the %d endpoints once", sent, len(all))
	}
}

// TestQuantile checks the nearest-rank quantiles of 1 to 20 ms.
func TestQuantile(t *testing.T) {
	var times []time.Duration
	for i := 1; i <= 20; i++ {
		times = append(times, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 10 * time.Millisecond}, {0.95, 19 * time.Millisecond}, {1, 20 * time.Millisecond}, {0, time.Millisecond}} {
		if got := quantile(times, c.q); got != c.want {
			t.Errorf("quantile %v of 1..20 ms = %s, want %s", c.q, got, c.want)
		}
	}
	if got := quantile(times[:1], 0.95); got != time.Millisecond {
		t.Errorf("quantile 0.95 of one time = %s, want it", got)
	}
}
