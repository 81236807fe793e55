package servers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// ZooKeeperOptions configures StartZooKeeper. Only Dir is required.
type ZooKeeperOptions struct {
	// Dir holds the configuration, the data directory and the captured
	// output. It is created if missing. Required.
	Dir string
	// LibDir holds the ZooKeeper jars. Default: Kafka's lib directory
	// ($TOUCHLINE_KAFKA_LIBS or KafkaLibDir()), since Kafka 3.9.1 ships
	// ZooKeeper 3.8 and its dependencies among its jars.
	LibDir string
	// Java is the java executable. Default: java on PATH.
	Java string
	// Port is the client port. Default 0 picks a free port.
	Port int
	// Heap is the JVM's maximum heap, as for -Xmx. Default "256m".
	Heap string
	// StartTimeout bounds waiting for the server to serve requests after
	// each start. Default 60s.
	StartTimeout time.Duration
	// Logger receives the package's own messages. Default: no logging.
	Logger *zap.Logger
}

// ZooKeeper is a standalone ZooKeeper server child process listening on
// 127.0.0.1, as ClickHouse's replicated tables and distributed DDL need.
type ZooKeeper struct {
	opts ZooKeeperOptions
	proc *process
}

// StartZooKeeper writes zoo.cfg into opts.Dir, starts a standalone ZooKeeper
// server and waits until it serves requests. The error wraps ErrNotInstalled
// when Java or the jars are missing.
func StartZooKeeper(ctx context.Context, opts ZooKeeperOptions) (*ZooKeeper, error) {
	if opts.Dir == "" {
		return nil, errors.New("starting zookeeper: ZooKeeperOptions.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("starting zookeeper: %w", err)
	}
	opts.Dir = dir
	if opts.LibDir == "" {
		opts.LibDir = os.Getenv(KafkaLibDirEnv)
	}
	if opts.LibDir == "" {
		opts.LibDir = KafkaLibDir()
	}
	jars, _ := filepath.Glob(filepath.Join(opts.LibDir, "zookeeper-*.jar"))
	if len(jars) == 0 {
		return nil, fmt.Errorf("%w: no zookeeper jar in %q; run scripts/install-deps.sh kafka (Kafka's jars include ZooKeeper's)",
			ErrNotInstalled, opts.LibDir)
	}
	java, err := findJava(opts.Java, "ZooKeeper")
	if err != nil {
		return nil, err
	}
	opts.Java = java
	if opts.Heap == "" {
		opts.Heap = "256m"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if err := fillFreePorts(&opts.Port); err != nil {
		return nil, fmt.Errorf("starting zookeeper: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("configuring zookeeper: %w", err)
	}
	cfg := fmt.Sprintf(`# Written by touchline's pkg/servers; rewritten on every StartZooKeeper.
tickTime=2000
maxSessionTimeout=60000
dataDir=%s
clientPort=%d
clientPortAddress=%s
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=srvr
`, filepath.Join(dir, "data"), opts.Port, loopback)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("configuring zookeeper: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(kafkaLog4j), 0o644); err != nil {
		return nil, fmt.Errorf("configuring zookeeper: %w", err)
	}
	log := opts.Logger.Named("zookeeper")
	z := &ZooKeeper{opts: opts, proc: &process{
		name: "zookeeper",
		dir:  dir,
		argv: slices.Concat([]string{java, "-Xmx" + opts.Heap, "-XX:+ExitOnOutOfMemoryError",
			"-Dlog4j.configuration=file:" + filepath.Join(dir, "log4j.properties"),
			"-cp", filepath.Join(opts.LibDir, "*")},
			[]string{"org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg")}),
		outPath: filepath.Join(dir, "zookeeper.out"),
		log:     log,
	}}
	if err := z.proc.start(); err != nil {
		return nil, err
	}
	if err := z.proc.waitReady(ctx, opts.StartTimeout, z.serving); err != nil {
		_ = z.proc.kill()
		return nil, fmt.Errorf("waiting for zookeeper on %s: %w", z.Addr(), err)
	}
	log.Info("zookeeper started", zap.String("addr", z.Addr()), zap.String("dir", dir))
	return z, nil
}

// Addr returns the client address, host:port.
func (z *ZooKeeper) Addr() string { return hostPort(z.opts.Port) }

// Port returns the client port.
func (z *ZooKeeper) Port() int { return z.opts.Port }

// Stop shuts the server down with SIGTERM, then SIGKILL after 30 seconds.
func (z *ZooKeeper) Stop() error { return z.proc.stop(stopGrace) }

// serving sends ZooKeeper's "srvr" four-letter command and expects the
// server's mode in the answer: until its database is loaded a server answers
// "not currently serving requests" (and "ruok" already says "imok"), and
// closes every client's session handshake.
func (z *ZooKeeper) serving(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", z.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte("srvr")); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(conn, 4096))
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "Mode: ") {
		return fmt.Errorf("srvr answered %q", strings.TrimSpace(string(b)))
	}
	return nil
}
