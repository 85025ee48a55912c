package processing_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	esmem "github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/idempotency/idempotencytest"
	idemmem "github.com/salesplatform/libs/sales/idempotency/memory"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/processing"
	"github.com/salesplatform/services/sales-worker/internal/processing/processingfake"
)

const (
	home  = "us-east-1"
	other = "sa-east-1"
	lease = 45 * time.Second
)

var t0 = time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)

type rig struct {
	clock  *idempotencytest.Clock
	claims *idemmem.Store
	events *esmem.Store
	lake   *processingfake.Lake
	state  *processingfake.State
	proc   *processing.Processor
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		clock:  idempotencytest.NewClock(t0),
		events: esmem.New(),
		lake:   processingfake.NewLake(),
		state:  processingfake.NewState(regionstate.Active),
	}
	r.claims = idemmem.New(idempotency.Options{Region: home, Instance: "test", Lease: lease, TTL: 24 * time.Hour, Now: r.clock.Now})
	f := &processing.Finisher{
		Claims: r.claims, Commit: &processingfake.Committer{Claims: r.claims, Events: r.events},
		Events: r.events, Region: home, Now: r.clock.Now,
	}
	r.proc = processing.New(r.claims, r.lake, f, r.state, processing.Options{
		Region: home, TakeoverDelay: time.Minute, PassiveVisibility: 2 * time.Minute,
		BackoffBase: 2 * time.Second, BackoffMax: time.Minute,
		Now: r.clock.Now, Jitter: func() float64 { return 0.5 },
	})
	return r
}

// sale is a SaleCreated that happened at t in region, stored in the event
// store as the API would have.
func (r *rig) sale(t *testing.T, region string, at time.Time) domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, region, "req", at, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.events.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (r *rig) cancel(t *testing.T, sale domain.Envelope, version int, region string) domain.Envelope {
	t.Helper()
	e, err := domain.NewEnvelope(sale.SaleID, version, region, "req", r.clock.Now(), domain.SaleCancelled{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.events.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func message(t *testing.T, e domain.Envelope, attrs map[string]string) processing.Message {
	t.Helper()
	body, err := messaging.Body(e)
	if err != nil {
		t.Fatal(err)
	}
	return processing.Message{ID: "m-" + e.EventID.String()[:8], Body: body, Attributes: attrs, ReceiveCount: 1}
}

func (r *rig) handle(t *testing.T, msgs ...processing.Message) []processing.Action {
	t.Helper()
	return r.proc.HandleBatch(context.Background(), msgs, nil)
}

func (r *rig) one(t *testing.T, m processing.Message) processing.Action {
	t.Helper()
	return r.handle(t, m)[0]
}

func wantAction(t *testing.T, a processing.Action, kind processing.Kind, reason string) {
	t.Helper()
	if a.Kind != kind || a.Reason != reason {
		t.Fatalf("action %s/%s (err %v), want %s/%s", a.Kind, a.Reason, a.Err, kind, reason)
	}
}

func (r *rig) processed(t *testing.T, sale uuid.UUID) []domain.Envelope {
	t.Helper()
	events, err := r.events.Load(context.Background(), sale)
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.Envelope
	for _, e := range events {
		if e.EventType == domain.EventSaleProcessed {
			out = append(out, e)
		}
	}
	return out
}

func (r *rig) record(t *testing.T, key string) (idempotency.Record, bool) {
	t.Helper()
	got, err := r.claims.Lookup(context.Background(), []string{key})
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := got[key]
	return rec, ok
}

func TestOwnRegionSaleIsProcessedOnce(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	m := message(t, e, nil)

	wantAction(t, r.one(t, m), processing.Delete, processing.OutcomeProcessed)
	key, _ := lake.ObjectKey(e, 0)
	got, ok := r.lake.Object(key)
	want, _ := lake.Content(e)
	if !ok || string(got) != string(want) {
		t.Fatalf("lake object %s = %q, want %q", key, got, want)
	}
	ps := r.processed(t, e.SaleID)
	if len(ps) != 1 {
		t.Fatalf("%d SaleProcessed, want 1", len(ps))
	}
	p := ps[0].Data.(domain.SaleProcessed)
	if ps[0].Position() != "SaleProcessed#"+e.EventID.String() || p.LakeKey != key || p.SourceEventID != e.EventID || p.ProcessedRegion != home || p.SourceEventType != domain.EventSaleCreated {
		t.Fatalf("SaleProcessed %s %+v", ps[0].Position(), p)
	}
	if rec, _ := r.record(t, e.EventID.String()); rec.Status != idempotency.StatusCompleted || rec.Result != key {
		t.Fatalf("claim %+v, want COMPLETED with the lake key", rec)
	}
	if s, _ := domain.Fold(mustLoad(t, r, e.SaleID)); !s.Processed {
		t.Fatal("folded sale is not processed")
	}

	// Every later delivery only deletes.
	r.clock.Advance(time.Hour)
	wantAction(t, r.one(t, m), processing.Delete, processing.OutcomeDuplicate)
	if r.lake.Versions(key) != 1 || len(r.processed(t, e.SaleID)) != 1 {
		t.Fatalf("a duplicate wrote again: %d versions, %d SaleProcessed", r.lake.Versions(key), len(r.processed(t, e.SaleID)))
	}
}

func mustLoad(t *testing.T, r *rig, sale uuid.UUID) []domain.Envelope {
	t.Helper()
	events, err := r.events.Load(context.Background(), sale)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestConcurrentDuplicatesInOneBatchProcessOnce(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	msgs := make([]processing.Message, 10)
	for i := range msgs {
		msgs[i] = message(t, e, nil)
	}
	counts := map[string]int{}
	for _, a := range r.handle(t, msgs...) {
		counts[a.Kind.String()+"/"+a.Reason]++
	}
	// Exactly one processes; the others see its live claim or its
	// completion, depending on timing.
	if counts["delete/processed"] != 1 || counts["delete/processed"]+counts["delete/duplicate"]+counts["defer/in-progress"] != 10 {
		t.Fatalf("outcomes %v, want exactly one processed and the rest duplicate or deferred", counts)
	}
	if r.lake.Len() != 1 || len(r.processed(t, e.SaleID)) != 1 {
		t.Fatalf("%d objects, %d SaleProcessed; want 1 and 1", r.lake.Len(), len(r.processed(t, e.SaleID)))
	}
}

func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	good, _ := messaging.Body(e)
	processed := e
	processed.EventType, processed.Data = domain.EventSaleProcessed, domain.SaleProcessed{LakeKey: "k", ProcessedRegion: home}
	processedBody, _ := messaging.Body(processed)
	cases := []struct {
		name   string
		body   string
		attrs  map[string]string
		reason string
	}{
		{"not JSON", "hello", nil, processing.ReasonUndecodable},
		{"wrong schema", `{"product":"x","amount":1}`, nil, processing.ReasonUndecodable},
		{"huge", `{"pad":"` + strings.Repeat("x", messaging.MaxBodyBytes) + `"}`, nil, processing.ReasonUndecodable},
		{"unknown event type", strings.Replace(string(good), "SaleCreated", "SaleRefunded", 1), nil, processing.ReasonUndecodable},
		{"SaleProcessed", string(processedBody), nil, processing.ReasonUnsupportedEvent},
		{"region that is a path", strings.Replace(string(good), `"origin_region":"us-east-1"`, `"origin_region":"../x"`, 1), nil, processing.ReasonBadKey},
		{"negative generation", string(good), map[string]string{processing.AttrReprocessGeneration: "-1"}, processing.ReasonBadGeneration},
		{"generation not a number", string(good), map[string]string{processing.AttrReprocessGeneration: "two"}, processing.ReasonBadGeneration},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := r.one(t, processing.Message{ID: "p", Body: []byte(c.body), Attributes: c.attrs, ReceiveCount: 1})
			wantAction(t, a, processing.DeadLetter, c.reason)
			if a.Err == nil {
				t.Error("no error explains the dead-lettering")
			}
		})
	}
	if r.lake.Len() != 0 {
		t.Fatalf("poison wrote %d lake objects", r.lake.Len())
	}
}

func TestPoisonDoesNotBlockItsBatch(t *testing.T) {
	r := newRig(t)
	a, b := r.sale(t, home, t0), r.sale(t, home, t0)
	actions := r.handle(t, message(t, a, nil), processing.Message{ID: "x", Body: []byte("{"), ReceiveCount: 1}, message(t, b, nil))
	wantAction(t, actions[0], processing.Delete, processing.OutcomeProcessed)
	wantAction(t, actions[1], processing.DeadLetter, processing.ReasonUndecodable)
	wantAction(t, actions[2], processing.Delete, processing.OutcomeProcessed)
}

// Two regions each accepted one operation within the replication lag (a
// keyed create retried in the other region, here with another body): the
// second version to arrive is not poison; the lake, the store and the
// conflict record all end on the earliest version, whichever arrived first.
func TestAnotherVersionOfTheOperationIsMerged(t *testing.T) {
	for _, earliestFirst := range []bool{true, false} {
		r := newRig(t)
		e := r.sale(t, home, t0)
		v := e
		v.OriginRegion, v.CorrelationID = other, "retry in the other region"
		v.Data = domain.SaleCreated{Product: "Something else", Amount: 1}
		first, earliest := e, e
		if earliestFirst {
			v.OccurredAt = e.OccurredAt.Add(time.Second)
		} else {
			v.OccurredAt = e.OccurredAt.Add(-time.Second)
			earliest = v
		}
		second := v
		wantAction(t, r.one(t, message(t, first, nil)), processing.Delete, processing.OutcomeProcessed)
		r.clock.Advance(2 * time.Minute) // past the takeover delay of the other region's version
		a := r.one(t, message(t, second, nil))
		wantAction(t, a, processing.Delete, processing.OutcomeVersionMerged)
		if a.Conflict != lake.ConflictPayload {
			t.Fatalf("conflict kind %q, want %q", a.Conflict, lake.ConflictPayload)
		}
		key, _ := lake.ObjectKey(e, 0)
		got, _ := r.lake.Object(key)
		if want, _ := lake.Content(earliest); string(got) != string(want) {
			t.Fatalf("earliest first %v: the lake holds %s, want the earliest version", earliestFirst, got)
		}
		stored := mustLoad(t, r, e.SaleID)
		if !domain.SameVersion(stored[0], earliest) {
			t.Fatalf("earliest first %v: the store holds %s@%s, want the earliest", earliestFirst, stored[0].OriginRegion, stored[0].OccurredAt)
		}
		if _, ok := r.lake.Object(lake.ConflictKey(e)); !ok {
			t.Fatal("no conflict record")
		}
		if len(r.processed(t, e.SaleID)) != 1 {
			t.Fatal("the second version was processed again")
		}
	}
}

func TestLiveClaimOfAnotherConsumerIsLeftUntilItsLeaseEnds(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	held, err := r.claims.Claim(context.Background(), idempotency.Request{Key: e.EventID.String(), PayloadHash: payloadHash(t, e)})
	if err != nil || held.Outcome != idempotency.Claimed {
		t.Fatal(held.Outcome, err)
	}
	r.clock.Advance(15 * time.Second)
	a := r.one(t, message(t, e, nil))
	wantAction(t, a, processing.Defer, processing.DeferInProgress)
	if a.Delay < lease-15*time.Second || a.Delay > lease-15*time.Second+time.Second {
		t.Fatalf("deferred %s, want the lease's remaining 30 s (plus at most 1 s of jitter)", a.Delay)
	}
	if r.lake.Len() != 0 {
		t.Fatal("wrote while another consumer held the claim")
	}
	// The holder died: once its lease is over, the event is taken over.
	r.clock.Advance(a.Delay)
	wantAction(t, r.one(t, message(t, e, nil)), processing.Delete, processing.OutcomeProcessed)
	if len(r.processed(t, e.SaleID)) != 1 {
		t.Fatal("takeover did not record SaleProcessed once")
	}
}

func payloadHash(t *testing.T, e domain.Envelope) string {
	t.Helper()
	w, err := processing.Derive(message(t, e, nil))
	if err != nil {
		t.Fatal(err)
	}
	return w.PayloadHash
}

func TestOtherRegionEventsWaitForTheTakeoverDelay(t *testing.T) {
	r := newRig(t)
	young := r.sale(t, other, t0.Add(-20*time.Second))
	old := r.sale(t, other, t0.Add(-2*time.Minute))
	doneElsewhere := r.sale(t, other, t0.Add(-2*time.Minute))
	if err := r.claims.Put(context.Background(), idempotency.Record{
		Key: doneElsewhere.EventID.String(), Status: idempotency.StatusCompleted, PayloadHash: payloadHash(t, doneElsewhere),
		ExpiresAt: t0.Add(time.Hour), Region: other, Owner: "sa-worker/1",
	}); err != nil {
		t.Fatal(err)
	}
	actions := r.handle(t, message(t, young, nil), message(t, old, nil), message(t, doneElsewhere, nil))
	wantAction(t, actions[0], processing.Defer, processing.DeferTakeover)
	if want := 40 * time.Second; actions[0].Delay < want || actions[0].Delay > want+time.Second {
		t.Fatalf("young event deferred %s, want the remaining 40 s of the delay", actions[0].Delay)
	}
	wantAction(t, actions[1], processing.Delete, processing.OutcomeProcessed)
	wantAction(t, actions[2], processing.Delete, processing.OutcomeDuplicate)
	if len(r.processed(t, young.SaleID)) != 0 || len(r.processed(t, doneElsewhere.SaleID)) != 0 {
		t.Fatal("an event of the other region was processed before its delay or twice")
	}
	ps := r.processed(t, old.SaleID)
	if len(ps) != 1 || ps[0].OriginRegion != home || ps[0].Position() != "SaleProcessed#"+old.EventID.String() {
		t.Fatalf("taken-over event recorded %v", ps)
	}
}

func TestPassiveRegionProcessesNothing(t *testing.T) {
	for _, st := range []regionstate.State{regionstate.Passive, regionstate.Unknown} {
		t.Run(string(st), func(t *testing.T) {
			r := newRig(t)
			r.state.Set(st)
			pending := r.sale(t, home, t0.Add(-2*time.Minute))
			doneElsewhere := r.sale(t, other, t0.Add(-2*time.Minute))
			young := r.sale(t, other, t0.Add(-5*time.Second))
			if err := r.claims.Put(context.Background(), idempotency.Record{
				Key: doneElsewhere.EventID.String(), Status: idempotency.StatusCompleted, PayloadHash: payloadHash(t, doneElsewhere),
				ExpiresAt: t0.Add(time.Hour), Region: other,
			}); err != nil {
				t.Fatal(err)
			}
			second := message(t, pending, nil)
			second.ReceiveCount = 3
			actions := r.handle(t, message(t, pending, nil), message(t, doneElsewhere, nil), processing.Message{ID: "bad", Body: []byte("x")}, second, message(t, young, nil))
			wantAction(t, actions[0], processing.Defer, processing.DeferPassive)
			if !actions[0].Park || actions[0].Delay != 2*time.Minute {
				t.Fatalf("first receive parked %v for %s, want parked for 2 min", actions[0].Park, actions[0].Delay)
			}
			wantAction(t, actions[1], processing.Delete, processing.OutcomeCompletedElsewhere)
			wantAction(t, actions[2], processing.DeadLetter, processing.ReasonUndecodable)
			if actions[3].Delay != 8*time.Minute {
				t.Fatalf("third receive parked %s, want 8 min (doubling per receive)", actions[3].Delay)
			}
			// An event younger than the takeover delay is its owner's to
			// complete: looked at again when that time is over, not parked.
			wantAction(t, actions[4], processing.Defer, processing.DeferTakeover)
			if actions[4].Park || actions[4].Delay < 55*time.Second || actions[4].Delay > 56*time.Second {
				t.Fatalf("young event: park %v for %s, want deferred for the remaining 55 s", actions[4].Park, actions[4].Delay)
			}
			// Only the event completed elsewhere reaches this region's lake.
			doneKey, _ := lake.ObjectKey(doneElsewhere, 0)
			if _, ok := r.lake.Object(doneKey); !ok || r.lake.Len() != 1 || len(r.processed(t, pending.SaleID)) != 0 {
				t.Fatalf("a passive region wrote %d objects (want only the one completed elsewhere) or processed", r.lake.Len())
			}
			if _, ok := r.record(t, pending.EventID.String()); ok {
				t.Fatal("a passive region claimed an event")
			}
			// Failover: the same messages now get processed.
			r.state.Set(regionstate.Active)
			wantAction(t, r.one(t, message(t, pending, nil)), processing.Delete, processing.OutcomeProcessed)
		})
	}
}

func TestFailedLakeWriteReleasesTheClaimAndBacksOff(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	r.lake.Fail = func(context.Context, string) error { return errors.New("s3 is down") }
	m := message(t, e, nil)
	m.ReceiveCount = 3
	a := r.one(t, m)
	wantAction(t, a, processing.Retry, processing.StageLake)
	// 2 s × 2² = 8 s, jitter fixed at the middle of its upper half.
	if a.Delay != 6*time.Second {
		t.Fatalf("retry in %s, want 6 s", a.Delay)
	}
	if _, held := r.record(t, e.EventID.String()); held {
		t.Fatal("the failed attempt left its claim behind")
	}
	r.lake.Fail = nil
	wantAction(t, r.one(t, message(t, e, nil)), processing.Delete, processing.OutcomeProcessed)
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	r := newRig(t)
	cases := []struct {
		receives int
		want     time.Duration
	}{{1, 1500 * time.Millisecond}, {2, 3 * time.Second}, {4, 12 * time.Second}, {6, 45 * time.Second}, {60, 45 * time.Second}}
	for _, c := range cases {
		if got := r.proc.Backoff(c.receives); got != c.want {
			t.Errorf("Backoff(%d) = %s, want %s", c.receives, got, c.want)
		}
	}
}

// A cancel and the processing of the sale, both at version 2, are two
// operations: two items, neither erasing the other.
func TestACancelAndTheProcessingNeverShareAnItem(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	r.cancel(t, e, 2, home)
	wantAction(t, r.one(t, message(t, e, nil)), processing.Delete, processing.OutcomeProcessed)
	ps := r.processed(t, e.SaleID)
	if len(ps) != 1 || ps[0].AggregateVersion != 2 || len(mustLoad(t, r, e.SaleID)) != 3 {
		t.Fatalf("SaleProcessed %v, want one at version 2 beside the cancel", ps)
	}
	s, err := domain.Fold(mustLoad(t, r, e.SaleID))
	if err != nil || !s.Processed || s.Status != domain.StatusCancelled {
		t.Fatalf("folded %+v %v", s, err)
	}
}

func TestAlreadyRecordedSaleProcessedIsNotAppendedAgain(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	w, err := processing.Derive(message(t, e, nil))
	if err != nil {
		t.Fatal(err)
	}
	// A SaleProcessed for this event is already there (say, written
	// before its claim record expired), at the position we will guess.
	// The other region's version of it: same identity, other provenance.
	earlier := processing.ProcessedEvent(w, "sa-east-1", t0)
	if err := r.events.Append(context.Background(), earlier); err != nil {
		t.Fatal(err)
	}
	wantAction(t, r.one(t, message(t, e, nil)), processing.Delete, processing.OutcomeProcessed)
	if ps := r.processed(t, e.SaleID); len(ps) != 1 || ps[0].EventID != earlier.EventID {
		t.Fatalf("SaleProcessed events %v, want only the earlier one", ps)
	}
	if rec, _ := r.record(t, w.ClaimKey); rec.Status != idempotency.StatusCompleted {
		t.Fatalf("claim %+v, want COMPLETED", rec)
	}
}

func TestReprocessGenerationWritesBesideAndRecordsNothing(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	wantAction(t, r.one(t, message(t, e, nil)), processing.Delete, processing.OutcomeProcessed)
	gen := map[string]string{processing.AttrReprocessGeneration: "2"}
	a := r.one(t, message(t, e, gen))
	wantAction(t, a, processing.Delete, processing.OutcomeProcessed)
	normal, _ := lake.ObjectKey(e, 0)
	if a.Work.LakeKey != "reprocess/g2/"+normal || a.Work.ClaimKey != e.EventID.String()+"#g2" {
		t.Fatalf("generation 2 keys: lake %s, claim %s", a.Work.LakeKey, a.Work.ClaimKey)
	}
	if _, ok := r.lake.Object(a.Work.LakeKey); !ok || r.lake.Len() != 2 {
		t.Fatalf("generation 2 object missing (%d objects)", r.lake.Len())
	}
	if len(r.processed(t, e.SaleID)) != 1 {
		t.Fatal("reprocessing appended SaleProcessed")
	}
	wantAction(t, r.one(t, message(t, e, gen)), processing.Delete, processing.OutcomeDuplicate)
	// "0" is the normal path.
	wantAction(t, r.one(t, message(t, e, map[string]string{processing.AttrReprocessGeneration: "0"})), processing.Delete, processing.OutcomeDuplicate)
}

func TestDrainCutOffReleasesTheClaim(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	entered := make(chan struct{})
	r.lake.Fail = func(ctx context.Context, _ string) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	var a processing.Action
	var wg sync.WaitGroup
	f := &processing.Inflight{}
	wg.Go(func() {
		a = r.proc.HandleBatch(ctx, []processing.Message{message(t, e, nil)}, []*processing.Inflight{f})[0]
	})
	<-entered
	if c, held := f.Claim(); !held || c.Key != e.EventID.String() {
		t.Fatal("the in-flight claim is not visible to the heartbeat")
	}
	cancel()
	wg.Wait()
	wantAction(t, a, processing.Release, processing.StageDrain)
	if _, held := r.record(t, e.EventID.String()); held {
		t.Fatal("drain left a half-done claim")
	}
	if _, held := f.Claim(); held {
		t.Fatal("the finished message still shows a claim")
	}
}

func TestClaimLostToATakeoverLeavesTheMessage(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	var taker idempotency.Claim
	r.lake.Fail = func(context.Context, string) error {
		// This consumer stalls past its lease; another takes over.
		r.clock.Advance(lease + time.Second)
		var err error
		taker, err = r.claims.Claim(context.Background(), idempotency.Request{Key: e.EventID.String(), PayloadHash: payloadHash(t, e)})
		if err != nil || !taker.TookOver {
			t.Errorf("takeover: %v %v", taker.Outcome, err)
		}
		return nil
	}
	wantAction(t, r.one(t, message(t, e, nil)), processing.Defer, processing.DeferClaimLost)
	if len(r.processed(t, e.SaleID)) != 0 {
		t.Fatal("the consumer that lost its claim recorded SaleProcessed")
	}
	if rec, _ := r.record(t, e.EventID.String()); rec.Owner != taker.Owner || rec.Status != idempotency.StatusInProgress {
		t.Fatalf("the taker's claim was disturbed: %+v", rec)
	}
}

func TestCancellationIsProcessedUnderItsOwnPrefix(t *testing.T) {
	r := newRig(t)
	e := r.sale(t, home, t0)
	x := r.cancel(t, e, 2, home)
	a := r.one(t, message(t, x, nil))
	wantAction(t, a, processing.Delete, processing.OutcomeProcessed)
	if a.Work.LakeKey != "cancellations/dt="+domain.SaleDate(e)+"/"+e.SaleID.String()+".json" {
		t.Fatalf("cancellation key %s", a.Work.LakeKey)
	}
	ps := r.processed(t, e.SaleID)
	if len(ps) != 1 || ps[0].Data.(domain.SaleProcessed).SourceEventType != domain.EventSaleCancelled || ps[0].AggregateVersion != 3 {
		t.Fatalf("SaleProcessed %v", ps)
	}
}

// Events written before canonical identities keep working: a legacy sale
// (random event id, per-region position) replayed after its claim expired
// finds its legacy lake object at the legacy key and its legacy
// SaleProcessed, and writes neither again; a reprocessing generation
// writes beside the legacy key.
func TestLegacyEventsKeepTheirKeysAndAreNotProcessedTwice(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	e := r.sale(t, home, t0) // canonical; make a legacy one beside it
	legacy := e
	legacy.SaleID = uuid.Must(uuid.NewV7())
	legacy.EventID = uuid.New()
	if !legacy.LegacyLayout() || legacy.Position() != "0000000001#us-east-1" {
		t.Fatalf("fixture is not legacy: %s", legacy.Position())
	}
	if err := r.events.Append(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	// What the previous worker left: the object at the legacy key, and
	// SaleProcessed at version 2 of its region, with its per-region id.
	key, _ := lake.ObjectKey(legacy, 0)
	if !strings.Contains(key, "/region=us-east-1/") {
		t.Fatalf("legacy key %s", key)
	}
	if m, err := r.lake.Merge(ctx, legacy, 0); err != nil || m.Outcome != lake.Written {
		t.Fatal(m, err)
	}
	old, _ := domain.NewEnvelope(legacy.SaleID, 2, home, "", t0, domain.SaleProcessed{LakeKey: key, ProcessedRegion: home, SourceEventID: legacy.EventID, SourceEventType: domain.EventSaleCreated})
	old.EventID = uuid.NewSHA1(uuid.MustParse("6d1f0a52-7c0b-4e1e-9a57-3c2f5e8b9d10"), []byte(legacy.EventID.String()+"/"+home))
	if err := r.events.Append(ctx, old); err != nil {
		t.Fatal(err)
	}
	before := mustLoad(t, r, legacy.SaleID)
	folded, _ := domain.Fold(before)

	wantAction(t, r.one(t, message(t, legacy, nil)), processing.Delete, processing.OutcomeProcessed)
	if r.lake.Versions(key) != 1 || r.lake.Len() != 1 {
		t.Fatalf("the legacy object was written again (%d versions, %d objects)", r.lake.Versions(key), r.lake.Len())
	}
	after := mustLoad(t, r, legacy.SaleID)
	if len(r.processed(t, legacy.SaleID)) != 1 || len(after) != len(before) {
		t.Fatalf("a second SaleProcessed was recorded: %d events, was %d", len(after), len(before))
	}
	if again, _ := domain.Fold(after); again != folded {
		t.Fatalf("the legacy sale folds %+v, was %+v", again, folded)
	}
	a := r.one(t, message(t, legacy, map[string]string{processing.AttrReprocessGeneration: "2"}))
	wantAction(t, a, processing.Delete, processing.OutcomeProcessed)
	if a.Work.LakeKey != "reprocess/g2/"+key {
		t.Fatalf("generation 2 of a legacy event writes %s", a.Work.LakeKey)
	}
}
