// Command collect measures the collector (touchline collect) on a real Kafka
// broker against a bare franz-go produce of the same Avro records, in one
// run, at 1, 10 and 100 records per request. Both sides do only their own
// work while timed: the baseline's records are encoded as Avro beforehand
// and produced with the collector's own producer settings, and the
// collector's requests are encoded as JSON beforehand. Each size is measured
// in rounds, the baseline then the collector in each, so that a change in
// the machine's speed falls on both. It prints, for each size, the medians
// over the rounds of events/s and the p50/p99 latency of a request (an HTTP
// POST /v1/batch answered 200 by the collector; for the baseline, producing
// that many records and waiting for their acknowledgements) and of the
// ratio of the two rates with its range, and the collector process's peak
// RSS.
//
//	go run ./test/bench/collect [-events 100000] [-rounds 3] [-concurrency 32] [-size N] [-cpuprofile F] [-trace F]
package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/cli/collectcmd"
	"github.com/touchline-io/touchline/pkg/collect"
	"github.com/touchline-io/touchline/pkg/generate"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/testenv"
)

// writeKey is the write key the benchmark configures and sends.
const writeKey = "wk_bench"

// sizes are the records per request measured.
var sizes = []int{1, 10, 100}

func main() {
	events := flag.Int("events", 100_000, "records sent in each round at each size, by each of the collector and the baseline")
	rounds := flag.Int("rounds", 3, "rounds at each size, each measuring the baseline then the collector; the medians are printed")
	concurrency := flag.Int("concurrency", 32, "requests in flight at once")
	only := flag.Int("size", 0, "measure only this many records per request (default: 1, 10 and 100)")
	profile := flag.String("cpuprofile", "", "write a 5-second CPU profile of the collector, taken at the start of its last size, to this file")
	trace := flag.String("trace", "", "write a 2-second execution trace of the collector, taken at the start of its last size, to this file")
	flag.Parse()
	if *only > 0 {
		sizes = []int{*only}
	}
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench-collect: -rounds must be at least 1")
		os.Exit(2)
	}
	if err := run(*events, *rounds, *concurrency, *profile, *trace); err != nil {
		fmt.Fprintln(os.Stderr, "bench-collect:", err)
		os.Exit(1)
	}
}

// result is the measurement of one mode at one size.
type result struct {
	rate     float64
	p50, p99 time.Duration
	// cpu is the CPU time per record of the process measured (the
	// collector; for the baseline, the benchmark's own produce), client
	// that of the benchmark's own process and broker the Kafka broker's.
	cpu, client, broker time.Duration
	// machine is the whole machine's busy CPU time per record, what no
	// process is charged for included; idle and steal are the shares of
	// its CPUs' time they had nothing to run and were taken by the host.
	machine     time.Duration
	idle, steal float64
}

func run(n, rounds, concurrency int, profile, trace string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	srv, dir, stop, err := testenv.StartTemp(ctx, "touchline-bench-collect-")
	if err != nil {
		return err
	}
	defer stop()
	cfg := srv.Config("bench_collect")
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	cfg.Collect.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.Collect.WriteKeys = []collect.WriteKey{{Key: writeKey, Source: "bench"}}
	cfg.PProf = profile != "" || trace != ""
	conn, err := testenv.Prepare(ctx, cfg, 4)
	if err != nil {
		return err
	}
	conn.Close()
	cfgPath := filepath.Join(dir, "touchline.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		return err
	}

	records, err := generated(n)
	if err != nil {
		return err
	}
	encoded, err := encode(ctx, cfg.Kafka, records)
	if err != nil {
		return err
	}
	producer, err := kafka.NewClient(cfg.Kafka, nil, collectcmd.ProducerOptions(cfg.Collect)...)
	if err != nil {
		return err
	}
	defer producer.Close()
	bin, err := testenv.Build(ctx, dir, "collect")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "collect.log")
	proc, err := testenv.StartProcess(bin, logPath, "--config", cfgPath)
	if err != nil {
		return err
	}
	defer func() { _ = proc.Terminate(30 * time.Second) }()
	base := "http://" + cfg.Collect.Addr
	if err := testenv.WaitReady(ctx, proc, base, logPath); err != nil {
		return err
	}

	client := &poster{addr: cfg.Collect.Addr, conns: make(chan *keptConn, concurrency)}
	defer client.close()
	fmt.Printf("%d records per round, %d rounds per size, %d requests in flight\n", n, rounds, concurrency)
	fmt.Printf("%-9s %14s %9s %9s %14s %9s %9s %7s %11s %10s %10s %10s %10s %10s %10s %10s %7s %7s\n", "records", "bare ev/s", "p50", "p99", "collect ev/s", "p50", "p99", "ratio", "range",
		"bare cpu", "coll. cpu", "client cpu", "broker/b", "broker/c", "machine/b", "machine/c", "idle/c", "steal")
	pids := processes{self: os.Getpid(), collector: proc.Pid(), broker: srv.Kafka.Pid()}
	round := func(size int, encoded []*kgo.Record, records []*touchpoint.Touchpoint) (bare, col result, err error) {
		return compare(ctx, pids, size, concurrency, encoded, records, producer, client)
	}
	// Rounds first, not reported, so that the broker's JVM has compiled
	// its hot paths (which takes many requests and some seconds of its
	// compiler threads) and both clients have opened their connections
	// before the first size is measured, rather than during it.
	fmt.Printf("warming up for %s ...\n", warmUp)
	warm := min(n, warmUpRecords)
	for start := time.Now(); time.Since(start) < warmUp; {
		if _, _, err := round(10, encoded[:warm], records[:warm]); err != nil {
			return fmt.Errorf("warming up: %w", err)
		}
	}
	for i, size := range sizes {
		var bares, cols []result
		var ratios []float64
		for r := range rounds {
			pids.onCollector = nil
			if i == len(sizes)-1 && r == 0 {
				pids.onCollector = func() {
					if profile != "" {
						go testenv.SaveProfile(ctx, base+"/debug/pprof/profile?seconds=5", profile)
					}
					if trace != "" {
						go testenv.SaveProfile(ctx, base+"/debug/pprof/trace?seconds=2", trace)
					}
				}
			}
			bare, col, err := round(size, encoded, records)
			if err != nil {
				return fmt.Errorf("at %d records per request (collector's log %s): %w", size, logPath, err)
			}
			bares, cols, ratios = append(bares, bare), append(cols, col), append(ratios, col.rate/bare.rate)
		}
		bare, col := medians(bares), medians(cols)
		fmt.Printf("%-9d %14.0f %9s %9s %14.0f %9s %9s %7.2f %11s %10s %10s %10s %10s %10s %10s %10s %6.0f%% %6.1f%%\n", size, bare.rate, bare.p50.Round(time.Microsecond), bare.p99.Round(time.Microsecond),
			col.rate, col.p50.Round(time.Microsecond), col.p99.Round(time.Microsecond), median(ratios),
			fmt.Sprintf("%.2f-%.2f", slices.Min(ratios), slices.Max(ratios)),
			bare.cpu.Round(100*time.Nanosecond), col.cpu.Round(100*time.Nanosecond), col.client.Round(100*time.Nanosecond),
			bare.broker.Round(100*time.Nanosecond), col.broker.Round(100*time.Nanosecond),
			bare.machine.Round(100*time.Nanosecond), col.machine.Round(100*time.Nanosecond), 100*col.idle, 100*max(bare.steal, col.steal))
	}
	_, peak, err := proc.RSS()
	if err != nil {
		return fmt.Errorf("reading the collector's peak RSS: %w", err)
	}
	fmt.Printf("collector peak RSS: %.1f MiB (aim: ratio >= 0.5 at 100 records per request)\n", float64(peak)/(1<<20))
	fmt.Println("each column is the median over the rounds, ratio the median of the rounds' ratios and range their least and greatest;")
	fmt.Println("cpu: CPU time per record of the bare produce (this process), of the collector, of this process's HTTP client,")
	fmt.Println("and of the Kafka broker during the bare produce (broker/b) and during the collector's run (broker/c);")
	fmt.Println("machine: the whole machine's busy CPU time per record (/proc/stat; work no process is charged for included),")
	fmt.Println("idle/c: the share of its CPU time idle during the collector's run, steal: the greater share the host took in either run")
	return nil
}

// medians is the median of each figure of rs, taken apart.
func medians(rs []result) result {
	return result{
		rate:    medianOf(rs, func(r result) float64 { return r.rate }),
		p50:     medianOf(rs, func(r result) time.Duration { return r.p50 }),
		p99:     medianOf(rs, func(r result) time.Duration { return r.p99 }),
		cpu:     medianOf(rs, func(r result) time.Duration { return r.cpu }),
		client:  medianOf(rs, func(r result) time.Duration { return r.client }),
		broker:  medianOf(rs, func(r result) time.Duration { return r.broker }),
		machine: medianOf(rs, func(r result) time.Duration { return r.machine }),
		idle:    medianOf(rs, func(r result) float64 { return r.idle }),
		steal:   medianOf(rs, func(r result) float64 { return r.steal }),
	}
}

// medianOf is the median of the figure f of rs.
func medianOf[T cmp.Ordered](rs []result, f func(result) T) T {
	xs := make([]T, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return median(xs)
}

// median is the middle value of xs (of an even number, the lower of the
// two middle ones).
func median[T cmp.Ordered](xs []T) T {
	sorted := slices.Sorted(slices.Values(xs))
	return sorted[(len(sorted)-1)/2]
}

// The rounds before the measured ones go on for warmUp, each sending
// warmUpRecords by each of the baseline and the collector.
const (
	warmUp        = 15 * time.Second
	warmUpRecords = 20_000
)

// processes are the processes whose CPU time a round reads, and what to
// do as the collector's part of it starts (nil: nothing).
type processes struct {
	self, collector, broker int
	onCollector             func()
}

// compare measures, at size records per request, the bare produce of
// encoded and then the collector's handling of the same records sent as
// Segment batches by collector.
func compare(ctx context.Context, pids processes, size, concurrency int, encoded []*kgo.Record, records []*touchpoint.Touchpoint,
	producer *kgo.Client, collector *poster) (bare, col result, err error) {
	n := len(encoded)
	bare, err = measure(ctx, [3]int{pids.self, pids.self, pids.broker}, slices.Collect(slices.Chunk(encoded, size)), n, concurrency, func(ctx context.Context, batch []*kgo.Record) error {
		for _, r := range batch {
			// Reused across rounds: the delivery timeout counts
			// from the record's timestamp.
			r.Partition, r.Offset, r.Timestamp = 0, 0, time.Time{}
		}
		return producer.ProduceSync(ctx, batch...).FirstErr()
	})
	if err != nil {
		return result{}, result{}, fmt.Errorf("bare produce: %w", err)
	}
	reqs, err := collector.requests(records, size)
	if err != nil {
		return result{}, result{}, err
	}
	if pids.onCollector != nil {
		pids.onCollector()
	}
	col, err = measure(ctx, [3]int{pids.collector, pids.self, pids.broker}, reqs, n, concurrency, collector.post)
	if err != nil {
		return result{}, result{}, fmt.Errorf("collector: %w", err)
	}
	return bare, col, nil
}

// generated returns n generated touchpoints.
func generated(n int) ([]*touchpoint.Touchpoint, error) {
	gen, err := generate.New(generate.Config{Events: n, Persons: max(n/20, 1), Days: 30, Seed: 11})
	if err != nil {
		return nil, fmt.Errorf("generating touchpoints: %w", err)
	}
	records := make([]*touchpoint.Touchpoint, 0, n)
	err = gen.Touchpoints(func(t *touchpoint.Touchpoint) error {
		records = append(records, t)
		return nil
	})
	return records, err
}

// encode returns the Kafka records of touchpoints, as the publish package
// and the collector write them: Confluent wire-format Avro with the
// shipped (or registered) schema id, keyed by publish.TouchpointKey.
func encode(ctx context.Context, cfg kafka.Config, touchpoints []*touchpoint.Touchpoint) ([]*kgo.Record, error) {
	reg, err := kafka.NewRegistry(cfg)
	if err != nil {
		return nil, err
	}
	id, err := avro.RegisterLatest(ctx, reg, avro.KindTouchpoint, cfg.Topics.Touchpoints)
	if err != nil {
		return nil, fmt.Errorf("registering the touchpoint schema: %w", err)
	}
	codecs := avro.NewCodecs(reg)
	records := make([]*kgo.Record, len(touchpoints))
	for i, t := range touchpoints {
		b, err := codecs.Encode(ctx, id, t.ToAvro())
		if err != nil {
			return nil, fmt.Errorf("encoding event %s: %w", t.EventID, err)
		}
		records[i] = &kgo.Record{Topic: cfg.Topics.Touchpoints, Key: []byte(publish.TouchpointKey(t)), Value: b}
	}
	return records, nil
}

// measure sends batches (n records in all), concurrency at a time, with
// send, and returns the rate and the latency percentiles of a request, and
// the CPU time per record of the processes pids: the one measured, the
// benchmark's client and the Kafka broker. A failed request stops the
// measurement.
func measure[B any](ctx context.Context, pids [3]int, batches []B, n, concurrency int, send func(context.Context, B) error) (result, error) {
	before, err := cpuTimes(pids[:]...)
	if err != nil {
		return result{}, err
	}
	machineBefore, err := testenv.ReadMachineCPU()
	if err != nil {
		return result{}, err
	}
	latencies := make([]time.Duration, len(batches))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				err := send(ctx, batches[i])
				latencies[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range batches {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return result{}, firstErr
	}
	after, err := cpuTimes(pids[:]...)
	if err != nil {
		return result{}, err
	}
	machineAfter, err := testenv.ReadMachineCPU()
	if err != nil {
		return result{}, err
	}
	machine := machineAfter.Sub(machineBefore)
	capacity := float64(machine.Busy + machine.Idle + machine.Steal)
	slices.Sort(latencies)
	return result{
		rate:    float64(n) / elapsed.Seconds(),
		p50:     latencies[len(latencies)/2],
		p99:     latencies[len(latencies)*99/100],
		cpu:     (after[0] - before[0]) / time.Duration(n),
		client:  (after[1] - before[1]) / time.Duration(n),
		broker:  (after[2] - before[2]) / time.Duration(n),
		machine: machine.Busy / time.Duration(n),
		idle:    float64(machine.Idle) / max(capacity, 1),
		steal:   float64(machine.Steal) / max(capacity, 1),
	}, nil
}

// cpuTimes returns the CPU time of each of pids (testenv.CPUTime).
func cpuTimes(pids ...int) ([]time.Duration, error) {
	times := make([]time.Duration, len(pids))
	for i, pid := range pids {
		var err error
		if times[i], err = testenv.CPUTime(pid); err != nil {
			return nil, err
		}
	}
	return times, nil
}

// requests returns the Segment batch requests that send records, size
// records each, as an SDK would, whole: the head (write key as basic auth,
// Content-Length) and the JSON body. The client's encoding is not part of
// what is measured, as the baseline's Avro encoding is not.
func (p *poster) requests(records []*touchpoint.Touchpoint, size int) ([][]byte, error) {
	sentAt := time.Now().UTC().Format(time.RFC3339Nano)
	auth := base64.StdEncoding.EncodeToString([]byte(writeKey + ":"))
	var reqs [][]byte
	for batch := range slices.Chunk(records, size) {
		msgs := make([]map[string]any, len(batch))
		for i, t := range batch {
			msgs[i] = segmentMessage(t)
		}
		body, err := json.Marshal(map[string]any{"batch": msgs, "sentAt": sentAt})
		if err != nil {
			return nil, fmt.Errorf("encoding a batch: %w", err)
		}
		head := fmt.Sprintf("POST /v1/batch HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			p.addr, auth, len(body))
		reqs = append(reqs, append([]byte(head), body...))
	}
	return reqs, nil
}

// poster sends requests to the collector as a load generator does, so
// that as little of the machine's two cores as may be goes to the client:
// each request, built beforehand, is written with one system call on a
// connection kept alive from one request to the next, and its answer read
// with net/http's parser. (net/http's client took 0.5 to 0.9 µs of CPU
// time per record at 100 records per request.) A connection on which a
// request failed is closed.
type poster struct {
	addr  string
	conns chan *keptConn // idle, at most one per request in flight
}

// keptConn is a connection to the collector and its reader.
type keptConn struct {
	net.Conn
	r *bufio.Reader
}

// post sends req, a whole HTTP request, and fails unless it is answered
// 200.
func (p *poster) post(ctx context.Context, req []byte) error {
	var c *keptConn
	select {
	case c = <-p.conns:
	default:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return fmt.Errorf("posting a batch: %w", err)
		}
		c = &keptConn{Conn: conn, r: bufio.NewReader(conn)}
	}
	if err := p.exchange(c, req); err != nil {
		c.Close()
		return fmt.Errorf("posting a batch: %w", err)
	}
	select {
	case p.conns <- c:
	default:
		c.Close()
	}
	return nil
}

// exchange writes req on c and reads its answer to the end, which must be
// 200 on a connection kept open.
func (p *poster) exchange(c *keptConn, req []byte) error {
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return errors.New(resp.Status)
	case resp.Close:
		return errors.New("the collector closed the connection")
	}
	return nil
}

// close closes the idle connections.
func (p *poster) close() {
	for {
		select {
		case c := <-p.conns:
			c.Close()
		default:
			return
		}
	}
}

// segmentEvents names, by touchline event type, the Segment event a
// client would send; other types are sent under their own name.
var segmentEvents = map[string]string{
	"purchase":    "Order Completed",
	"add_to_cart": "Product Added",
	"checkout":    "Checkout Started",
}

// segmentMessage is t as a Segment SDK sends it: a page call for a page
// view, else a track call, with the same ids, time, campaign and revenue.
func segmentMessage(t *touchpoint.Touchpoint) map[string]any {
	m := map[string]any{
		"messageId": t.EventID,
		"timestamp": t.EventTime.UTC().Format(time.RFC3339Nano),
		"context": map[string]any{
			"campaign": map[string]any{"source": t.UTMSource, "medium": t.UTMMedium, "name": t.UTMCampaign, "content": t.UTMContent, "term": t.UTMTerm},
			"page":     map[string]any{"url": t.PageURL, "referrer": t.Referrer},
		},
	}
	if v := t.Identifiers.Get("anonymous_id"); v != "" {
		m["anonymousId"] = v
	}
	if v := t.Identifiers.Get("customer_id"); v != "" {
		m["userId"] = v
	}
	if m["anonymousId"] == nil && m["userId"] == nil {
		for _, e := range t.Identifiers {
			m["anonymousId"] = e.Value
			break
		}
	}
	props := map[string]any{}
	for _, e := range t.Properties {
		props[e.Key] = e.Value
	}
	if t.Revenue != nil {
		props["revenue"] = json.RawMessage(t.Revenue.String())
		props["currency"] = t.Currency
		props["order_id"] = t.OrderID
	}
	m["properties"] = props
	if t.EventType == "page_view" {
		m["type"] = "page"
		return m
	}
	m["type"] = "track"
	m["event"] = t.EventType
	if name, ok := segmentEvents[t.EventType]; ok {
		m["event"] = name
	}
	return m
}
