package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// Env is a running stack with its fault plumbing.
type Env struct {
	Stack   *devstack.Stack
	Faults  *Faults
	Clients *devstack.Clients
	Load    *Load
	Rand    *rand.Rand
	// Logf receives progress lines (t.Logf).
	Logf func(format string, args ...any)
	// RecoverTimeout bounds the wait for every sale in every lake after
	// the fault ended.
	RecoverTimeout time.Duration

	mu   sync.Mutex
	ours map[string]bool // sales of earlier scenarios
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

func (e *Env) intn(n int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.Rand.IntN(n)
}

// Scenario is one fault injected into the running stack while sales are
// posted to both regions' APIs (ACTIVE/ACTIVE).
type Scenario struct {
	Name string
	// Injects says what the fault is; Expect what must hold (docs).
	Injects, Expect string
	// Fast scenarios run in the normal `go test`; the rest only in the full
	// suite (SALES_CHAOS=full, `task chaos`).
	Fast bool
	// PerRegion sales are posted to each region's API, evenly over LoadFor.
	PerRegion int
	LoadFor   time.Duration
	// Hold keeps a whole-load fault on this long after the last sale got
	// its answer, so the pipeline behind the API runs under it too.
	Hold time.Duration
	// Abandon is the share of clients that give up at their first 503
	// (the API's promise that nothing was written and nothing will be);
	// the others retry with their Idempotency-Key until they get a 201.
	Abandon float64
	// Fault injects the fault and returns once it is over (removed).
	Fault func(ctx context.Context, e *Env, run *Run) error
	// Check adds the scenario's own assertions (retries seen, ...).
	Check func(e *Env, d Delta) []string
}

// Run is a scenario's run, as its fault sees it.
type Run struct {
	Scenario Scenario
	Start    time.Time
	// LoadDone closes when every sale got its final answer.
	LoadDone <-chan struct{}

	mu    sync.Mutex
	notes []string
}

// Note records what the fault did (shown in the test log).
func (r *Run) Note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf("%5.1fs ", time.Since(r.Start).Seconds())+fmt.Sprintf(format, args...))
}

// Result is one scenario's figures.
type Result struct {
	Scenario string
	SalesIn  int
	Objects  map[string]int
	Lost     int
	Doubled  int
	FiveXX   int
	Duration time.Duration
	// Failures are the broken expectations (empty: passed).
	Failures []string
	Notes    []string
}

// Passed reports whether every expectation held.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Header names the columns of Line.
const Header = "scenario, sales in, lake objects per region, lost, doubled, 5xx seen, duration"

// Line is the scenario's one line: scenario, sales in, lake objects per
// region, lost, doubled, 5xx seen, duration.
func (r Result) Line(regions []string) string {
	objs := make([]string, 0, len(regions))
	for _, reg := range regions {
		objs = append(objs, fmt.Sprintf("%s=%d", reg, r.Objects[reg]))
	}
	return fmt.Sprintf("%s, %d, %s, %d, %d, %d, %.1fs", r.Scenario, r.SalesIn, strings.Join(objs, " "), r.Lost, r.Doubled, r.FiveXX, r.Duration.Seconds())
}

// Delta is what the services' AWS counters and the fault proxies counted
// during the scenario.
type Delta struct {
	// Requests and Operations are aws_requests_total and
	// aws_operations_total by process (a restarted process starts again
	// from 0, so only faults that kill nothing read them).
	Requests, Operations map[string]float64
	// Proxy are the fault proxies' counts, all processes added up.
	Proxy Counts
}

// Retries are the SDK's retry attempts: requests beyond the operations.
func (d Delta) Retries() float64 {
	n := 0.0
	for p, r := range d.Requests {
		n += r - d.Operations[p]
	}
	return n
}

func (e *Env) awsCounters(ctx context.Context) (req, ops map[string]float64) {
	req, ops = map[string]float64{}, map[string]float64{}
	for _, p := range e.Stack.Processes() {
		if p.Region == "" || p.MetricsURL == "" || !p.Running() {
			continue
		}
		m, err := devstack.Scrape(ctx, p.MetricsURL)
		if err != nil {
			continue
		}
		req[p.Name] = m.Sum("aws_requests_total")
		ops[p.Name] = m.Sum("aws_operations_total")
	}
	return req, ops
}

func (e *Env) proxyCounts() Counts {
	out := Counts{}
	for _, c := range e.Faults.AWSCounts() {
		out.Add(c)
	}
	return out
}

// Execute runs one scenario: fault and load together, then the fault is
// removed, dead processes restarted, and the invariants checked once every
// accepted sale reached every lake (or RecoverTimeout passed).
func (e *Env) Execute(ctx context.Context, sc Scenario) Result {
	res := Result{Scenario: sc.Name, Objects: map[string]int{}}
	start := time.Now()
	fail := func(format string, args ...any) { res.Failures = append(res.Failures, fmt.Sprintf(format, args...)) }

	before := map[string]map[string]bool{}
	for _, r := range e.Stack.Regions() {
		keys, err := e.lakeKeys(ctx, r)
		if err != nil {
			fail("%v", err)
			return res
		}
		before[r] = keys
	}
	reqBefore, opsBefore := e.awsCounters(ctx)
	proxyBefore := e.proxyCounts()

	loadDone := make(chan struct{})
	run := &Run{Scenario: sc, Start: start, LoadDone: loadDone}
	loadCtx, cancelLoad := context.WithTimeout(ctx, sc.LoadFor+e.Load.RetryBudget+time.Minute)
	defer cancelLoad()
	var ans *Answers
	go func() {
		defer close(loadDone)
		ans = e.Load.Run(loadCtx, e.Stack.Endpoints().API, sc.PerRegion, sc.LoadFor, sc.Abandon)
	}()
	faultErr := sc.Fault(ctx, e, run)
	<-loadDone
	if err := e.Faults.Clear(); err != nil {
		fail("clear the faults: %v", err)
	}
	if err := e.resumeReplication(ctx); err != nil {
		fail("resume replication: %v", err)
	}
	if faultErr != nil {
		fail("fault: %v", faultErr)
	}
	reqAfter, opsAfter := e.awsCounters(ctx)
	delta := Delta{Requests: map[string]float64{}, Operations: map[string]float64{}, Proxy: e.proxyCounts().Sub(proxyBefore)}
	for p, v := range reqAfter {
		if v >= reqBefore[p] && opsAfter[p] >= opsBefore[p] {
			delta.Requests[p], delta.Operations[p] = v-reqBefore[p], opsAfter[p]-opsBefore[p]
		}
	}
	if names, err := e.Stack.RestartDead(ctx); err != nil {
		fail("restart %v: %v", names, err)
	}
	loadTime := time.Since(start)

	ids := ans.All()
	res.SalesIn, res.FiveXX = len(ids), ans.FiveXX
	if want := sc.PerRegion*len(e.Stack.Regions()) - len(ans.Abandoned); len(ids) != want || ans.GaveUp > 0 {
		fail("%d of %d sales got a 201 (%d given up after %s of retries; %d abandoned at a 503)", len(ids), want, ans.GaveUp, e.Load.RetryBudget, len(ans.Abandoned))
	}
	if len(ans.Abandoned) > 0 {
		// Invariant 7: nothing the API answered 503 for commits, not even
		// an attempt still in flight then. Wait for every late attempt to
		// land, then look for the abandoned sales in every store.
		if err := sleepCtx(ctx, lateDelay+5*time.Second); err != nil {
			fail("%v", err)
		}
		committed, err := e.committedProducts(ctx, ans.Abandoned)
		if err != nil {
			fail("%v", err)
		}
		if len(committed) > 0 {
			fail("%d sales committed after their client got a 503: %v", len(committed), head(committed))
		}
		run.Note("%d clients gave up at a 503; %d of their sales exist", len(ans.Abandoned), len(committed))
	}
	for _, w := range ans.Wrong {
		fail("wrong answer: %s", w)
	}
	missing, err := e.waitLakes(ctx, ids, e.RecoverTimeout)
	if err != nil {
		fail("%v", err)
	}
	if len(missing) > 0 {
		fail("after %s, sales still missing from the lakes: %v", e.RecoverTimeout, missing)
	}
	tally, err := e.tally(ctx, ids, before, e.oursCopy())
	if err != nil {
		fail("%v", err)
	}
	res.Objects, res.Lost, res.Doubled = tally.Objects, len(tally.Lost), len(tally.Doubled)
	for _, r := range e.Stack.Regions() {
		if tally.Objects[r] != len(ids) {
			fail("%s lake: %d new objects for %d sales", r, tally.Objects[r], len(ids))
		}
	}
	if len(tally.Lost) > 0 {
		fail("lost: %v", head(tally.Lost))
	}
	if len(tally.Doubled) > 0 {
		fail("doubled: %v", head(tally.Doubled))
	}
	if len(tally.Unprocessed) > 0 {
		fail("without SaleProcessed in some store: %v", head(tally.Unprocessed))
	}
	for _, g := range e.checkGets(ctx, ids) {
		fail("%s", g)
	}
	if sc.Check != nil {
		for _, f := range sc.Check(e, delta) {
			fail("%s", f)
		}
	}
	e.mu.Lock()
	if e.ours == nil {
		e.ours = map[string]bool{}
	}
	for _, id := range ids {
		e.ours[id] = true
	}
	e.mu.Unlock()
	res.Duration = time.Since(start)
	run.mu.Lock()
	res.Notes = append(res.Notes, run.notes...)
	run.mu.Unlock()
	res.Notes = append(res.Notes,
		fmt.Sprintf("load and fault %.1fs; answers %v, %d without an HTTP answer; SDK retries %.0f; fault proxies %v",
			loadTime.Seconds(), statusLine(ans.Status), ans.ConnErrors, delta.Retries(), delta.Proxy))
	return res
}

func (e *Env) oursCopy() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]bool, len(e.ours))
	for k := range e.ours {
		out[k] = true
	}
	return out
}

func head(ids []string) []string {
	if len(ids) > 5 {
		return append(ids[:5:5], fmt.Sprintf("… %d in all", len(ids)))
	}
	return ids
}

func statusLine(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", m[c], c))
	}
	return strings.Join(parts, " ")
}

// replication posts to the stand-in's admin API.
func (e *Env) replication(ctx context.Context, action string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Stack.Endpoints().Replication+"/"+action, nil)
	if err != nil {
		return err
	}
	resp, err := e.Load.HTTP.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("replication %s: HTTP %d", action, resp.StatusCode)
	}
	return nil
}

func (e *Env) resumeReplication(ctx context.Context) error { return e.replication(ctx, "resume") }

// ---- fault shapes ----

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// throughout applies a fault at once and clears it Hold after the load.
func throughout(apply func(e *Env) error) func(context.Context, *Env, *Run) error {
	return func(ctx context.Context, e *Env, run *Run) error {
		if err := apply(e); err != nil {
			return err
		}
		run.Note("fault on")
		select {
		case <-run.LoadDone:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := sleepCtx(ctx, run.Scenario.Hold)
		run.Note("fault off")
		return errors.Join(err, e.Faults.Clear())
	}
}

// window applies a fault after a delay and clears it after d.
func window(after, d time.Duration, apply func(e *Env) error) func(context.Context, *Env, *Run) error {
	return func(ctx context.Context, e *Env, run *Run) error {
		if err := sleepCtx(ctx, after); err != nil {
			return err
		}
		if err := apply(e); err != nil {
			return err
		}
		run.Note("fault on")
		err := sleepCtx(ctx, d)
		run.Note("fault off after %s", d)
		return errors.Join(err, e.Faults.Clear())
	}
}

func toxics(ts ...Toxic) func(e *Env) error {
	return func(e *Env) error {
		for _, t := range ts {
			if err := e.Faults.Net.Add(t); err != nil {
				return err
			}
		}
		return nil
	}
}

// linksDown refuses every service's connections to AWS.
func linksDown(e *Env) error { return e.Faults.Net.Down() }

func awsRules(rules ...Rule) func(e *Env) error {
	return func(e *Env) error { return e.Faults.SetAWS(rules) }
}

// killer SIGKILLs a random region's process of component, kills times at
// random moments of the load (and its hold), restarting each after a
// short random pause, as an orchestrator would.
func killer(component string, kills int) func(context.Context, *Env, *Run) error {
	return func(ctx context.Context, e *Env, run *Run) error {
		span := run.Scenario.LoadFor + run.Scenario.Hold
		moments := make([]time.Duration, kills)
		for i := range moments {
			// Uniform over the middle 80 % of the span.
			moments[i] = span/10 + time.Duration(e.intn(int(span*8/10/time.Millisecond)))*time.Millisecond
		}
		sort.Slice(moments, func(i, j int) bool { return moments[i] < moments[j] })
		for _, at := range moments {
			if err := sleepCtx(ctx, at-time.Since(run.Start)); err != nil {
				return err
			}
			regions := e.Stack.Regions()
			name := component + "/" + regions[e.intn(len(regions))]
			p := e.Stack.Process(name)
			if p == nil {
				return fmt.Errorf("no process %s", name)
			}
			p.Kill()
			pause := 500*time.Millisecond + time.Duration(e.intn(1500))*time.Millisecond
			run.Note("SIGKILL %s; restart in %s", name, pause)
			if err := sleepCtx(ctx, pause); err != nil {
				return err
			}
			if _, err := e.Stack.RestartDead(ctx); err != nil {
				return fmt.Errorf("restart %s: %w", name, err)
			}
			run.Note("%s ready again", name)
		}
		select {
		case <-run.LoadDone:
		case <-ctx.Done():
			return ctx.Err()
		}
		return sleepCtx(ctx, run.Scenario.Hold)
	}
}

// replicationPause pauses the stand-in for d from the load's start.
func replicationPause(d time.Duration) func(context.Context, *Env, *Run) error {
	return func(ctx context.Context, e *Env, run *Run) error {
		if err := e.replication(ctx, "pause"); err != nil {
			return err
		}
		run.Note("replication paused")
		err := sleepCtx(ctx, d)
		if rerr := e.resumeReplication(context.WithoutCancel(ctx)); rerr != nil {
			return errors.Join(err, rerr)
		}
		run.Note("replication resumed after %s", d)
		<-run.LoadDone
		return err
	}
}

// retriedInjected checks that the SDKs retried what the proxies injected:
// every injected error is a failed attempt that the SDK follows with
// another one (backoff included), unless all its attempts failed.
func retriedInjected(e *Env, d Delta) []string {
	injected := int64(0)
	for k, v := range d.Proxy {
		if strings.HasSuffix(k, "/"+string(Throttle)) || strings.HasSuffix(k, "/"+string(ServerError)) || strings.HasSuffix(k, "/"+string(LostAnswer)) {
			injected += v
		}
	}
	e.logf("injected %d AWS errors; the services' SDKs retried %.0f times", injected, d.Retries())
	if injected == 0 {
		return []string{"no AWS error was injected"}
	}
	if d.Retries() < float64(injected)/2 {
		return []string{fmt.Sprintf("the SDKs retried %.0f times for %d injected errors", d.Retries(), injected)}
	}
	return nil
}

// awsRulesFor injects rules into the AWS calls of some processes only.
func awsRulesFor(processes []string, rules ...Rule) func(e *Env) error {
	return func(e *Env) error { return e.Faults.SetAWS(rules, processes...) }
}

// flipUnderLateWrites makes the APIs' DynamoDB calls land late and, a
// third into the load, fails over from ACTIVE/ACTIVE to ACTIVE/PASSIVE on
// sa-east-1, then back to ACTIVE/ACTIVE a few seconds later (the load
// posts to both regions' APIs and retries its 503s). Once every late call
// has landed it reads us-east-1's stream: between its write gate's CLOSED
// record and the OPEN one, no event may have been written there.
func flipUnderLateWrites(delay time.Duration) func(context.Context, *Env, *Run) error {
	return func(ctx context.Context, e *Env, run *Run) error {
		if err := e.Faults.SetAWS([]Rule{{Service: SvcDynamoDB, Kind: Late, Rate: 0.3, Delay: delay}}, apis()...); err != nil {
			return err
		}
		if err := sleepCtx(ctx, run.Scenario.LoadFor/3); err != nil {
			return err
		}
		rep, err := e.failover(ctx, "sa-east-1", "active-passive")
		if err != nil {
			return err
		}
		run.Note("failover to sa-east-1: us-east-1's write gate closed at %s", rep.ClosedAt["us-east-1"].Format(time.RFC3339Nano))
		if err := sleepCtx(ctx, 5*time.Second); err != nil {
			return err
		}
		if _, err := e.failover(ctx, "us-east-1", "active-active"); err != nil {
			return err
		}
		<-run.LoadDone
		if err := sleepCtx(ctx, delay+3*time.Second); err != nil { // every late call landed
			return err
		}
		_ = e.Faults.SetAWS(nil, apis()...)
		inside, err := e.writesWhileGateClosed(ctx, "us-east-1")
		if err != nil {
			return err
		}
		run.Note("us-east-1 stream: %d events written while its write gate was closed", len(inside))
		if len(inside) > 0 {
			return fmt.Errorf("%d events committed in us-east-1 after the failover closed its writes: %v", len(inside), head(inside))
		}
		return nil
	}
}

// failoverReport is the part of salesctl's JSON report the suite reads.
type failoverReport struct {
	OK       bool                 `json:"ok"`
	ClosedAt map[string]time.Time `json:"closed_at"`
}

// failover runs the operator's failover command against the stack.
func (e *Env) failover(ctx context.Context, to, mode string) (failoverReport, error) {
	cmd := exec.CommandContext(ctx, e.Stack.Bin(devstack.Salesctl), "failover", "--to", to, "--mode", mode, "--settle", "2s", "--output", "json")
	cmd.Env = append(append(os.Environ(), e.Stack.MotoEnv()...), "SALESCTL_STACK="+e.Stack.Options().OutputsPath())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var rep failoverReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil || err != nil || !rep.OK {
		return rep, fmt.Errorf("failover to %s (%s): %v %v\n%s%s", to, mode, err, jerr, out.String(), errb.String())
	}
	return rep, nil
}

// writesWhileGateClosed reads region's event store stream in order and
// returns the events written there (INSERTs of its own origin) between a
// CLOSED record of its write gate and the next OPEN one.
func (e *Env) writesWhileGateClosed(ctx context.Context, region string) ([]string, error) {
	recs, err := e.Clients.EventStreamRecords(ctx, region)
	if err != nil {
		return nil, err
	}
	str := devstack.StreamString
	closed, sawGate := false, false
	var inside []string
	for _, r := range recs {
		img := r.Dynamodb.NewImage
		switch {
		case str(img, "sale_id") == store.GateSaleID && str(img, "position") == region:
			sawGate = true
			closed = str(img, store.AttrGateState) == store.GateClosed
		case closed && r.EventName == streamtypes.OperationTypeInsert && str(img, "origin_region") == region &&
			(str(img, "event_type") == string(domain.EventSaleCreated) || str(img, "event_type") == string(domain.EventSaleCancelled)):
			inside = append(inside, str(img, "sale_id")+"/"+str(img, "event_type"))
		}
	}
	if !sawGate {
		return nil, fmt.Errorf("no write gate record of %s in its stream: the failover closed nothing", region)
	}
	return inside, nil
}
