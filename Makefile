# touchline's developer entry points. `make help` lists them.
GO ?= go
# VERSION is stamped into the binaries (`touchline version`).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X github.com/touchline-io/touchline/pkg/version.Version=$(VERSION)
PYTHON ?= python3
# GOLANGCI_LINT is where scripts/install-deps.sh installs golangci-lint.
GOLANGCI_LINT ?= $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)/golangci-lint

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install the real servers and tools the tests need (clickhouse-server, Kafka jars, chDB, golangci-lint, helm, Segment SDKs, chromium)
	scripts/install-deps.sh all

.PHONY: dev
dev: ## all-in-one dev mode: embedded Kafka, all services, local ClickHouse, synthetic traffic, reports
	scripts/install-deps.sh clickhouse
	$(GO) run ./cmd/touchline dev

.PHONY: build
build: ## build every command into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

# RACE_LOGS holds the race detector's reports of make test's run, the test
# binaries' and those of the service processes the tests start.
RACE_LOGS := .race

.PHONY: test
test: deps lint ## lint, every test (unit, and the integration and cluster suites on real Kafka and ClickHouse) under the race detector, and the chDB check
	rm -rf $(RACE_LOGS) && mkdir $(RACE_LOGS)
	status=0; TOUCHLINE_TEST_RACE=true GORACE="log_path=$(CURDIR)/$(RACE_LOGS)/report" $(GO) test -race -count=1 -timeout 60m ./... || status=$$?; \
	if ls $(RACE_LOGS)/report.* > /dev/null 2>&1; then cat $(RACE_LOGS)/report.*; echo "data races reported, above" >&2; exit 1; fi; \
	exit $$status
	$(GO) run ./test/chdb/dump | $(PYTHON) test/chdb/check.py

.PHONY: test-unit
test-unit: ## unit tests and the package-map checks (no servers needed)
	$(GO) test -count=1 -short ./pkg/... ./test/arch

# FUZZTIME is how long make fuzz runs each fuzz target.
FUZZTIME ?= 1m

.PHONY: fuzz
fuzz: ## run every fuzz target (hostile bytes against the decoders and normalisers) for FUZZTIME each, default 1m
	@grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' pkg | sed 's/:func / /' | while read -r file name; do \
		echo "== $$name ($$(dirname $$file))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$(dirname $$file) || exit 1; \
	done

.PHONY: test-integration
test-integration: deps ## the integration suite on real Kafka and ClickHouse
	$(GO) test -count=1 -timeout 60m -v ./test/integration/

.PHONY: test-deploy
test-deploy: ## the deploy files: compose, Grafana dashboards, Prometheus rules, and the Helm chart (helm lint, helm template, Kubernetes schemas; installs helm if needed)
	scripts/install-deps.sh helm
	$(GO) test -count=1 ./deploy/...

.PHONY: test-cluster
test-cluster: deps ## the cluster suite on ZooKeeper and 2 shards x 2 replicas of ClickHouse, with a 200,000-event generated run
	TOUCHLINE_CLUSTER_EVENTS=200000 $(GO) test -count=1 -timeout 30m -v ./test/cluster/

.PHONY: bench
bench: deps ## end-to-end ingest against bare franz-go and clickhouse-go baselines and ClickHouse's Kafka engine: events/s and CPU per event of each process
	$(GO) run ./test/bench

.PHONY: bench-cluster
bench-cluster: deps ## make bench, then the same ingest into a 2 x 2 ClickHouse cluster: events/s on the cluster against one server
	$(GO) run ./test/bench -cluster

.PHONY: bench-queries
bench-queries: deps ## analytics query times on 1M and 10M generated events
	$(GO) run ./test/bench/queries

.PHONY: bench-ui
bench-ui: deps ## web UI: p50/p95 of every page's API requests on 1M generated events, against the same SQL sent bare
	$(GO) run ./test/bench/ui

.PHONY: bench-identity
bench-identity: deps ## identity resolver, lookups and catch-up at 1M persons and 3M identifiers
	$(GO) run ./test/bench/identity

.PHONY: bench-segments
bench-segments: deps ## segments service: 1M persons, 20,000 events/s, event-to-change latency
	$(GO) run ./test/bench/segments

.PHONY: bench-collect
bench-collect: deps ## collector: events/s and p50/p99 at 1, 10 and 100 records per request against a bare franz-go produce
	$(GO) run ./test/bench/collect

.PHONY: fmt
fmt: ## format the code
	gofmt -w cmd pkg test schemas deploy

.PHONY: lint
lint: ## go vet and golangci-lint with the linters of .golangci.yml (installs golangci-lint if needed)
	scripts/install-deps.sh golangci-lint
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
