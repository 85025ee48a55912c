package transact_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency"
	idemddb "github.com/salesplatform/libs/sales/idempotency/dynamodb"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"

	"github.com/salesplatform/services/sales-worker/internal/transact"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

// replayed sends every transaction twice and returns the second answer:
// what the caller sees when the first answer was lost and the SDK retried.
type replayed struct{ transact.API }

func (r replayed) TransactWriteItems(ctx context.Context, in *ddb.TransactWriteItemsInput, opts ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error) {
	if _, err := r.API.TransactWriteItems(ctx, in, opts...); err != nil {
		return nil, err
	}
	return r.API.TransactWriteItems(ctx, in, opts...)
}

type rig struct {
	client *ddb.Client
	claims *idemddb.Store
	events *esddb.Store
}

func newRig(t *testing.T) *rig {
	t.Helper()
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	et, it := motoserver.UniqueName(t, "events"), motoserver.UniqueName(t, "idem")
	awsfixtures.EventStoreTable(t, client, et)
	awsfixtures.IdempotencyTable(t, client, it)
	return &rig{
		client: client,
		claims: idemddb.New(client, it, idempotency.Options{Region: "us-east-1", Lease: time.Minute}),
		events: esddb.New(client, et),
	}
}

func (r *rig) claim(t *testing.T) idempotency.Claim {
	t.Helper()
	c, err := r.claims.Claim(context.Background(), idempotency.Request{Key: uuid.NewString(), PayloadHash: "h"})
	if err != nil || c.Outcome != idempotency.Claimed {
		t.Fatal(c.Outcome, err)
	}
	return c
}

func processed(t *testing.T, sale uuid.UUID, version int) domain.Envelope {
	t.Helper()
	e, err := domain.NewEnvelope(sale, version, "us-east-1", "", time.Now(), domain.SaleProcessed{LakeKey: "k", ProcessedRegion: "us-east-1", SourceEventID: uuid.New(), SourceEventType: domain.EventSaleCreated})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (r *rig) status(t *testing.T, key string) idempotency.Status {
	t.Helper()
	rec, _, err := r.claims.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Status
}

func TestCommitCompletesAndAppendsTogether(t *testing.T) {
	r := newRig(t)
	c := r.claim(t)
	e := processed(t, uuid.New(), 2)
	if err := transact.New(r.client, r.claims, r.events).CompleteAndAppend(context.Background(), c, "lake/key", e); err != nil {
		t.Fatal(err)
	}
	if st := r.status(t, c.Key); st != idempotency.StatusCompleted {
		t.Fatalf("claim %s", st)
	}
	if got, _ := r.events.Load(context.Background(), e.SaleID); len(got) != 1 || got[0].EventID != e.EventID {
		t.Fatalf("events %v", got)
	}
}

func TestRetryOfALostAnswerIsSuccess(t *testing.T) {
	r := newRig(t)
	c := r.claim(t)
	e := processed(t, uuid.New(), 2)
	if err := transact.New(replayed{r.client}, r.claims, r.events).CompleteAndAppend(context.Background(), c, "lake/key", e); err != nil {
		t.Fatalf("retry that found its own transaction: %v, want success", err)
	}
}

func TestTakenPositionIsAConflictAndWritesNothing(t *testing.T) {
	r := newRig(t)
	c := r.claim(t)
	sale := uuid.New()
	there := processed(t, sale, 2)
	if err := r.events.Append(context.Background(), there); err != nil {
		t.Fatal(err)
	}
	// The other region's SaleProcessed of the same source event: one item.
	mine := there
	mine.OriginRegion, mine.OccurredAt = "sa-east-1", there.OccurredAt.Add(time.Second)
	err := transact.New(r.client, r.claims, r.events).CompleteAndAppend(context.Background(), c, "k", mine)
	var cerr *eventstore.ConflictError
	if !errors.As(err, &cerr) || !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("commit over a taken position: %v, want a conflict", err)
	}
	if cerr.Existing != nil && cerr.Existing.EventID != there.EventID {
		t.Fatalf("conflict names %v", cerr.Existing.EventID)
	}
	if st := r.status(t, c.Key); st != idempotency.StatusInProgress {
		t.Fatalf("claim %s after a cancelled transaction, want still INPROGRESS", st)
	}
}

func TestLostClaimWritesNothing(t *testing.T) {
	r := newRig(t)
	c := r.claim(t)
	if err := r.claims.Release(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	e := processed(t, uuid.New(), 2)
	err := transact.New(r.client, r.claims, r.events).CompleteAndAppend(context.Background(), c, "k", e)
	if !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("commit of a released claim: %v, want ErrClaimLost", err)
	}
	if got, _ := r.events.Load(context.Background(), e.SaleID); len(got) != 0 {
		t.Fatal("SaleProcessed appended without its claim")
	}
}

// Once a failover closed the region's write gate, a completion commits
// nothing: neither SaleProcessed nor the claim's COMPLETED.
func TestClosedWriteGateCommitsNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	gated := r.events.Gated("us-east-1")
	c := r.claim(t)
	e := processed(t, uuid.New(), 2)
	if err := esddb.SetGate(ctx, r.client, r.events.Table(), "us-east-1", esddb.GateClosed, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	err := transact.New(r.client, r.claims, gated).CompleteAndAppend(ctx, c, "k", e)
	if !errors.Is(err, eventstore.ErrWritesClosed) {
		t.Fatalf("commit through a closed gate: %v, want ErrWritesClosed", err)
	}
	if got, _ := r.events.Load(ctx, e.SaleID); len(got) != 0 {
		t.Fatal("SaleProcessed committed through a closed gate")
	}
	if st := r.status(t, c.Key); st != idempotency.StatusInProgress {
		t.Fatalf("claim %s, want still INPROGRESS", st)
	}
	if err := esddb.SetGate(ctx, r.client, r.events.Table(), "us-east-1", esddb.GateOpen, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := transact.New(r.client, r.claims, gated).CompleteAndAppend(ctx, c, "k", e); err != nil {
		t.Fatalf("commit through the reopened gate: %v", err)
	}
}
