package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/lake"
)

const (
	east = "us-east-1"
	sa   = "sa-east-1"
)

var (
	stk     *devstack.Stack
	clients *devstack.Clients
	ep      devstack.Endpoints
	httpc   = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sales-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if os.Getenv("E2E_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: keeping", dir)
	}
	ports, err := devstack.FreePorts(devstack.DefaultRegions)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	stk, err = devstack.Start(ctx, devstack.Options{
		Dir: dir, Ports: ports, Progress: os.Stderr,
		ReplicationLag: 200 * time.Millisecond, TakeoverDelay: takeoverDelay, ReadyTimeout: 2 * time.Minute,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the local stack did not start:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: local stack ready in %.1fs (dir %s)\n", time.Since(start).Seconds(), dir)
	defer stk.Stop(context.Background())
	ep = stk.Endpoints()
	clients, err = devstack.NewClients(ctx, ep.Moto, stk.Outputs(), awsconfig.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// takeoverDelay is the workers' TAKEOVER_DELAY in the suite's stack: the
// local stack's default. It is shorter than the backlog of a burst and than
// the lags the cross-region scenarios inject, so both regions do process
// the same events, and the suite proves that this changes nothing.
const takeoverDelay = 20 * time.Second

// ---- HTTP ----

type sale struct {
	ID        string `json:"id"`
	Processed bool   `json:"processed"`
	Status    string `json:"status"`
}

func randomSale() string {
	return fmt.Sprintf(`{"product":"e2e %s","amount":%d.%02d}`, uuid.NewString()[:8], 1+rand.IntN(500), rand.IntN(100))
}

// post sends one sale and returns its status, id and the serving region.
func post(ctx context.Context, base, body string) (int, string, string, http.Header, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sales", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var s sale
	_ = json.Unmarshal(b, &s)
	return resp.StatusCode, s.ID, resp.Header.Get("X-Edge-Region"), resp.Header, nil
}

// postMany posts n sales to base with conc workers and returns the ids
// that got a 201.
func postMany(t *testing.T, base string, n, conc int) []string {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range conc {
		wg.Go(func() {
			for range jobs {
				// A client retries a 503/502 or a lost answer with the same
				// Idempotency-Key: never a second sale.
				body, key := randomSale(), uuid.NewString()
				var code int
				var id string
				var err error
				for attempt := 0; attempt < 40; attempt++ {
					code, id, _, err = postKeyed(base, body, key)
					if err == nil && code != http.StatusServiceUnavailable && code != http.StatusBadGateway {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				if err != nil || code != http.StatusCreated {
					t.Errorf("POST %s/sales: %d %v", base, code, err)
					continue
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return ids
}

func getSale(ctx context.Context, id string) (sale, int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.Edge+"/sales/"+id, nil)
	resp, err := httpc.Do(req)
	if err != nil {
		return sale{}, 0, err
	}
	defer resp.Body.Close()
	var s sale
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, resp.StatusCode, err
}

// ---- lakes and stores ----

// lakeIndex maps a sale id to the keys under prefix that hold it.
func lakeIndex(t *testing.T, region, prefix string) map[string][]string {
	t.Helper()
	keys, err := devstack.LakeKeys(context.Background(), clients.S3[region], stk.Outputs().Regions[region].LakeBucket, prefix)
	if err != nil {
		t.Fatalf("list lake %s: %v", region, err)
	}
	out := map[string][]string{}
	for _, k := range keys {
		id := strings.TrimSuffix(k[strings.LastIndex(k, "/")+1:], ".json")
		out[id] = append(out[id], k)
	}
	return out
}

// objectVersions counts versions per key under prefix.
func objectVersions(t *testing.T, region, prefix string) map[string]int {
	t.Helper()
	out := map[string]int{}
	bucket := stk.Outputs().Regions[region].LakeBucket
	in := &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: &prefix}
	for range 1000 {
		res, err := clients.S3[region].ListObjectVersions(context.Background(), in)
		if err != nil {
			t.Fatalf("list versions in %s: %v", region, err)
		}
		for _, v := range res.Versions {
			out[aws.ToString(v.Key)]++
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
	return out
}

func events(t *testing.T, region, id string) []domain.Envelope {
	t.Helper()
	evs, err := store.New(clients.DDB[region], stk.Outputs().Regions[region].EventTable).Load(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatalf("load %s in %s: %v", id, region, err)
	}
	return evs
}

func count(evs []domain.Envelope, typ domain.EventType) int {
	n := 0
	for _, e := range evs {
		if e.EventType == typ {
			n++
		}
	}
	return n
}

// waitInLakes waits until every id has an object under prefix in the lake
// of every region (of the regions given, when some are) and returns how
// long that took.
func waitInLakes(t *testing.T, ids []string, prefix string, timeout time.Duration, regions ...string) time.Duration {
	t.Helper()
	if len(regions) == 0 {
		regions = stk.Regions()
	}
	start := time.Now()
	lastLog := start
	for {
		missing := map[string]int{}
		for _, r := range regions {
			idx := lakeIndex(t, r, prefix)
			for _, id := range ids {
				if len(idx[id]) == 0 {
					missing[r]++
				}
			}
		}
		if len(missing) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s, sales missing from the lakes (%s): %v", timeout, prefix, missing)
		}
		if time.Since(lastLog) > 15*time.Second {
			t.Logf("after %s: still missing from the lakes: %v", time.Since(start).Round(time.Second), missing)
			lastLog = time.Now()
		}
		// Listing a bucket costs the emulator about a second per thousand
		// objects: poll gently.
		time.Sleep(2*time.Second + time.Duration(len(ids))*10*time.Millisecond)
	}
}

// checkExactlyOnce asserts invariant 1 for ids, whatever processed them
// where: in every region's store the same events (the stores converged),
// exactly one eventType event per sale and exactly one SaleProcessed per
// source event; in every region's lake exactly one object per sale under
// prefix, holding exactly the record of the converged event, written once
// (rewritten only for the sales in merged: two regions wrote two versions
// of the operation and the lake converged on the earliest). A sale missing
// anywhere fails as surely as a doubled one.
func checkExactlyOnce(t *testing.T, ids []string, prefix string, eventType domain.EventType, merged ...string) {
	t.Helper()
	mayRewrite := map[string]bool{}
	for _, id := range merged {
		mayRewrite[id] = true
	}
	// The stores: converged, one event of the type, one SaleProcessed per
	// source event, in every region.
	want := map[string][]byte{} // sale → the lake record of its converged event
	// One deadline for every sale: a broken build fails in a minute, not
	// in a minute per sale.
	deadline := time.Now().Add(time.Minute)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// Every region's events, polled together until the regions agree
			// (a region's early state is not the converged one).
			byRegion := eventually(t, max(time.Until(deadline), time.Second), fmt.Sprintf("sale %s: one %s and every source event processed in every region, the stores converged", id, eventType), func() (map[string][]domain.Envelope, bool) {
				out := map[string][]domain.Envelope{}
				ok := true
				for _, r := range stk.Regions() {
					out[r] = events(t, r, id)
					ok = ok && count(out[r], eventType) == 1 && devstack.AllSourcesProcessed(out[r]) && sameEvents(out[stk.Regions()[0]], out[r])
				}
				return out, ok
			})
			first := byRegion[stk.Regions()[0]]
			for _, r := range stk.Regions() {
				evs := byRegion[r]
				if n := count(evs, eventType); n != 1 {
					t.Errorf("%s: sale %s has %d %s events, want 1", r, id, n, eventType)
				}
				srcs := map[uuid.UUID]int{}
				for _, e := range evs {
					if p, ok := e.Data.(domain.SaleProcessed); ok {
						srcs[p.SourceEventID]++
					}
				}
				for _, e := range evs {
					if e.EventType != domain.EventSaleCreated && e.EventType != domain.EventSaleCancelled {
						continue
					}
					if n := srcs[e.EventID]; n != 1 {
						t.Errorf("%s: sale %s: %s %s processed %d times, want once", r, id, e.EventType, e.EventID, n)
					}
				}
				if !sameEvents(first, evs) {
					t.Errorf("sale %s: the stores did not converge: %s holds %s, %s holds %s", id, stk.Regions()[0], describe(first), r, describe(evs))
				}
			}
			for _, e := range first {
				if e.EventType == eventType {
					b, err := lake.Content(e)
					if err != nil {
						t.Errorf("sale %s: %v", id, err)
					}
					mu.Lock()
					want[id] = b
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// The lakes: one object per sale, the converged record, written once.
	for _, r := range stk.Regions() {
		idx := lakeIndex(t, r, prefix)
		versions := objectVersions(t, r, prefix)
		objects, missing, doubled, rewritten, differ := 0, 0, 0, 0, 0
		for _, id := range ids {
			keys := idx[id]
			objects += len(keys)
			switch {
			case len(keys) == 0:
				missing++
				t.Errorf("%s: sale %s has no object under %s", r, id, prefix)
				continue
			case len(keys) > 1:
				doubled++
				t.Errorf("%s: sale %s under %d keys: %v", r, id, len(keys), keys)
			}
			if versions[keys[0]] != 1 && !mayRewrite[id] {
				rewritten++
				t.Errorf("%s: %s has %d versions", r, keys[0], versions[keys[0]])
			}
			if got := lakeObject(t, r, keys[0]); want[id] != nil && !bytes.Equal(got, want[id]) {
				differ++
				t.Errorf("%s: %s holds %s, want the converged event's record %s", r, keys[0], got, want[id])
			}
		}
		t.Logf("%s lake: %d objects under %s for %d sales: %d missing, %d doubled, %d rewritten, %d not the converged record",
			r, objects, prefix, len(ids), missing, doubled, rewritten, differ)
	}
}

// sameEvents reports whether two regions hold the same versions of the
// same events.
func sameEvents(a, b []domain.Envelope) bool {
	if len(a) != len(b) {
		return false
	}
	byPos := map[string]domain.Envelope{}
	for _, e := range a {
		byPos[e.Position()] = e
	}
	for _, e := range b {
		if o, ok := byPos[e.Position()]; !ok || !domain.SameVersion(o, e) {
			return false
		}
	}
	return true
}

func describe(evs []domain.Envelope) string {
	var parts []string
	for _, e := range evs {
		parts = append(parts, fmt.Sprintf("%s@%s by %s at %s", e.EventType, e.Position(), e.OriginRegion, e.OccurredAt.Format(time.RFC3339Nano)))
	}
	return strings.Join(parts, ", ")
}

func lakeObject(t *testing.T, region, key string) []byte {
	t.Helper()
	bucket := stk.Outputs().Regions[region].LakeBucket
	out, err := clients.S3[region].GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Errorf("get %s in %s: %v", key, region, err)
		return nil
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

// eventually polls f until it reports done or d passes; on the time-out it
// fails the test, naming what it waited for, and returns the last value.
func eventually[T any](t *testing.T, d time.Duration, what string, f func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Errorf("timed out after %s waiting for %s", d, what)
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func checkAllProcessedByGet(t *testing.T, ids []string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	bad := 0
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s := eventually(t, 20*time.Second, "GET /sales/"+id+" to show processed", func() (sale, bool) {
				s, code, err := getSale(context.Background(), id)
				return s, err == nil && code == http.StatusOK && s.Processed
			})
			if !s.Processed {
				mu.Lock()
				bad++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d GETs do not show processed: true", bad, len(ids))
	}
}

// ---- metrics ----

func scrape(t *testing.T, url string) devstack.Metrics {
	t.Helper()
	m, err := devstack.Scrape(context.Background(), url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return m
}

func metric(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	return scrape(t, url).Sum(name, labels...)
}

// ---- the failover command ----

type failoverReport struct {
	OK           bool          `json:"ok"`
	WritesClosed time.Duration `json:"writes_closed_ns"`
	Total        time.Duration `json:"total_ns"`
	Steps        []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"steps"`
}

// salesctl runs the operator CLI against the stack and returns its stdout.
func salesctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(stk.Bin(devstack.Salesctl), args...)
	cmd.Env = append(append(os.Environ(), stk.MotoEnv()...), "SALESCTL_STACK="+stk.Options().OutputsPath())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("salesctl %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func failover(t *testing.T, to, mode string, extra ...string) failoverReport {
	t.Helper()
	args := append([]string{"failover", "--to", to, "--mode", mode, "--settle", (2 * time.Second).String(), "--output", "json"}, extra...)
	out, err := salesctl(t, args...)
	var rep failoverReport
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("failover report: %v\n%s (%v)", jerr, out, err)
	}
	if err != nil || !rep.OK {
		t.Fatalf("failover to %s (%s) failed: %v", to, mode, err)
	}
	return rep
}

// activeActive puts the stack back to ACTIVE/ACTIVE with every process up
// (and running: a test may have frozen one) and replication flowing.
func activeActive(t *testing.T) {
	t.Helper()
	for _, p := range stk.Processes() {
		if p.Running() {
			_ = p.Signal(syscall.SIGCONT)
		}
	}
	if names, err := stk.RestartDead(context.Background()); err != nil {
		t.Fatalf("restart %v: %v", names, err)
	}
	replication(t, "resume")
	failover(t, east, "active-active")
}

// replication pauses or resumes the replication stand-in (as a network
// partition between the regions' tables would).
func replication(t *testing.T, action string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ep.Replication+"/"+action, nil)
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("replication %s: %v", action, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replication %s: %d", action, resp.StatusCode)
	}
}

// awsRequests sums aws_requests_total of the services (APIs, publishers,
// workers; not the replication stand-in, whose copies are not requests in
// AWS) by "Service.Operation".
func awsRequests(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, p := range stk.Processes() {
		if p.Region == "" || p.MetricsURL == "" || !p.Running() {
			continue
		}
		m, err := devstack.Scrape(context.Background(), p.MetricsURL)
		if err != nil {
			continue
		}
		for k, v := range m.AWSRequests() {
			out[k] += v
		}
	}
	return out
}

// perTime are calls made per unit of time, not per sale: stream polling
// (free on AWS, where Lambda polls), state refreshes, long polls.
var perTime = map[string]bool{
	"DynamoDB Streams.GetRecords": true, "DynamoDB Streams.GetShardIterator": true, "DynamoDB Streams.DescribeStream": true,
	"DynamoDB.DescribeTable": true, "SSM.GetParameter": true, "SQS.ReceiveMessage": true, "DynamoDB.Query": true,
}
