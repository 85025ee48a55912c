package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/lake"
)

// The scenarios of cross-region exactly-once: the same operation done in
// both regions, and both regions processing the same events, at the
// workers' default takeover delay and with injected lags longer than it.

// (a) A client retries a keyed create, and a cancel, in the other region
// before the first attempt replicated (here: replication paused, as in a
// partition between the regions' tables), with the same body and with
// another body. Each region answers 201 (neither can see the other); after
// replication the stores hold one SaleCreated and one SaleCancelled per
// sale, each the earliest version, every lake one object per sale with that
// version's record, one SaleProcessed per source event, and every
// different-body conflict is recorded in the lakes for an operator.
func TestKeyedCreateAndCancelRetriedInTheOtherRegion(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	conflictsBefore := conflictsMetric(t)
	replication(t, "pause")
	const same, other = 4, 3
	type pair struct {
		key, body, otherBody, id string
	}
	var pairs []pair
	for i := range same + other {
		p := pair{key: "retry-" + uuid.NewString(), body: randomSale()}
		p.otherBody = p.body
		if i >= same {
			p.otherBody = randomSale()
		}
		pairs = append(pairs, p)
	}
	for i := range pairs {
		p := &pairs[i]
		code, id, _, err := postKeyed(ep.API[east], p.body, p.key)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("POST to %s: %d %v", east, code, err)
		}
		code2, id2, _, err := postKeyed(ep.API[sa], p.otherBody, p.key)
		if err != nil || code2 != http.StatusCreated || id2 != id {
			t.Fatalf("the retry in %s: %d %v (id %s, first %s): want 201 and the same sale id", sa, code2, err, id2, id)
		}
		p.id = id
	}
	// Cancel each sale in both regions (each sees its own version).
	var ids []string
	for _, p := range pairs {
		ids = append(ids, p.id)
		for _, r := range stk.Regions() {
			if code := retrying(context.Background(), http.MethodDelete, ep.API[r]+"/sales/"+p.id); code != http.StatusNoContent {
				t.Fatalf("DELETE %s in %s: %d", p.id, r, code)
			}
		}
	}
	// Both regions processed their own versions meanwhile; then the
	// partition heals. Each region receives the other's versions (SNS is
	// not partitioned) after the takeover delay and merges them: it
	// records each conflict in its lake, and the stores and lakes end on
	// the earliest versions.
	waitInLakes(t, ids, "sales/", 2*time.Minute)
	replication(t, "resume")
	waitInLakes(t, ids, "cancellations/", 2*time.Minute)
	records := eventually(t, 2*time.Minute, "every conflict record in every lake (each region merged both operations of each sale)", func() (map[string]map[string][]string, bool) {
		out := map[string]map[string][]string{}
		done := true
		for _, r := range stk.Regions() {
			out[r] = lakeIndex(t, r, lake.PrefixConflicts+"/")
			for _, p := range pairs {
				for _, typ := range []domain.EventType{domain.EventSaleCreated, domain.EventSaleCancelled} {
					done = done && len(out[r][p.id+"."+string(typ)]) == 1
				}
			}
		}
		return out, done
	})
	for _, r := range stk.Regions() {
		for _, p := range pairs {
			for _, typ := range []domain.EventType{domain.EventSaleCreated, domain.EventSaleCancelled} {
				keys := records[r][p.id+"."+string(typ)]
				if len(keys) != 1 {
					t.Errorf("%s: %d %s conflict records for %s, want 1", r, len(keys), typ, p.id)
					continue
				}
				kind := lake.ConflictRetry
				if typ == domain.EventSaleCreated && p.body != p.otherBody {
					kind = lake.ConflictPayload
				}
				if body := string(lakeObject(t, r, keys[0])); !strings.Contains(body, `"kind":"`+kind+`"`) {
					t.Errorf("%s: conflict record %s: %s, want kind %s", r, keys[0], body, kind)
				}
			}
		}
	}
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated, ids...)
	checkExactlyOnce(t, ids, "cancellations/", domain.EventSaleCancelled, ids...)
	for _, p := range pairs {
		for _, r := range stk.Regions() {
			for _, e := range events(t, r, p.id) {
				if (e.EventType == domain.EventSaleCreated || e.EventType == domain.EventSaleCancelled) && e.OriginRegion != east {
					t.Errorf("%s: sale %s: %s converged on the %s version, want the earliest (%s)", r, p.id, e.EventType, e.OriginRegion, east)
				}
			}
		}
	}
	// Every region counts each of its merges: two operations per sale.
	if got, want := conflictsMetric(t)-conflictsBefore, float64(2*len(pairs)*len(stk.Regions())); got < want {
		t.Errorf("sales_worker_version_conflicts_total grew by %.0f, want at least %.0f (two operations per sale, merged in each region)", got, want)
	}
}

func conflictsMetric(t *testing.T) float64 {
	t.Helper()
	n := 0.0
	for _, r := range stk.Regions() {
		n += metric(t, ep.Worker[r]+"/metrics", "sales_worker_version_conflicts_total")
	}
	return n
}

// (b) Replication stops for longer than the takeover delay while sales
// arrive in one region: the other region, seeing no completed claim, takes
// every one of them over while their owner processes them too. Both lakes
// hold each sale once, and each source event has one SaleProcessed.
func TestReplicationPausedLongerThanTheTakeoverDelay(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	before := processedByRegion(t)
	replication(t, "pause")
	const n = 8
	ids := postMany(t, ep.API[east], n, 4)
	pause := takeoverDelay + 15*time.Second
	t.Logf("replication paused for %s (takeover delay %s)", pause, takeoverDelay)
	time.Sleep(pause)
	// Both regions processed: us-east-1 its own sales at once, sa-east-1
	// every one after the delay (the claims could not replicate).
	waitInLakes(t, ids, "sales/", 2*time.Minute)
	took := diff(processedByRegion(t), before)
	replication(t, "resume")
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	t.Logf("processed by region: %v", took)
	if took[sa] < n {
		t.Errorf("sa-east-1 processed %.0f of the %d sales during the pause: the race this test exists for did not happen", took[sa], n)
	}
}

// (c) The origin region's workers stop for longer than the takeover delay
// (a deploy, a crash loop) and start again while the other region is
// taking their sales over.
func TestOriginWorkersStoppedLongerThanTheTakeoverDelay(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	worker := stk.Process(devstack.Worker + "/" + east)
	before := processedByRegion(t)
	if err := worker.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const n = 8
	ids := postMany(t, ep.API[east], n, 4)
	time.Sleep(takeoverDelay + 2*time.Second)
	if err := worker.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitInLakes(t, ids, "sales/", 2*time.Minute)
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	took := diff(processedByRegion(t), before)
	t.Logf("processed by region: %v", took)
	if took[sa] == 0 {
		t.Errorf("sa-east-1 took none of the stopped region's sales over")
	}
}

// (d) A cancellation reaches the workers before its sale does (its
// publisher is frozen; the cancellation arrives as SNS would deliver it,
// out of order), at first processing. Both are processed once, in both
// lakes, and the sale folds CANCELLED and processed.
func TestCancellationDeliveredBeforeItsSale(t *testing.T) {
	activeActive(t)
	t.Cleanup(func() { activeActive(t) })
	runner := stk.Process(devstack.Runner + "/" + east)
	if err := runner.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ids := postMany(t, ep.API[east], 3, 3)
	for _, id := range ids {
		if code := retrying(context.Background(), http.MethodDelete, ep.API[east]+"/sales/"+id); code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", id, code)
		}
	}
	for _, id := range ids {
		for _, e := range events(t, east, id) {
			if e.EventType == domain.EventSaleCancelled {
				for _, r := range stk.Regions() {
					sendEvent(t, r, e, 0)
				}
			}
		}
	}
	waitInLakes(t, ids, "cancellations/", 2*time.Minute)
	for _, r := range stk.Regions() {
		if idx := lakeIndex(t, r, "sales/"); len(idx[ids[0]]) != 0 {
			t.Fatalf("%s processed the sale before its publisher ran: the cancellation was not first", r)
		}
	}
	if err := runner.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitInLakes(t, ids, "sales/", 2*time.Minute)
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	checkExactlyOnce(t, ids, "cancellations/", domain.EventSaleCancelled)
	for _, id := range ids {
		s := eventually(t, 20*time.Second, "sale "+id+" to read CANCELLED and processed", func() (sale, bool) {
			s, code, err := getSale(context.Background(), id)
			return s, err == nil && code == http.StatusOK && s.Processed && s.Status == "CANCELLED"
		})
		if s.Status != "CANCELLED" || !s.Processed {
			t.Errorf("sale %s reads %+v", id, s)
		}
	}
}

// Through the edge, clients (each on its own loopback address, as distinct
// source IPs) read their own writes: a GET right after a 201 never finds
// 404, because the edge keeps each client on one region, as Global
// Accelerator's source-IP affinity does. The clients spread over both
// regions.
func TestClientsReadTheirOwnWritesThroughTheEdge(t *testing.T) {
	activeActive(t)
	const clientsN, each = 8, 5
	var mu sync.Mutex
	regions := map[string]int{}
	notFound, failed := 0, 0
	var wg sync.WaitGroup
	for c := range clientsN {
		wg.Go(func() {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+c))}
			client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
			for range each {
				req, _ := http.NewRequest(http.MethodPost, ep.Edge+"/sales", strings.NewReader(randomSale()))
				req.Header.Set("Idempotency-Key", uuid.NewString())
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				var s sale
				_ = decodeJSON(resp, &s)
				resp.Body.Close()
				region := resp.Header.Get("X-Edge-Region")
				if resp.StatusCode != http.StatusCreated {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				get, err := client.Get(ep.Edge + "/sales/" + s.ID)
				mu.Lock()
				regions[region]++
				if err != nil || get.StatusCode != http.StatusOK {
					notFound++
					t.Errorf("client %d: GET %s right after its 201 from %s: %v %v", c, s.ID, region, err, statusOf(get))
				}
				mu.Unlock()
				if get != nil {
					get.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d clients × %d sales through the edge: by region %v, %d GETs not found, %d POSTs failed", clientsN, each, regions, notFound, failed)
	if failed > 0 {
		t.Errorf("%d POSTs failed", failed)
	}
	if len(regions) < 2 {
		t.Errorf("all clients went to one region (%v): the edge must spread clients by the dials", regions)
	}
}

func statusOf(r *http.Response) string {
	if r == nil {
		return "no response"
	}
	return fmt.Sprint(r.StatusCode)
}
