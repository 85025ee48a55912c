// Package eventstoretest is the acceptance suite every eventstore.Store
// implementation must pass. Run it from the implementation's tests:
//
//	eventstoretest.Run(t, func(t *testing.T) eventstore.Store { return memory.New() })
package eventstoretest

import (
	"context"
	"errors"
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
		{"SameVersionInTwoRegionsBothSurvive", twoRegions},
		{"LoadOrdersByPosition", loadOrders},
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

func twoRegions(t *testing.T, s eventstore.Store) {
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

func loadOrders(t *testing.T, s eventstore.Store) {
	sale := uuid.New()
	events := []domain.Envelope{created(t, sale, "us-east-1")}
	for v := 2; v <= 12; v++ {
		events = append(events, envelope(t, sale, v, "us-east-1", domain.SaleCancelled{}))
	}
	for i := len(events) - 1; i >= 0; i-- { // append in reverse
		mustAppend(t, s, events[i])
	}
	got := load(t, s, sale)
	for i := range got {
		if got[i].AggregateVersion != i+1 {
			t.Fatalf("event %d has version %d: not in position order (10 must sort after 9)", i, got[i].AggregateVersion)
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
			errs[i] = s.Append(context.Background(), envelope(t, sale, 2, "us-east-1", domain.SaleCancelled{}))
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
		t.Errorf("%d writers won version 2, want exactly 1", wins)
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
