package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/touchline-io/touchline/pkg/cli/activatecmd"
	"github.com/touchline-io/touchline/pkg/cli/collectcmd"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/cli/segmentscmd"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/identifiers"
)

// chart is the Helm chart's directory.
const chart = "helm/touchline"

// tool returns the path of a command the chart's checks run, looked up in
// PATH and then in Go's bin directory (where scripts/install-deps.sh puts
// helm). Without it the test is skipped, except under CI=true, where a
// missing tool fails it: CI must run these checks.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, name)
	return ""
}

// missing skips the test for want of a tool, or fails it under CI=true.
func missing(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed: run scripts/install-deps.sh helm", name)
	}
	t.Skipf("%s is not installed (scripts/install-deps.sh helm)", name)
}

// validator returns the command that validates manifests against
// Kubernetes' JSON schemas: the kubernetes-validate Python module, run
// through the python3 it was installed for.
func validator(t *testing.T) []string {
	t.Helper()
	cmd := []string{"python3", "-m", "kubernetes_validate"}
	if _, err := run(cmd[0], append(cmd[1:], "--version")...); err != nil {
		missing(t, "kubernetes-validate")
	}
	return cmd
}

// run runs a command and returns its standard output, or its error with
// what it printed.
func run(name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String() + "\n" + stdout.String() + "\n" + err.Error()))
	}
	return stdout.String(), nil
}

// envVar is a container's environment variable.
type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name     string `yaml:"name"`
			Key      string `yaml:"key"`
			Optional *bool  `yaml:"optional"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// probe is a container's HTTP probe.
type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// podSpec is the part of a pod spec the chart's test reads.
type podSpec struct {
	Hostname           string `yaml:"hostname"`
	EnableServiceLinks *bool  `yaml:"enableServiceLinks"`
	Containers         []struct {
		Name    string   `yaml:"name"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []envVar `yaml:"env"`
		Ports   []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		LivenessProbe  *probe        `yaml:"livenessProbe"`
		ReadinessProbe *probe        `yaml:"readinessProbe"`
		VolumeMounts   []volumeMount `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []volume `yaml:"volumes"`
}

// volume is a pod's volume.
type volume struct {
	Name     string         `yaml:"name"`
	EmptyDir map[string]any `yaml:"emptyDir"`
	Secret   *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
}

// volumeMount is where a container mounts a volume.
type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

// object is the part of a rendered object the chart's test reads.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas    *int                    `yaml:"replicas"`
		Strategy    struct{ Type string }   `yaml:"strategy"`
		ServiceName string                  `yaml:"serviceName"`
		ClusterIP   string                  `yaml:"clusterIP"`
		Selector    map[string]any          `yaml:"selector"`
		Ports       []struct{ Name string } `yaml:"ports"`
		Template    struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct{ Name string } `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
		// ServiceMonitor
		JobLabel  string `yaml:"jobLabel"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
		// PrometheusRule
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	} `yaml:"spec"`
}

// component is the name of the touchline service an object belongs to.
func (o object) component() string { return o.Metadata.Labels["app.kubernetes.io/component"] }

// renderChart runs helm template on the chart with the test values and
// more arguments, and returns the rendered manifest.
func renderChart(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return run(tool(t, "helm"), append([]string{"template", "touchline", chart, "-f", chart + "/ci/test-values.yaml"}, args...)...)
}

// decodeObjects parses a multi-document manifest.
func decodeObjects(t *testing.T, manifest string) []object {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	var objects []object
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return objects
		} else if err != nil {
			t.Fatal(err)
		}
		if o.Kind != "" {
			objects = append(objects, o)
		}
	}
}

// validateManifest validates the objects of the manifest at path against
// Kubernetes' JSON schemas, rejecting unknown fields.
func validateManifest(t *testing.T, validate []string, path string) {
	t.Helper()
	if out, err := run(validate[0], append(validate[1:], "--strict", "--quiet", "--no-warn", path)...); err != nil {
		t.Fatalf("kubernetes-validate %s: %v\n%s", path, err, out)
	}
}

// TestKubernetesManifestsValidate: the plain manifests for kubectl apply
// are valid Kubernetes objects, with no unknown field.
func TestKubernetesManifestsValidate(t *testing.T) {
	validateManifest(t, validator(t), "kubernetes/touchline.yaml")
}

// TestHelmChart lints the chart, renders it, validates every object against
// Kubernetes' schemas (kubernetes-validate, offline), and checks what the
// schemas cannot: every service runs with its Service, probes on the port
// it listens on, settings touchline reads, the pepper from a Secret that
// must exist, migrate and topics as hooks, segments as a StatefulSet on its
// own volume, and the ServiceMonitor and PrometheusRule objects.
func TestHelmChart(t *testing.T) {
	helm := tool(t, "helm")
	validate := validator(t)
	if out, err := run(helm, "lint", "--strict", chart, "-f", chart+"/ci/test-values.yaml"); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	manifest, err := renderChart(t)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	path := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	// The CRDs (ServiceMonitor, PrometheusRule) have no schema there, and
	// are checked below.
	validateManifest(t, validate, path)

	objects := decodeObjects(t, manifest)
	byKind := map[string]map[string]object{}
	for _, o := range objects {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]object{}
		}
		byKind[o.Kind][o.component()] = o
	}
	pepperSecret := byKind["Secret"]["pepper"]
	// The config value's touchline.yaml: a hook made before the Jobs, which
	// run before the release's other objects, and a configuration the
	// services accept.
	configSecret := byKind["Secret"]["config"]
	if configSecret.Metadata.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" || configSecret.Metadata.Annotations["helm.sh/hook-weight"] != "-10" {
		t.Errorf("the config Secret %q is not made before the Jobs: %v", configSecret.Metadata.Name, configSecret.Metadata.Annotations)
	}
	configPath := filepath.Join(t.TempDir(), "touchline.yaml")
	if err := os.WriteFile(configPath, []byte(configSecret.StringData["touchline.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(configPath); err != nil || cfg.Validate() != nil || cfg.Kafka.ReplicationFactor != 3 || cfg.Ingest.BatchSize != 50000 {
		t.Errorf("the config Secret's touchline.yaml %q: %v, replication factor %d, batch size %d", configSecret.StringData["touchline.yaml"], err, cfg.Kafka.ReplicationFactor, cfg.Ingest.BatchSize)
	}
	if pepperSecret.Metadata.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("the pepper's Secret %s is not kept on uninstall: %v", pepperSecret.Metadata.Name, pepperSecret.Metadata.Annotations)
	}
	listens := map[string]int{"ingest": 8080, "identity": 8080, "alerts": 8080, "segments": 8080, "activate": 8080, "collect": 8090, "ui": 8070}
	var hashes []string
	for service := range hashingServices {
		hashes = append(hashes, service)
	}
	for component, port := range listens {
		kind := "Deployment"
		if component == "segments" {
			kind = "StatefulSet"
		}
		o, ok := byKind[kind][component]
		if !ok {
			t.Errorf("no %s of %s", kind, component)
			continue
		}
		if _, ok := byKind["Service"][component]; !ok {
			t.Errorf("no Service of %s", component)
		}
		spec := o.Spec.Template.Spec
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: service links put TOUCHLINE_<SERVICE>_PORT variables into the environment touchline reads", component)
		}
		if len(spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", component, len(spec.Containers))
		}
		c := spec.Containers[0]
		if !slices.Equal(c.Command, []string{"/usr/local/bin/" + component}) {
			t.Errorf("%s runs %v", component, c.Command)
		}
		env := map[string]string{"TOUCHLINE_HTTP_ADDR": ":8080"}
		for _, e := range c.Env {
			env[e.Name] = e.Value
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			if ref.Optional == nil || *ref.Optional {
				t.Errorf("%s: %s comes from a Secret that may be missing", component, e.Name)
			}
			if e.Name == "TOUCHLINE_PEPPER" && (ref.Name != pepperSecret.Metadata.Name || pepperSecret.Data[ref.Key] == "") {
				t.Errorf("%s: the pepper comes from %s/%s, which the chart does not make", component, ref.Name, ref.Key)
			}
			env[e.Name] = "a-secret"
		}
		if (env["TOUCHLINE_PEPPER"] != "") != slices.Contains(hashes, component) {
			t.Errorf("%s: pepper %q; want it exactly in %v", component, env["TOUCHLINE_PEPPER"], hashes)
		}
		if (env["TOUCHLINE_REQUIRE_PEPPER"] == "true") != slices.Contains(hashes, component) {
			t.Errorf("%s: TOUCHLINE_REQUIRE_PEPPER is %q; want it true exactly in %v", component, env["TOUCHLINE_REQUIRE_PEPPER"], hashes)
		}
		listen := map[string]string{"collect": "TOUCHLINE_COLLECT_ADDR", "ui": "TOUCHLINE_UI_LISTEN"}[component]
		if listen == "" {
			listen = "TOUCHLINE_HTTP_ADDR"
		}
		if env[listen] != ":"+strconv.Itoa(port) || len(c.Ports) != 1 || c.Ports[0].ContainerPort != port || c.Ports[0].Name != "http" {
			t.Errorf("%s listens on %s=%q and exposes %v", component, listen, env[listen], c.Ports)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil ||
			c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port != "http" {
			t.Errorf("%s: probes %+v %+v", component, c.LivenessProbe, c.ReadinessProbe)
		}
		// The collector's and the UI's touchline.yaml are Secrets of the
		// user's (TestKubernetesUI checks the UI's template); the others
		// read the chart's config value.
		want := map[string]string{"collect": "touchline-collect", "ui": "touchline-ui"}[component]
		if want == "" {
			want = configSecret.Metadata.Name
		}
		checkConfigMount(t, component, o, env["TOUCHLINE_CONFIG"], want)
		delete(env, "TOUCHLINE_CONFIG")
		checkEnv(t, "helm "+component, env)
	}

	// segments: a StatefulSet whose pods keep their names (the host names
	// its transactional ids derive from, with the state directory) and
	// their volume across restarts.
	seg := byKind["StatefulSet"]["segments"]
	spec := seg.Spec.Template.Spec
	var stateDir string
	for _, e := range spec.Containers[0].Env {
		if e.Name == "TOUCHLINE_STATE_DIR" {
			stateDir = e.Value
		}
	}
	onClaim := false
	for _, m := range spec.Containers[0].VolumeMounts {
		onClaim = onClaim || (m.MountPath == stateDir && len(seg.Spec.VolumeClaimTemplates) == 1 && seg.Spec.VolumeClaimTemplates[0].Metadata.Name == m.Name)
	}
	for _, v := range spec.Volumes {
		onClaim = onClaim && v.Name != "state" // a pod volume would shadow the claim
	}
	if stateDir == "" || !onClaim || spec.Hostname != "" {
		t.Errorf("segments: state directory %q on its claim %v, host name %q; want the pod's own volume and name", stateDir, onClaim, spec.Hostname)
	}
	if svc := byKind["Service"]["segments"]; seg.Spec.ServiceName != svc.Metadata.Name || svc.Spec.ClusterIP != "None" {
		t.Errorf("segments: StatefulSet's service %q, headless Service %q (clusterIP %q)", seg.Spec.ServiceName, svc.Metadata.Name, svc.Spec.ClusterIP)
	}

	// migrate and topics: Jobs run before the services on install and upgrade.
	for component, args := range map[string][]string{"migrate": {"migrate"}, "topics": {"topics", "create"}} {
		job, ok := byKind["Job"][component]
		if !ok {
			t.Errorf("no Job %s", component)
			continue
		}
		if h := job.Metadata.Annotations["helm.sh/hook"]; h != "pre-install,pre-upgrade" || !slices.Equal(job.Spec.Template.Spec.Containers[0].Args, args) {
			t.Errorf("Job %s: hook %q, args %v", component, h, job.Spec.Template.Spec.Containers[0].Args)
		}
		var config string
		for _, e := range job.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "TOUCHLINE_CONFIG" {
				config = e.Value
			}
		}
		checkConfigMount(t, component, job, config, configSecret.Metadata.Name)
	}

	checkMonitoring(t, byKind)
}

// checkConfigMount checks that the pod of o reads its TOUCHLINE_CONFIG,
// config, from the touchline.yaml of the Secret secret.
func checkConfigMount(t *testing.T, component string, o object, config, secret string) {
	t.Helper()
	spec := o.Spec.Template.Spec
	mounted := slices.Contains(spec.Containers[0].VolumeMounts, volumeMount{Name: "config", MountPath: strings.TrimSuffix(config, "/touchline.yaml")})
	fromSecret := slices.ContainsFunc(spec.Volumes, func(v volume) bool { return v.Name == "config" && v.Secret != nil && v.Secret.SecretName == secret })
	if !strings.HasSuffix(config, "/touchline.yaml") || !mounted || !fromSecret {
		t.Errorf("%s: TOUCHLINE_CONFIG %q, mounted %v, from Secret %s %v", component, config, mounted, secret, fromSecret)
	}
}

// checkMonitoring checks the Prometheus Operator objects, which have no
// schema in kubernetes-validate: the ServiceMonitor selects every Service
// on a port it has, with the job label Prometheus names the targets by,
// and the PrometheusRule is the ops rules file, whose alerts cover what an
// operator must hear about.
func checkMonitoring(t *testing.T, byKind map[string]map[string]object) {
	t.Helper()
	sm, ok := byKind["ServiceMonitor"]["metrics"]
	if !ok || sm.APIVersion != "monitoring.coreos.com/v1" {
		t.Fatalf("no ServiceMonitor of monitoring.coreos.com/v1: %+v", sm)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v", sm.Spec.Endpoints)
	}
	match, _ := sm.Spec.Selector["matchLabels"].(map[string]any)
	if len(byKind["Service"]) != 7 {
		t.Errorf("%d Services, want one per service", len(byKind["Service"]))
	}
	for component, svc := range byKind["Service"] {
		for k, v := range match {
			if svc.Metadata.Labels[k] != v {
				t.Errorf("the ServiceMonitor does not select the Service of %s: %s=%q, want %v", component, k, svc.Metadata.Labels[k], v)
			}
		}
		if job := svc.Metadata.Labels[sm.Spec.JobLabel]; job != "touchline-"+component {
			t.Errorf("the Service of %s gives Prometheus job %q", component, job)
		}
		if !slices.ContainsFunc(svc.Spec.Ports, func(p struct{ Name string }) bool { return p.Name == sm.Spec.Endpoints[0].Port }) {
			t.Errorf("the Service of %s has no port %q: %v", component, sm.Spec.Endpoints[0].Port, svc.Spec.Ports)
		}
	}

	pr, ok := byKind["PrometheusRule"]["metrics"]
	if !ok || pr.APIVersion != "monitoring.coreos.com/v1" {
		t.Fatalf("no PrometheusRule of monitoring.coreos.com/v1: %+v", pr)
	}
	var file rulesFile
	decodeFile(t, opsRules, yaml.Unmarshal, &file)
	exported := exportedMetrics(t)
	alerts := map[string]string{}
	n := 0
	for i, g := range pr.Spec.Groups {
		for j, r := range g.Rules {
			if i >= len(file.Groups) || j >= len(file.Groups[i].Rules) || file.Groups[i].Rules[j].Expr != r.Expr {
				t.Errorf("PrometheusRule %s differs from %s", r.Alert, opsRules)
			}
			if r.For == "" {
				t.Errorf("%s fires on one bad scrape: no for", r.Alert)
			}
			checkExported(t, "PrometheusRule "+r.Alert, r.Expr, exported)
			alerts[r.Alert] = r.Expr
			n++
		}
	}
	for alert, metric := range map[string]string{
		"TouchlineIngestLagging":           "touchline_ingest_consumer_lag",
		"TouchlineDeadLetters":             "touchline_ingest_dead_letters_total",
		"TouchlineClickHouseDown":          "touchline_ingest_clickhouse_up",
		"TouchlineSegmentsLagging":         "touchline_segments_consumer_lag",
		"TouchlineResolverLagging":         "touchline_identity_resolver_lag",
		"TouchlineAlertNotificationsStuck": "touchline_alerts_outbox",
	} {
		if !slices.Contains(promMetrics(alerts[alert]), metric) {
			t.Errorf("PrometheusRule: %s is %q, want an alert on %s", alert, alerts[alert], metric)
		}
	}
	if n == 0 {
		t.Error("the PrometheusRule has no rule")
	}
}

// hashingServices are the services that hash identifiers, by the function
// their command runs.
var hashingServices = map[string]func(context.Context, config.Config, *prometheus.Registry, *zap.Logger) error{
	"ingest": ingestcmd.Run, "segments": segmentscmd.Run, "collect": collectcmd.Run,
	// activate sends the stored hashes, and refuses emails and phones
	// when they are keyed: it must know whether they are.
	"activate": activatecmd.Run,
}

// TestServicesThatHashRefuseToStartWithoutThePepper: the chart and compose
// set TOUCHLINE_REQUIRE_PEPPER on the services that hash; each of them,
// told so, refuses to start without a pepper before it connects to
// anything, so an empty pepper stops the pod instead of changing every
// hash.
func TestServicesThatHashRefuseToStartWithoutThePepper(t *testing.T) {
	for service, run := range hashingServices {
		cfg := config.Default()
		cfg.Pipelines = "../pipelines"
		cfg.HTTPAddr, cfg.Collect.Addr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.Identifiers.RequirePepper = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, cfg, prometheus.NewRegistry(), zap.NewNop())
		cancel()
		if !errors.Is(err, identifiers.ErrNoPepper) {
			t.Errorf("%s without its required pepper: %v, want %v", service, err, identifiers.ErrNoPepper)
		}
	}
}

// TestHelmChartRequiresThePepper: without a pepper the chart does not
// render (a missing pepper would silently change every hash); with an
// existing Secret named, the chart makes none and every service that hashes
// reads that one.
func TestHelmChartRequiresThePepper(t *testing.T) {
	helm := tool(t, "helm")
	if _, err := run(helm, "template", "touchline", chart); err == nil || !strings.Contains(err.Error(), "pepper.value or pepper.existingSecret is required") {
		t.Errorf("helm template without a pepper: %v; want it refused", err)
	}
	manifest, err := run(helm, "template", "touchline", chart, "--set", "pepper.existingSecret=mine,pepper.key=hash-key")
	if err != nil {
		t.Fatal(err)
	}
	refs := 0
	for _, o := range decodeObjects(t, manifest) {
		if o.Kind == "Secret" {
			t.Errorf("the chart makes Secret %s, though the pepper's exists", o.Metadata.Name)
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name == "TOUCHLINE_PEPPER" {
					if ref := e.ValueFrom.SecretKeyRef; ref.Name != "mine" || ref.Key != "hash-key" {
						t.Errorf("%s reads the pepper from %s/%s", o.Metadata.Name, ref.Name, ref.Key)
					}
					refs++
				}
			}
		}
	}
	if refs != len(hashingServices) {
		t.Errorf("%d containers get the pepper, want ingest, segments, collect and activate", refs)
	}
}
