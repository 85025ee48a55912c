package replay

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/streams"
)

// streamValue converts a table attribute to a stream attribute.
func streamValue(v ddbtypes.AttributeValue) types.AttributeValue {
	switch x := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: x.Value}
	case *ddbtypes.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: x.Value}
	case *ddbtypes.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: x.Value}
	case *ddbtypes.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: x.Value}
	case *ddbtypes.AttributeValueMemberL:
		out := &types.AttributeValueMemberL{}
		for _, e := range x.Value {
			out.Value = append(out.Value, streamValue(e))
		}
		return out
	case *ddbtypes.AttributeValueMemberM:
		out := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
		for k, e := range x.Value {
			out.Value[k] = streamValue(e)
		}
		return out
	}
	panic("unsupported attribute")
}

func streamRecord(t *testing.T, origin string, op types.OperationType) (types.Record, domain.Envelope) {
	t.Helper()
	e, err := domain.NewEnvelope(uuid.New(), 1, origin, "c", time.Now().Add(-time.Minute), domain.SaleCreated{Product: "b", Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	item, err := store.EncodeItem(e)
	if err != nil {
		t.Fatal(err)
	}
	image := map[string]types.AttributeValue{}
	for k, v := range item {
		image[k] = streamValue(v)
	}
	return types.Record{EventName: op, Dynamodb: &types.StreamRecord{NewImage: image, ApproximateCreationDateTime: timePtr(time.Now().Add(-time.Minute))}}, e
}

func timePtr(t time.Time) *time.Time { return &t }

func TestStreamReplayReadsEveryShardAndStopsWhenCaughtUp(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-11-27T00:00:00.000"
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("parent", "")
	f.AddShard("child", "parent")
	var want []domain.Envelope
	add := func(shard, origin string, op types.OperationType) {
		rec, e := streamRecord(t, origin, op)
		f.Put(shard, rec)
		if origin == "us-east-1" && op == types.OperationTypeInsert {
			want = append(want, e)
		}
	}
	for range 3 {
		add("parent", "us-east-1", types.OperationTypeInsert)
	}
	add("parent", "sa-east-1", types.OperationTypeInsert)
	f.CloseShard("parent")
	add("child", "us-east-1", types.OperationTypeInsert)
	add("child", "us-east-1", types.OperationTypeModify)
	add("child", "us-east-1", types.OperationTypeInsert)

	ckpt := filepath.Join(t.TempDir(), "c")
	fake := &messaging.FakeSNS{}
	run := func() Result {
		t.Helper()
		r, err := Open(Options{Command: "replay stream", Selection: "s", CheckpointPath: ckpt,
			Publisher: messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		src := &StreamReplay{API: f, StreamARN: arn, Start: StreamStart{Position: streams.Position{Type: streams.TrimHorizon}},
			Until: time.Now(), Filter: Filter{Origin: "us-east-1"}, IdlePolls: 2, PollInterval: 10 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done, err := src.Run(ctx, r)
		if err != nil || !done {
			t.Fatalf("caught up %t, %v", done, err)
		}
		res, err := r.Finish(done, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run()
	if res.Counts.Read != 7 || res.Counts.Published != 5 || res.Counts.Skipped[SkipOtherOrigin] != 1 || res.Counts.Skipped[SkipNotInsert] != 1 {
		t.Fatalf("first run %+v", res.Counts)
	}
	if got := len(fake.Published()); got != 5 {
		t.Fatalf("%d published", got)
	}
	// The same command again resumes after the last record: nothing new.
	res = run()
	if res.Runs != 2 || res.Counts.Published != 5 || len(fake.Published()) != 5 {
		t.Fatalf("second run %+v, %d published", res, len(fake.Published()))
	}
	for _, m := range fake.Published() {
		e, err := messaging.Decode([]byte(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, w := range want {
			found = found || w.EventID == e.EventID
		}
		if !found {
			t.Fatalf("published %s, not one of the selected", e.EventID)
		}
	}
}
