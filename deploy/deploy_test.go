// Package deploy holds the shipped deployments: Docker Compose, Kubernetes
// and Prometheus rules. Its test parses them, since no Docker or cluster
// runs the suite.
package deploy

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/config"
)

// composeService is the part of a compose service the tests read.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Restart     string            `yaml:"restart"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// composeFile is the part of a compose file the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

// requiredVar matches compose's ${NAME:?message}, which refuses to start
// when NAME is unset or empty.
var requiredVar = regexp.MustCompile(`^\$\{([A-Z_]+):\?[^}]+\}$`)

// composeFiles parses every compose file of compose/, by path.
func composeFiles(t *testing.T) map[string]composeFile {
	t.Helper()
	paths, err := filepath.Glob("compose/*compose*.y*ml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no compose file in compose/: %v", err)
	}
	files := map[string]composeFile{}
	for _, p := range paths {
		var c composeFile
		decodeFile(t, p, yaml.Unmarshal, &c)
		if len(c.Services) == 0 {
			t.Fatalf("%s has no service", p)
		}
		files[p] = c
	}
	return files
}

// hostPort is where a published port listens on the host.
type hostPort struct{ ip, port string }

// conflicts reports whether two published ports cannot both be bound:
// the same port on the same address or on all addresses.
func (a hostPort) conflicts(b hostPort) bool {
	return a.port == b.port && (a.ip == b.ip || a.ip == "0.0.0.0" || b.ip == "0.0.0.0")
}

// parseHostPort reads the host side of a compose port: PORT:CONTAINER or
// IP:PORT:CONTAINER.
func parseHostPort(p string) (hostPort, bool) {
	parts := strings.Split(p, ":")
	switch len(parts) {
	case 2:
		return hostPort{"0.0.0.0", parts[0]}, true
	case 3:
		return hostPort{parts[0], parts[1]}, true
	}
	return hostPort{}, false
}

// oneShot reports whether a service runs once and is done: no restart
// policy, and every service that depends on it waits for it to complete.
func oneShot(c composeFile, name string) bool {
	s := c.Services[name]
	if s.Restart != "" && s.Restart != "no" {
		return false
	}
	waited := false
	for _, other := range c.Services {
		if d, ok := other.DependsOn[name]; ok {
			if d.Condition != "service_completed_successfully" {
				return false
			}
			waited = true
		}
	}
	return waited
}

// TestComposeStarts: compose published host port 8081 twice (the Schema
// Registry and the identity service), so it could not start, and ran
// without a pepper. Every compose file: no host port published twice,
// every long-running service with a health check, and the touchline
// services with the settings they read and the pepper they need.
func TestComposeStarts(t *testing.T) {
	for path, c := range composeFiles(t) {
		var published []hostPort
		owners := map[hostPort]string{}
		touchline := 0
		for name, s := range c.Services {
			for _, p := range s.Ports {
				hp, ok := parseHostPort(p)
				if !ok {
					t.Errorf("%s: %s: port %q publishes no fixed host port", path, name, p)
					continue
				}
				for _, other := range published {
					if other.conflicts(hp) {
						t.Errorf("%s: host port %s is published by both %s and %s", path, hp.port, owners[other], name)
					}
				}
				published = append(published, hp)
				owners[hp] = name
			}
			if !oneShot(c, name) && (s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) < 2) {
				t.Errorf("%s: %s runs without a health check", path, name)
			}
			if s.Build == nil {
				continue
			}
			touchline++
			env := map[string]string{}
			for k, v := range s.Environment {
				if m := requiredVar.FindStringSubmatch(v); m != nil {
					if m[1] != k {
						t.Errorf("%s: %s: %s takes the value of %s", path, name, k, m[1])
					}
					v = "a-secret"
				}
				env[k] = v
			}
			if env["TOUCHLINE_REQUIRE_PEPPER"] != "true" || !requiredVar.MatchString(s.Environment["TOUCHLINE_PEPPER"]) {
				t.Errorf("%s: %s: want TOUCHLINE_REQUIRE_PEPPER true and TOUCHLINE_PEPPER required from the host, got %v", path, name, s.Environment)
			}
			checkEnv(t, "compose "+name, env)
		}
		if path == composePath && touchline != 9 {
			t.Errorf("%d touchline services in compose, want migrate, topics, ingest, identity, alerts, segments, activate, collect and ui", touchline)
		}
	}
}

// composePath is the compose file of the README's stack.
const composePath = "compose/docker-compose.yml"

// readCompose parses the compose file of the README's stack.
func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	decodeFile(t, composePath, yaml.Unmarshal, &c)
	return c
}

// decodeFile reads the file at path into v with unmarshal.
func decodeFile(t *testing.T, path string, unmarshal func([]byte, any) error, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestKubernetesRequiresThePepper: the pepper's Secret was optional, so a
// missing Secret started ingest with plain SHA-256 and silently changed
// every hash.
func TestKubernetesRequiresThePepper(t *testing.T) {
	var env map[string]string
	peppered := map[string]bool{}
	for _, o := range readKubernetes(t) {
		if o.Kind == "ConfigMap" && o.Metadata.Name == "touchline-env" {
			env = o.Data
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				if ref := e.ValueFrom.SecretKeyRef; ref.Optional != nil && *ref.Optional {
					t.Errorf("%s/%s: %s comes from an optional Secret", o.Metadata.Name, c.Name, e.Name)
				}
				if e.Name == "TOUCHLINE_PEPPER" {
					peppered[o.Metadata.Name] = true
				}
			}
		}
	}
	if env["TOUCHLINE_REQUIRE_PEPPER"] != "true" {
		t.Errorf("the touchline-env ConfigMap does not set TOUCHLINE_REQUIRE_PEPPER: %v", env)
	}
	for _, d := range []string{"touchline-ingest", "touchline-segments", "touchline-collect", "touchline-activate"} { // the services that hash, and activate
		if !peppered[d] {
			t.Errorf("%s, which hashes identifiers, does not get the pepper (deployments with it: %v)", d, peppered)
		}
	}
	env["TOUCHLINE_PEPPER"] = "a-secret"
	checkEnv(t, "kubernetes", env)
}

// TestKubernetesRunsEveryService: the plain manifests run every
// long-running service of compose, each as a Deployment of its own binary
// probed on the port it listens on, and the alerts and activate services as
// one instance replaced, never doubled, on updates.
func TestKubernetesRunsEveryService(t *testing.T) {
	deployments := map[string]object{}
	for _, o := range readKubernetes(t) {
		if o.Kind == "Deployment" {
			deployments[o.Metadata.Name] = o
		}
	}
	for service, port := range longRunning {
		o, ok := deployments["touchline-"+service]
		if !ok {
			t.Errorf("no Deployment touchline-%s", service)
			continue
		}
		c := o.Spec.Template.Spec.Containers[0]
		if len(c.Command) != 1 || c.Command[0] != "/usr/local/bin/"+service || len(c.Ports) != 1 || strconv.Itoa(c.Ports[0].ContainerPort) != port ||
			c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("touchline-%s: command %v, ports %+v, probes %v %v; want its binary listening on %s, probed", service, c.Command, c.Ports,
				c.ReadinessProbe, c.LivenessProbe, port)
		}
	}
	for _, service := range []string{"alerts", "activate"} {
		if o := deployments["touchline-"+service]; o.Spec.Replicas == nil || *o.Spec.Replicas != 1 || o.Spec.Strategy.Type != "Recreate" {
			t.Errorf("touchline-%s: replicas %v, strategy %q; want one instance, Recreate", service, o.Spec.Replicas, o.Spec.Strategy.Type)
		}
	}
	// activate's journal is in its state directory, on a volume that
	// outlives a restart of its container.
	spec := deployments["touchline-activate"].Spec.Template.Spec
	if len(spec.Containers) == 0 {
		return
	}
	onVolume := false
	for _, e := range spec.Containers[0].Env {
		for _, m := range spec.Containers[0].VolumeMounts {
			onVolume = onVolume || (e.Name == "TOUCHLINE_STATE_DIR" && e.Value == m.MountPath && m.Name == "state")
		}
	}
	if !onVolume || !slices.ContainsFunc(spec.Volumes, func(v volume) bool { return v.Name == "state" && v.EmptyDir != nil }) {
		t.Errorf("touchline-activate: its state directory is not on an emptyDir volume: %+v", spec)
	}
}

// readKubernetes parses the objects of the Kubernetes manifest.
func readKubernetes(t *testing.T) []object {
	t.Helper()
	return decodeObjects(t, string(readFile(t, "kubernetes/touchline.yaml")))
}

// checkEnv checks that env sets only variables touchline reads, and to a
// configuration that validates and has its pepper when it requires one.
func checkEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := map[string]bool{"TOUCHLINE_CONFIG": true}
	for _, v := range config.EnvVars {
		known[v.Name] = true
		t.Setenv(v.Name, "")
	}
	for k, v := range env {
		if !known[k] {
			t.Errorf("%s: touchline reads no %s", where, k)
		}
		t.Setenv(k, v)
	}
	cfg, err := config.Load("")
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		err = cfg.Identifiers.CheckPepper()
	}
	if err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// TestComposeCollectorConfig: the collector of the compose stack reads a
// valid configuration with a write key, on the port compose publishes.
func TestComposeCollectorConfig(t *testing.T) {
	cfg, err := config.Load("compose/collect.yaml")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Collect.WriteKeys) == 0 || cfg.Collect.Addr != ":8090" {
		t.Errorf("compose/collect.yaml: %+v", cfg.Collect)
	}
}

// usersXML is the part of a ClickHouse users file the test reads.
type usersXML struct {
	Profiles struct {
		UI struct {
			Readonly         int `xml:"readonly"`
			MaxExecutionTime int `xml:"max_execution_time"`
		} `xml:"touchline_ui"`
	} `xml:"profiles"`
	Users struct {
		UI struct {
			Password struct {
				FromEnv string `xml:"from_env,attr"`
			} `xml:"password"`
			Profile   string   `xml:"profile"`
			Databases []string `xml:"allow_databases>database"`
		} `xml:"touchline_ui"`
	} `xml:"users"`
}

// TestComposeUI: the web UI of the compose stack, which has no password
// there, is published on the host's loopback only, on the port it listens
// on, and queries as a read-only ClickHouse user that the ClickHouse
// container defines, with the same password.
func TestComposeUI(t *testing.T) {
	c := readCompose(t)
	ui, ok := c.Services["ui"]
	if !ok {
		t.Fatal("compose runs no ui")
	}
	if len(ui.Ports) != 1 || !strings.HasPrefix(ui.Ports[0], "127.0.0.1:") || !strings.HasSuffix(ui.Ports[0], ui.Environment["TOUCHLINE_UI_LISTEN"]) {
		t.Errorf("the ui publishes %v and listens on %q: want one port, on the host's loopback, the one it listens on", ui.Ports, ui.Environment["TOUCHLINE_UI_LISTEN"])
	}
	var users usersXML
	decodeFile(t, "compose/clickhouse-ui-user.xml", xml.Unmarshal, &users)
	if p := users.Profiles.UI; p.Readonly != 2 || p.MaxExecutionTime <= 0 {
		t.Errorf("the touchline_ui profile: %+v, want readonly 2 and a max_execution_time", p)
	}
	u := users.Users.UI
	if u.Profile != "touchline_ui" || !slices.Contains(u.Databases, "touchline") || ui.Environment["TOUCHLINE_UI_CLICKHOUSE_USER"] != "touchline_ui" {
		t.Errorf("the ui's ClickHouse user: %+v; the ui queries as %q", u, ui.Environment["TOUCHLINE_UI_CLICKHOUSE_USER"])
	}
	const password = "TOUCHLINE_UI_CLICKHOUSE_PASSWORD"
	clickhouse := c.Services["clickhouse"]
	if u.Password.FromEnv != password || !requiredVar.MatchString(clickhouse.Environment[password]) || clickhouse.Environment[password] != ui.Environment[password] {
		t.Errorf("the password of touchline_ui comes from $%s, which ClickHouse gets as %q and the ui as %q: want both required from the host",
			u.Password.FromEnv, clickhouse.Environment[password], ui.Environment[password])
	}
	if !slices.Contains(clickhouse.Volumes, "./clickhouse-ui-user.xml:/etc/clickhouse-server/users.d/touchline-ui.xml:ro") {
		t.Errorf("ClickHouse does not load the ui's user: volumes %v", clickhouse.Volumes)
	}
}

// TestKubernetesUI: the web UI on Kubernetes, reachable beyond its pod,
// reads its settings from a Secret whose template requires a password and
// names a ClickHouse user of its own, listens on the port the pod exposes,
// and has a Service.
func TestKubernetesUI(t *testing.T) {
	var deployment, service bool
	for _, o := range readKubernetes(t) {
		if o.Metadata.Name != "touchline-ui" {
			continue
		}
		service = service || o.Kind == "Service"
		if o.Kind != "Deployment" {
			continue
		}
		deployment = true
		spec := o.Spec.Template.Spec
		secrets := map[string]string{}
		for _, v := range spec.Volumes {
			if v.Secret != nil {
				secrets[v.Name] = v.Secret.SecretName
			}
		}
		for _, c := range spec.Containers {
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			fromSecret := false
			for _, m := range c.VolumeMounts {
				fromSecret = fromSecret || (secrets[m.Name] == "touchline-ui" && env["TOUCHLINE_CONFIG"] == m.MountPath+"/touchline.yaml")
			}
			if !fromSecret {
				t.Errorf("%s: TOUCHLINE_CONFIG %q is not the touchline.yaml of the touchline-ui Secret", c.Name, env["TOUCHLINE_CONFIG"])
			}
			if len(c.Ports) != 1 || ":"+strconv.Itoa(c.Ports[0].ContainerPort) != env["TOUCHLINE_UI_LISTEN"] {
				t.Errorf("%s: listens on %q, exposes %v", c.Name, env["TOUCHLINE_UI_LISTEN"], c.Ports)
			}
		}
	}
	if !deployment || !service {
		t.Errorf("touchline-ui: Deployment %v, Service %v; want both", deployment, service)
	}
	cfg, err := config.Load("kubernetes/ui.yaml")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UI.BasicAuth.User == "" || cfg.UI.ClickHouseUser == "" {
		t.Errorf("kubernetes/ui.yaml sets no password or no ClickHouse user of the ui's: %+v", cfg.UI)
	}
}
