package servers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// KafkaVersion is the Apache Kafka release StartKafka runs and
// scripts/install-deps.sh installs.
const KafkaVersion = "3.9.1"

// kafkaJar is the jar whose presence marks a complete lib directory.
const kafkaJar = "kafka_2.13-" + KafkaVersion + ".jar"

// KafkaLibDirEnv names the environment variable that overrides the directory
// holding Kafka's jars.
const KafkaLibDirEnv = "TOUCHLINE_KAFKA_LIBS"

// KafkaLibDir returns the default directory holding Kafka's jars,
// ${XDG_CACHE_HOME:-$HOME/.cache}/touchline/kafka-3.9.1/libs, the directory
// scripts/install-deps.sh kafka fills when KafkaLibDirEnv is unset. It
// returns "" when neither XDG_CACHE_HOME nor the home directory is known.
func KafkaLibDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "touchline", "kafka-"+KafkaVersion, "libs")
}

// KafkaOptions configures StartKafka. Only Dir is required.
type KafkaOptions struct {
	// Dir holds the configuration, the log (data) directory and the captured
	// output. It is created if missing. Required.
	Dir string
	// LibDir holds Kafka's jars. Default: $TOUCHLINE_KAFKA_LIBS if set, else
	// KafkaLibDir().
	LibDir string
	// Java is the java executable (JDK 17 or later). Default: java on PATH.
	Java string
	// Port is the broker (PLAINTEXT) port. Default 0 picks a free port.
	Port int
	// ControllerPort is the KRaft controller port. Default 0 picks a free
	// port.
	ControllerPort int
	// Heap is the JVM's maximum heap, as for -Xmx. Default "1g".
	Heap string
	// Properties are added to server.properties, replacing the defaults of
	// the same name (for example num.partitions, which defaults to 4).
	Properties map[string]string
	// StartTimeout bounds waiting for the broker to serve requests after
	// each start. Default 90s.
	StartTimeout time.Duration
	// Logger receives the package's own messages, not the broker's log.
	// Default: no logging.
	Logger *zap.Logger
}

// Kafka is a single-node Kafka broker and KRaft controller child process
// listening on 127.0.0.1. Its methods are safe for concurrent use.
type Kafka struct {
	opts KafkaOptions // with defaults and ports filled in
	proc *process
}

// StartKafka writes a configuration into opts.Dir, formats the storage
// directory unless it was formatted before, starts the broker and waits until
// a client can ping it and its metadata lists the broker. A directory used
// before keeps its topics and records. ctx bounds only the start: cancelling
// it later does not stop the broker, Stop or Kill does. The error wraps
// ErrNotInstalled when Java or the jars are missing.
func StartKafka(ctx context.Context, opts KafkaOptions) (*Kafka, error) {
	if opts.Dir == "" {
		return nil, errors.New("starting kafka: KafkaOptions.Dir is required")
	}
	if err := resolveKafkaOptions(&opts); err != nil {
		return nil, err
	}
	if err := fillFreePorts(&opts.Port, &opts.ControllerPort); err != nil {
		return nil, fmt.Errorf("starting kafka: %w", err)
	}
	if err := writeKafkaConfig(opts); err != nil {
		return nil, fmt.Errorf("configuring kafka: %w", err)
	}
	log := opts.Logger.Named("kafka")
	k := &Kafka{
		opts: opts,
		proc: &process{
			name: "kafka",
			dir:  opts.Dir,
			argv: slices.Concat(kafkaJVM(opts),
				[]string{"kafka.Kafka", filepath.Join(opts.Dir, "server.properties")}),
			outPath: filepath.Join(opts.Dir, "kafka.out"),
			log:     log,
		},
	}
	if err := k.format(ctx); err != nil {
		return nil, err
	}
	if err := k.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("kafka started", zap.Strings("brokers", k.Brokers()), zap.String("dir", opts.Dir))
	return k, nil
}

// resolveKafkaOptions fills in defaults and checks that Java and the jars are
// present.
func resolveKafkaOptions(opts *KafkaOptions) error {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("starting kafka: %w", err)
	}
	opts.Dir = dir
	if opts.LibDir == "" {
		opts.LibDir = os.Getenv(KafkaLibDirEnv)
	}
	if opts.LibDir == "" {
		opts.LibDir = KafkaLibDir()
	}
	if opts.LibDir == "" {
		return fmt.Errorf("%w: cannot locate Kafka's jars: no home directory; set %s", ErrNotInstalled, KafkaLibDirEnv)
	}
	if _, err := os.Stat(filepath.Join(opts.LibDir, kafkaJar)); err != nil {
		return fmt.Errorf("%w: Kafka %s jars not found in %s (%v); run scripts/install-deps.sh kafka",
			ErrNotInstalled, KafkaVersion, opts.LibDir, err)
	}
	java, err := findJava(opts.Java, "Kafka")
	if err != nil {
		return err
	}
	opts.Java = java
	if opts.Heap == "" {
		opts.Heap = "1g"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return nil
}

// findJava returns the path of the java executable name ("java" when
// empty) that server needs.
func findJava(name, server string) (string, error) {
	if name == "" {
		name = "java"
	}
	java, ok := lookExecutable(name)
	if !ok {
		return "", fmt.Errorf("%w: %s not found; %s needs a JDK 17 or later (e.g. apt-get install openjdk-17-jdk-headless)",
			ErrNotInstalled, name, server)
	}
	return java, nil
}

// kafkaJVM returns the java command line up to the main class.
func kafkaJVM(opts KafkaOptions) []string {
	return []string{
		opts.Java,
		"-Xmx" + opts.Heap,
		"-XX:+ExitOnOutOfMemoryError",
		"-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:" + filepath.Join(opts.Dir, "log4j.properties"),
		"-cp", filepath.Join(opts.LibDir, "*"), // the JVM expands the wildcard
	}
}

// Brokers returns the seed broker addresses (host:port) for clients. The
// caller may modify the returned slice.
func (k *Kafka) Brokers() []string { return []string{hostPort(k.opts.Port)} }

// Pid returns the process id of the running broker, or 0 when it is not
// running; its /proc entry gives the broker's CPU time.
func (k *Kafka) Pid() int { return k.proc.pid() }

// Dir returns the directory holding the broker's configuration, data and
// output, as an absolute path.
func (k *Kafka) Dir() string { return k.opts.Dir }

// Start starts the broker again on the same directory and ports, after Stop
// or Kill, and waits until it serves requests or StartTimeout passes; then it
// kills the broker and returns an error quoting the end of its output. It
// fails if the broker is running.
func (k *Kafka) Start(ctx context.Context) error {
	if err := k.proc.start(); err != nil {
		return err
	}
	if err := k.proc.waitReady(ctx, k.opts.StartTimeout, k.ready); err != nil {
		_ = k.proc.kill()
		return fmt.Errorf("waiting for kafka on %s: %w", hostPort(k.opts.Port), err)
	}
	return nil
}

// Stop shuts the broker down with SIGTERM (a controlled shutdown) and waits
// for it to exit, sending SIGKILL if it is still running after 30 seconds.
// It returns nil when the broker is not running.
func (k *Kafka) Stop() error { return k.proc.stop(stopGrace) }

// Kill kills the broker with SIGKILL and waits for it to exit, as a crash
// would; the next Start recovers the logs. It returns nil when the broker is
// not running.
func (k *Kafka) Kill() error { return k.proc.kill() }

// ready checks that the broker answers a ping and lists itself in metadata,
// which a KRaft broker does once it has registered with the controller.
func (k *Kafka) ready(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	for _, b := range resp.Brokers {
		if b.Port == int32(k.opts.Port) {
			return nil
		}
	}
	return fmt.Errorf("metadata lists %d brokers, not the one on port %d yet", len(resp.Brokers), k.opts.Port)
}

// format formats the storage directory with a new cluster ID, unless it
// has been formatted before.
func (k *Kafka) format(ctx context.Context) error {
	meta := filepath.Join(k.opts.Dir, "data", "meta.properties")
	if _, err := os.Stat(meta); err == nil {
		return nil
	}
	id, err := newKafkaClusterID()
	if err != nil {
		return fmt.Errorf("formatting kafka storage: %w", err)
	}
	argv := slices.Concat(kafkaJVM(k.opts), []string{"kafka.tools.StorageTool", "format",
		"-t", id, "-c", filepath.Join(k.opts.Dir, "server.properties")})
	if err := runToCompletion(ctx, k.opts.Dir, filepath.Join(k.opts.Dir, "format.out"), argv...); err != nil {
		return fmt.Errorf("formatting kafka storage: %w", err)
	}
	return nil
}

// newKafkaClusterID returns a random cluster ID as Kafka's Uuid.randomUuid
// makes them: 16 random bytes in unpadded URL-safe base64, not starting
// with '-' (which command lines would take for an option).
func newKafkaClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// writeKafkaConfig writes server.properties and log4j.properties into
// opts.Dir.
func writeKafkaConfig(opts KafkaOptions) error {
	if err := os.MkdirAll(filepath.Join(opts.Dir, "data"), 0o755); err != nil {
		return err
	}
	props := map[string]string{
		"process.roles":                            "broker,controller",
		"node.id":                                  "1",
		"controller.quorum.voters":                 "1@" + hostPort(opts.ControllerPort),
		"listeners":                                "PLAINTEXT://" + hostPort(opts.Port) + ",CONTROLLER://" + hostPort(opts.ControllerPort),
		"advertised.listeners":                     "PLAINTEXT://" + hostPort(opts.Port),
		"controller.listener.names":                "CONTROLLER",
		"inter.broker.listener.name":               "PLAINTEXT",
		"listener.security.protocol.map":           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs":                                 filepath.Join(opts.Dir, "data"),
		"num.partitions":                           "4",
		"auto.create.topics.enable":                "true",
		"offsets.topic.replication.factor":         "1",
		"offsets.topic.num.partitions":             "4",
		"transaction.state.log.replication.factor": "1",
		"transaction.state.log.min.isr":            "1",
		"group.initial.rebalance.delay.ms":         "0",
		// After a Kill, the controller refuses the restarted broker's
		// registration until the killed incarnation's session has expired;
		// a short session makes that restart take seconds, not 15.
		"broker.heartbeat.interval.ms": "500",
		"broker.session.timeout.ms":    "3000",
	}
	maps.Copy(props, opts.Properties)
	var b strings.Builder
	b.WriteString("# Written by touchline's pkg/servers; rewritten on every StartKafka.\n")
	for _, key := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(&b, "%s=%s\n", escapeProperty(key, true), escapeProperty(props[key], false))
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "server.properties"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(opts.Dir, "log4j.properties"), []byte(kafkaLog4j), 0o644)
}

// escapeProperty escapes s for a java.util.Properties file.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case key && (r == '=' || r == ':' || r == ' ' || r == '#' || r == '!'):
			b.WriteString(`\` + string(r))
		case !key && i == 0 && r == ' ':
			b.WriteString(`\ `)
		case r > 0x7e: // Properties files are Latin-1; escape as UTF-16.
			for _, u := range utf16.AppendRune(nil, r) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// kafkaLog4j logs warnings and errors to the console, which the process
// helper captures in kafka.out.
const kafkaLog4j = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
`
