package publisher_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/salesplatform/functions/stream-publisher/internal/publisher"
	"github.com/salesplatform/libs/sales/messaging"
)

// BenchmarkHandle measures the handler alone (decode, encode, batch) with
// an SNS fake that answers at once: records/s is its ceiling, and
// sns_calls/record is the request cost per published event.
func BenchmarkHandle(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			fake := &messaging.FakeSNS{Discard: true}
			h := publisher.New(home, messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:1:t", messaging.PublisherOptions{}), publisher.NewPrometheus(nil), quiet)
			ev := build(b, inserts(size)).event
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := h.Handle(ctx, ev)
				if err != nil || len(resp.BatchItemFailures) > 0 {
					b.Fatalf("%v %v", resp, err)
				}
			}
			records := float64(b.N) * float64(size)
			b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(fake.Calls())/records, "sns_calls/record")
		})
	}
}
