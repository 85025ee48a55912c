package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/uuid"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/domain"
)

// Invariant 1: a burst of sales posted across both regions at once
// (ACTIVE/ACTIVE) ends up exactly once in each region's lake and GET shows
// them processed. The burst's backlog outlasts the takeover delay, so each
// region also takes over some of the other's sales while their owner is
// still on them: the events are processed in both regions, and that must
// change nothing.
func TestActiveActiveBurstExactlyOnceInEachLake(t *testing.T) {
	activeActive(t)
	before := processedByRegion(t)
	const n = 200
	start := time.Now()
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range stk.Regions() {
		wg.Go(func() {
			got := postMany(t, ep.API[r], n/len(stk.Regions()), 6)
			mu.Lock()
			ids = append(ids, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != n {
		t.Fatalf("%d of %d sales accepted", len(ids), n)
	}
	posted := time.Since(start)
	inLakes := waitInLakes(t, ids, "sales/", 15*time.Minute)
	t.Logf("%d sales posted in %s (%.0f/s); all in both lakes %s later", n, posted.Round(time.Millisecond), float64(n)/posted.Seconds(), inLakes.Round(time.Millisecond))
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	checkAllProcessedByGet(t, ids)
	after := processedByRegion(t)
	t.Logf("processed by each region (both regions process an event when the owner's backlog outlasts the %s takeover delay): %v", takeoverDelay, diff(after, before))
}

// processedByRegion is each region worker's count of processed events.
func processedByRegion(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range stk.Regions() {
		out[r] = metric(t, ep.Worker[r]+"/metrics", "sales_worker_messages_processed_total")
	}
	return out
}

func diff(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		out[k] = v - b[k]
	}
	return out
}

// Invariant 3: a replicated stream record is never published again: across
// both publishers, SNS publishes equal the events written, one each.
func TestReplicatedRecordsAreNeverRepublished(t *testing.T) {
	activeActive(t)
	type snap struct{ published, replicated, batchRequests float64 }
	read := func() map[string]snap {
		out := map[string]snap{}
		for _, r := range stk.Regions() {
			m := scrape(t, ep.Runner[r]+"/metrics")
			out[r] = snap{
				published:     m.Sum("publisher_records_total", "outcome=published"),
				replicated:    m.Sum("publisher_records_total", "outcome=skipped_replicated"),
				batchRequests: m.Sum("aws_requests_total", "service=SNS", "operation=PublishBatch"),
			}
		}
		return out
	}
	before := read()
	reqBefore := awsRequests(t)
	const n = 40
	var ids []string
	for _, r := range stk.Regions() {
		ids = append(ids, postMany(t, ep.API[r], n/2, 4)...)
	}
	waitInLakes(t, ids, "sales/", 2*time.Minute)
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	// Each publisher must publish exactly the INSERTs its region wrote
	// (origin_region = its region) and skip every INSERT replicated in from
	// the other region. Both are counted from the regions' streams. (A
	// SaleProcessed that both regions wrote, one taking over from the
	// other, is one item but two INSERTs, one per region: each publishes
	// its own.)
	want := map[string]inserts{}
	eventually(t, 45*time.Second, "every publisher to have seen its own and the replicated INSERTs", func() (struct{}, bool) {
		after := read()
		done := true
		for _, r := range stk.Regions() {
			want[r] = streamInserts(t, r, ids)
			if after[r].published-before[r].published < float64(want[r].own) || after[r].replicated-before[r].replicated < float64(want[r].foreign) {
				done = false
			}
		}
		return struct{}{}, done
	})
	after := read()
	var published, requests float64
	for _, r := range stk.Regions() {
		p, skipped := after[r].published-before[r].published, after[r].replicated-before[r].replicated
		published += p
		requests += after[r].batchRequests - before[r].batchRequests
		t.Logf("%s: stream INSERTs of these sales: %d own, %d replicated; published %.0f, skipped as replicated %.0f", r, want[r].own, want[r].foreign, p, skipped)
		if p != float64(want[r].own) {
			t.Errorf("%s published %.0f messages for %d own INSERTs: a replicated record was published, or an own one was not", r, p, want[r].own)
		}
		if skipped != float64(want[r].foreign) {
			t.Errorf("%s skipped %.0f records as replicated, want the %d replicated INSERTs", r, skipped, want[r].foreign)
		}
	}
	reqAfter := awsRequests(t)
	perSale, total := 0.0, 0.0
	var lines []string
	for k, v := range reqAfter {
		d := v - reqBefore[k]
		if d <= 0 {
			continue
		}
		total += d
		if !perTime[k] {
			perSale += d
			lines = append(lines, fmt.Sprintf("%s=%.2f", k, d/n))
		}
	}
	sort.Strings(lines)
	t.Logf("SNS messages published %.0f in %.0f PublishBatch requests; AWS requests per sale end to end (both regions, without polling): %.2f [%s]; with polling and GETs at this pace: %.2f",
		published, requests, perSale/n, strings.Join(lines, " "), total/n)
	if requests > published {
		t.Errorf("%.0f PublishBatch requests for %.0f messages", requests, published)
	}
}

type inserts struct{ own, foreign int }

// streamInserts counts the INSERT records of the given sales in region's
// event store stream, by whether they were written there (own) or
// replicated in (foreign). Voids and gates are no events.
func streamInserts(t *testing.T, region string, ids []string) inserts {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	recs, err := clients.EventStreamRecords(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	var n inserts
	for _, r := range recs {
		img := r.Dynamodb.NewImage
		origin := devstack.StreamString(img, "origin_region")
		if r.EventName != streamtypes.OperationTypeInsert || origin == "" || !want[devstack.StreamString(img, "sale_id")] {
			continue
		}
		if origin == region {
			n.own++
		} else {
			n.foreign++
		}
	}
	return n
}

// Invariants 2 and 4: ACTIVE/PASSIVE refuses writes in the passive region
// and its worker deletes nothing unprocessed; a flip under steady traffic
// loses no sale and processes none twice.
func TestActivePassiveAndFlipUnderTraffic(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	failover(t, east, "active-passive")

	// Writes to the passive region: 503 with Retry-After, nothing written.
	code, _, _, h, err := post(context.Background(), ep.API[sa], randomSale())
	if err != nil || code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("POST to the passive region: %d %v (Retry-After %q), want 503 with Retry-After", code, err, h.Get("Retry-After"))
	}
	workerSA := ep.Worker[sa] + "/metrics"
	processedBefore := metric(t, workerSA, "sales_worker_messages_processed_total")
	deletedBefore := metric(t, workerSA, "sales_worker_messages_deleted_total")
	elsewhereBefore := metric(t, workerSA, "sales_worker_messages_duplicate_total", "where=elsewhere")
	warm := postMany(t, ep.Edge, 20, 4)
	waitInLakes(t, warm, "sales/", 2*time.Minute)
	checkExactlyOnce(t, warm, "sales/", domain.EventSaleCreated)
	// The passive worker must not have processed anything, and may only
	// have deleted messages whose events were COMPLETED by the other region.
	eventually(t, 20*time.Second, "the passive worker to delete the messages completed elsewhere", func() (struct{}, bool) {
		return struct{}{}, metric(t, workerSA, "sales_worker_messages_deleted_total")-deletedBefore >= float64(len(warm))
	})
	processed := metric(t, workerSA, "sales_worker_messages_processed_total") - processedBefore
	deleted := metric(t, workerSA, "sales_worker_messages_deleted_total") - deletedBefore
	elsewhere := metric(t, workerSA, "sales_worker_messages_duplicate_total", "where=elsewhere") - elsewhereBefore
	t.Logf("passive worker: processed %.0f, deleted %.0f, all completed elsewhere: %.0f", processed, deleted, elsewhere)
	if processed != 0 || deleted != elsewhere {
		t.Errorf("passive worker processed %.0f and deleted %.0f messages of which %.0f were completed elsewhere", processed, deleted, elsewhere)
	}

	// Steady traffic through the edge while the failover flips the regions.
	ctx, stop := context.WithCancel(context.Background())
	traffic := startTraffic(ctx, t, ep.Edge, 200*time.Millisecond)
	time.Sleep(4 * time.Second)
	rep := failover(t, sa, "active-passive")
	time.Sleep(4 * time.Second)
	stop()
	res := traffic.wait()
	t.Logf("flip us-east-1 → sa-east-1 under traffic: command %s, writes closed %s; clients saw 503s for %s (%d retried answers); %d sales accepted, %d given up",
		rep.Total.Round(time.Millisecond), rep.WritesClosed.Round(time.Millisecond), res.unavailable.Round(time.Millisecond), res.retried, len(res.ids), res.failed)
	if res.failed > 0 {
		t.Errorf("%d sales were never accepted", res.failed)
	}
	// Sales accepted by us-east-1 just before the flip, not processed there
	// before it turned PASSIVE, are sa-east-1's to take over.
	waitInLakes(t, res.ids, "sales/", 3*time.Minute)
	checkExactlyOnce(t, res.ids, "sales/", domain.EventSaleCreated)
	checkAllProcessedByGet(t, res.ids)
}

type trafficResult struct {
	ids         []string
	failed      int
	retried     int
	unavailable time.Duration
}

type trafficRun struct {
	done chan trafficResult
}

func (r trafficRun) wait() trafficResult { return <-r.done }

// startTraffic posts one sale every interval until ctx ends, retrying each
// one on 503/502 as a client honouring Retry-After would (bounded).
func startTraffic(ctx context.Context, t *testing.T, base string, interval time.Duration) trafficRun {
	run := trafficRun{done: make(chan trafficResult, 1)}
	go func() {
		var mu sync.Mutex
		var res trafficResult
		var first, last time.Time
		var wg sync.WaitGroup
		tick := time.NewTicker(interval)
		defer tick.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
			}
			wg.Go(func() {
				body := randomSale()
				key := uuid.NewString()
				for attempt := 0; attempt < 120; attempt++ {
					code, id, _, err := postKeyed(base, body, key)
					if err == nil && code == http.StatusCreated {
						mu.Lock()
						res.ids = append(res.ids, id)
						mu.Unlock()
						return
					}
					mu.Lock()
					res.retried++
					now := time.Now()
					if first.IsZero() {
						first = now
					}
					last = now
					mu.Unlock()
					time.Sleep(250 * time.Millisecond)
				}
				mu.Lock()
				res.failed++
				mu.Unlock()
			})
		}
		wg.Wait()
		if !first.IsZero() {
			res.unavailable = last.Sub(first)
		}
		run.done <- res
	}()
	return run
}

// postKeyed posts with an Idempotency-Key, so a retry after a lost answer
// can never create a second sale.
func postKeyed(base, body, key string) (int, string, string, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/sales", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	var s sale
	_ = decodeJSON(resp, &s)
	return resp.StatusCode, s.ID, resp.Header.Get("X-Edge-Region"), nil
}

// Invariant 5: every process of a region is killed after it accepted sales
// that replicated but were not processed; after a failover the survivor
// processes every one of them.
func TestRegionLossSurvivorProcessesEverySale(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	worker := stk.Process(devstack.Worker + "/" + east)
	survivor := stk.Process(devstack.Worker + "/" + sa)
	runner := ep.Runner[east] + "/metrics"
	publishedBefore := metric(t, runner, "publisher_records_total", "outcome=published")
	// Freeze both workers: us-east-1's sales stay unprocessed there, and
	// sa-east-1 does not receive (and defer) them before the loss.
	for _, w := range []*devstack.Process{worker, survivor} {
		if err := w.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	const n = 20
	ids := postMany(t, ep.API[east], n, 4)
	if len(ids) != n {
		t.Fatalf("%d of %d accepted", len(ids), n)
	}
	// Wait until they replicated to sa-east-1's store and were published
	// (so sa-east-1's queue has them), then lose the region.
	eventually(t, 30*time.Second, "us-east-1 to publish the sales", func() (struct{}, bool) {
		return struct{}{}, metric(t, runner, "publisher_records_total", "outcome=published")-publishedBefore >= n
	})
	for _, id := range ids {
		evs := eventually(t, 30*time.Second, "sale "+id+" replicated to sa-east-1", func() ([]domain.Envelope, bool) {
			evs := events(t, sa, id)
			return evs, count(evs, domain.EventSaleCreated) == 1
		})
		if count(evs, domain.EventSaleProcessed) != 0 {
			t.Fatalf("sale %s already processed before the region was lost", id)
		}
	}
	killed := stk.KillRegion(east)
	lostAt := time.Now()
	t.Logf("SIGKILLed %v after %d sales accepted, replicated and published, none processed", killed, n)

	rep := failover(t, sa, "active-passive")
	// The survivor's worker was frozen with the messages in its queue;
	// it resumes and takes them over after the takeover delay.
	if err := survivor.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitInLakes(t, ids, "sales/", 3*time.Minute, sa)
	recovered := time.Since(lostAt)
	byRegion := map[string]int{}
	for _, id := range ids {
		for _, e := range events(t, sa, id) {
			if p, ok := e.Data.(domain.SaleProcessed); ok {
				byRegion[p.ProcessedRegion]++
			}
		}
	}
	t.Logf("region loss: failover took %s; all %d sales processed %s after the loss; processed by region: %v",
		rep.Total.Round(time.Millisecond), n, recovered.Round(time.Millisecond), byRegion)
	if byRegion[sa] != n {
		t.Errorf("sa-east-1 processed %d of the %d sales", byRegion[sa], n)
	}
	// The lost region comes back (its processes restarted, replication
	// flowing): its worker finds the sales completed and writes them into
	// its own lake; nothing is processed twice.
	activeActive(t)
	waitInLakes(t, ids, "sales/", 3*time.Minute)
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
}
