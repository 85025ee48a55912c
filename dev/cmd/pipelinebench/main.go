// Command pipelinebench measures the whole local pipeline on a fresh local
// stack (free loopback ports, temporary directory), the figures of
// docs/benchmarks/local-stack.md:
//
//   - sale → lake latency (201 of the POST until the object is in the
//     origin region's lake, and in the other region's) at a fixed offered
//     load, p50/p90/p99;
//
//   - sustained sales/s: the offered load is raised step by step until the
//     pipeline falls behind (the lake latency at the end of a step keeps
//     growing past -max-lag); moto is the bound and says so;
//
//   - AWS requests per sale, end to end, from every process's request
//     counters (aws_requests_total), per service and operation;
//
//   - a failover under traffic: the command's own report and the window
//     clients saw 503s, and that every accepted sale reached both lakes.
//
//     go run ./dev/cmd/pipelinebench -rate 5 -duration 30s
//
// With -json FILE the same figures, with every sale's latencies, are also
// written as JSON for dev/cmd/benchreport (docs/benchmarks.md).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// httpc posts as many clients: each request leaves from one of 64 loopback
// addresses, so the edge's source-IP affinity spreads them over the
// regions by the dials, as Global Accelerator spreads real clients.
var httpc = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
	DisableKeepAlives: true,
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(10+rand.IntN(64)))}
		return (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	},
}}

type pending struct {
	id       string
	origin   string
	day      string
	accepted time.Time
	arrived  map[string]time.Duration
}

func main() {
	rate := flag.Float64("rate", 5, "offered load for the latency run, sales/s")
	duration := flag.Duration("duration", 30*time.Second, "length of the latency run")
	steps := flag.String("ramp", "2,4,6,8,12", "offered loads of the throughput ramp, sales/s (empty: skip)")
	stepFor := flag.Duration("step", 20*time.Second, "length of one ramp step")
	maxLag := flag.Duration("max-lag", 10*time.Second, "a step whose last sales take longer than this to reach both lakes has fallen behind")
	skipFailover := flag.Bool("skip-failover", false, "skip the failover run")
	jsonOut := flag.String("json", "", "also write the figures as JSON to this file")
	flag.Parse()
	rep := &jsonReport{Started: time.Now().UTC(), Cores: runtime.NumCPU(), Go: runtime.Version()}
	err := run(*rate, *duration, *steps, *stepFor, *maxLag, *skipFailover, rep)
	if *jsonOut != "" {
		if err != nil {
			rep.Error = err.Error()
		}
		if werr := rep.write(*jsonOut); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipelinebench:", err)
		os.Exit(1)
	}
}

// jsonReport is what -json writes; a part that did not run stays empty.
type jsonReport struct {
	Started     time.Time     `json:"started"`
	Cores       int           `json:"cores"`
	Go          string        `json:"go"`
	StackReadyS float64       `json:"stack_ready_s"`
	Latency     *jsonLatency  `json:"latency,omitempty"`
	Requests    *jsonRequests `json:"requests,omitempty"`
	Ramp        []jsonStep    `json:"ramp,omitempty"`
	// SustainedSalesPerS is the highest ramp step that kept up (0: none).
	SustainedSalesPerS *float64      `json:"sustained_sales_per_s,omitempty"`
	MaxLagS            float64       `json:"max_lag_s,omitempty"`
	Failover           *jsonFailover `json:"failover,omitempty"`
	// ExactlyOnce audits the latency run's sales.
	ExactlyOnce *jsonAudit `json:"exactly_once,omitempty"`
	Error       string     `json:"error,omitempty"`
}

type jsonLatency struct {
	RatePerS  float64 `json:"rate_per_s"`
	DurationS float64 `json:"duration_s"`
	Accepted  int     `json:"accepted"`
	Lost      int     `json:"lost"` // accepted but not in both lakes in time
	// Milliseconds from the 201 to the object in the origin region's
	// lake, in the other region's, and in both; one entry per sale.
	OriginMS []float64 `json:"origin_ms"`
	OtherMS  []float64 `json:"other_ms"`
	BothMS   []float64 `json:"both_ms"`
}

type jsonRequests struct {
	Sales int `json:"sales"`
	// ByComponent: component (sales-api, stream-runner, sales-worker,
	// both regions together) → "Service.Operation" → requests during the
	// latency run.
	ByComponent map[string]map[string]float64 `json:"by_component"`
	// Background lists the operations that happen whatever the traffic.
	Background         []string `json:"background"`
	PerSale            float64  `json:"per_sale"`
	PerSaleWithPolling float64  `json:"per_sale_with_polling"`
}

type jsonStep struct {
	OfferedPerS  float64 `json:"offered_per_s"`
	AcceptedPerS float64 `json:"accepted_per_s"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	TailP50ms    float64 `json:"tail_p50_ms"`
	Lost         int     `json:"lost"`
	KeepsUp      bool    `json:"keeps_up"`
}

// jsonAudit is invariant 1 over the latency run's sales: objects per sale
// in each region's lake, SaleProcessed per source event in the store.
type jsonAudit struct {
	Sales              int                `json:"sales"`
	LakeObjectsPerSale map[string]float64 `json:"lake_objects_per_sale"`
	ProcessedPerSource float64            `json:"processed_per_source_event"`
}

type jsonFailover struct {
	CommandS    float64 `json:"command_s"`
	Window503S  float64 `json:"window_503_s"`
	Accepted    int     `json:"accepted"`
	NotAccepted int     `json:"not_accepted"`
	Lost        int     `json:"lost"`
}

func (r *jsonReport) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func msOf(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d.Microseconds()) / 1000
	}
	return out
}

func run(rate float64, duration time.Duration, steps string, stepFor, maxLag time.Duration, skipFailover bool, rep *jsonReport) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pipelinebench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	ports, err := devstack.FreePorts(devstack.DefaultRegions)
	if err != nil {
		return err
	}
	t0 := time.Now()
	// The workers at the local stack's default takeover delay: a backlog
	// longer than it makes both regions process some sales, and the audit
	// below shows that nothing doubles for it.
	stk, err := devstack.Start(ctx, devstack.Options{Dir: dir, Ports: ports, Progress: os.Stderr})
	if err != nil {
		return err
	}
	defer stk.Stop(context.Background())
	rep.StackReadyS = time.Since(t0).Seconds()
	fmt.Printf("machine: %d cores, %s; local stack ready in %.1fs\n\n", runtime.NumCPU(), runtime.Version(), time.Since(t0).Seconds())
	clients, err := devstack.NewClients(ctx, stk.Endpoints().Moto, stk.Outputs(), awsconfig.Options{})
	if err != nil {
		return err
	}
	b := &bench{stk: stk, c: clients, ep: stk.Endpoints()}

	// 1. Latency at a fixed offered load, with the request counters around it.
	beforeBy := b.requestsBy()
	before := sumComponents(beforeBy)
	res := b.offer(rate, duration, 3*time.Minute)
	afterBy := b.requestsBy()
	after := sumComponents(afterBy)
	res.print(fmt.Sprintf("latency at %.1f sales/s offered for %s", rate, duration))
	b.printRequests(before, after, len(res.done))
	rep.Latency = &jsonLatency{RatePerS: rate, DurationS: duration.Seconds(), Accepted: len(res.done) + len(res.lost), Lost: len(res.lost),
		OriginMS: msOf(res.regionLat(true)), OtherMS: msOf(res.regionLat(false)), BothMS: msOf(res.lat(""))}
	rep.Requests = requestsJSON(beforeBy, afterBy, len(res.done))
	audit, err := b.audit(ctx, res.done)
	if err != nil {
		return err
	}
	rep.ExactlyOnce = audit
	fmt.Printf("exactly once: lake objects per sale %v; SaleProcessed per source event %.2f (over %d sales; 1.00 each)\n", audit.LakeObjectsPerSale, audit.ProcessedPerSource, audit.Sales)

	// 2. Sustained throughput.
	if strings.TrimSpace(steps) != "" {
		fmt.Printf("\nthroughput ramp (%s per step; behind = the step's last sales take over %s to reach both lakes)\n", stepFor, maxLag)
		best := 0.0
		rep.MaxLagS = maxLag.Seconds()
		for _, s := range strings.Split(steps, ",") {
			var r float64
			if _, err := fmt.Sscanf(strings.TrimSpace(s), "%g", &r); err != nil {
				return fmt.Errorf("-ramp: %q", s)
			}
			res := b.offer(r, stepFor, 5*time.Minute)
			tail := res.tail()
			status := "keeps up"
			if tail > maxLag || len(res.lost) > 0 {
				status = "BEHIND"
			} else {
				best = r
			}
			both := res.lat("")
			rep.Ramp = append(rep.Ramp, jsonStep{OfferedPerS: r, AcceptedPerS: float64(len(res.done)+len(res.lost)) / stepFor.Seconds(),
				P50ms: float64(pct(both, 50).Microseconds()) / 1000, P99ms: float64(pct(both, 99).Microseconds()) / 1000,
				TailP50ms: float64(tail.Microseconds()) / 1000, Lost: len(res.lost), KeepsUp: status == "keeps up"})
			fmt.Printf("  offered %5.1f/s: accepted %5.1f/s, both lakes p50 %6s p99 %6s, last 10%% p50 %6s  %s\n",
				r, float64(len(res.done)+len(res.lost))/stepFor.Seconds(), res.pct(50), res.pct(99), tail.Round(10*time.Millisecond), status)
			if status == "BEHIND" {
				break
			}
		}
		rep.SustainedSalesPerS = &best
		fmt.Printf("  sustained: %.1f sales/s (bounded by moto: one Python process serves every AWS call of both regions)\n", best)
	}

	// 3. Failover under traffic.
	if !skipFailover {
		return b.failover(rate, rep)
	}
	return nil
}

type bench struct {
	stk *devstack.Stack
	c   *devstack.Clients
	ep  devstack.Endpoints
}

type result struct {
	done []*pending
	lost []*pending
}

func (r result) lat(region string) []time.Duration {
	var out []time.Duration
	for _, p := range r.done {
		if region == "" {
			out = append(out, maxArrival(p))
		} else {
			out = append(out, p.arrived[region])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// regionLat is every done sale's latency to its own region's lake
// (origin) or to the other region's, sorted.
func (r result) regionLat(origin bool) []time.Duration {
	var out []time.Duration
	for _, p := range r.done {
		for reg, d := range p.arrived {
			if (reg == p.origin) == origin {
				out = append(out, d)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func maxArrival(p *pending) time.Duration {
	var m time.Duration
	for _, d := range p.arrived {
		m = max(m, d)
	}
	return m
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

func (r result) pct(p float64) string { return pct(r.lat(""), p).Round(10 * time.Millisecond).String() }

// tail is the median latency of the last tenth of the sales: growing
// means the pipeline falls behind.
func (r result) tail() time.Duration {
	sorted := append([]*pending(nil), r.done...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].accepted.Before(sorted[j].accepted) })
	n := max(1, len(sorted)/10)
	var ds []time.Duration
	for _, p := range sorted[len(sorted)-n:] {
		ds = append(ds, maxArrival(p))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return pct(ds, 50)
}

func (r result) print(title string) {
	fmt.Printf("%s: %d sales accepted, %d not in both lakes in time\n", title, len(r.done)+len(r.lost), len(r.lost))
	for _, region := range []string{"origin", "other", ""} {
		var ds []time.Duration
		for _, p := range r.done {
			for reg, d := range p.arrived {
				if (region == "origin" && reg == p.origin) || (region == "other" && reg != p.origin) {
					ds = append(ds, d)
				}
			}
		}
		name := "in its region's lake"
		switch region {
		case "other":
			name = "in the other lake (replicated)"
		case "":
			name = "in both lakes"
			ds = r.lat("")
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Printf("  sale → %-31s p50 %7s  p90 %7s  p99 %7s  max %7s\n", name,
			pct(ds, 50).Round(10*time.Millisecond), pct(ds, 90).Round(10*time.Millisecond), pct(ds, 99).Round(10*time.Millisecond), pct(ds, 100).Round(10*time.Millisecond))
	}
}

// offer posts sales through the edge at rate for d (open loop) and follows
// each to both lakes while posting: a sale's latency is measured from its
// 201, not from the end of the posting.
func (b *bench) offer(rate float64, d, wait time.Duration) result {
	var mu sync.Mutex
	var all []*pending
	var wg sync.WaitGroup
	posting := make(chan struct{})
	followed := make(chan result, 1)
	go func() {
		followed <- b.followLive(func() []*pending {
			mu.Lock()
			defer mu.Unlock()
			return append([]*pending(nil), all...)
		}, posting, wait)
	}()
	interval := time.Duration(float64(time.Second) / rate)
	stop := time.Now().Add(d)
	tick := time.NewTicker(interval)
	for time.Now().Before(stop) {
		<-tick.C
		wg.Go(func() {
			body := fmt.Sprintf(`{"product":"bench %d","amount":%d.00}`, rand.IntN(1e6), 1+rand.IntN(99))
			for attempt := 0; attempt < 40; attempt++ {
				req, _ := http.NewRequest(http.MethodPost, b.ep.Edge+"/sales", strings.NewReader(body))
				resp, err := httpc.Do(req)
				if err == nil {
					var s struct {
						ID        string `json:"id"`
						CreatedAt string `json:"created_at"`
					}
					raw, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusCreated && json.Unmarshal(raw, &s) == nil {
						mu.Lock()
						all = append(all, &pending{id: s.ID, origin: resp.Header.Get("X-Edge-Region"), day: lakeDay(s.ID), accepted: time.Now(), arrived: map[string]time.Duration{}})
						mu.Unlock()
						return
					}
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	close(posting)
	return <-followed
}

// follow follows sales already posted to both lakes, for up to wait.
func (b *bench) follow(all []*pending, wait time.Duration) result {
	done := make(chan struct{})
	close(done)
	return b.followLive(func() []*pending { return all }, done, wait)
}

// followLive polls each lake partition with StartAfter the oldest pending
// id (ids are UUIDv7, so keys sort by time): each poll lists only the
// newest objects, a few per call, instead of the whole bucket. current
// returns the sales posted so far; once posting is closed and every sale
// is in both lakes, or wait has passed since posting closed, it returns.
// Only this goroutine writes a sale's arrivals.
func (b *bench) followLive(current func() []*pending, posting <-chan struct{}, wait time.Duration) result {
	var deadline time.Time
	regions := b.stk.Regions()
	var all []*pending
	for {
		all = current()
		if deadline.IsZero() {
			select {
			case <-posting:
				all = current() // every sale, now that posting is over
				deadline = time.Now().Add(wait)
			default:
			}
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			break
		}
		left := 0
		type part struct{ region, prefix string }
		oldest := map[part]string{}
		for _, p := range all {
			for _, r := range regions {
				if _, ok := p.arrived[r]; ok {
					continue
				}
				left++
				k := part{r, "sales/dt=" + p.day + "/"}
				if o, ok := oldest[k]; !ok || p.id < o {
					oldest[k] = p.id
				}
			}
		}
		if left == 0 {
			if !deadline.IsZero() {
				break
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		now := time.Now()
		for k, first := range oldest {
			bucket := b.c.Outputs.Regions[k.region].LakeBucket
			after := k.prefix + first
			var keys []string
			in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(k.prefix), StartAfter: aws.String(after[:len(after)-1])}
			for range 50 {
				out, err := b.c.S3[k.region].ListObjectsV2(context.Background(), in)
				if err != nil {
					break
				}
				for _, o := range out.Contents {
					keys = append(keys, aws.ToString(o.Key))
				}
				if !aws.ToBool(out.IsTruncated) {
					break
				}
				in.ContinuationToken = out.NextContinuationToken
			}
			present := map[string]bool{}
			for _, key := range keys {
				present[strings.TrimSuffix(key[strings.LastIndex(key, "/")+1:], ".json")] = true
			}
			for _, p := range all {
				if _, ok := p.arrived[k.region]; !ok && present[p.id] && "sales/dt="+p.day+"/" == k.prefix {
					p.arrived[k.region] = now.Sub(p.accepted)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	var r result
	for _, p := range all {
		if len(p.arrived) == len(regions) {
			r.done = append(r.done, p)
		} else {
			r.lost = append(r.lost, p)
		}
	}
	return r
}

// requestsBy sums every process's aws_requests_total by component (the
// process name without its region) and service.operation.
func (b *bench) requestsBy() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, p := range b.stk.Processes() {
		if p.MetricsURL == "" || strings.HasPrefix(p.Name, devstack.Replication) {
			continue
		}
		m, err := devstack.Scrape(context.Background(), p.MetricsURL)
		if err != nil {
			continue
		}
		component, _, _ := strings.Cut(p.Name, "/")
		if out[component] == nil {
			out[component] = map[string]float64{}
		}
		for k, v := range m.AWSRequests() {
			out[component][k] += v
		}
	}
	return out
}

func sumComponents(by map[string]map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, ops := range by {
		for op, v := range ops {
			out[op] += v
		}
	}
	return out
}

// requestsJSON is the requests made between two scrapes, per component
// and operation, and per accepted sale (nil without sales).
func requestsJSON(before, after map[string]map[string]float64, sales int) *jsonRequests {
	if sales == 0 {
		return nil
	}
	j := &jsonRequests{Sales: sales, ByComponent: map[string]map[string]float64{}}
	perSale, bg := 0.0, 0.0
	for component, ops := range after {
		for op, v := range ops {
			d := v - before[component][op]
			if d <= 0 {
				continue
			}
			if j.ByComponent[component] == nil {
				j.ByComponent[component] = map[string]float64{}
			}
			j.ByComponent[component][op] = d
			if background[op] {
				bg += d
			} else {
				perSale += d
			}
		}
	}
	for op := range background {
		j.Background = append(j.Background, op)
	}
	sort.Strings(j.Background)
	j.PerSale = perSale / float64(sales)
	j.PerSaleWithPolling = (perSale + bg) / float64(sales)
	return j
}

// background calls happen whatever the traffic: stream polling (free on
// AWS, where Lambda polls) and the region-state refreshes.
var background = map[string]bool{
	"DynamoDB Streams.GetRecords": true, "DynamoDB Streams.GetShardIterator": true, "DynamoDB Streams.DescribeStream": true,
	"DynamoDB.DescribeTable": true, "SSM.GetParameter": true, "SQS.ReceiveMessage": true,
}

func (b *bench) printRequests(before, after map[string]float64, sales int) {
	if sales == 0 {
		return
	}
	var keys []string
	for k := range after {
		if after[k]-before[k] > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	perSale, bg := 0.0, 0.0
	fmt.Printf("\nAWS requests during the run (APIs, publishers, workers; the replication stand-in is not AWS's cost), per accepted sale (%d):\n", sales)
	for _, k := range keys {
		d := after[k] - before[k]
		mark := ""
		if background[k] {
			bg += d
			mark = "  (polling/refresh, not per sale)"
		} else {
			perSale += d
		}
		fmt.Printf("  %-40s %8.0f  %5.2f/sale%s\n", k, d, d/float64(sales), mark)
	}
	fmt.Printf("  per-sale requests (without polling): %.2f per sale; with polling at this load: %.2f\n", perSale/float64(sales), (perSale+bg)/float64(sales))
}

func (b *bench) failover(rate float64, rep *jsonReport) error {
	fmt.Printf("\nfailover under %.1f sales/s through the edge (ACTIVE/ACTIVE → sa-east-1 only)\n", rate)
	ctx, cancel := context.WithCancel(context.Background())
	type outcome struct {
		ids         []*pending
		failed      int
		first, last time.Time
	}
	var mu sync.Mutex
	var o outcome
	var wg sync.WaitGroup
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() {
				body := fmt.Sprintf(`{"product":"failover %d","amount":3.00}`, rand.IntN(1e6))
				key := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), rand.IntN(1e6))
				for attempt := 0; attempt < 120; attempt++ {
					req, _ := http.NewRequest(http.MethodPost, b.ep.Edge+"/sales", strings.NewReader(body))
					req.Header.Set("Idempotency-Key", key)
					resp, err := httpc.Do(req)
					if err == nil {
						raw, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						var s struct {
							ID string `json:"id"`
						}
						if resp.StatusCode == http.StatusCreated && json.Unmarshal(raw, &s) == nil {
							mu.Lock()
							o.ids = append(o.ids, &pending{id: s.ID, origin: resp.Header.Get("X-Edge-Region"), day: lakeDay(s.ID), accepted: time.Now(), arrived: map[string]time.Duration{}})
							mu.Unlock()
							return
						}
					}
					mu.Lock()
					if o.first.IsZero() {
						o.first = time.Now()
					}
					o.last = time.Now()
					mu.Unlock()
					time.Sleep(250 * time.Millisecond)
				}
				mu.Lock()
				o.failed++
				mu.Unlock()
			})
		}
	}()
	time.Sleep(5 * time.Second)
	cmdStart := time.Now()
	out, err := b.salesctl("failover", "--to", "sa-east-1", "--settle", "2s")
	cmdTook := time.Since(cmdStart)
	fmt.Print(indent(out))
	if err != nil {
		cancel()
		return err
	}
	time.Sleep(5 * time.Second)
	cancel()
	wg.Wait()
	// us-east-1's last sales are sa-east-1's to take over now.
	if err := b.stk.RestartProcess(context.Background(), devstack.Worker+"/sa-east-1", "TAKEOVER_DELAY=5s"); err != nil {
		return err
	}
	res := b.follow(o.ids, 3*time.Minute)
	window := time.Duration(0)
	if !o.first.IsZero() {
		window = o.last.Sub(o.first)
	}
	rep.Failover = &jsonFailover{CommandS: cmdTook.Seconds(), Window503S: window.Seconds(), Accepted: len(o.ids), NotAccepted: o.failed, Lost: len(res.lost)}
	fmt.Printf("  clients saw 503s for %s; %d sales accepted, %d never accepted, %d not in both lakes within 3 min\n",
		window.Round(10*time.Millisecond), len(o.ids), o.failed, len(res.lost))
	return nil
}

func (b *bench) salesctl(args ...string) (string, error) {
	cmd := exec.Command(b.stk.Bin(devstack.Salesctl), args...)
	cmd.Env = append(append(os.Environ(), b.stk.MotoEnv()...), "SALESCTL_STACK="+b.stk.Options().OutputsPath())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// lakeDay is the day partition of a sale's lake object: the day in its
// UUIDv7 id (libs/sales/domain.SaleDate).
func lakeDay(id string) string {
	if u, err := uuid.Parse(id); err == nil && u.Version() == 7 {
		sec, nsec := u.Time().UnixTime()
		return time.Unix(sec, nsec).UTC().Format(time.DateOnly)
	}
	return time.Now().UTC().Format(time.DateOnly)
}

// audit counts, for every sale, its objects under sales/ in each region's
// lake and, in the first region's store, the SaleProcessed of each of its
// source events.
func (b *bench) audit(ctx context.Context, sales []*pending) (*jsonAudit, error) {
	a := &jsonAudit{Sales: len(sales), LakeObjectsPerSale: map[string]float64{}}
	if len(sales) == 0 {
		return a, nil
	}
	for _, r := range b.stk.Regions() {
		keys, err := devstack.LakeKeys(ctx, b.c.S3[r], b.c.Outputs.Regions[r].LakeBucket, "sales/")
		if err != nil {
			return nil, err
		}
		per := map[string]int{}
		for _, k := range keys {
			per[strings.TrimSuffix(k[strings.LastIndex(k, "/")+1:], ".json")]++
		}
		n := 0
		for _, p := range sales {
			n += per[p.id]
		}
		a.LakeObjectsPerSale[r] = float64(n) / float64(len(sales))
	}
	region := b.stk.Regions()[0]
	st := store.New(b.c.DDB[region], b.c.Outputs.Regions[region].EventTable)
	sources, processed := 0, 0
	for _, p := range sales {
		evs, err := st.Load(ctx, uuid.MustParse(p.id))
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			switch e.EventType {
			case domain.EventSaleCreated, domain.EventSaleCancelled:
				sources++
			case domain.EventSaleProcessed:
				processed++
			}
		}
	}
	if sources > 0 {
		a.ProcessedPerSource = float64(processed) / float64(sources)
	}
	return a, nil
}
