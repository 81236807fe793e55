#!/usr/bin/env bash
# install-deps.sh installs the servers and tools that touchline's tests and dev
# mode run as child processes (no Docker needed). It is idempotent: components
# that are already present are left alone.
#
# Usage: scripts/install-deps.sh [clickhouse|kafka|chdb|golangci-lint|helm|
#        cc|chromium|segment-python|nodejs|segment-node|clients|all]   (default: all)
#
#   clickhouse  Debian packages clickhouse-server and clickhouse-client.
#   kafka       Apache Kafka jars, fetched from Maven Central with mvn, into
#               $TOUCHLINE_KAFKA_LIBS or else
#               ${XDG_CACHE_HOME:-$HOME/.cache}/touchline/kafka-3.9.1/libs
#               (the same default pkg/servers uses). They include
#               ZooKeeper 3.8, which the ClickHouse cluster tests
#               (test/cluster, make test-cluster) start from them.
#   chdb        The chdb Python module, with pip.
#   golangci-lint  golangci-lint $GOLANGCI_LINT_VERSION, built with go install
#               from the Go module proxy into $(go env GOBIN), or else
#               $(go env GOPATH)/bin (where make lint runs it from).
#   helm        helm $HELM_VERSION, built with go install from the Go module
#               proxy into $(go env GOBIN), or else $(go env GOPATH)/bin, and
#               the kubernetes-validate Python module ($KUBERNETES_VALIDATE_VERSION,
#               Kubernetes' JSON schemas offline), with pip: deploy's test
#               lints, renders and validates the Helm chart with them.
#   cc          Debian's gcc, with apt-get, when no C compiler is found: Go's
#               race detector (make test runs go test -race) needs cgo.
#   chromium    Debian's chromium, with apt-get (the browser SDK test drives
#               it headless with chromedp).
#   segment-python  Segment's Python SDK (PyPI segment-analytics-python
#               $SEGMENT_PYTHON_VERSION) into a virtualenv at
#               $TOUCHLINE_CLIENTS_DIR/python (not system-wide).
#   nodejs      Debian's nodejs and npm, with apt-get, when node is missing.
#   segment-node  Segment's Node SDK (npm @segment/analytics-node) and browser
#               SDK (npm @segment/analytics-next), pinned, into
#               $TOUCHLINE_CLIENTS_DIR/node.
#   clients     chromium, segment-python, nodejs and segment-node.
#
# TOUCHLINE_CLIENTS_DIR defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/touchline/clients (the same default
# test/clients uses).
set -euo pipefail

readonly KAFKA_VERSION=3.9.1
readonly SCALA_VERSION=2.13
readonly SLF4J_VERSION=1.7.36
readonly GOLANGCI_LINT_VERSION=2.15.0
readonly HELM_VERSION=3.21.4
readonly KUBERNETES_VALIDATE_VERSION=1.37.0
readonly SEGMENT_PYTHON_VERSION=2.4.0
readonly SEGMENT_NODE_VERSION=3.1.0
readonly SEGMENT_NEXT_VERSION=1.84.3

usage() {
	echo "usage: $0 [clickhouse|kafka|chdb|golangci-lint|helm|chromium|segment-python|nodejs|segment-node|clients|all]" >&2
	exit 2
}

# as_root runs a command as root, through sudo when we are not root already.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "install-deps: need root (and no sudo) to run: $*" >&2
		return 1
	fi
}

apt_updated=false

# cleanup_dir names a temporary directory to remove when the script exits.
cleanup_dir=""
trap '[ -z "$cleanup_dir" ] || rm -rf "$cleanup_dir"' EXIT
apt_install() {
	if [ "$apt_updated" = false ]; then
		as_root apt-get update
		apt_updated=true
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

# have_clickhouse_server also looks in the sbin directories, which are often
# missing from a non-root user's PATH (Debian installs the server there).
have_clickhouse_server() {
	command -v clickhouse-server >/dev/null 2>&1 ||
		[ -x /usr/sbin/clickhouse-server ] ||
		[ -x /usr/bin/clickhouse-server ]
}

install_clickhouse() {
	if have_clickhouse_server; then
		echo "clickhouse: clickhouse-server already installed, nothing to do"
		return
	fi
	apt_install clickhouse-server clickhouse-client
	echo "clickhouse: installed clickhouse-server and clickhouse-client with apt-get"
}

kafka_lib_dir() {
	if [ -n "${TOUCHLINE_KAFKA_LIBS:-}" ]; then
		echo "$TOUCHLINE_KAFKA_LIBS"
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/touchline/kafka-${KAFKA_VERSION}/libs"
	fi
}

install_kafka() {
	local libdir
	libdir="$(kafka_lib_dir)"
	if [ -f "$libdir/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ]; then
		echo "kafka: jars already in $libdir, nothing to do"
		return
	fi
	command -v mvn >/dev/null 2>&1 || {
		echo "kafka: mvn not found; install Maven (e.g. apt-get install maven) and a JDK 17+" >&2
		return 1
	}

	local parent work
	parent="$(dirname "$libdir")"
	mkdir -p "$parent"
	# The work directory is a sibling of libdir so the final mv is a rename
	# on the same file system, hence atomic. It is removed on exit, also
	# when mvn fails.
	work="$(mktemp -d "$parent/.install.XXXXXX")"
	cleanup_dir="$work"

	cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.touchline</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
EOF
	# mvn's output is kept quiet and only shown when it fails.
	if ! (cd "$work" && mvn -q -B dependency:copy-dependencies \
		-DoutputDirectory="$work/libs" -DincludeScope=runtime) >"$work/mvn.log" 2>&1; then
		cat "$work/mvn.log" >&2
		echo "kafka: mvn dependency:copy-dependencies failed" >&2
		return 1
	fi
	if [ ! -f "$work/libs/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ]; then
		echo "kafka: mvn did not produce kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" >&2
		return 1
	fi
	# A partial directory left by an older, interrupted layout is replaced.
	rm -rf "$libdir"
	mv "$work/libs" "$libdir"
	echo "kafka: installed $(find "$libdir" -name '*.jar' | wc -l) jars of Kafka ${KAFKA_VERSION} into $libdir"
}

install_chdb() {
	if python3 -c 'import chdb' >/dev/null 2>&1; then
		echo "chdb: python module already installed, nothing to do"
		return
	fi
	python3 -m pip install --quiet chdb
	echo "chdb: installed the chdb python module with pip"
}

install_golangci_lint() {
	local bin
	bin="$(go env GOBIN)"
	bin="${bin:-$(go env GOPATH)/bin}/golangci-lint"
	if [ -x "$bin" ] && [ "$("$bin" version --short 2>/dev/null)" = "$GOLANGCI_LINT_VERSION" ]; then
		echo "golangci-lint: $GOLANGCI_LINT_VERSION already in $bin, nothing to do"
		return
	fi
	go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$GOLANGCI_LINT_VERSION"
	echo "golangci-lint: installed $GOLANGCI_LINT_VERSION into $bin"
}

install_helm() {
	local bin
	bin="$(go env GOBIN)"
	bin="${bin:-$(go env GOPATH)/bin}/helm"
	if [ -x "$bin" ] && "$bin" version --template '{{.Version}}' 2>/dev/null | grep -qx "v${HELM_VERSION%.*}\(\.${HELM_VERSION##*.}\)\?"; then
		echo "helm: $HELM_VERSION already in $bin, nothing to do"
	else
		go install "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
		echo "helm: installed $HELM_VERSION into $bin"
	fi
	if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]; then
		echo "kubernetes-validate: $KUBERNETES_VALIDATE_VERSION already installed, nothing to do"
		return
	fi
	python3 -m pip install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
	echo "kubernetes-validate: installed $KUBERNETES_VALIDATE_VERSION with pip"
}

clients_dir() {
	echo "${TOUCHLINE_CLIENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/touchline/clients}"
}

install_cc() {
	local cc
	cc="$(go env CC)"
	if command -v "${cc:-gcc}" >/dev/null 2>&1; then
		echo "cc: ${cc:-gcc} already installed, nothing to do"
		return
	fi
	apt_install gcc libc6-dev
	echo "cc: installed Debian's gcc with apt-get"
}

install_chromium() {
	if command -v chromium >/dev/null 2>&1; then
		echo "chromium: already installed, nothing to do"
		return
	fi
	apt_install chromium
	echo "chromium: installed Debian's chromium with apt-get"
}

install_segment_python() {
	local venv
	venv="$(clients_dir)/python"
	if [ -x "$venv/bin/python" ] &&
		[ "$("$venv/bin/python" -c 'import segment.analytics.version as v; print(v.VERSION)' 2>/dev/null)" = "$SEGMENT_PYTHON_VERSION" ]; then
		echo "segment-python: $SEGMENT_PYTHON_VERSION already in $venv, nothing to do"
		return
	fi
	mkdir -p "$(dirname "$venv")"
	# Debian's python3 makes virtualenvs only with python3-venv (ensurepip).
	python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_install python3-venv
	python3 -m venv "$venv"
	"$venv/bin/python" -m pip install --quiet "segment-analytics-python==$SEGMENT_PYTHON_VERSION"
	echo "segment-python: installed segment-analytics-python $SEGMENT_PYTHON_VERSION into $venv"
}

install_nodejs() {
	if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
		echo "nodejs: node $(node --version) and npm already installed, nothing to do"
		return
	fi
	apt_install nodejs npm
	echo "nodejs: installed Debian's nodejs and npm with apt-get"
}

install_segment_node() {
	local dir want
	dir="$(clients_dir)/node"
	want="$SEGMENT_NODE_VERSION $SEGMENT_NEXT_VERSION"
	if [ "$(cat "$dir/.installed" 2>/dev/null)" = "$want" ]; then
		echo "segment-node: analytics-node $SEGMENT_NODE_VERSION and analytics-next $SEGMENT_NEXT_VERSION already in $dir, nothing to do"
		return
	fi
	mkdir -p "$dir"
	[ -f "$dir/package.json" ] || echo '{"name":"touchline-clients","private":true}' >"$dir/package.json"
	(cd "$dir" && npm install --silent --no-audit --no-fund --save-exact \
		"@segment/analytics-node@$SEGMENT_NODE_VERSION" \
		"@segment/analytics-next@$SEGMENT_NEXT_VERSION")
	echo "$want" >"$dir/.installed"
	echo "segment-node: installed analytics-node $SEGMENT_NODE_VERSION and analytics-next $SEGMENT_NEXT_VERSION into $dir"
}

install_clients() {
	install_chromium
	install_segment_python
	install_nodejs
	install_segment_node
}

main() {
	[ $# -le 1 ] || usage
	case "${1:-all}" in
	clickhouse) install_clickhouse ;;
	kafka) install_kafka ;;
	chdb) install_chdb ;;
	golangci-lint) install_golangci_lint ;;
	helm) install_helm ;;
	cc) install_cc ;;
	chromium) install_chromium ;;
	segment-python) install_segment_python ;;
	nodejs) install_nodejs ;;
	segment-node) install_segment_node ;;
	clients) install_clients ;;
	all)
		install_clickhouse
		install_kafka
		install_chdb
		install_golangci_lint
		install_helm
		install_cc
		install_clients
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
}

main "$@"
