package dynamodb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/eventstore/eventstoretest"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

func TestAcceptanceAgainstEmulator(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		name := motoserver.UniqueName(t, "events")
		awsfixtures.EventStoreTable(t, client, name)
		return store.New(client, name)
	})
}

// lostAnswer is a DynamoDB client whose first PutItem succeeds but whose
// answer is lost: the caller sees an error and the SDK-level retry then
// fails its condition against the item the first attempt wrote.
type lostAnswer struct {
	store.API
	item map[string]types.AttributeValue
}

func (l *lostAnswer) PutItem(ctx context.Context, in *ddb.PutItemInput, _ ...func(*ddb.Options)) (*ddb.PutItemOutput, error) {
	if l.item == nil {
		l.item = in.Item
		// The first attempt "succeeded"; the retry sees its own item.
	}
	return nil, &types.ConditionalCheckFailedException{Message: ptr("The conditional request failed"), Item: l.item}
}

func TestRetryAfterLostAnswerIsSuccess(t *testing.T) {
	fake := &lostAnswer{}
	s := store.New(fake, "events")
	e := created(t)
	if err := s.Append(context.Background(), e); err != nil {
		t.Fatalf("append whose retry found its own item: %v, want success", err)
	}
	other := e // another request's version of the same operation
	other.CorrelationID = "another request"
	err := s.Append(context.Background(), other)
	var cerr *eventstore.ConflictError
	if !errors.As(err, &cerr) || cerr.Existing == nil || cerr.Existing.EventID != e.EventID {
		t.Fatalf("append over another event: %v, want a conflict naming %s", err, e.EventID)
	}
}

func TestAppendCostsOnePutAndLoadOneQuery(t *testing.T) {
	moto := motoserver.Shared(t)
	counter := awsconfig.NewRequestCounter(nil)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{Counter: counter}))
	name := motoserver.UniqueName(t, "events")
	awsfixtures.EventStoreTable(t, client, name)
	s := store.New(client, name)

	before := counter.Operations()
	e := created(t)
	if err := s.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background(), e.SaleID); err != nil {
		t.Fatal(err)
	}
	got := counter.Operations().Sub(before)
	want := awsconfig.Counts{"DynamoDB.PutItem": 1, "DynamoDB.Query": 1}
	if got.String() != want.String() {
		t.Errorf("calls %v, want %v", got, want)
	}
}

// The write gate: a gated append checks the region's gate in the same
// transaction (still one request); once the gate is closed nothing is
// written, and an ungated writer (the merge, other regions) is not fenced.
func TestWriteGateFencesTheRegionsAppends(t *testing.T) {
	moto := motoserver.Shared(t)
	counter := awsconfig.NewRequestCounter(nil)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{Counter: counter}))
	name := motoserver.UniqueName(t, "events")
	awsfixtures.EventStoreTable(t, client, name)
	ctx := context.Background()
	s := store.New(client, name).Gated("us-east-1")

	before := counter.Operations()
	open := created(t)
	if err := s.Append(ctx, open); err != nil {
		t.Fatalf("append with no gate item (open): %v", err)
	}
	if got, want := counter.Operations().Sub(before).String(), (awsconfig.Counts{"DynamoDB.TransactWriteItems": 1}).String(); got != want {
		t.Errorf("a gated append cost %s, want %s", got, want)
	}
	if err := store.SetGate(ctx, client, name, "us-east-1", store.GateClosed, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	closed := created(t)
	if err := s.Append(ctx, closed); !errors.Is(err, eventstore.ErrWritesClosed) {
		t.Fatalf("append through a closed gate: %v, want ErrWritesClosed", err)
	}
	if got, _ := s.Load(ctx, closed.SaleID); len(got) != 0 {
		t.Fatal("a closed gate let the event through")
	}
	if err := s.Gated("sa-east-1").Append(ctx, closed); err != nil {
		t.Fatalf("another region's gate is open: %v", err)
	}
	if st, err := store.Gate(ctx, client, name, "us-east-1"); err != nil || st != store.GateClosed {
		t.Fatalf("gate reads %q, %v", st, err)
	}
	if err := store.SetGate(ctx, client, name, "us-east-1", store.GateOpen, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, created(t)); err != nil {
		t.Fatalf("append through a reopened gate: %v", err)
	}
}

// A void fences the abandoned attempt itself: the very PutItem, arriving
// after the void (a request delayed in the network, an SDK retry), fails
// its condition and writes nothing.
func TestVoidFencesALateAttempt(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	name := motoserver.UniqueName(t, "events")
	awsfixtures.EventStoreTable(t, client, name)
	ctx := context.Background()
	s := store.New(client, name)
	e := created(t)
	if err := s.Void(ctx, e); err != nil {
		t.Fatal(err)
	}
	late, err := s.PutInput(e)
	if err != nil {
		t.Fatal(err)
	}
	var ccf *types.ConditionalCheckFailedException
	if _, err := client.PutItem(ctx, late); !errors.As(err, &ccf) {
		t.Fatalf("the late attempt after the void: %v, want its condition to fail", err)
	}
	if got, err := s.Load(ctx, e.SaleID); err != nil || len(got) != 0 {
		t.Fatalf("after the void and the late attempt the sale reads %v, %v; want nothing", got, err)
	}
}

func created(t *testing.T) domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, "us-east-1", "c", time.Now(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }
