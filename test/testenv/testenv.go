// Package testenv runs touchline's integration suites and benchmarks on real
// servers: an Apache Kafka broker (KRaft) and a ClickHouse server started as
// child processes in a temporary directory, the ingest service built and run
// as its own process, and helpers to publish and to read results.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/servers"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// ErrUnavailable reports that the real servers cannot be started here.
var ErrUnavailable = errors.New("real kafka and clickhouse servers are not available (run scripts/install-deps.sh)")

// The ClickHouse users with a password that Start creates besides
// "default": PasswordUser, and ReadOnlyUser, whose profile has readonly = 2.
const (
	PasswordUser     = "analyst"
	Password         = "s3cret <&> pass"
	ReadOnlyUser     = "reader"
	ReadOnlyPassword = "read only"
)

// Servers are the real Kafka and ClickHouse servers of a suite.
type Servers struct {
	Kafka      *servers.Kafka
	ClickHouse *servers.ClickHouse
	Dir        string
}

// Start starts both servers under dir. The error wraps ErrUnavailable when a
// server is not installed. ClickHouse's Kafka engine starts a new consumer
// group at the start of its topic (the benchmark's peer needs it; no test
// creates a Kafka engine table).
func Start(ctx context.Context, dir string) (*Servers, error) {
	ch, err := servers.StartClickHouse(ctx, servers.ClickHouseOptions{
		Dir: filepath.Join(dir, "clickhouse"), Users: map[string]string{PasswordUser: Password},
		ReadOnlyUsers: map[string]string{ReadOnlyUser: ReadOnlyPassword}, KafkaAutoOffsetReset: "smallest",
	})
	if err != nil {
		return nil, wrapUnavailable(err)
	}
	k, err := servers.StartKafka(ctx, servers.KafkaOptions{Dir: filepath.Join(dir, "kafka")})
	if err != nil {
		_ = ch.Stop()
		return nil, wrapUnavailable(err)
	}
	return &Servers{Kafka: k, ClickHouse: ch, Dir: dir}, nil
}

func wrapUnavailable(err error) error {
	if errors.Is(err, servers.ErrNotInstalled) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// Stop stops both servers.
func (s *Servers) Stop() {
	_ = s.Kafka.Stop()
	_ = s.ClickHouse.Stop()
}

// Config returns a configuration for the servers with topics, consumer group
// and database named after name, so suites never share state.
func (s *Servers) Config(name string) config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = s.Kafka.Brokers()
	cfg.Kafka.Topics = kafka.Topics{
		Touchpoints:      name + ".touchpoints",
		Spend:            name + ".spend",
		DeadLetter:       name + ".deadletter",
		IdentityLinks:    name + ".identity.links",
		IdentityMap:      name + ".identity.map",
		Alerts:           name + ".alerts",
		SegmentInputs:    name + ".segments.inputs",
		SegmentChangelog: name + ".segments.changelog",
		SegmentChanges:   name + ".segments.changes",
	}
	cfg.ClickHouse.Addr = []string{s.ClickHouse.Addr()}
	cfg.ClickHouse.Database = strings.ReplaceAll(name, "-", "_")
	cfg.Ingest.Group = name + ".ingest"
	cfg.Identity.Group = name + ".identity"
	cfg.Segments.Group, cfg.Segments.RouterGroup = name+".segments", name+".segments-router"
	cfg.Pipelines = filepath.Join(RepoRoot(), "pipelines")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.StateDir = filepath.Join(s.Dir, "state", name)
	return cfg
}

// Prepare creates the topics (partitions each; the identity links and
// suppressions topics have one; the identity map and suppressions are
// compacted) and migrates the database of cfg, and returns a ClickHouse
// connection the caller closes.
func Prepare(ctx context.Context, cfg config.Config, partitions int32) (driver.Conn, error) {
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	t := cfg.Kafka.Topics
	spec := func(name string, partitions int32, compacted bool) kafka.TopicSpec {
		return kafka.TopicSpec{Name: name, Partitions: partitions, Replication: 1, Compacted: compacted}
	}
	if _, err := kafka.CreateTopics(ctx, cl, spec(t.Touchpoints, partitions, false), spec(t.Spend, partitions, false), spec(t.Rates(), partitions, false),
		spec(t.DeadLetter, partitions, false), spec(t.IdentityLinks, 1, false), spec(t.Suppressions(), 1, true),
		spec(t.IdentityMap, partitions, true)); err != nil {
		return nil, err
	}
	if _, err := clickhouse.Migrate(ctx, cfg.ClickHouse, zap.NewNop()); err != nil {
		return nil, err
	}
	return clickhouse.Open(ctx, cfg.ClickHouse, nil)
}

// PublishGenerated publishes n generated touchpoints (seed, n/20 persons, 30
// days) and their daily spend to the topics of cfg and returns the revenue
// the touchpoints carry, summed from the generated records. When every > 0,
// it waits until each
// chunk of every records is acknowledged and calls progress with the number
// published so far before going on.
func PublishGenerated(ctx context.Context, cfg config.Config, n int, seed int64, every int, progress func(published int) error) (int64, error) {
	gen, err := generate.New(generate.Config{Events: n, Persons: max(n/20, 1), Days: 30, Seed: seed})
	if err != nil {
		return 0, err
	}
	p, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	var revenue int64
	published := 0
	if _, _, err := p.Generated(ctx, gen, func(t *touchpoint.Touchpoint) error {
		if t.Revenue != nil {
			revenue += int64(*t.Revenue)
		}
		if published++; every > 0 && published%every == 0 {
			if err := p.Flush(ctx); err != nil {
				return err
			}
			return progress(published)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return revenue, p.Flush(ctx)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Build builds cmd/<name> into dir and returns the binary's path. With
// TOUCHLINE_TEST_RACE=true in the environment the binary has the race
// detector built in (make test sets it), so the services the tests start as
// processes are checked too.
func Build(ctx context.Context, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	args := []string{"build", "-o", bin}
	if os.Getenv("TOUCHLINE_TEST_RACE") == "true" {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/"+name)...)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cmd/%s: %v\n%s", name, err, out)
	}
	return bin, nil
}

// WriteConfig writes cfg as a YAML file for a service process and returns
// its path.
func WriteConfig(cfg config.Config, path string) error {
	yaml := fmt.Sprintf(`kafka:
  brokers: [%s]
  topics:
    touchpoints: %s
    spend: %s
    dead_letter: %s
    identity_links: %s
    identity_map: %s
    alerts: %s
    segment_inputs: %s
    segment_changelog: %s
    segment_changes: %s
clickhouse:
  addr: [%s]
  database: %s
ingest:
  group: %s
  batch_size: %d
  flush_interval: %s
  workers: %d
  fetch_max_bytes: %d
  gc_percent: %d
  session_timeout: 6s
identity:
  group: %s
  session_timeout: 6s
segments:
  group: %s
  router_group: %s
  partitions: %d
  max_poll_records: %d
  cache_persons: %d
  idle_advance: %s
  merge_poll: %s
  session_timeout: 6s
pipelines: %s
state_dir: %s
http_addr: %s
pprof: %t
log:
  level: info
`, strings.Join(cfg.Kafka.Brokers, ", "), cfg.Kafka.Topics.Touchpoints, cfg.Kafka.Topics.Spend, cfg.Kafka.Topics.DeadLetter,
		cfg.Kafka.Topics.IdentityLinks, cfg.Kafka.Topics.IdentityMap, cfg.Kafka.Topics.Alerts,
		cfg.Kafka.Topics.SegmentInputs, cfg.Kafka.Topics.SegmentChangelog, cfg.Kafka.Topics.SegmentChanges,
		strings.Join(cfg.ClickHouse.Addr, ", "), cfg.ClickHouse.Database, cfg.Ingest.Group,
		cfg.Ingest.BatchSize, cfg.Ingest.FlushInterval, cfg.Ingest.Workers, cfg.Ingest.FetchMaxBytes, cfg.Ingest.GCPercent, cfg.Identity.Group,
		cfg.Segments.Group, cfg.Segments.RouterGroup, cfg.Segments.Partitions, cfg.Segments.MaxPollRecords, cfg.Segments.CachePersons, cfg.Segments.IdleAdvance, cfg.Segments.MergePoll,
		cfg.Pipelines, cfg.StateDir, cfg.HTTPAddr, cfg.PProf)
	if cfg.ClickHouse.Cluster != "" {
		yaml = strings.Replace(yaml, "\nclickhouse:\n", "\nclickhouse:\n  cluster: "+cfg.ClickHouse.Cluster+"\n", 1)
	}
	section, err := collectYAML(cfg.Collect)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(yaml+section), 0o600)
}

// Process is a service running as a child process.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// StartProcess runs bin with args, its output appended to logPath.
func StartProcess(bin, logPath string, args ...string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Terminate sends SIGTERM and waits up to timeout for the process to exit,
// returning its exit error; after the timeout it kills it.
func (p *Process) Terminate(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("process %d did not exit within %s after SIGTERM", p.Pid(), timeout)
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns how it
// ended, or an error when it still runs.
func (p *Process) Wait(timeout time.Duration) (*os.ProcessState, error) {
	select {
	case <-p.exited:
		return p.cmd.ProcessState, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("process %d still runs %s later", p.Pid(), timeout)
	}
}

// RSS returns the process's resident set size and its peak, in bytes.
func (p *Process) RSS() (rss, peak int64, err error) {
	return memory(strconv.Itoa(p.Pid()))
}

// PeakRSS returns the peak resident set size of the calling process, in
// bytes.
func PeakRSS() (int64, error) {
	_, peak, err := memory("self")
	return peak, err
}

// memory reads the resident set size and its peak of /proc/<pid>.
func memory(pid string) (rss, peak int64, err error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// Totals are the deduplicated touchpoint count and revenue in ClickHouse.
type Totals struct {
	Rows    uint64
	Revenue int64
}

// TouchpointTotals reads the deduplicated totals of the touchpoints table.
func TouchpointTotals(ctx context.Context, conn driver.Conn) (Totals, error) {
	var t Totals
	err := conn.QueryRow(ctx, "SELECT count(), sum(revenue) FROM touchpoints FINAL").Scan(&t.Rows, &t.Revenue)
	return t, err
}

// WaitTotals polls until the totals reach want or ctx ends, returning the
// last totals read.
func WaitTotals(ctx context.Context, conn driver.Conn, want uint64) (Totals, error) {
	var last Totals
	for {
		t, err := TouchpointTotals(ctx, conn)
		if err == nil {
			last = t
			if t.Rows >= want {
				return t, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for %d touchpoints, have %d: %w", want, last.Rows, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
