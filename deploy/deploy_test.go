// Package deploy holds the shipped deployments: Docker Compose, Kubernetes
// and Prometheus rules. Its test parses them, since no Docker or cluster
// runs the suite.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/config"
)

// composeFile is the part of a compose file the test reads.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// requiredVar matches compose's ${NAME:?message}, which refuses to start
// when NAME is unset or empty.
var requiredVar = regexp.MustCompile(`^\$\{([A-Z_]+):\?[^}]+\}$`)

// TestComposeStarts: compose published host port 8081 twice (the Schema
// Registry and the identity service), so it could not start, and ran
// without a pepper.
func TestComposeStarts(t *testing.T) {
	data, err := os.ReadFile("compose/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	hostPorts := map[string]string{}
	touchline := 0
	for name, s := range c.Services {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if len(parts) < 2 {
				t.Errorf("%s: port %q publishes no fixed host port", name, p)
				continue
			}
			host := strings.Join(parts[:len(parts)-1], ":")
			if other, dup := hostPorts[host]; dup {
				t.Errorf("host port %s is published by both %s and %s", host, other, name)
			}
			hostPorts[host] = name
		}
		if s.Build == nil {
			continue
		}
		touchline++
		env := map[string]string{}
		for k, v := range s.Environment {
			if m := requiredVar.FindStringSubmatch(v); m != nil {
				if m[1] != k {
					t.Errorf("%s: %s takes the value of %s", name, k, m[1])
				}
				v = "a-secret"
			}
			env[k] = v
		}
		if env["TOUCHLINE_REQUIRE_PEPPER"] != "true" || !requiredVar.MatchString(s.Environment["TOUCHLINE_PEPPER"]) {
			t.Errorf("%s: want TOUCHLINE_REQUIRE_PEPPER true and TOUCHLINE_PEPPER required from the host, got %v", name, s.Environment)
		}
		checkEnv(t, "compose "+name, env)
	}
	if touchline != 7 {
		t.Errorf("%d touchline services in compose, want migrate, topics, ingest, identity, alerts, segments and collect", touchline)
	}
}

// k8sObject is the part of a Kubernetes object the test reads.
type k8sObject struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name string `yaml:"name"`
					Env  []struct {
						Name      string `yaml:"name"`
						ValueFrom *struct {
							SecretKeyRef *struct {
								Name     string `yaml:"name"`
								Key      string `yaml:"key"`
								Optional *bool  `yaml:"optional"`
							} `yaml:"secretKeyRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesRequiresThePepper: the pepper's Secret was optional, so a
// missing Secret started ingest with plain SHA-256 and silently changed
// every hash.
func TestKubernetesRequiresThePepper(t *testing.T) {
	data, err := os.ReadFile("kubernetes/touchline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var env map[string]string
	peppered := map[string]bool{}
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
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
	for _, d := range []string{"touchline-ingest", "touchline-segments", "touchline-collect"} { // the services that hash
		if !peppered[d] {
			t.Errorf("%s, which hashes identifiers, does not get the pepper (deployments with it: %v)", d, peppered)
		}
	}
	env["TOUCHLINE_PEPPER"] = "a-secret"
	checkEnv(t, "kubernetes", env)
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
