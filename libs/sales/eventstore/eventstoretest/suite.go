// Package eventstoretest is the acceptance suite every eventstore.Store
// implementation must pass. Run it from the implementation's tests:
//
//	eventstoretest.Run(t, func(t *testing.T) eventstore.Store { return memory.New() })
package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
)

// Run runs the suite. newStore returns a store with no events in it.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(*testing.T, eventstore.Store)
	}{
		{"AppendThenLoadRoundTrips", appendThenLoad},
		{"UnknownSaleHasNoEvents", unknownSale},
		{"TakenPositionIsConflict", takenPosition},
		{"RetryOfOwnAppendSucceeds", retryOwnAppend},
		{"DifferentOperationsNeverShareAnItem", differentOperations},
		{"OneOperationInTwoRegionsIsOneItem", oneOperationTwoRegions},
		{"MergeKeepsTheEarliestVersion", mergeKeepsEarliest},
		{"LegacyLayoutOrdersByVersion", loadOrdersLegacy},
		{"VoidFencesTheAbandonedWriteNotTheOperation", voidFences},
		{"ConcurrentAppendersOneWins", concurrentAppenders},
		{"SalesAreIsolated", salesIsolated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, newStore(t))
		})
	}
}

// at is a fixed instant with nanoseconds, to catch precision loss.
var at = time.Date(2026, 11, 27, 15, 4, 5, 123456789, time.UTC)

func created(t *testing.T, sale uuid.UUID, region string) domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	return envelope(t, sale, 1, region, ev)
}

func envelope(t *testing.T, sale uuid.UUID, version int, region string, ev domain.Event) domain.Envelope {
	t.Helper()
	e, err := domain.NewEnvelope(sale, version, region, "corr-"+sale.String()[:8], at, ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func load(t *testing.T, s eventstore.Store, sale uuid.UUID) []domain.Envelope {
	t.Helper()
	got, err := s.Load(context.Background(), sale)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got
}

func mustAppend(t *testing.T, s eventstore.Store, e domain.Envelope) {
	t.Helper()
	if err := s.Append(context.Background(), e); err != nil {
		t.Fatalf("Append %s v%d %s: %v", e.EventType, e.AggregateVersion, e.OriginRegion, err)
	}
}

func appendThenLoad(t *testing.T, s eventstore.Store) {
	sale := uuid.Must(uuid.NewV7())
	want := []domain.Envelope{
		created(t, sale, "us-east-1"),
		envelope(t, sale, 2, "us-east-1", domain.SaleProcessed{LakeKey: "sales/x.json", ProcessedRegion: "us-east-1", SourceEventID: uuid.New(), SourceEventType: domain.EventSaleCreated}),
		envelope(t, sale, 3, "us-east-1", domain.SaleCancelled{Reason: "customer asked"}),
	}
	for _, e := range want {
		mustAppend(t, s, e)
	}
	got := load(t, s, sale)
	if len(got) != len(want) {
		t.Fatalf("loaded %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !equal(got[i], want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	sold, err := domain.Fold(got)
	if err != nil {
		t.Fatal(err)
	}
	if sold.Status != domain.StatusCancelled || !sold.Processed || sold.Version != 3 || sold.Amount != 1400 {
		t.Errorf("folded %+v", sold)
	}
}

func unknownSale(t *testing.T, s eventstore.Store) {
	if got := load(t, s, uuid.New()); len(got) != 0 {
		t.Fatalf("unknown sale has %d events", len(got))
	}
}

func takenPosition(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	first := created(t, sale, "us-east-1")
	mustAppend(t, s, first)
	second := created(t, sale, "us-east-1")
	second.CorrelationID = "another request"
	err := s.Append(context.Background(), second)
	var cerr *eventstore.ConflictError
	if !errors.As(err, &cerr) || !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("second append at a taken position: %v, want a ConflictError", err)
	}
	if cerr.Existing == nil || cerr.Existing.EventID != first.EventID {
		t.Errorf("conflict reports %+v, want the first event %s", cerr.Existing, first.EventID)
	}
	if got := load(t, s, sale); len(got) != 1 || got[0].EventID != first.EventID {
		t.Errorf("after conflict the store holds %+v", got)
	}
}

func retryOwnAppend(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	e := created(t, sale, "us-east-1")
	mustAppend(t, s, e)
	mustAppend(t, s, e) // a retry whose first answer was lost
	if got := load(t, s, sale); len(got) != 1 {
		t.Errorf("retry stored %d events, want 1", len(got))
	}
}

// A cancel in one region and the processing of the sale in the other,
// both the sale's second event: different operations, different items.
func differentOperations(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	mustAppend(t, s, created(t, sale, "us-east-1"))
	a := envelope(t, sale, 2, "us-east-1", domain.SaleCancelled{})
	b := envelope(t, sale, 2, "sa-east-1", domain.SaleProcessed{LakeKey: "k", ProcessedRegion: "sa-east-1", SourceEventID: uuid.New(), SourceEventType: domain.EventSaleCreated})
	mustAppend(t, s, a)
	mustAppend(t, s, b)
	got := load(t, s, sale)
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3 (both version 2 events survive)", len(got))
	}
	// Position order: version, then region text: sa-east-1 < us-east-1.
	if got[1].EventID != b.EventID || got[2].EventID != a.EventID {
		t.Errorf("order %s %s, want sa-east-1 then us-east-1", got[1].OriginRegion, got[2].OriginRegion)
	}
}

// The same operation performed in two regions (here a cancel, at the
// version each region saw) targets one item: the second is a conflict
// naming the first, never a second event.
func oneOperationTwoRegions(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	mustAppend(t, s, created(t, sale, "us-east-1"))
	a := envelope(t, sale, 2, "us-east-1", domain.SaleCancelled{})
	b := envelope(t, sale, 3, "sa-east-1", domain.SaleCancelled{})
	if a.EventID != b.EventID || a.Position() != b.Position() {
		t.Fatalf("one cancel, two identities: %s@%s and %s@%s", a.EventID, a.Position(), b.EventID, b.Position())
	}
	mustAppend(t, s, a)
	var cerr *eventstore.ConflictError
	if err := s.Append(context.Background(), b); !errors.As(err, &cerr) || cerr.Existing == nil || !domain.SameVersion(*cerr.Existing, a) {
		t.Fatalf("second region's cancel: %v, want a conflict naming the first", err)
	}
	if got := load(t, s, sale); len(got) != 2 {
		t.Errorf("store holds %d events, want 2", len(got))
	}
}

// Merge converges a position to the earliest version whatever the order
// the versions arrive in, and writes into a free position.
func mergeKeepsEarliest(t *testing.T, s eventstore.Store) {
	ctx := context.Background()
	sale := uuid.New()
	early := created(t, sale, "sa-east-1")
	late := created(t, sale, "us-east-1")
	late.OccurredAt = early.OccurredAt.Add(2 * time.Second)
	late.CorrelationID = "retry"
	kept, err := s.Merge(ctx, late)
	if err != nil || !domain.SameVersion(kept, late) {
		t.Fatalf("merge into a free position: kept %+v, %v", kept, err)
	}
	for _, e := range []domain.Envelope{early, late, early} {
		kept, err := s.Merge(ctx, e)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		if !domain.SameVersion(kept, early) {
			t.Fatalf("merge of %s kept %s@%s, want the earliest", e.OriginRegion, kept.OriginRegion, kept.OccurredAt)
		}
	}
	got := load(t, s, sale)
	if len(got) != 1 || !domain.SameVersion(got[0], early) {
		t.Errorf("store holds %+v, want only the earliest version", got)
	}
}

// A writer that must answer before knowing whether its append committed
// voids the position: readers see nothing, a void twice is still a void,
// a void over the committed event names it, and the operation itself (a
// retry with the same key) can still be written over the void.
func voidFences(t *testing.T, s eventstore.Store) {
	ctx := context.Background()
	sale := uuid.New()
	e := created(t, sale, "us-east-1")
	for range 2 {
		if err := s.Void(ctx, e); err != nil {
			t.Fatalf("void of a free position: %v", err)
		}
	}
	if got := load(t, s, sale); len(got) != 0 {
		t.Fatalf("a void reads as %d events, want none", len(got))
	}
	retry := e
	retry.CorrelationID = "retry with the same key"
	mustAppend(t, s, retry)
	if got := load(t, s, sale); len(got) != 1 || !domain.SameVersion(got[0], retry) {
		t.Fatalf("after the retry the store holds %+v", got)
	}
	var cerr *eventstore.ConflictError
	if err := s.Void(ctx, retry); !errors.As(err, &cerr) || cerr.Existing == nil || !domain.SameVersion(*cerr.Existing, retry) {
		t.Fatalf("void over the committed event: %v, want a conflict naming it", err)
	}
	// A cancel voided, then done by another request: one cancellation.
	x := envelope(t, sale, 2, "us-east-1", domain.SaleCancelled{})
	if err := s.Void(ctx, x); err != nil {
		t.Fatal(err)
	}
	if kept, err := s.Merge(ctx, x); err != nil || !domain.SameVersion(kept, x) {
		t.Fatalf("merge over a void: %+v, %v", kept, err)
	}
	if got := load(t, s, sale); len(got) != 2 {
		t.Fatalf("store holds %d events, want 2", len(got))
	}
}

// legacy returns e as written before canonical identities: a random event
// id, positioned by version and origin region.
func legacy(e domain.Envelope) domain.Envelope {
	e.EventID = uuid.New()
	return e
}

// Events written by the earlier layout keep their positions and order.
func loadOrdersLegacy(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	events := []domain.Envelope{legacy(created(t, sale, "us-east-1"))}
	for v := 2; v <= 12; v++ {
		events = append(events, legacy(envelope(t, sale, v, "us-east-1", domain.SaleCancelled{})))
	}
	for i := len(events) - 1; i >= 0; i-- { // append in reverse
		mustAppend(t, s, events[i])
	}
	got := load(t, s, sale)
	if len(got) != len(events) {
		t.Fatalf("loaded %d legacy events, want %d", len(got), len(events))
	}
	for i := range got {
		if got[i].AggregateVersion != i+1 || !got[i].LegacyLayout() || got[i].Position() != domain.FormatLegacyPosition(i+1, "us-east-1") {
			t.Fatalf("event %d: version %d at %s: not in position order (10 must sort after 9)", i, got[i].AggregateVersion, got[i].Position())
		}
	}
}

func concurrentAppenders(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	mustAppend(t, s, created(t, sale, "us-east-1"))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := envelope(t, sale, 2, "us-east-1", domain.SaleCancelled{})
			e.CorrelationID = fmt.Sprintf("writer %d", i)
			errs[i] = s.Append(context.Background(), e)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, eventstore.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers cancelled the sale, want exactly 1", wins)
	}
	if got := load(t, s, sale); len(got) != 2 {
		t.Errorf("store holds %d events, want 2", len(got))
	}
}

func salesIsolated(t *testing.T, s eventstore.Store) {
	a, b := uuid.New(), uuid.New()
	mustAppend(t, s, created(t, a, "us-east-1"))
	mustAppend(t, s, created(t, b, "us-east-1"))
	for _, id := range []uuid.UUID{a, b} {
		got := load(t, s, id)
		if len(got) != 1 || got[0].SaleID != id {
			t.Errorf("sale %s loads %+v", id, got)
		}
	}
}

func equal(a, b domain.Envelope) bool {
	return a.EventID == b.EventID && a.EventType == b.EventType && a.SchemaVersion == b.SchemaVersion &&
		a.SaleID == b.SaleID && a.AggregateVersion == b.AggregateVersion && a.OriginRegion == b.OriginRegion &&
		a.OccurredAt.Equal(b.OccurredAt) && a.CorrelationID == b.CorrelationID && a.Data == b.Data
}
