// Command segments benchmarks the segments service on a real Kafka broker
// and a real ClickHouse server: it loads a population of persons (one
// event each, not timed), then publishes touchpoints of random persons at a
// fixed rate, with event times of the moment, and reads the committed
// segment changes as they appear. It prints the publish and processing
// rates, the event-to-change latency (p50, p90, p99: from an event's time,
// its publishing, to its change being readable on the changes topic), the
// service's CPU use and memory, the persons it holds and the size of its
// local state on disk.
//
// With -outage, the service is killed after the first -seconds of the
// timed run, touchpoints keep arriving for the outage, then it is restarted
// and the run goes on for -seconds more: the router catches up on every
// touchpoints partition. The shape is -rate 5000 -outage 10m
// -lateness 5m. With -hog, a separate process keeps every core busy for the
// whole timed run, competing with the service. Either way the benchmark
// prints how many inputs were dropped as late: only events late as their
// producer wrote them may be, and this benchmark publishes none.
//
// With -check (implied by -outage), the service runs the segment
// definitions of the reference model (test/segmentsref) instead of the
// shipped ones, and at the end the benchmark computes the changes the
// reference gives for the touchpoints topic as published, read back, and
// compares the changes topic with them up to the reference's final
// watermark: it prints "changes equal the reference: N of N", or how many
// differ and the first of them, and then exits non-zero.
//
//	go run ./test/bench/segments [-persons 1000000] [-rate 20000] [-seconds 60] [-lateness 200ms] [-max-poll N] [-cache-persons N]
//	    [-outage 10m] [-hog] [-check] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/avro"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/publish"
	"github.com/touchline-io/touchline/pkg/segments/engine"
	"github.com/touchline-io/touchline/pkg/touchpoint"
	"github.com/touchline-io/touchline/test/segmentsref"
	"github.com/touchline-io/touchline/test/testenv"
)

func main() {
	persons := flag.Int("persons", 1_000_000, "persons loaded before the timed run, one event each")
	rate := flag.Int("rate", 20_000, "touchpoints per second in the timed run")
	seconds := flag.Int("seconds", 60, "length of the timed run")
	lateness := flag.Duration("lateness", 200*time.Millisecond, "allowed lateness of the definitions (decisions wait this long)")
	maxPoll := flag.Int("max-poll", 0, "segments.max_poll_records of the service (0: the default)")
	cachePersons := flag.Int("cache-persons", 0, "segments.cache_persons of the service: persons kept in memory (0: the default)")
	keep := flag.Bool("keep", false, "keep the servers' and the service's directory (logs) and print where it is")
	outage := flag.Duration("outage", 0, "kill the service after -seconds of the timed run for this long while touchpoints keep arriving, then restart it and run -seconds more")
	hog := flag.Bool("hog", false, "run a CPU hog (a separate process keeping every core busy) during the timed run")
	check := flag.Bool("check", false, "run the reference model's definitions and check the changes against the reference over the touchpoints as published (always with -outage)")
	burn := flag.Duration("burn", 0, "be the CPU hog for this long, and exit (what -hog runs)")
	flag.Parse()
	if *burn > 0 {
		hogFor(*burn)
		return
	}
	if err := run(*persons, *rate, time.Duration(*seconds)*time.Second, *lateness, *maxPoll, *cachePersons, *outage, *hog, *check || *outage > 0, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// eventTypes are the timed run's event types, weighted by repetition;
// checkTypes those of a checked run (the reference's definitions count
// clicks by channel).
var (
	eventTypes = []string{"page_view", "page_view", "page_view", "add_to_cart", "email_open", "email_click", "purchase", "signup"}
	checkTypes = []string{"page_view", "page_view", "page_view", "add_to_cart", "click", "click", "purchase", "signup"}
)

// sources is the touchpoints topic's partition count.
const sources = 4

func run(persons, rate int, length, lateness time.Duration, maxPoll, cachePersons int, outage time.Duration, hog, check, keep bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	dir, err := testenv.BenchDir("touchline-bench-segments-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	srv, err := testenv.Start(ctx, dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	cfg := srv.Config("bench")
	cfg.Segments.Partitions = 4
	cfg.Segments.IdleAdvance = time.Second
	if cachePersons > 0 {
		cfg.Segments.CachePersons = cachePersons
	}
	if maxPoll > 0 {
		cfg.Segments.MaxPollRecords = maxPoll
	}
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", port)
	// Every loaded person has state: the loading events are of a type the
	// definitions read.
	types, loadType := eventTypes, "email_open"
	if check {
		types, loadType = checkTypes, "page_view"
	}
	if cfg.Pipelines, err = pipelines(dir, lateness, check); err != nil {
		return err
	}
	conn, err := testenv.Prepare(ctx, cfg, sources)
	if err != nil {
		return err
	}
	conn.Close()
	bin, err := testenv.Build(ctx, dir, "touchline")
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "bench.yaml")
	if err := testenv.WriteConfig(cfg, cfgPath); err != nil {
		return err
	}
	svc, err := testenv.StartProcess(bin, filepath.Join(dir, "segments.log"), "--config", cfgPath, "segments")
	if err != nil {
		return err
	}
	defer svc.Kill()
	metrics := "http://" + cfg.HTTPAddr + "/metrics"

	pub, err := publish.Dial(ctx, cfg.Kafka)
	if err != nil {
		return err
	}
	defer pub.Close()
	inProcess, err := processorRate(cfg.Pipelines, persons, rate, types, loadType)
	if err != nil {
		return err
	}
	fmt.Printf("baseline: the segments processor alone, in this process: %.0f events/s\n", inProcess)
	fmt.Printf("loading %d persons (one %s each) ...\n", persons, loadType)
	start := time.Now()
	for i := 0; i < persons; i++ {
		if err := pub.Touchpoint(ctx, event(fmt.Sprint("load-", i), i, loadType, "email", time.Now().UTC())); err != nil {
			return err
		}
	}
	if err := pub.Flush(ctx); err != nil {
		return err
	}
	if err := waitInputs(ctx, metrics, float64(persons)); err != nil {
		return err
	}
	loaded := time.Since(start)
	time.Sleep(3 * time.Second) // the watermarks pass the last loading events
	_, loadedRSS, _ := svc.RSS()
	lateBefore, _ := scrape(metrics, `touchline_segments_inputs_total{result="late"}`)
	fmt.Printf("loaded in %s (%.0f persons/s through router and stage)\n", loaded.Round(time.Second), float64(persons)/loaded.Seconds())

	changes := &latencies{}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	runFrom := time.Now().UTC()
	go changes.read(readCtx, cfg.Kafka, runFrom)
	cpuStart, err := testenv.CPUTime(svc.Pid())
	if err != nil {
		return err
	}
	if hog {
		stopHog, err := startHog(2*length + outage + time.Minute)
		if err != nil {
			return err
		}
		defer stopHog()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	published := 0
	runStart := time.Now()
	publish := func(d time.Duration) error {
		fmt.Printf("publishing %d touchpoints/s of random persons for %s ...\n", rate, d)
		start, from := time.Now(), published
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for time.Since(start) < d {
			<-tick.C
			due := from + int(time.Since(start).Seconds()*float64(rate))
			for ; published < due; published++ {
				t, channel := types[rng.IntN(len(types))], channels[rng.IntN(len(channels))]
				if err := pub.Touchpoint(ctx, event(fmt.Sprint("run-", published), rng.IntN(persons), t, channel, time.Now().UTC())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := publish(length); err != nil {
		return err
	}
	// lateBeforeOutage counts the timed run's inputs dropped as late before
	// the outage, lateKilled all those of the killed process.
	lateBeforeOutage, lateKilled := 0.0, 0.0
	if outage > 0 {
		if err := pub.Flush(ctx); err != nil {
			return err
		}
		lateKilled, _ = scrape(metrics, `touchline_segments_inputs_total{result="late"}`)
		lateBeforeOutage = lateKilled - lateBefore
		cpuBefore, err := testenv.CPUTime(svc.Pid())
		if err != nil {
			return err
		}
		cpuStart -= cpuBefore // the restarted process counts from zero
		svc.Kill()
		fmt.Printf("service killed; touchpoints keep arriving for %s\n", outage)
		if err := publish(outage); err != nil {
			return err
		}
		if svc, err = testenv.StartProcess(bin, filepath.Join(dir, "segments.log"), "--config", cfgPath, "segments"); err != nil {
			return err
		}
		defer svc.Kill()
		fmt.Println("service restarted")
		lateBefore = 0
		if err := publish(length); err != nil {
			return err
		}
	}
	if err := pub.Flush(ctx); err != nil {
		return err
	}
	publishedIn := time.Since(runStart)
	if outage > 0 {
		// The restarted process counts its inputs from zero: wait for the
		// router's and the stage's groups to have consumed everything.
		if err := waitCaughtUp(ctx, cfg); err != nil {
			return err
		}
	} else if err := waitInputs(ctx, metrics, float64(persons+published)); err != nil {
		return err
	}
	processedIn := time.Since(runStart)
	cpuEnd, err := testenv.CPUTime(svc.Pid())
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // the last changes
	stopReading()
	rss, peak, _ := svc.RSS()
	held, _ := scrape(metrics, "touchline_segments_state_persons")
	late, _ := scrape(metrics, `touchline_segments_inputs_total{result="late"}`)
	lat := changes.sorted()

	fmt.Printf("\n%-52s %s\n", "measurement", "value")
	fmt.Printf("%-52s %.0f/s\n", "touchpoints published (timed run)", float64(published)/publishedIn.Seconds())
	fmt.Printf("%-52s %.0f/s\n", "touchpoints processed (timed run, router and stage)", float64(published)/processedIn.Seconds())
	fmt.Printf("%-52s %d\n", "segment changes read in the timed run", len(lat))
	if len(lat) > 0 {
		fmt.Printf("%-52s %s / %s / %s (aim: p99 < 1s)\n", "event-to-change latency p50 / p90 / p99",
			pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99))
		fmt.Printf("%-52s %s (of which the allowed lateness %s)\n", "  max", lat[len(lat)-1].Round(time.Millisecond), lateness)
		fmt.Printf("%-52s %s\n", fmt.Sprintf("  p99 by %s of the run, in seconds", latencyWindow), changes.windowP99())
	}
	fmt.Printf("%-52s %.0f/s (service / processor: %.2f)\n", "baseline: processor alone, in process", inProcess,
		float64(published)/processedIn.Seconds()/inProcess)
	fmt.Printf("%-52s %.2f cores\n", "service CPU during the timed run", (cpuEnd-cpuStart).Seconds()/processedIn.Seconds())
	fmt.Printf("%-52s %.0f\n", "persons held in state", held)
	fmt.Printf("%-52s %.0f of %d\n", "timed-run inputs dropped as late", lateBeforeOutage+late-lateBefore, published)
	if outage > 0 || hog {
		fmt.Printf("%-52s outage %s, CPU hog %v\n", "shape", outage, hog)
	}
	fmt.Printf("%-52s %d MiB after loading, %d MiB at the end (peak %d MiB)\n", "service RSS", loadedRSS>>20, rss>>20, peak>>20)
	disk, err := testenv.DirSize(filepath.Join(cfg.StateDir, "segments-state"))
	if err != nil {
		return err
	}
	fmt.Printf("%-52s %d MiB\n", "state on disk (pebble, at the end)", disk>>20)
	if check {
		return checkChanges(ctx, cfg, lateness, lateKilled+late)
	}
	return nil
}

// channels are the channels of the timed run's touchpoints.
var channels = []string{"email", "direct"}

// checkChanges computes the changes the reference gives for the
// touchpoints topic as published, compares the changes topic with them up
// to the reference's final watermark, and prints the outcome; a difference
// is an error. lateDropped is what the service counted as late.
func checkChanges(ctx context.Context, cfg config.Config, lateness time.Duration, lateDropped float64) error {
	start := time.Now()
	personOf, err := segmentsref.CustomerPersons(cfg.Pipelines, cfg.Identifiers.Pepper)
	if err != nil {
		return err
	}
	live := segmentsref.NewLive(sources, lateness)
	if err := segmentsref.ReadPublished(ctx, cfg.Kafka, func(source int, t *touchpoint.Touchpoint) error {
		person, err := personOf(t.Identifiers.Get("customer_id"))
		if err != nil {
			return err
		}
		e := segmentsref.Event{ID: t.EventID, Person: person, Type: t.EventType, Channel: "web", At: t.EventTime}
		if t.Channel == "email" {
			e.Channel = "email"
		}
		if t.Revenue != nil {
			e.Revenue = float64(*t.Revenue) / touchpoint.MicrosPerUnit
		}
		return live.Add(source, e)
	}); err != nil {
		return fmt.Errorf("the reference over the touchpoints as published: %w", err)
	}
	want := live.Finish()
	var got []segmentsref.Change
	later := 0
	if err := segmentsref.ReadChanges(ctx, cfg.Kafka, func(_ int32, _ string, c segmentsref.Change) error {
		if c.At.After(want.Watermark) {
			later++
		} else {
			got = append(got, c)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("reading the changes back: %w", err)
	}
	fmt.Printf("\nthe reference (test/segmentsref) over the %d touchpoints as published: %d persons, %d late, watermark %s, %d changes up to it (computed in %s)\n",
		want.Events+want.Late, want.Persons, want.Late, want.Watermark.Format(time.RFC3339Nano), len(want.Changes), time.Since(start).Round(time.Second))
	fmt.Printf("the changes topic: %d changes up to the watermark, %d after it (not compared)\n", len(got), later)
	if lateDropped != float64(want.Late) {
		fmt.Printf("inputs dropped as late: %.0f by the service, %d by the reference\n", lateDropped, want.Late)
	}
	if diff := segmentsref.Diff(got, want.Changes, 20); diff != "" {
		fmt.Printf("changes differ from the reference (- missing, + extra):\n%s\n", diff)
		return fmt.Errorf("the changes differ from the reference")
	}
	fmt.Printf("changes equal the reference: %d of %d\n", len(got), len(want.Changes))
	if lateDropped != float64(want.Late) {
		return fmt.Errorf("the service dropped %.0f inputs as late, the reference %d", lateDropped, want.Late)
	}
	return nil
}

// processorRate runs the same kind of events through one segments
// processor in this process (no Kafka, no ClickHouse): persons loaded with
// one event each, then 10 seconds of event time at rate events/s, and
// returns the events processed per second of CPU-bound work.
func processorRate(pipelinesDir string, persons, rate int, types []string, loadType string) (float64, error) {
	defs, err := engine.LoadDefinitions(filepath.Join(pipelinesDir, engine.DefinitionsFile))
	if err != nil {
		return 0, err
	}
	p, err := engine.NewProcessor(defs, nil)
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	at := time.Now().UTC().Add(-time.Hour)
	n := persons + 10*rate
	start := time.Now()
	for i := 0; i < n; i++ {
		person, typ := i, loadType
		if i >= persons {
			person, typ = rng.IntN(persons), types[rng.IntN(len(types))]
			at = at.Add(time.Second / time.Duration(rate))
		}
		e := &engine.Event{ID: strconv.Itoa(i), Person: "c" + strconv.Itoa(person), At: at, Type: typ, Channel: "email"}
		if typ == "purchase" {
			e.Revenue = 120
		}
		if _, err := p.Add(engine.Input{Event: e}); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// pipelines writes the shipped rules and segment definitions (or, with
// reference, the reference model's), with the given allowed lateness, into
// a pipelines directory under dir.
func pipelines(dir string, lateness time.Duration, reference bool) (string, error) {
	out := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	for _, f := range []string{"channels.yaml", "identity.yaml", "segments.yaml"} {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "pipelines", f))
		if err != nil {
			return "", err
		}
		switch {
		case f == "segments.yaml" && reference:
			b = []byte(segmentsref.WithLateness(lateness))
		case f == "segments.yaml":
			b = []byte(strings.Replace(string(b), "allowed_lateness: 5m", "allowed_lateness: "+lateness.String(), 1))
		}
		if err := os.WriteFile(filepath.Join(out, f), b, 0o644); err != nil {
			return "", err
		}
	}
	return out, nil
}

// event is a touchpoint of person i.
func event(id string, i int, typ, channel string, at time.Time) *touchpoint.Touchpoint {
	t := &touchpoint.Touchpoint{EventID: id, EventTime: at, EventType: typ, Channel: channel,
		Identifiers: touchpoint.AttrsOf(map[string]string{"customer_id": "c" + strconv.Itoa(i)})}
	if typ == "purchase" {
		revenue := touchpoint.Money(120 * touchpoint.MicrosPerUnit)
		t.Revenue, t.Currency = &revenue, "USD"
	}
	return t
}

// waitInputs waits until the service has applied (or dropped) n inputs.
func waitInputs(ctx context.Context, metrics string, n float64) error {
	for {
		applied, _ := scrape(metrics, "touchline_segments_inputs_total")
		if applied >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the service applied %.0f of %.0f inputs: %w", applied, n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// scrape sums the samples of a metric.
func scrape(url, name string) (float64, error) {
	resp, err := http.Get(url) //nolint:gosec // loopback URL built by the benchmark
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum, nil
}

// latencies collects the latency of every change of an event after since,
// and by the window of the run its change time falls in.
type latencies struct {
	mu       sync.Mutex
	all      []time.Duration
	byWindow [][]time.Duration
}

// latencyWindow is the length of the windows the latencies are reported by.
const latencyWindow = 5 * time.Second

func (l *latencies) read(ctx context.Context, kcfg kafka.Config, since time.Time) {
	cl, err := kafka.NewClient(kcfg, nil, kgo.ConsumeTopics(kcfg.Topics.SegmentChanges),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading changes:", err)
		return
	}
	defer cl.Close()
	reg, err := kafka.NewRegistry(kcfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading changes:", err)
		return
	}
	codecs := avro.NewCodecs(reg)
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		now := time.Now()
		fetches.EachRecord(func(r *kgo.Record) {
			_, rec, err := codecs.Decode(ctx, r.Value)
			if err != nil {
				return
			}
			at := rec["at"].(time.Time)
			if at.Before(since) {
				return // a change of the loading events
			}
			l.mu.Lock()
			l.all = append(l.all, now.Sub(at))
			w := int(at.Sub(since) / latencyWindow)
			for len(l.byWindow) <= w {
				l.byWindow = append(l.byWindow, nil)
			}
			l.byWindow[w] = append(l.byWindow[w], now.Sub(at))
			l.mu.Unlock()
		})
	}
}

func (l *latencies) sorted() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(slices.Values(l.all))
}

// windowP99 returns the p99 latency of each window of the run, in seconds.
func (l *latencies) windowP99() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.byWindow {
		if len(w) > 0 {
			out = append(out, fmt.Sprintf("%.2f", pct(slices.Sorted(slices.Values(w)), 0.99).Seconds()))
		}
	}
	return strings.Join(out, " ")
}

func pct(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(time.Millisecond)
}

// startHog runs this program again as a CPU hog for at most d, and returns
// a function that stops it.
func startHog(d time.Duration) (func(), error) {
	cmd := exec.Command(os.Args[0], "-burn", d.String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the CPU hog: %w", err)
	}
	fmt.Printf("CPU hog running (pid %d, %d busy goroutines, at most %s)\n", cmd.Process.Pid, runtime.NumCPU(), d)
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

// hogFor keeps every core busy for d.
func hogFor(d time.Duration) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(i)
			for n := 0; ; n++ {
				x = x*6364136223846793005 + 1442695040888963407
				if n%1_000_000 == 0 && time.Now().After(deadline) {
					break
				}
			}
			_ = x
		}()
	}
	wg.Wait()
}

// waitCaughtUp waits until the router's group has consumed the touchpoints
// and the stage's group the inputs (up to a transaction marker each).
func waitCaughtUp(ctx context.Context, cfg config.Config) error {
	cl, err := kafka.NewClient(cfg.Kafka, nil)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		routed, err := kafka.GroupLag(ctx, adm, cfg.Segments.RouterGroup, cfg.Kafka.Topics.Touchpoints)
		if err == nil && routed <= 1 {
			processed, err := kafka.GroupLag(ctx, adm, cfg.Segments.Group, cfg.Kafka.Topics.SegmentInputs)
			if err == nil && processed <= 1 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the service did not catch up: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
