package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
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

// The same keyed create and the same cancel performed in two regions that
// have not seen each other (two stores: replication has not run) write
// events with one identity, so the global table merges them into one item
// per operation; merging converges both stores to the earliest version.
func TestOneOperationInTwoRegionsHasOneIdentity(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	sale := domain.SaleCreated{Product: "Livro", Amount: 1050}
	us, sa := memory.New(), memory.New()
	inUS := &Service{Store: us, Region: "us-east-1", State: activeState{}, Now: func() time.Time { return at }}
	inSA := &Service{Store: sa, Region: "sa-east-1", State: activeState{}, Now: func() time.Time { return at.Add(2 * time.Second) }}
	a, err := inUS.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42", CorrelationID: "first"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := inSA.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42", CorrelationID: "retry"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Sale.ID != b.Sale.ID || a.Sale.CreatedEventID != b.Sale.CreatedEventID || b.Replayed {
		t.Fatalf("two regions answered %+v and %+v: want one sale id and one event id, both written", a.Sale, b.Sale)
	}
	for _, svc := range []*Service{inUS, inSA} {
		if err := svc.Cancel(ctx, a.Sale.ID, Anyone, "cancel in "+svc.Region); err != nil {
			t.Fatal(err)
		}
	}
	usEvents, _ := us.Load(ctx, a.Sale.ID)
	saEvents, _ := sa.Load(ctx, a.Sale.ID)
	if len(usEvents) != 2 || len(saEvents) != 2 {
		t.Fatalf("each region holds %d and %d events, want 2 (created, cancelled)", len(usEvents), len(saEvents))
	}
	for i := range usEvents {
		u, s := usEvents[i], saEvents[i]
		if u.EventID != s.EventID || u.Position() != s.Position() {
			t.Errorf("%s: identities differ between regions: %s@%s and %s@%s", u.EventType, u.EventID, u.Position(), s.EventID, s.Position())
		}
		// What replication does, in both directions: the earliest wins.
		for _, st := range []*memory.Store{us, sa} {
			for _, e := range []domain.Envelope{u, s} {
				if _, err := st.Merge(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	usEvents, _ = us.Load(ctx, a.Sale.ID)
	saEvents, _ = sa.Load(ctx, a.Sale.ID)
	for i := range usEvents {
		if !domain.SameVersion(usEvents[i], saEvents[i]) || usEvents[i].OriginRegion != "us-east-1" {
			t.Errorf("after merging, %s is %s in one store and %s in the other; want the earliest (us-east-1) in both",
				usEvents[i].EventType, usEvents[i].OriginRegion, saEvents[i].OriginRegion)
		}
	}
}

// Two requests with one key and different bodies racing in one region:
// the conditional append lets one through; the other sees the winner's
// event in the conflict and answers 422, never a second 201.
func TestConcurrentKeyedCreatesWithDifferentBodies(t *testing.T) {
	ctx := context.Background()
	store := &racingStore{Store: memory.New()}
	svc := &Service{Store: store, Region: "us-east-1", State: activeState{}}
	first, err := svc.Create(ctx, CreateSale{Sale: domain.SaleCreated{Product: "a", Amount: 1}, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	// The second request read before the first wrote.
	store.hide = true
	if _, err := svc.Create(ctx, CreateSale{Sale: domain.SaleCreated{Product: "b", Amount: 1}, IdempotencyKey: "k"}); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("second body: %v, want ErrIdempotencyKeyReused", err)
	}
	again, err := svc.Create(ctx, CreateSale{Sale: domain.SaleCreated{Product: "a", Amount: 1}, IdempotencyKey: "k"})
	if err != nil || !again.Replayed || again.Sale.ID != first.Sale.ID {
		t.Fatalf("same body after the race: %+v, %v; want a replay of the first", again, err)
	}
	if n := store.Len(); n != 1 {
		t.Fatalf("store holds %d events, want 1", n)
	}
}

// racingStore hides stored events from Load when hide is set: a read that
// happened before a concurrent write.
type racingStore struct {
	*memory.Store
	hide bool
}

func (r *racingStore) Load(ctx context.Context, id uuid.UUID) ([]domain.Envelope, error) {
	if r.hide {
		r.hide = false
		return nil, nil
	}
	return r.Store.Load(ctx, id)
}

// flakyStore fails Append with a timeout, having written (lost answer) or
// not, and can fail Void as well.
type flakyStore struct {
	*memory.Store
	commit   bool  // the timed-out append did reach the store
	voidErr  error // Void's own failure
	appended int
}

var errTimeout = errors.New("operation error DynamoDB: PutItem, context deadline exceeded")

func (f *flakyStore) Append(ctx context.Context, e domain.Envelope) error {
	f.appended++
	if f.appended > 1 { // a later request: the store works again
		return f.Store.Append(ctx, e)
	}
	if f.commit {
		if err := f.Store.Append(ctx, e); err != nil {
			return err
		}
	}
	return errTimeout
}

func (f *flakyStore) Void(ctx context.Context, e domain.Envelope) error {
	if f.voidErr != nil {
		return f.voidErr
	}
	return f.Store.Void(ctx, e)
}

// A write whose outcome the request could not see is settled before the
// client hears anything: committed → 201 as usual; not committed → voided
// (ErrNotCommitted: nothing will be written) and a retry with the key still
// creates the sale; unsettleable → ErrOutcomeUnknown, never a plain 500.
func TestAWriteWhoseOutcomeIsUnknownIsSettledBeforeAnswering(t *testing.T) {
	ctx := context.Background()
	cmd := CreateSale{Sale: domain.SaleCreated{Product: "Livro", Amount: 1050}, IdempotencyKey: "order-7"}
	newSvc := func(f *flakyStore) *Service {
		return &Service{Store: f, Region: "us-east-1", State: activeState{}}
	}

	committed := &flakyStore{Store: memory.New(), commit: true}
	if got, err := newSvc(committed).Create(ctx, cmd); err != nil || got.Sale.Product != "Livro" {
		t.Fatalf("committed behind a timeout: %+v, %v; want the sale", got, err)
	}

	lost := &flakyStore{Store: memory.New()}
	svc := newSvc(lost)
	if _, err := svc.Create(ctx, cmd); !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("not committed behind a timeout: %v, want ErrNotCommitted", err)
	}
	if sale, err := svc.Get(ctx, Keys{}.SaleID("", cmd.IdempotencyKey), Anyone); !errors.Is(err, domain.ErrSaleNotFound) {
		t.Fatalf("after the void the sale reads %+v, %v; want not found", sale, err)
	}
	if got, err := svc.Create(ctx, cmd); err != nil || got.Replayed {
		t.Fatalf("the client's retry with the same key: %+v, %v; want the sale created now", got, err)
	}
	if n := lost.Len(); n != 1 {
		t.Fatalf("store holds %d events, want 1", n)
	}

	unknown := &flakyStore{Store: memory.New(), voidErr: errTimeout}
	if _, err := newSvc(unknown).Create(ctx, cmd); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("neither the write nor the void answered: %v, want ErrOutcomeUnknown", err)
	}
	closed := memory.New()
	closed.SetWritesClosed(true)
	if _, err := (&Service{Store: closed, Region: "us-east-1", State: activeState{}}).Create(ctx, cmd); !errors.Is(err, eventstore.ErrWritesClosed) {
		t.Fatalf("closed gate: %v, want ErrWritesClosed", err)
	}
}

// Keys belong to their caller: with the deployment's secret, one key sent
// by two callers is two sales (neither sees the other's), the same caller
// in another region gets the same sale, and nobody without the secret can
// compute the id; a caller reads and cancels only its own sales unless it
// is an operator.
func TestKeysAndSalesBelongToTheirCaller(t *testing.T) {
	ctx := context.Background()
	keys := Keys{Secret: []byte("deployment secret")}
	store := memory.New()
	us := &Service{Store: store, Region: "us-east-1", State: activeState{}, Keys: keys}
	sa := &Service{Store: memory.New(), Region: "sa-east-1", State: activeState{}, Keys: keys}
	alice := Caller{Principal: "arn:aws:iam::123456789012:role/alice"}
	bob := Caller{Principal: "arn:aws:iam::123456789012:role/bob"}
	ops := Caller{Principal: "arn:aws:iam::123456789012:role/ops", Operator: true}
	sale := domain.SaleCreated{Product: "Livro", Amount: 1050}

	a, err := us.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42", Caller: alice})
	if err != nil {
		t.Fatal(err)
	}
	b, err := us.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42", Caller: bob})
	if err != nil || b.Replayed || b.Sale.ID == a.Sale.ID {
		t.Fatalf("bob's order-42: %+v, %v; want his own sale, not a replay of alice's", b, err)
	}
	if other, err := sa.Create(ctx, CreateSale{Sale: sale, IdempotencyKey: "order-42", Caller: alice}); err != nil || other.Sale.ID != a.Sale.ID {
		t.Fatalf("alice's retry in the other region got sale %s, want %s", other.Sale.ID, a.Sale.ID)
	}
	if a.Sale.ID == (Keys{}).SaleID("", "order-42") || a.Sale.ID.Version() != 8 {
		t.Fatalf("sale id %s can be computed from the key alone", a.Sale.ID)
	}
	if a.Sale.Principal != alice.Principal {
		t.Fatalf("the sale records principal %q", a.Sale.Principal)
	}
	if _, err := us.Get(ctx, a.Sale.ID, bob); !errors.Is(err, domain.ErrSaleNotFound) {
		t.Fatalf("bob reading alice's sale: %v, want not found", err)
	}
	if err := us.Cancel(ctx, a.Sale.ID, bob, "bob"); !errors.Is(err, domain.ErrSaleNotFound) {
		t.Fatalf("bob cancelling alice's sale: %v, want not found", err)
	}
	for _, c := range []Caller{alice, ops} {
		if got, err := us.Get(ctx, a.Sale.ID, c); err != nil || got.ID != a.Sale.ID {
			t.Fatalf("%s reading alice's sale: %v", c.Principal, err)
		}
	}
	if err := us.Cancel(ctx, a.Sale.ID, ops, "ops"); err != nil {
		t.Fatalf("an operator cancelling alice's sale: %v", err)
	}
	if got, _ := us.Get(ctx, a.Sale.ID, alice); got.Status != domain.StatusCancelled {
		t.Fatalf("alice's sale is %s after the operator's cancel", got.Status)
	}
	// A sale of no principal (created without authorization) is an
	// operator's only.
	open, _ := (&Service{Store: store, Region: "us-east-1", State: activeState{}}).Create(ctx, CreateSale{Sale: sale, Caller: Anyone})
	if _, err := us.Get(ctx, open.Sale.ID, alice); !errors.Is(err, domain.ErrSaleNotFound) {
		t.Fatalf("alice reading a sale of no principal: %v, want not found", err)
	}
}
