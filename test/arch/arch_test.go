// Package arch checks touchline's package map: which group every package
// belongs to, which groups it may import, and what each service binary
// links. docs/architecture.md describes the same map.
package arch

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the import path every package of touchline starts with.
const module = "github.com/touchline-io/touchline/"

// group is a layer of the package map.
type group string

// The groups, from the top: tools import anything below them; a service
// imports shared packages (domain and adapters) and never another service;
// domain and adapters import each other and nothing above them.
const (
	tools    group = "tools"
	services group = "services"
	domain   group = "domain"
	adapters group = "adapters"
)

// mayImport lists the groups each group may import.
var mayImport = map[group][]group{
	tools:    {tools, services, domain, adapters},
	services: {domain, adapters},
	domain:   {domain, adapters},
	adapters: {domain, adapters},
}

// serviceOf names the service of each service package: a service may
// import its own packages, never another service's. Edit this list, and
// packages below, when a package is added, renamed or moved.
var serviceOf = map[string]string{
	"pkg/ingest":            "ingest",
	"pkg/identity":          "identity",
	"pkg/segments":          "segments",
	"pkg/segments/settings": "segments",
	"pkg/alerts":            "alerts",
	"pkg/activate":          "activate",
	"pkg/collect":           "collect",
	"pkg/ui":                "ui",
	"pkg/ui/settings":       "ui",
}

// packages places every other package of the module in its group.
var packages = map[group][]string{
	domain: {
		"pkg/alerts/rules", "pkg/analytics", "pkg/analytics/request", "pkg/backoff", "pkg/channel", "pkg/enrich", "pkg/generate", "pkg/identifiers",
		"pkg/identity/stitch", "pkg/pipefile", "pkg/scrub", "pkg/segments/engine", "pkg/table", "pkg/touchpoint", "pkg/rates", "pkg/utf8fast",
	},
	adapters: {
		"pkg/avro", "pkg/clickhouse", "pkg/gctune", "pkg/health", "pkg/identitymap", "pkg/kafka", "pkg/kafka/kafkatest", "pkg/logging",
		"pkg/observe", "pkg/pebblelog", "pkg/publish", "pkg/tlsconfig", "pkg/version", "schemas",
	},
	tools: {
		"cmd/activate", "cmd/alerts", "cmd/collect", "cmd/identity", "cmd/ingest", "cmd/segments", "cmd/touchline", "cmd/ui",
		"pkg/app", "pkg/cli", "pkg/cli/activatecmd", "pkg/cli/alertscmd", "pkg/cli/collectcmd", "pkg/cli/command", "pkg/cli/identitycmd",
		"pkg/cli/ingestcmd", "pkg/cli/segmentscmd", "pkg/cli/uicmd", "pkg/config", "pkg/dev", "pkg/servers",
		"deploy/grafana",
	},
}

// groupOf returns the group of a package (its path inside the module), or
// "" when the map does not place it.
func groupOf(pkg string) group {
	if _, ok := serviceOf[pkg]; ok {
		return services
	}
	for g, list := range packages {
		if slices.Contains(list, pkg) {
			return g
		}
	}
	return ""
}

// goList runs go list with args in the module's root and returns its
// output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var lines []string
	for s := bufio.NewScanner(bytes.NewReader(out)); s.Scan(); {
		if s.Text() != "" {
			lines = append(lines, s.Text())
		}
	}
	return lines
}

// imports returns the module's own imports of every package outside test/
// (those of its tests included), by the package's path inside the module.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	all := map[string][]string{}
	for _, line := range goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./...") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasPrefix(pkg, "test/") || pkg == "deploy" {
			continue // test helpers and deployment files may import anything
		}
		all[pkg] = nil
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok && rel != pkg && !slices.Contains(all[pkg], rel) {
				all[pkg] = append(all[pkg], rel)
			}
		}
	}
	return all
}

// TestEveryPackageIsOnTheMap: a new package must be given its group here
// (and a line in docs/architecture.md), and the map lists no package that
// is gone.
func TestEveryPackageIsOnTheMap(t *testing.T) {
	all := imports(t)
	for pkg := range all {
		if groupOf(pkg) == "" {
			t.Errorf("%s is not on the package map: add it to a group in test/arch and to docs/architecture.md", pkg)
		}
	}
	listed := slices.Collect(maps.Keys(serviceOf))
	for _, list := range packages {
		listed = append(listed, list...)
	}
	for _, pkg := range listed {
		if _, ok := all[pkg]; !ok {
			t.Errorf("%s is on the package map but not in the module", pkg)
		}
	}
}

// TestPackageMapInDocs keeps the package map of docs/architecture.md true:
// each package has its line there, in the section of its group.
func TestPackageMapInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Package map\n")
	if !ok {
		t.Fatal("docs/architecture.md has no section ## Package map")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	headings := map[group]string{services: "**Services**", domain: "**Shared domain**", adapters: "**Adapters**", tools: "**Tools**"}
	for pkg := range imports(t) {
		g := groupOf(pkg)
		if g == "" {
			continue // reported by TestEveryPackageIsOnTheMap
		}
		_, rest, _ := strings.Cut(section, headings[g])
		for _, other := range headings {
			if i := strings.Index(rest, other); i >= 0 && other != headings[g] {
				rest = rest[:i]
			}
		}
		if !strings.Contains(rest, "`"+pkg+"`") {
			t.Errorf("docs/architecture.md does not list `%s` under %s", pkg, headings[g])
		}
	}
}

// TestImportDirections: no service imports another service or a tool, and
// no shared package imports a service or a tool; the segments router used
// to import the ingest service to run its processor.
func TestImportDirections(t *testing.T) {
	var bad []string
	for pkg, imps := range imports(t) {
		from := groupOf(pkg)
		for _, imp := range imps {
			to := groupOf(imp)
			if from == "" || to == "" {
				continue // reported by TestEveryPackageIsOnTheMap
			}
			switch {
			case from == services && to == services:
				if serviceOf[pkg] != serviceOf[imp] {
					bad = append(bad, fmt.Sprintf("%s (the %s service) imports %s (the %s service)", pkg, serviceOf[pkg], imp, serviceOf[imp]))
				}
			case !slices.Contains(mayImport[from], to):
				bad = append(bad, fmt.Sprintf("%s (%s) imports %s (%s)", pkg, from, imp, to))
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// TestServiceBinariesLinkOnlyTheirOwnService: every main went through one
// string switch and linked all services, the CEL engine included. Now the
// ingest, identity and alerts binaries link neither the segments service
// nor its CEL engine, and no service binary links the tools of the
// touchline command (dev mode, traffic generator, local servers).
func TestServiceBinariesLinkOnlyTheirOwnService(t *testing.T) {
	never := []string{module + "pkg/cli", module + "pkg/dev", module + "pkg/generate", module + "pkg/servers"}
	noSegments := []string{module + "pkg/segments", module + "pkg/segments/engine", module + "pkg/cli/segmentscmd"}
	for _, main := range []string{"ingest", "identity", "alerts", "segments"} {
		banned := never
		if main != "segments" {
			banned = append(slices.Clone(never), noSegments...)
		}
		var cel []string
		for _, dep := range goList(t, "-deps", "./cmd/"+main) {
			switch {
			case slices.Contains(banned, dep):
				t.Errorf("cmd/%s links %s", main, dep)
			case main != "segments" && strings.HasPrefix(dep, "github.com/google/cel-go/"):
				cel = append(cel, dep)
			}
		}
		if len(cel) > 0 {
			t.Errorf("cmd/%s links the CEL engine: %d packages of github.com/google/cel-go, %s among them", main, len(cel), cel[0])
		}
	}
	var cel bool
	for _, dep := range goList(t, "-deps", "./cmd/touchline") {
		cel = cel || strings.HasPrefix(dep, "github.com/google/cel-go/")
	}
	if !cel {
		t.Error("cmd/touchline does not link cel-go: the check above looks for the wrong import path")
	}
}
