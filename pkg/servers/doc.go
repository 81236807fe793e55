// Package servers runs real Kafka and ClickHouse servers as child processes
// for touchline's tests and dev mode, without Docker.
//
// StartKafka runs Apache Kafka 3.9.1 in KRaft mode (one node acting as broker
// and controller) from jars in a local cache; StartClickHouse runs the
// clickhouse-server binary (18.16 from Debian, or any later release). Each
// server keeps its configuration, data, logs and captured output in a
// directory chosen by the caller (typically t.TempDir()), listens on loopback
// ports only, and can be stopped, killed and started again on the same data.
//
// Child processes are placed in their own process group and, on Linux, are
// sent SIGKILL by the kernel when the process that started them dies, so a
// crashed or interrupted test run does not leave servers behind.
//
// When a server's binary or jars are missing, the Start functions return an
// error wrapping ErrNotInstalled; scripts/install-deps.sh installs them.
//
// The package runs on Linux and other Unix systems.
package servers
