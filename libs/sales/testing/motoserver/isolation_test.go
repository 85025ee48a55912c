package motoserver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

// moto 5.2.1 rolls a cancelled TransactWriteItems back by putting back a
// deep copy of every table it touched, taken when it started: any write
// another request made to those tables in between is lost. AWS
// transactions are isolated. The harness serialises moto's DynamoDB writes
// (see patch.py); this test proves no concurrent write is lost.
func TestCancelledTransactionsLoseNoConcurrentWrite(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	table := motoserver.UniqueName(t, "isolation")
	awsfixtures.EventStoreTable(t, client, table)
	ctx := context.Background()

	// Some bulk so that moto's copy takes a while.
	for i := range 200 {
		put(t, client, table, fmt.Sprintf("bulk-%d", i))
	}
	const writes = 150
	var wg sync.WaitGroup
	stop := make(chan struct{})
	cancelled := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, err := client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{
				Put: &types.Put{
					TableName:           &table,
					Item:                map[string]types.AttributeValue{"sale_id": &types.AttributeValueMemberS{Value: "bulk-0"}, "position": &types.AttributeValueMemberS{Value: "p"}},
					ConditionExpression: aws.String("attribute_not_exists(sale_id)"),
				},
			}}})
			var tce *types.TransactionCanceledException
			if errors.As(err, &tce) {
				cancelled++
			}
		}
	}()
	for i := range writes {
		put(t, client, table, fmt.Sprintf("w-%d", i))
	}
	close(stop)
	wg.Wait()

	lost := 0
	for i := range writes {
		out, err := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{
			"sale_id": &types.AttributeValueMemberS{Value: fmt.Sprintf("w-%d", i)}, "position": &types.AttributeValueMemberS{Value: "p"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if out.Item == nil {
			lost++
		}
	}
	t.Logf("%d cancelled transactions ran alongside %d writes; %d writes lost", cancelled, writes, lost)
	if cancelled == 0 {
		t.Fatal("no transaction was cancelled: the test did not exercise the rollback")
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes were lost by the emulator's transaction rollback", lost)
	}
}

func put(t *testing.T, client *ddb.Client, table, id string) {
	t.Helper()
	if _, err := client.PutItem(context.Background(), &ddb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
		"sale_id": &types.AttributeValueMemberS{Value: id}, "position": &types.AttributeValueMemberS{Value: "p"},
	}}); err != nil {
		t.Fatal(err)
	}
}

// The launcher's TransactWriteItems keeps AWS's semantics: all or nothing,
// cancellation reasons in order, ALL_OLD items on failed conditions.
func TestTransactionsAreAllOrNothing(t *testing.T) {
	moto := motoserver.Shared(t)
	client := ddb.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{}))
	table := motoserver.UniqueName(t, "atomic")
	awsfixtures.EventStoreTable(t, client, table)
	ctx := context.Background()
	put(t, client, table, "exists")
	key := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"sale_id": &types.AttributeValueMemberS{Value: id}, "position": &types.AttributeValueMemberS{Value: "p"}}
	}
	putNew := func(id string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: key(id), ConditionExpression: aws.String("attribute_not_exists(sale_id)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
	}
	_, err := client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{putNew("a"), putNew("exists")}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 {
		t.Fatalf("got %v, want a cancellation with two reasons", err)
	}
	if aws.ToString(tce.CancellationReasons[0].Code) != "None" || aws.ToString(tce.CancellationReasons[1].Code) != "ConditionalCheckFailed" || tce.CancellationReasons[1].Item == nil {
		t.Errorf("reasons %+v", tce.CancellationReasons)
	}
	if out, _ := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: key("a"), ConsistentRead: aws.Bool(true)}); out.Item != nil {
		t.Error("a cancelled transaction wrote its first item")
	}
	if _, err := client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{putNew("a"), putNew("b")}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if out, _ := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: key(id), ConsistentRead: aws.Bool(true)}); out.Item == nil {
			t.Errorf("committed transaction did not write %s", id)
		}
	}
}

// Concurrent receivers never get the same message while it is invisible.
func TestConcurrentReceiversGetEachMessageOnce(t *testing.T) {
	moto := motoserver.Shared(t)
	// One long attempt per call: a receive that timed out on the client
	// would still have hidden its messages for the visibility timeout, and
	// the count below would miss them.
	client := sqs.NewFromConfig(moto.TestConfig(t, "us-east-1", awsconfig.Options{MaxAttempts: 1, AttemptTimeout: 2 * time.Minute}))
	url, _ := awsfixtures.Queue(t, client, motoserver.UniqueName(t, "receivers"), awsfixtures.QueueOptions{VisibilityTimeout: 120})
	ctx := context.Background()
	const messages = 100
	for i := 0; i < messages; i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j := i; j < i+10; j++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(fmt.Sprint(j))})
		}
		if _, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	// Each receiver stops after three empty answers in a row or at the
	// deadline: one empty answer can be a receive that waited behind the
	// others on a loaded emulator, not an empty queue.
	deadline := time.Now().Add(90 * time.Second)
	for range 8 {
		wg.Go(func() {
			for empty := 0; empty < 3 && time.Now().Before(deadline); {
				out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil || len(out.Messages) == 0 {
					empty++
					continue
				}
				empty = 0
				mu.Lock()
				for _, m := range out.Messages {
					seen[aws.ToString(m.Body)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	if len(seen) != messages || twice > 0 {
		t.Errorf("%d distinct messages received (want %d), %d of them more than once", len(seen), messages, twice)
	}
}
