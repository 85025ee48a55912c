package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/testing/motoserver"

	"github.com/salesplatform/services/sales-worker/internal/config"
	"github.com/salesplatform/services/sales-worker/internal/consumer"
	"github.com/salesplatform/services/sales-worker/internal/metrics"
	"github.com/salesplatform/services/sales-worker/internal/processing"
	"github.com/salesplatform/services/sales-worker/internal/stacktest"
	"github.com/salesplatform/services/sales-worker/internal/worker"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

const region = "us-east-1"

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

// running is a worker running in this process.
type running struct {
	*worker.Worker
	stop func()
}

func start(t *testing.T, s *stacktest.Stack, cfg config.Config, o worker.Options) *running {
	t.Helper()
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	o.AWS = s.Moto.TestConfig(t, s.Region, awsconfig.Options{Counter: o.Metrics.AWS, APIOptions: []func(*middleware.Stack) error{o.Metrics.TimeAWS}})
	o.Logger = testLogger(t)
	w, err := worker.New(context.Background(), cfg, o)
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	r := &running{Worker: w, stop: func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker run: %v", err)
				}
			case <-time.After(cfg.StopTimeout + 5*time.Second):
				t.Errorf("worker did not stop within its stop timeout")
			}
		})
	}}
	t.Cleanup(r.stop)
	return r
}

func TestRequestsPerProcessedSaleStayUnder3point5(t *testing.T) {
	s := stacktest.New(t, region, stacktest.Options{})
	const sales = 30
	var msgs []stacktest.Message
	for range sales {
		msgs = append(msgs, stacktest.EventMessage(t, s.Sale(t, region, time.Now())))
	}
	s.Send(t, msgs...)

	m := metrics.New()
	cfg := s.Config()
	// Long enough that no heartbeat fires: the count is the steady state.
	cfg.VisibilityTimeout, cfg.Lease = 30*time.Second, 45*time.Second
	w, err := worker.New(context.Background(), cfg, worker.Options{
		AWS: s.Moto.TestConfig(t, region, awsconfig.Options{Counter: m.AWS}), Metrics: m, Logger: testLogger(t), DisableHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Watcher().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ops, reqs := m.AWS.Operations(), m.AWS.Requests()
	for i := range sales / 10 {
		n, err := w.Consumer().Poll(ctx, ctx)
		if err != nil || n != 10 {
			t.Fatalf("poll %d: %d messages, %v; want a full batch", i, n, err)
		}
	}
	gotOps := m.AWS.Operations().Sub(ops)
	gotReqs := m.AWS.Requests().Sub(reqs)
	want := awsconfig.Counts{
		"SQS.ReceiveMessage":          sales / 10,
		"DynamoDB.PutItem":            sales, // the claim
		"S3.PutObject":                sales, // the lake object
		"DynamoDB.TransactWriteItems": sales, // COMPLETED + SaleProcessed
		"SQS.DeleteMessageBatch":      sales / 10,
	}
	if gotOps.String() != want.String() {
		t.Fatalf("operations\n got %s\nwant %s", gotOps, want)
	}
	perSale := float64(gotReqs.Total("")) / sales
	t.Logf("AWS operations per processed sale: %.2f (%s); HTTP requests incl. retries: %.2f", float64(gotOps.Total(""))/sales, gotOps, perSale)
	if perSale > 3.5 {
		t.Fatalf("%.2f AWS requests per processed sale, want at most 3.5 (%s)", perSale, gotReqs)
	}
	if objects := s.Lake(t); len(objects) != sales {
		t.Fatalf("lake holds %d objects, want %d", len(objects), sales)
	}
	if got := testutil.ToFloat64(m.Processed.WithLabelValues("SaleCreated")); got != sales {
		t.Fatalf("processed metric %v, want %d", got, sales)
	}
}

func TestDuplicateDeliveriesToSeveralConsumersProcessOnce(t *testing.T) {
	for _, copies := range []int{2, 5, 50} {
		t.Run(fmt.Sprintf("%d copies", copies), func(t *testing.T) {
			t.Parallel()
			s := stacktest.New(t, region, stacktest.Options{})
			e := s.Sale(t, region, time.Now())
			msgs := make([]stacktest.Message, copies)
			for i := range msgs {
				msgs[i] = stacktest.EventMessage(t, e)
			}
			s.Send(t, msgs...)
			var workers []*running
			for range 3 {
				cfg := s.Config()
				workers = append(workers, start(t, s, cfg, worker.Options{DisableHTTP: true}))
			}
			stacktest.Eventually(t, 60*time.Second, func() (bool, string) {
				n := s.Total(t, s.QueueURL)
				return n == 0, fmt.Sprintf("%d of %d copies still queued", n, copies)
			})
			for _, w := range workers {
				w.stop()
			}
			snapshot(t, s).processedOnce(t, e)
			var processed, duplicate float64
			for _, w := range workers {
				processed += testutil.ToFloat64(w.Metrics().Processed.WithLabelValues("SaleCreated"))
				duplicate += testutil.ToFloat64(w.Metrics().Duplicate.WithLabelValues("here"))
			}
			// A copy whose visibility lapsed on a slow emulator is received
			// (and found duplicate) twice; exactly one processing is the
			// invariant.
			if processed != 1 || duplicate < float64(copies-1) {
				t.Fatalf("metrics: %v processed, %v duplicates; want 1 and at least %d", processed, duplicate, copies-1)
			}
		})
	}
}

// outcome is what a test run left behind: the lake, the claims and the
// DLQ depth, read once.
type outcome struct {
	s      *stacktest.Stack
	lake   map[string]stacktest.Object
	claims map[string]idempotency.Record
	dead   int
}

func snapshot(t *testing.T, s *stacktest.Stack) outcome {
	t.Helper()
	return outcome{s: s, lake: s.Lake(t), claims: s.ClaimRecords(t), dead: s.Total(t, s.DLQURL)}
}

// processedOnce checks invariant 1 for one event: exactly one lake object,
// written once, byte-identical to what the event alone gives, and exactly
// one SaleProcessed; the claim COMPLETED; nothing dead-lettered.
func (o outcome) processedOnce(t *testing.T, e domain.Envelope) {
	t.Helper()
	key, _ := lake.ObjectKey(e, 0)
	want, _ := lake.Content(e)
	if obj, ok := o.lake[key]; !ok || obj.Versions != 1 || string(obj.Body) != string(want) {
		t.Fatalf("lake object %s: %+v (present %v); want one version of %q", key, obj, ok, want)
	}
	if ps := o.s.Processed(t, e.SaleID); len(ps) != 1 {
		t.Fatalf("%d SaleProcessed events for sale %s, want 1", len(ps), e.SaleID)
	}
	if rec := o.claims[e.EventID.String()]; rec.Status != idempotency.StatusCompleted || rec.Result != key {
		t.Fatalf("claim %+v, want COMPLETED with result %s", rec, key)
	}
	if o.dead != 0 {
		t.Fatalf("%d messages in the DLQ", o.dead)
	}
}

func TestPoisonMessagesGoToTheDLQWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	var good []domain.Envelope
	var msgs []stacktest.Message
	for range 5 {
		e := s.Sale(t, region, time.Now())
		good = append(good, e)
		msgs = append(msgs, stacktest.EventMessage(t, e))
	}
	valid := stacktest.EventMessage(t, good[0]).Body
	poison := map[string]stacktest.Message{
		processing.ReasonUndecodable + "/not-json":     {Body: "this is not json"},
		processing.ReasonUndecodable + "/schema":       {Body: `{"product":"O Pequeno Principe","amount":14}`},
		processing.ReasonUndecodable + "/huge":         {Body: `{"pad":"` + strings.Repeat("x", 70<<10) + `"}`},
		processing.ReasonUndecodable + "/unknown-type": {Body: strings.Replace(valid, "SaleCreated", "SaleTeleported", 1)},
		processing.ReasonBadGeneration + "/bad-gen":    {Body: valid, Attrs: map[string]string{processing.AttrReprocessGeneration: "minus one"}},
	}
	// Poison first, so the good messages share batches with it.
	var all []stacktest.Message
	for _, p := range poison {
		all = append(all, p)
	}
	s.Send(t, append(all, msgs...)...)
	cfg := s.Config() // no SQS_SALES_DLQ: found from the redrive policy
	w := start(t, s, cfg, worker.Options{DisableHTTP: true})
	stacktest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := s.Total(t, s.QueueURL)
		return n == 0, fmt.Sprintf("%d messages still queued", n)
	})
	w.stop()

	dead := s.DrainDLQ(t, 20)
	// Keyed by source message: on a slow emulator a poison message can be
	// received again before its delete lands and so arrive twice.
	bySource := map[string]string{}
	bodies := map[string]bool{}
	for _, m := range dead {
		src := m.MessageAttributes[consumer.AttrSourceMessageID].StringValue
		if src == nil {
			t.Fatal("dead-lettered message does not name its source message")
		}
		bySource[*src] = aws.ToString(m.MessageAttributes[consumer.AttrDeadLetterReason].StringValue)
		bodies[aws.ToString(m.Body)] = true
	}
	reasons := map[string]int{}
	for _, r := range bySource {
		reasons[r]++
	}
	want := map[string]int{processing.ReasonUndecodable: 4, processing.ReasonBadGeneration: 1}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("DLQ reasons %v, want %v", reasons, want)
	}
	for _, p := range poison {
		if !bodies[p.Body] {
			t.Errorf("poison body %.40q missing from the DLQ (bodies must travel unchanged)", p.Body)
		}
	}
	out := snapshot(t, s)
	for _, e := range good {
		out.processedOnce(t, e)
	}
	if got := testutil.ToFloat64(w.Metrics().DeadLettered.WithLabelValues(processing.ReasonUndecodable)); got < 4 {
		t.Fatalf("dead-lettered metric %v, want at least 4", got)
	}
}

// failingLake fails every write of one key, as a bucket policy or an S3
// outage for one prefix would.
type failingLake struct {
	processing.Lake
	key string
}

func (f failingLake) Merge(ctx context.Context, e domain.Envelope, generation int) (lake.Merged, error) {
	if key, _ := lake.ObjectKey(e, generation); key == f.key {
		return lake.Merged{}, errors.New("access denied")
	}
	return f.Lake.Merge(ctx, e, generation)
}

func TestAMessageThatKeepsFailingReachesTheDLQByMaxReceiveCount(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{MaxReceiveCount: 3})
	bad := s.Sale(t, region, time.Now())
	ok := s.Sale(t, region, time.Now())
	s.Send(t, stacktest.EventMessage(t, bad), stacktest.EventMessage(t, ok))
	badKey, _ := lake.ObjectKey(bad, 0)
	cfg := s.Config()
	cfg.BackoffBase, cfg.BackoffMax = time.Second, time.Second
	real := lake.NewWriter(s.S3, s.Bucket)
	w := start(t, s, cfg, worker.Options{DisableHTTP: true, Lake: failingLake{Lake: real, key: badKey}})
	stacktest.Eventually(t, 45*time.Second, func() (bool, string) {
		q, d := s.Total(t, s.QueueURL), s.Total(t, s.DLQURL)
		return q == 0 && d == 1, fmt.Sprintf("queue %d, DLQ %d; want 0 and 1", q, d)
	})
	w.stop()
	dead := s.DrainDLQ(t, 5)
	if len(dead) != 1 || aws.ToString(dead[0].Body) != stacktest.EventMessage(t, bad).Body {
		t.Fatalf("DLQ holds %d messages, want the failing one", len(dead))
	}
	if failed := testutil.ToFloat64(w.Metrics().Failed.WithLabelValues(processing.StageLake)); failed < 1 || failed > 3 {
		t.Fatalf("%v failed attempts, want 1 to 3 (maxReceiveCount 3 bounds them)", failed)
	}
	if _, held := s.ClaimRecords(t)[bad.EventID.String()]; held {
		t.Fatal("the failing message left a claim behind")
	}
	if len(s.Processed(t, bad.SaleID)) != 0 {
		t.Fatal("the failing sale was recorded as processed")
	}
	snapshot(t, s).processedOnce(t, ok)
}

func TestPassiveRegionKeepsEventsQueuedUntilItTurnsActive(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{State: "PASSIVE"})
	const total, elsewhere = 100, 10
	var events []domain.Envelope
	var msgs []stacktest.Message
	for i := range total {
		e := s.Sale(t, region, time.Now())
		if i < elsewhere {
			s.CompleteElsewhere(t, e, "sa-east-1")
		}
		events = append(events, e)
		msgs = append(msgs, stacktest.EventMessage(t, e))
	}
	s.Send(t, msgs...)
	cfg := s.Config()
	cfg.PassiveVisibility = 60 * time.Second // longer than this test waits: only unparking brings them back
	w := start(t, s, cfg, worker.Options{DisableHTTP: true})
	m := w.Metrics()
	stacktest.Eventually(t, 60*time.Second, func() (bool, string) {
		gone := testutil.ToFloat64(m.Duplicate.WithLabelValues("elsewhere"))
		// A slow batch can let a message reappear and be parked twice;
		// what matters is that all of them are parked and none is lost.
		parked := testutil.ToFloat64(m.Deferred.WithLabelValues(processing.DeferPassive))
		visible, _ := s.Depth(t, s.QueueURL)
		return gone >= elsewhere && parked >= total-elsewhere && visible == 0,
			fmt.Sprintf("%v deleted as completed elsewhere, %v parked, %d visible", gone, parked, visible)
	})
	if n := s.Total(t, s.QueueURL); n != total-elsewhere {
		t.Fatalf("%d messages queued while PASSIVE, want %d (none deleted but those completed elsewhere)", n, total-elsewhere)
	}
	// Every region writes its own lake: the events completed elsewhere,
	// and only those, are in this one.
	if objects := s.Lake(t); len(objects) != elsewhere {
		t.Fatalf("a passive region wrote %d lake objects, want the %d completed elsewhere", len(objects), elsewhere)
	}
	if claims := s.ClaimRecords(t); len(claims) != elsewhere {
		t.Fatalf("%d claims while PASSIVE, want only the %d staged", len(claims), elsewhere)
	}

	s.SetState(t, "ACTIVE")
	stacktest.Eventually(t, 45*time.Second, func() (bool, string) {
		n := s.Total(t, s.QueueURL)
		return n == 0, fmt.Sprintf("%d messages still queued after the flip", n)
	})
	w.stop()
	if got := testutil.ToFloat64(m.Unparked); got < total-elsewhere {
		t.Fatalf("%v unparked, want every parked message (%d)", got, total-elsewhere)
	}
	objects := s.Lake(t)
	claims := s.ClaimRecords(t)
	for i, e := range events {
		if rec := claims[e.EventID.String()]; rec.Status != idempotency.StatusCompleted {
			t.Fatalf("event %d: claim %+v, want COMPLETED", i, rec)
		}
		key, _ := lake.ObjectKey(e, 0)
		ps := s.Processed(t, e.SaleID)
		if i < elsewhere {
			if o := objects[key]; o.Versions != 1 || len(ps) != 0 {
				t.Fatalf("event %d was completed elsewhere: %d lake versions here, %d SaleProcessed; want 1 and none", i, o.Versions, len(ps))
			}
			continue
		}
		if o := objects[key]; o.Versions != 1 || len(ps) != 1 {
			t.Fatalf("event %d: %d lake versions, %d SaleProcessed; want 1 and 1", i, o.Versions, len(ps))
		}
	}
}

func TestActiveActiveTakesOverOtherRegionEventsOnlyAfterTheDelay(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	const otherRegion = "sa-east-1"
	var own, foreign []domain.Envelope
	var msgs []stacktest.Message
	for range 3 {
		e := s.Sale(t, region, time.Now())
		own = append(own, e)
		msgs = append(msgs, stacktest.EventMessage(t, e))
		f := s.Sale(t, otherRegion, time.Now())
		foreign = append(foreign, f)
		msgs = append(msgs, stacktest.EventMessage(t, f))
	}
	doneThere := s.Sale(t, otherRegion, time.Now())
	s.CompleteElsewhere(t, doneThere, otherRegion)
	msgs = append(msgs, stacktest.EventMessage(t, doneThere))
	s.Send(t, msgs...)
	cfg := s.Config()
	// Long enough that the worker's first receive surely comes before it
	// ends, even on a loaded machine.
	cfg.TakeoverDelay = 5 * time.Second
	w := start(t, s, cfg, worker.Options{DisableHTTP: true})
	stacktest.Eventually(t, 45*time.Second, func() (bool, string) {
		n := s.Total(t, s.QueueURL)
		return n == 0, fmt.Sprintf("%d messages still queued", n)
	})
	w.stop()
	out := snapshot(t, s)
	for _, e := range own {
		out.processedOnce(t, e)
	}
	for _, e := range foreign {
		out.processedOnce(t, e)
		p := s.Processed(t, e.SaleID)[0]
		if waited := p.OccurredAt.Sub(e.OccurredAt); waited < cfg.TakeoverDelay {
			t.Fatalf("other region's event processed %s after it occurred, before the %s takeover delay", waited, cfg.TakeoverDelay)
		}
		if p.OriginRegion != region || p.Data.(domain.SaleProcessed).ProcessedRegion != region {
			t.Fatalf("takeover recorded as %s", p.OriginRegion)
		}
	}
	for _, e := range own {
		p := s.Processed(t, e.SaleID)[0]
		if waited := p.OccurredAt.Sub(e.OccurredAt); waited >= cfg.TakeoverDelay {
			t.Logf("own event took %s (slow emulator?)", waited)
		}
	}
	if ps := s.Processed(t, doneThere.SaleID); len(ps) != 0 {
		t.Fatal("an event completed by the other region was processed again")
	}
	// Completed there, and written into this region's own lake here.
	key, _ := lake.ObjectKey(doneThere, 0)
	if _, ok := out.lake[key]; !ok {
		t.Fatal("an event completed by the other region is missing from this region's lake")
	}
	if got := testutil.ToFloat64(w.Metrics().Deferred.WithLabelValues(processing.DeferTakeover)); got < 4 {
		t.Fatalf("%v takeover deferrals, want at least one per foreign event (4)", got)
	}
}

func TestProbesAndMetrics(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	cfg := s.Config()
	cfg.Port = 0
	w := start(t, s, cfg, worker.Options{})
	base := "http://" + w.Addr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	stacktest.Eventually(t, 10*time.Second, func() (bool, string) {
		code, body := get("/readiness")
		return code == http.StatusOK, fmt.Sprintf("readiness %d %s", code, body)
	})
	for _, path := range []string{"/healthcheck", "/liveness"} {
		if code, body := get(path); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
	}
	// A missing state parameter is an unknown state: not ready, and the
	// answer names the condition without AWS's error text.
	if _, err := s.SSM.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: &s.Parameter}); err != nil {
		t.Fatal(err)
	}
	stacktest.Eventually(t, 10*time.Second, func() (bool, string) {
		code, body := get("/readiness")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "region state unknown") && !strings.Contains(body, "ParameterNotFound"),
			fmt.Sprintf("readiness %d %s", code, body)
	})
	s.SetState(t, "ACTIVE")
	stacktest.Eventually(t, 10*time.Second, func() (bool, string) {
		code, body := get("/readiness")
		return code == http.StatusOK, fmt.Sprintf("readiness %d %s", code, body)
	})
	e := s.Sale(t, region, time.Now())
	s.Send(t, stacktest.EventMessage(t, e))
	stacktest.Eventually(t, 20*time.Second, func() (bool, string) {
		_, body := get("/metrics")
		return strings.Contains(body, `sales_worker_messages_processed_total{event_type="SaleCreated"} 1`),
			"processed counter not at 1"
	})
	_, body := get("/metrics")
	for _, want := range []string{
		"sales_worker_messages_received_total 1",
		`aws_operations_total{operation="TransactWriteItems",service="DynamoDB"} 1`,
		`aws_requests_total{operation="ReceiveMessage",service="SQS"}`,
		`aws_operation_seconds_count{operation="PutObject",service="S3"} 1`,
		"sales_worker_processing_seconds_bucket",
		`region_state{state="ACTIVE"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := get("/nope"); code != http.StatusNotFound {
		t.Errorf("unknown path answered %d", code)
	}
}

func TestStartFailsOnAQueueWithoutSuchQueue(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	cfg := s.Config()
	cfg.QueueURL = s.QueueURL + "-missing"
	_, err := worker.New(context.Background(), cfg, worker.Options{
		AWS: s.Moto.TestConfig(t, region, awsconfig.Options{}), Logger: testLogger(t), DisableHTTP: true,
	})
	if err == nil || !strings.Contains(err.Error(), "redrive policy") {
		t.Fatalf("start against a missing queue: %v, want an error about reading its redrive policy", err)
	}
}

// slowLake holds every lake write for delay: work that outlives the
// message's visibility timeout and its claim's lease several times over.
type slowLake struct {
	processing.Lake
	delay time.Duration
}

func (s slowLake) Merge(ctx context.Context, e domain.Envelope, generation int) (lake.Merged, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return lake.Merged{}, ctx.Err()
	}
	return s.Lake.Merge(ctx, e, generation)
}

// The heartbeat keeps slow work to its one consumer: with a lake write
// that takes three visibility timeouts, the message is never delivered to
// the worker's other consumer (it stays invisible) and the claim is never
// taken over (its lease is renewed); the sale is processed once.
func TestHeartbeatKeepsSlowWorkToOneConsumer(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	e := s.Sale(t, region, time.Now())
	s.Send(t, stacktest.EventMessage(t, e))
	cfg := s.Config()
	cfg.Consumers = 2
	cfg.VisibilityTimeout, cfg.Lease = 2*time.Second, 3*time.Second
	cfg.ReceiveWait = time.Second
	w := start(t, s, cfg, worker.Options{DisableHTTP: true, Lake: slowLake{Lake: lake.NewWriter(s.S3, s.Bucket), delay: 3 * cfg.VisibilityTimeout}})
	m := w.Metrics()
	stacktest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := testutil.ToFloat64(m.Processed.WithLabelValues(string(domain.EventSaleCreated)))
		return n == 1 && s.Total(t, s.QueueURL) == 0, fmt.Sprintf("%v processed, %d queued", n, s.Total(t, s.QueueURL))
	})
	w.stop()
	if got := testutil.ToFloat64(m.Received); got != 1 {
		t.Errorf("the message was received %v times, want once: the heartbeat did not keep it invisible", got)
	}
	if got := testutil.ToFloat64(m.Heartbeats); got < 2 {
		t.Errorf("%v heartbeats during work of three visibility timeouts, want at least 2", got)
	}
	snapshot(t, s).processedOnce(t, e)
}
