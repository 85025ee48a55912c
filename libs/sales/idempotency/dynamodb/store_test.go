package dynamodb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/idempotency"
	store "github.com/salesplatform/libs/sales/idempotency/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency/idempotencytest"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

func TestAcceptanceAgainstEmulator(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	idempotencytest.Run(t, func(t *testing.T, o idempotency.Options) idempotency.Store {
		name := motoserver.UniqueName(t, "idem")
		awsfixtures.IdempotencyTable(t, client, name)
		return store.New(client, name, o)
	})
}

// lostAnswer is a DynamoDB client whose writes succeed but whose answers
// are lost: the caller sees the failed condition that the SDK's retry of
// the same write meets against the item the first attempt wrote.
type lostAnswer struct {
	store.API
	item map[string]types.AttributeValue
}

func (l *lostAnswer) PutItem(_ context.Context, in *ddb.PutItemInput, _ ...func(*ddb.Options)) (*ddb.PutItemOutput, error) {
	if l.item == nil {
		l.item = in.Item
	}
	return nil, &types.ConditionalCheckFailedException{Item: l.item}
}

func (l *lostAnswer) UpdateItem(_ context.Context, in *ddb.UpdateItemInput, _ ...func(*ddb.Options)) (*ddb.UpdateItemOutput, error) {
	done := map[string]types.AttributeValue{}
	for k, v := range l.item {
		done[k] = v
	}
	done[store.AttrStatus] = &types.AttributeValueMemberS{Value: string(idempotency.StatusCompleted)}
	l.item = done
	return nil, &types.ConditionalCheckFailedException{Item: l.item}
}

func TestRetriedWritesRecogniseTheirOwnFirstAttempt(t *testing.T) {
	s := store.New(&lostAnswer{}, "idem", idempotency.Options{Region: "us-east-1"})
	c, err := s.Claim(context.Background(), idempotency.Request{Key: "k", PayloadHash: "h"})
	if err != nil || c.Outcome != idempotency.Claimed {
		t.Fatalf("claim whose retry met its own item: %v %v, want claimed", c.Outcome, err)
	}
	if err := s.Complete(context.Background(), c, "r"); err != nil {
		t.Fatalf("completion whose retry met its own completion: %v, want success", err)
	}
	other := c
	other.Owner = "someone-else"
	if err := s.Complete(context.Background(), other, "r"); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("completion by another owner: %v, want ErrClaimLost", err)
	}
}

func TestClaimCostsOneWriteAndLookupOneBatchRead(t *testing.T) {
	moto := motoserver.Shared(t)
	counter := awsconfig.NewRequestCounter(nil)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{Counter: counter}))
	name := motoserver.UniqueName(t, "idem")
	awsfixtures.IdempotencyTable(t, client, name)
	s := store.New(client, name, idempotency.Options{Region: "us-east-1", Lease: time.Minute})
	ctx := context.Background()

	before := counter.Operations()
	c, err := s.Claim(ctx, idempotency.Request{Key: "a", PayloadHash: "h"})
	if err != nil || c.Outcome != idempotency.Claimed {
		t.Fatalf("claim: %v %v", c.Outcome, err)
	}
	if dup, err := s.Claim(ctx, idempotency.Request{Key: "a", PayloadHash: "h"}); err != nil || dup.Outcome != idempotency.InProgress {
		t.Fatalf("second claim: %v %v", dup.Outcome, err)
	}
	if err := s.Complete(ctx, c, "r"); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 150)
	for i := range keys {
		keys[i] = "a"
		if i%2 == 1 {
			keys[i] = "absent-" + string(rune('a'+i%26))
		}
	}
	got, err := s.Lookup(ctx, keys)
	if err != nil || got["a"].Status != idempotency.StatusCompleted {
		t.Fatalf("lookup: %v %v", got, err)
	}
	ops := counter.Operations().Sub(before)
	want := awsconfig.Counts{"DynamoDB.PutItem": 2, "DynamoDB.UpdateItem": 1, "DynamoDB.BatchGetItem": 1}
	if ops.String() != want.String() {
		t.Fatalf("operations %s, want %s (a failed claim reads nothing more; duplicates are dropped from a lookup)", ops, want)
	}
}
