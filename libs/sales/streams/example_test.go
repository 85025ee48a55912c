package streams_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/salesplatform/libs/sales/streams"
)

// A replay reads a stream from a position with any Lambda-style handler;
// here the in-memory FakeStream stands in for the DynamoDB Streams client
// (dynamodbstreams.NewFromConfig(cfg) in a real program, with the ARN from
// streams.StreamARN).
func ExampleReader() {
	api := &streams.FakeStream{ARN: arn}
	api.AddShard("shard-1", "")
	for _, l := range []string{"a", "b", "c"} {
		api.Put("shard-1", record(l))
	}
	api.CloseShard("shard-1")

	cp := &streams.MemoryCheckpoint{} // streams.FileCheckpoint{Dir: ...} to resume across runs
	r, err := streams.New(api, streams.Config{
		StreamARN:  arn,
		Start:      streams.Position{Type: streams.TrimHorizon},
		BatchSize:  2,
		Checkpoint: cp,
		Logger:     quiet,
	})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var seen []string
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, rec := range ev.Records {
			seen = append(seen, rec.EventName+" "+rec.Change.Keys["k"].String())
		}
		return events.DynamoDBEventResponse{}, nil // or BatchItemFailures to rewind
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx, handler) }()
	for {
		states, _ := cp.Load(ctx, arn)
		if states["shard-1"].Finished {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	fmt.Println(seen)
	// Output: [INSERT a INSERT b INSERT c]
}
