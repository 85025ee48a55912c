package consumer

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// BenchmarkPollInMemory is the worker's own cost per sale, without AWS:
// one batch of ten fresh sales per Poll through decode, claim, lake put,
// commit and the batched delete, on the memory fakes. One op is one sale.
func BenchmarkPollInMemory(b *testing.B) {
	r := newRig(&testing.T{}, "dlq")
	bodies := make([]string, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 10 {
		b.StopTimer()
		batch := make([]types.Message, 10)
		for j := range batch {
			bodies[j] = saleBody(&testing.T{})
			batch[j] = sqsMessage(&testing.T{}, strconv.Itoa(i+j), bodies[j])
		}
		r.sqs.receive = [][]types.Message{batch}
		r.sqs.deletes = r.sqs.deletes[:0]
		b.StartTimer()
		if n, err := r.c.Poll(context.Background(), context.Background()); err != nil || n != 10 {
			b.Fatalf("poll: %d, %v", n, err)
		}
	}
}
