package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/regionstate"
)

// activeState is a StateReader fake that is always ACTIVE.
type activeState struct{}

func (activeState) State() regionstate.State { return regionstate.Active }

// A retried POST (same Idempotency-Key, same body) answers what the first
// answer said, whatever happened to the sale in between: the fault suite
// (dev/chaos, kill-api) saw a retry after a lost answer get 201 with
// "status":"PROCESSED" once the worker had been faster than the client.
func TestReplayAnswersTheSaleAsCreated(t *testing.T) {
	sale := domain.SaleCreated{Product: "O Pequeno Principe", Amount: 1400}
	later := []struct {
		name  string
		event func(created domain.Envelope) domain.Event
	}{
		{name: "nothing happened", event: nil},
		{name: "processed", event: func(c domain.Envelope) domain.Event {
			return domain.SaleProcessed{LakeKey: "k", ProcessedRegion: "us-east-1", SourceEventID: c.EventID, SourceEventType: domain.EventSaleCreated}
		}},
		{name: "cancelled", event: func(domain.Envelope) domain.Event { return domain.SaleCancelled{} }},
	}
	for _, tt := range later {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
			store := memory.New()
			svc := &Service{Store: store, Region: "us-east-1", State: activeState{}, Now: func() time.Time { return at }}
			first, err := svc.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.event != nil {
				evs, err := store.Load(ctx, first.Sale.ID)
				if err != nil {
					t.Fatal(err)
				}
				e, err := domain.NewEnvelope(first.Sale.ID, 2, "us-east-1", "", at.Add(time.Second), tt.event(evs[0]))
				if err != nil {
					t.Fatal(err)
				}
				if err := store.Append(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			svc.Now = func() time.Time { return at.Add(time.Minute) }
			again, err := svc.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42"})
			if err != nil {
				t.Fatal(err)
			}
			if !again.Replayed {
				t.Error("the retry was not a replay")
			}
			got, want := again.Sale, first.Sale
			if got.ID != want.ID || got.Status != domain.StatusCreated || got.Processed || !got.CreatedAt.Equal(want.CreatedAt) ||
				got.Product != want.Product || got.Amount != want.Amount {
				t.Errorf("replayed %+v, want the first answer %+v", got, want)
			}
			if _, err := svc.Create(ctx, CreateSale{Sale: domain.SaleCreated{Product: "other", Amount: 1400}, IdempotencyKey: "order-42"}); !errors.Is(err, ErrIdempotencyKeyReused) {
				t.Errorf("same key, other body: %v, want ErrIdempotencyKeyReused", err)
			}
		})
	}
}
