package servers

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"text/template"
	"time"

	"go.uber.org/zap"
)

// ClickHouseOptions configures StartClickHouse. Only Dir is required.
type ClickHouseOptions struct {
	// Dir holds the server's configuration, data, logs and captured output.
	// It is created if missing. Required.
	Dir string
	// Binary is the server executable. If its base name is "clickhouse", the
	// multi-call binary, it is run with the "server" subcommand. Default:
	// clickhouse-server on PATH or in /usr/sbin or /usr/bin, else clickhouse
	// on PATH.
	Binary string
	// TCPPort is the native-protocol port. Default 0 picks a free port.
	TCPPort int
	// HTTPPort is the HTTP port. Default 0 picks a free port.
	HTTPPort int
	// Users adds users, by name, with their plain-text passwords and the
	// default profile, besides the password-less user "default".
	Users map[string]string
	// ReadOnlyUsers adds users, by name, with their plain-text passwords
	// and the profile readonly: readonly = 2 (reads only, settings may
	// change), as docs/ui.md advises for the web UI.
	ReadOnlyUsers map[string]string
	// KafkaAutoOffsetReset, when set, is the Kafka engine's
	// auto_offset_reset (librdkafka's: smallest or largest), written into
	// the <kafka> section of config.xml. A Kafka engine table then starts a
	// new consumer group at the start (smallest) of its topic instead of
	// its end.
	KafkaAutoOffsetReset string
	// StartTimeout bounds waiting for the server to answer /ping after each
	// start. Default 60s.
	StartTimeout time.Duration
	// Logger receives the package's own messages, not the server's log.
	// Default: no logging.
	Logger *zap.Logger
	// Cluster, when set, makes the server one replica of a cluster
	// (StartClickHouseCluster sets it).
	Cluster *ClusterMember
}

// ClusterMember is a server's place in a ClickHouse cluster: the macros its
// replicated tables use, the remote_servers entry of the cluster, the
// ZooKeeper it coordinates through and the port replicas fetch parts on.
type ClusterMember struct {
	// Name is the cluster's name in remote_servers.
	Name string
	// Shard and Replica are the {shard} and {replica} macros.
	Shard, Replica string
	// Shards lists the native-protocol ports of each shard's replicas on
	// 127.0.0.1.
	Shards [][]int
	// ZooKeeperPort is the ZooKeeper client port on 127.0.0.1.
	ZooKeeperPort int
	// InterserverPort is the interserver HTTP port. Default 0 picks a free
	// port.
	InterserverPort int
}

var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// account is a user of users.xml besides "default".
type account struct {
	Name, Password, Profile string
}

// accounts returns the users of opts with their profiles, by name.
func accounts(opts ClickHouseOptions) []account {
	var out []account
	for profile, users := range map[string]map[string]string{"default": opts.Users, "readonly": opts.ReadOnlyUsers} {
		for name, password := range users {
			out = append(out, account{Name: name, Password: password, Profile: profile})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ClickHouse is a clickhouse-server child process listening on 127.0.0.1.
// Its methods are safe for concurrent use.
type ClickHouse struct {
	opts ClickHouseOptions // with defaults and ports filled in
	proc *process
	http *http.Client
	// errorLogFrom is the size of the error log when the last start began:
	// what that start logged follows it.
	errorLogFrom atomic.Int64
}

// StartClickHouse writes a server configuration into opts.Dir, starts
// clickhouse-server and waits until it answers /ping. A directory used
// before keeps its data. ctx bounds only the start: cancelling it later does
// not stop the server, Stop or Kill does. The error wraps ErrNotInstalled when
// no server binary is found.
func StartClickHouse(ctx context.Context, opts ClickHouseOptions) (*ClickHouse, error) {
	if opts.Dir == "" {
		return nil, errors.New("starting clickhouse-server: ClickHouseOptions.Dir is required")
	}
	seen := map[string]bool{}
	for _, a := range accounts(opts) {
		if name := a.Name; !userName.MatchString(name) || name == "default" || seen[name] {
			return nil, fmt.Errorf("starting clickhouse-server: user name %q must be a plain identifier other than default, given once", name)
		}
		seen[a.Name] = true
	}
	argv, err := clickHouseCommand(opts.Binary)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("starting clickhouse-server: %w", err)
	}
	opts.Dir = dir
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	ports := []*int{&opts.TCPPort, &opts.HTTPPort}
	if opts.Cluster != nil {
		ports = append(ports, &opts.Cluster.InterserverPort)
	}
	if err := fillFreePorts(ports...); err != nil {
		return nil, fmt.Errorf("starting clickhouse-server: %w", err)
	}
	if err := writeClickHouseConfig(opts); err != nil {
		return nil, fmt.Errorf("configuring clickhouse-server: %w", err)
	}
	log := opts.Logger.Named("clickhouse")
	c := &ClickHouse{
		opts: opts,
		proc: &process{
			name:     "clickhouse-server",
			dir:      dir,
			argv:     append(argv, "--config-file="+filepath.Join(dir, "config.xml")),
			outPath:  filepath.Join(dir, "clickhouse-server.out"),
			logFiles: []string{errorLog(dir)},
			log:      log,
		},
		// Without keep-alive, so that no idle connection of ours delays
		// the server's shutdown.
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("clickhouse-server started", zap.String("addr", c.Addr()),
		zap.String("http", c.HTTPAddr()), zap.String("dir", dir))
	return c, nil
}

// clickHouseCommand returns the command line that starts the server, without
// the configuration argument.
func clickHouseCommand(binary string) ([]string, error) {
	if binary != "" {
		path, ok := lookExecutable(binary)
		if !ok {
			return nil, fmt.Errorf("%w: ClickHouse binary %s not found or not executable; run scripts/install-deps.sh clickhouse or fix ClickHouseOptions.Binary",
				ErrNotInstalled, binary)
		}
		if filepath.Base(path) == "clickhouse" {
			return []string{path, "server"}, nil
		}
		return []string{path}, nil
	}
	// Debian installs clickhouse-server into /usr/sbin, which is often not
	// on a non-root user's PATH.
	if path, ok := lookExecutable("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"); ok {
		return []string{path}, nil
	}
	if path, ok := lookExecutable("clickhouse"); ok {
		return []string{path, "server"}, nil
	}
	return nil, fmt.Errorf("%w: neither clickhouse-server nor clickhouse found on PATH; run scripts/install-deps.sh clickhouse",
		ErrNotInstalled)
}

// Addr returns the native-protocol address, host:port, for clickhouse-go and
// clickhouse-client.
func (c *ClickHouse) Addr() string { return hostPort(c.opts.TCPPort) }

// HTTPAddr returns the HTTP interface's address as host:port, without a
// scheme.
func (c *ClickHouse) HTTPAddr() string { return hostPort(c.opts.HTTPPort) }

// Pid returns the process id of the running server, or 0 when it is not
// running; its /proc entry gives the server's CPU time.
func (c *ClickHouse) Pid() int { return c.proc.pid() }

// Dir returns the directory holding the server's configuration, data and
// logs, as an absolute path.
func (c *ClickHouse) Dir() string { return c.opts.Dir }

// Start starts the server again on the same directory and ports, after Stop
// or Kill, and waits until it answers /ping or StartTimeout passes; then it
// kills the server and returns an error quoting the end of the server's logs.
// It fails if the server is running.
func (c *ClickHouse) Start(ctx context.Context) error {
	c.markErrorLog()
	if err := c.proc.start(); err != nil {
		return err
	}
	if err := c.proc.waitReady(ctx, c.opts.StartTimeout, c.ping); err != nil {
		_ = c.proc.kill()
		return fmt.Errorf("waiting for clickhouse-server on %s: %w", c.HTTPAddr(), err)
	}
	return nil
}

// errorLog is the error log of the server whose directory is dir.
func errorLog(dir string) string { return filepath.Join(dir, "log", "clickhouse-server.err.log") }

// markErrorLog notes where the error log ends, before a start.
func (c *ClickHouse) markErrorLog() {
	var size int64
	if info, err := os.Stat(errorLog(c.opts.Dir)); err == nil {
		size = info.Size()
	}
	c.errorLogFrom.Store(size)
}

// RefusedUnknownParts reports whether the server's last start was refused
// because a replicated table's local parts did not look like those
// ZooKeeper knows, as what that start wrote to the error log says:
// ClickHouse's safety check after a crash between writing a part and
// registering it, when such parts hold too large a share of the replica's
// rows.
func (c *ClickHouse) RefusedUnknownParts() (bool, error) {
	f, err := os.Open(errorLog(c.opts.Dir))
	if err != nil {
		return false, fmt.Errorf("reading clickhouse's error log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(c.errorLogFrom.Load(), io.SeekStart); err != nil {
		return false, fmt.Errorf("reading clickhouse's error log: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return false, fmt.Errorf("reading clickhouse's error log: %w", err)
	}
	return bytes.Contains(b, []byte("doesn't look like the set of parts in ZooKeeper")), nil
}

// ForceRestoreData asks the server, at its next start, to restore its
// replicated tables as ClickHouse documents for that case (the
// flags/force_restore_data file): local parts ZooKeeper does not know are
// detached and the replica fetches what it lacks from the other replicas.
func (c *ClickHouse) ForceRestoreData() error {
	dir := filepath.Join(c.opts.Dir, "data", "flags")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "force_restore_data"), nil, 0o644)
}

// Stop shuts the server down with SIGTERM and waits for it to exit, sending
// SIGKILL if it is still running after 30 seconds. It returns nil when the
// server is not running.
func (c *ClickHouse) Stop() error { return c.proc.stop(stopGrace) }

// Kill kills the server with SIGKILL and waits for it to exit, as a crash
// would. It returns nil when the server is not running.
func (c *ClickHouse) Kill() error { return c.proc.kill() }

// Version returns the server's version, as reported by SELECT version().
func (c *ClickHouse) Version(ctx context.Context) (string, error) {
	v, err := c.get(ctx, "/?query="+url.QueryEscape("SELECT version()"))
	if err != nil {
		return "", fmt.Errorf("querying clickhouse version: %w", err)
	}
	return strings.TrimSpace(v), nil
}

// ping checks that the server answers /ping.
func (c *ClickHouse) ping(ctx context.Context) error {
	body, err := c.get(ctx, "/ping")
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "Ok." {
		return fmt.Errorf("/ping answered %q", body)
	}
	return nil
}

// get returns the body of a successful HTTP GET of path on the server.
func (c *ClickHouse) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr()+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

// Query sends sql to the server's HTTP interface, in database unless it is
// empty, and returns the answer's body for the caller to read and close. An
// answer other than 200 OK is an error carrying the server's message.
func (c *ClickHouse) Query(ctx context.Context, database, sql string) (io.ReadCloser, error) {
	u := url.URL{Scheme: "http", Host: c.HTTPAddr(), Path: "/"}
	if database != "" {
		u.RawQuery = url.Values{"database": {database}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(sql))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
}

// writeClickHouseConfig writes config.xml and users.xml into opts.Dir and
// creates the directories they name.
func writeClickHouseConfig(opts ClickHouseOptions) error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o755); err != nil {
			return err
		}
	}
	for name, text := range map[string]string{
		"config.xml": clickHouseConfig,
		"users.xml":  clickHouseUsers,
	} {
		tmpl, err := template.New(name).Funcs(template.FuncMap{"xml": xmlText, "accounts": accounts}).Parse(text)
		if err != nil {
			return fmt.Errorf("parsing %s template: %w", name, err)
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, opts); err != nil {
			return fmt.Errorf("rendering %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(opts.Dir, name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// xmlText escapes s for use in XML character data.
func xmlText(s string) (string, error) {
	var b strings.Builder
	err := xml.EscapeText(&b, []byte(s))
	return b.String(), err
}

// The configuration works on ClickHouse 18.16 (whose root element is
// <yandex>) and on later releases, which still accept that root. The
// templates are executed with the ClickHouseOptions.
const (
	clickHouseConfig = `<?xml version="1.0"?>
<!-- Written by touchline's pkg/servers; rewritten on every StartClickHouse. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>{{xml .Dir}}/log/clickhouse-server.log</log>
        <errorlog>{{xml .Dir}}/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{{.HTTPPort}}</http_port>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <path>{{xml .Dir}}/data/</path>
    <tmp_path>{{xml .Dir}}/tmp/</tmp_path>
    <user_files_path>{{xml .Dir}}/user_files/</user_files_path>
    <format_schema_path>{{xml .Dir}}/format_schemas/</format_schema_path>
    <users_config>{{xml .Dir}}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
{{- with .Cluster}}
    <!-- One replica of a cluster: small caches, since the test harness runs
         four servers on one machine. -->
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>0</uncompressed_cache_size>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>{{.InterserverPort}}</interserver_http_port>
    <macros>
        <shard>{{xml .Shard}}</shard>
        <replica>{{xml .Replica}}</replica>
    </macros>
    <zookeeper>
        <node>
            <host>127.0.0.1</host>
            <port>{{.ZooKeeperPort}}</port>
        </node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <remote_servers>
        <{{.Name}}>
{{- range .Shards}}
            <shard>
                <internal_replication>true</internal_replication>
{{- range .}}
                <replica>
                    <host>127.0.0.1</host>
                    <port>{{.}}</port>
                </replica>
{{- end}}
            </shard>
{{- end}}
        </{{.Name}}>
    </remote_servers>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
{{- else}}
    <mark_cache_size>536870912</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
{{- end}}
    <max_concurrent_queries>100</max_concurrent_queries>
{{- with .KafkaAutoOffsetReset}}
    <kafka>
        <auto_offset_reset>{{xml .}}</auto_offset_reset>
    </kafka>
{{- end}}
</yandex>
`
	clickHouseUsers = `<?xml version="1.0"?>
<!-- Written by touchline's pkg/servers; rewritten on every StartClickHouse. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <!-- On shutdown the server waits for idle native connections
                 for up to poll_interval seconds (default 10). -->
            <poll_interval>1</poll_interval>
{{- if .Cluster}}
            <distributed_product_mode>global</distributed_product_mode>
            <load_balancing>in_order</load_balancing>
{{- end}}
        </default>
        <readonly>
            <readonly>2</readonly>
            <poll_interval>1</poll_interval>
{{- if .Cluster}}
            <distributed_product_mode>global</distributed_product_mode>
            <load_balancing>in_order</load_balancing>
{{- end}}
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::/0</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
{{- range accounts .}}
        <{{.Name}}>
            <password>{{xml .Password}}</password>
            <networks>
                <ip>::/0</ip>
            </networks>
            <profile>{{.Profile}}</profile>
            <quota>default</quota>
        </{{.Name}}>
{{- end}}
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
)
