// Package version tells which touchline a binary is: its release, the
// commit it was built from and the Go release, for `touchline version`,
// --version, the services' start logs and the touchline_build_info metric.
package version

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is touchline's release, set when building with
// -ldflags "-X github.com/touchline-io/touchline/pkg/version.Version=v1.2.0"
// (the Makefile and deploy/Dockerfile do). Left empty, the version comes from
// the module's build information: a tagged version when built with
// `go install ...@v1.2.0`, else "devel".
var Version string

// Info describes the running binary.
type Info struct {
	// Version is the release (see Version), or "devel".
	Version string
	// Commit is the VCS revision the binary was built from, with
	// "-modified" when the work tree had changes; empty when unknown.
	Commit string
	// Built is the commit's time (RFC 3339), empty when unknown.
	Built string
	// Go is the Go release and platform, e.g. "go1.26.8 linux/amd64".
	Go string
}

// Get returns the running binary's Info.
func Get() Info {
	b := Info{Version: Version, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Built = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && b.Commit != "" {
			b.Commit += "-modified"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String formats the information as one line:
// "touchline v1.2.0 (commit 0a1b2c3, 2026-11-02T10:00:00Z) go1.26.8 linux/amd64".
func (b Info) String() string {
	s := "touchline " + b.Version
	switch {
	case b.Commit != "" && b.Built != "":
		s += " (commit " + b.Commit + ", " + b.Built + ")"
	case b.Commit != "":
		s += " (commit " + b.Commit + ")"
	}
	return s + " " + b.Go
}

// Collector returns the gauge touchline_build_info, always 1, whose labels
// say which binary serves the metrics, as Prometheus' own build_info does.
func Collector() prometheus.Collector {
	b := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "touchline_build_info",
		Help:        "Which touchline serves these metrics: release, commit and Go release; always 1.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}
