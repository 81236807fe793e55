package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/touchline-io/touchline/pkg/app"
	"github.com/touchline-io/touchline/pkg/cli/ingestcmd"
	"github.com/touchline-io/touchline/pkg/config"
	"github.com/touchline-io/touchline/pkg/enrich"
	"github.com/touchline-io/touchline/pkg/identitymap"
	"github.com/touchline-io/touchline/pkg/kafka"
	"github.com/touchline-io/touchline/pkg/touchpoint"
)

// Function names (suffixes) whose samples in the service's CPU profile are
// identity lookups: the map's Persons call, and the service's call of it
// with its timing metric around.
const (
	mapPersonsFunc   = "identitymap.(*Map).Persons"
	timedPersonsFunc = "ingest.timedLookup.Persons"
)

// serviceRound is what one run of the ingest service over the touchpoints
// topic measured, from its group being stable until it has committed the
// end of the topic.
type serviceRound struct {
	wall, cpu    time.Duration
	lookups      time.Duration // sum of touchline_ingest_identity_lookup_seconds
	samples      int64         // CPU profile samples of the process, 0 when not profiled
	mapSamples   int64         // of which in mapPersonsFunc
	timedSamples int64         // of which in timedPersonsFunc
}

func (r *serviceRound) add(o serviceRound) {
	r.wall += o.wall
	r.cpu += o.cpu
	r.lookups += o.lookups
	r.samples += o.samples
	r.mapSamples += o.mapSamples
	r.timedSamples += o.timedSamples
}

// serviceCost is the ingest service's time with the map and with lookups
// that cost nothing, summed over the measured rounds of each.
type serviceCost struct {
	events, rounds      int // events per round, measured rounds per kind
	withMap, withoutMap serviceRound
	pairShares          []float64 // CPU share of each A/B pair
	profiled            bool
}

// ingestService runs the ingest service as pkg/cli/ingestcmd builds it (Kafka consumer
// group, processor, ClickHouse batch inserts, offset commits) in this
// process over events touchpoints whose identifiers are the customer_id and
// the last device_id of random persons, resolving them through the
// caught-up map m, and, alternately, through instantPersons. Each round is a
// new consumer group reading the whole topic. The first round, with the
// map, warms up and is not counted. With profiled, every round records a
// CPU profile of the process.
func ingestService(ctx context.Context, cfg config.Config, m *identitymap.Map, w workload, events, pairs int, profiled bool,
	log *zap.Logger) (serviceCost, error) {
	fmt.Printf("\n== ingest service (ingestcmd.NewService: consumer group, processor, ClickHouse inserts, offset commits) with the map\n")
	cost := serviceCost{events: events, rounds: pairs, profiled: profiled}
	rng := rand.New(rand.NewPCG(11, 12))
	records, _, err := encodeTouchpoints(ctx, events, func(t *touchpoint.Touchpoint) {
		ids := w.ids(rng.IntN(w.persons))
		last := ids[len(ids)-1]
		t.Identifiers = touchpoint.AttrsOf(map[string]string{ids[0].Type: ids[0].Value, last.Type: last.Value})
	})
	if err != nil {
		return cost, err
	}
	topic := cfg.Kafka.Topics.Touchpoints
	cl, err := kafka.NewClient(cfg.Kafka, log, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return cost, err
	}
	defer cl.Close()
	start := time.Now()
	for len(records) > 0 {
		n := min(len(records), chunk)
		out := make([]*kgo.Record, n)
		for i, r := range records[:n] {
			out[i] = &kgo.Record{Value: r.Value}
		}
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return cost, fmt.Errorf("producing touchpoints: %w", err)
		}
		records = records[n:]
	}
	fmt.Printf("produced %d touchpoints of random persons (customer_id and a device_id) to %s in %s\n",
		events, topic, time.Since(start).Round(time.Millisecond))
	if !profiled {
		fmt.Println("(no CPU profile of the service rounds: -cpuprofile profiles the whole run)")
	}

	adm := kadm.NewClient(cl)
	kinds := []struct {
		label   string
		persons enrich.PersonLookup
		into    *serviceRound
	}{{"the map", m, &cost.withMap}, {"lookups that cost nothing", instantPersons{}, &cost.withoutMap}}
	round := 0
	run := func(k int) (serviceRound, error) {
		round++
		r, err := serviceRun(ctx, cfg, adm, fmt.Sprintf("bench-ingest-%d", round), kinds[k].persons, events, profiled, log)
		if err != nil {
			return r, fmt.Errorf("round %d, %s: %w", round, kinds[k].label, err)
		}
		n := time.Duration(events)
		line := fmt.Sprintf("round %d, %s: %s wall, %s CPU per event (%.0f events/s, %.2f cores); timed lookups %s per event",
			round, kinds[k].label, r.wall/n, r.cpu/n, float64(events)/r.wall.Seconds(), r.cpu.Seconds()/r.wall.Seconds(), r.lookups/n)
		if r.samples > 0 {
			line += fmt.Sprintf("; profile: %s %.1f%%, %s %.1f%% of %d samples", mapPersonsFunc, pct(r.mapSamples, r.samples),
				timedPersonsFunc, pct(r.timedSamples, r.samples), r.samples)
		}
		fmt.Println(line)
		return r, nil
	}
	if _, err := run(0); err != nil { // warm-up
		return cost, err
	}
	for range pairs {
		var pair [2]serviceRound
		for k := range kinds {
			if pair[k], err = run(k); err != nil {
				return cost, err
			}
			kinds[k].into.add(pair[k])
		}
		cost.pairShares = append(cost.pairShares, float64(pair[0].cpu-pair[1].cpu)/float64(pair[0].cpu))
	}
	return cost, nil
}

// serviceRun runs the ingest service with consumer group group over the
// touchpoints topic until the group has committed its end, and measures it
// from the group being stable. Every event must be written, none may need a
// link request or become a dead letter.
func serviceRun(ctx context.Context, cfg config.Config, adm *kadm.Client, group string, persons enrich.PersonLookup,
	events int, profiled bool, log *zap.Logger) (serviceRound, error) {
	var r serviceRound
	cfg.Ingest.Group = group
	proc, err := app.NewIngestProcessor(cfg)
	if err != nil {
		return r, err
	}
	reg := prometheus.NewRegistry()
	svc, closeSvc, err := ingestcmd.NewService(ctx, cfg, proc, persons, reg, log)
	if err != nil {
		return r, err
	}
	defer closeSvc()
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-runErr; err != nil {
			fmt.Println("bench identity: ingest service:", err)
		}
	}()
	if err := waitStable(ctx, adm, group, "ingest service", runErr); err != nil {
		return r, err
	}
	var prof bytes.Buffer
	if profiled {
		if err := pprof.StartCPUProfile(&prof); err != nil {
			return r, err
		}
	}
	cpu0, start := processCPU(), time.Now()
	err = waitUntil(ctx, runErr, "ingest service", "catching up", func() bool {
		done, err := kafka.GroupCaughtUp(ctx, adm, group, cfg.Kafka.Topics.Touchpoints)
		return err == nil && done
	})
	r.wall, r.cpu = time.Since(start), processCPU()-cpu0
	if profiled {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return r, err
	}
	if profiled {
		if r.samples, r.mapSamples, r.timedSamples, err = lookupSamples(&prof); err != nil {
			return r, err
		}
	}
	got, err := gather(reg)
	if err != nil {
		return r, err
	}
	if rows := got["touchline_ingest_rows_written_total"]; rows != float64(events) {
		return r, fmt.Errorf("%.0f rows written, want %d", rows, events)
	}
	if links, dead := got["touchline_ingest_link_requests_total"], got["touchline_ingest_dead_letters_total"]; links != 0 || dead != 0 {
		return r, fmt.Errorf("%.0f link requests and %.0f dead letters, want none", links, dead)
	}
	r.lookups = time.Duration(got["touchline_ingest_identity_lookup_seconds"] * float64(time.Second))
	return r, nil
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// lookupSamples parses a CPU profile and counts its samples, and those
// whose stack contains mapPersonsFunc and timedPersonsFunc.
func lookupSamples(prof *bytes.Buffer) (all, inMap, timed int64, err error) {
	p, err := profile.Parse(prof)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("parsing the CPU profile: %w", err)
	}
	for _, s := range p.Sample {
		n := s.Value[0] // samples
		all += n
		if stackHas(s, mapPersonsFunc) {
			inMap += n
		}
		if stackHas(s, timedPersonsFunc) {
			timed += n
		}
	}
	return all, inMap, timed, nil
}

// stackHas reports whether a function whose name ends in fn is on the
// sample's stack, inlined or not.
func stackHas(s *profile.Sample, fn string) bool {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && strings.HasSuffix(l.Function.Name, fn) {
				return true
			}
		}
	}
	return false
}

// gather returns the sum over labels of each counter, and the sum of each
// histogram, registered with reg.
func gather(reg *prometheus.Registry) (map[string]float64, error) {
	families, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(families))
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[f.GetName()] += m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[f.GetName()] += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out, nil
}

func pct(part, whole int64) float64 { return 100 * float64(part) / float64(whole) }
