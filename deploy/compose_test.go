package deploy

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/deploy/grafana"
)

// longRunning are the compose stack's touchline services, by the port
// each listens on inside its container.
var longRunning = map[string]string{"ingest": "8080", "identity": "8080", "alerts": "8080", "segments": "8080", "activate": "8080", "collect": "8090", "ui": "8070"}

// TestComposeInitServices: the stack creates its topics and tables with
// `touchline topics create` and `touchline migrate`, run once before the
// services that need them, and every touchline service's health check
// probes the port it listens on and publishes.
func TestComposeInitServices(t *testing.T) {
	c := readCompose(t)
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/touchline"\]$`).Match(readFile(t, "Dockerfile")) {
		t.Fatal("the image's entrypoint is not the touchline command")
	}
	for name, command := range map[string][]string{"migrate": {"migrate"}, "topics": {"topics", "create"}} {
		s := c.Services[name]
		if s.Build == nil || len(s.Entrypoint) != 0 || !slices.Equal(s.Command, command) || !oneShot(c, name) {
			t.Errorf("%s: entrypoint %v, command %v, one-shot %v; want `touchline %s`, run once before the services",
				name, s.Entrypoint, s.Command, oneShot(c, name), strings.Join(command, " "))
		}
	}
	needs := map[string][]string{
		"migrate": {"ingest", "identity", "alerts", "segments", "activate", "ui"},
		"topics":  {"ingest", "identity", "alerts", "segments", "activate", "collect"},
	}
	for init, services := range needs {
		for _, name := range services {
			if d := c.Services[name].DependsOn[init]; d.Condition != "service_completed_successfully" {
				t.Errorf("%s starts before %s has succeeded (condition %q)", name, init, d.Condition)
			}
		}
	}
	for name, port := range longRunning {
		s := c.Services[name]
		want := []string{"CMD", "/usr/local/bin/touchline", "probe", "http://localhost:" + port + "/readyz"}
		if s.Healthcheck == nil || !slices.Equal(s.Healthcheck.Test, want) {
			t.Errorf("%s: health check %+v, want %v", name, s.Healthcheck, want)
		}
		if !slices.ContainsFunc(s.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
			t.Errorf("%s listens on %s and publishes %v", name, port, s.Ports)
		}
	}
}

// TestComposeMonitoring: the stack's Prometheus scrapes every touchline
// service where it listens, under the job names of the Helm chart, and
// loads rules files that exist; Grafana mounts files that exist and
// provisions the data sources its dashboards use.
func TestComposeMonitoring(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"prometheus", "grafana"} {
		for _, v := range c.Services[name].Volumes {
			src, _, _ := strings.Cut(v, ":")
			if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}

	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeFile(t, "prometheus/prometheus.yml", yaml.Unmarshal, &prom)
	scraped := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			for _, target := range s.Targets {
				scraped[sc.JobName] = target
			}
		}
	}
	for name, port := range longRunning {
		if got := scraped["touchline-"+name]; got != name+":"+port {
			t.Errorf("Prometheus scrapes job touchline-%s at %q, want %s:%s", name, got, name, port)
		}
	}
	mounted := map[string]bool{}
	for _, v := range c.Services["prometheus"].Volumes {
		_, dst, _ := strings.Cut(strings.TrimSuffix(v, ":ro"), ":")
		mounted[dst] = true
	}
	for _, f := range prom.RuleFiles {
		if !mounted[f] {
			t.Errorf("Prometheus loads %s, which compose does not mount", f)
		}
	}

	var ds struct {
		Datasources []struct {
			UID      string `yaml:"uid"`
			Type     string `yaml:"type"`
			URL      string `yaml:"url"`
			JSONData struct {
				Host            string `yaml:"host"`
				Port            int    `yaml:"port"`
				Username        string `yaml:"username"`
				DefaultDatabase string `yaml:"defaultDatabase"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeFile(t, "grafana/provisioning/datasources/touchline.yaml", yaml.Unmarshal, &ds)
	provisioned := map[string]string{}
	for _, d := range ds.Datasources {
		provisioned[d.UID] = d.Type
		switch d.Type {
		case grafana.Prometheus:
			if u, err := url.Parse(d.URL); err != nil || u.Host != "prometheus:9090" {
				t.Errorf("the Prometheus data source is %q", d.URL)
			}
		case grafana.ClickHouse:
			j := d.JSONData
			if j.Host != "clickhouse" || j.Port != 9000 || j.Username != "touchline_ui" || j.DefaultDatabase != "touchline" {
				t.Errorf("the ClickHouse data source: %+v; want the web UI's read-only user on clickhouse:9000, database touchline", j)
			}
		}
	}
	files, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(files) != 2 {
		t.Fatalf("dashboards %v, %v", files, err)
	}
	for _, f := range files {
		var d struct {
			Panels []struct {
				Title      string `json:"title"`
				Datasource *struct {
					Type string `json:"type"`
					UID  string `json:"uid"`
				} `json:"datasource"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(readFile(t, f), &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			if p.Datasource != nil && provisioned[p.Datasource.UID] != p.Datasource.Type {
				t.Errorf("%s: panel %q uses data source %+v, which is not provisioned", f, p.Title, *p.Datasource)
			}
		}
	}
}
