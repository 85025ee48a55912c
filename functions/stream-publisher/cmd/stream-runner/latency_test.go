package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// BenchmarkAppendToSQSLatency measures, against moto, the time from the
// start of an append through the real event store to the moment the
// message is received from the processing queue, through the in-process
// runner and SNS. Events are appended open-loop at a fixed rate; two
// receivers long-poll and batch-delete. Run it once per configuration:
//
//	go test -run '^$' -bench AppendToSQSLatency -benchtime 1x ./cmd/stream-runner/
//
// (BENCH_EVENTS overrides the 1,000 events.)
func BenchmarkAppendToSQSLatency(b *testing.B) {
	events := 1000
	if v := envInt("BENCH_EVENTS"); v > 0 {
		events = v
	}
	for _, poll := range []string{"500ms", "100ms"} {
		b.Run("poll="+poll, func(b *testing.B) {
			for range b.N {
				p50, p99, max := latencyRun(b, events, poll, 50)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
				b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
				b.ReportMetric(float64(max.Microseconds())/1000, "max_ms")
			}
		})
	}
}

func latencyRun(b *testing.B, events int, poll string, perSecond int) (p50, p99, worst time.Duration) {
	moto := motoserver.Shared(b)
	us := newRegion(b, moto, "us-east-1")
	awsfixtures.Subscribe(b, us.sns, us.topicARN, us.queueARN, awsfixtures.ProcessingFilter)
	env := runnerEnv(moto, us, b.TempDir(), "STREAM_POLL_INTERVAL", poll)
	_, stop := startInProcess(b, env)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var mu sync.Mutex
	sent := make(map[uuid.UUID]time.Time, events)
	var lat []time.Duration
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				select {
				case <-done:
					return
				default:
				}
				out, err := us.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &us.queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
				if err != nil {
					continue
				}
				now := time.Now()
				var del []sqstypes.DeleteMessageBatchRequestEntry
				mu.Lock()
				for i, m := range out.Messages {
					if e, err := messaging.Decode([]byte(aws.ToString(m.Body))); err == nil {
						if at, ok := sent[e.EventID]; ok {
							lat = append(lat, now.Sub(at))
							delete(sent, e.EventID)
						}
					}
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
				}
				n := len(lat)
				mu.Unlock()
				if len(del) > 0 {
					_, _ = us.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &us.queueURL, Entries: del})
				}
				if n >= events {
					return
				}
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	for i := range events {
		<-tick.C
		e := newSale(b, us, fmt.Sprintf("bench %d", i))
		mu.Lock()
		sent[e.EventID] = time.Now()
		mu.Unlock()
		if err := us.store.Append(ctx, e); err != nil {
			b.Fatalf("append: %v", err)
		}
	}
	tick.Stop()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= events || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(done)
	cancel()
	wg.Wait()
	if len(lat) < events {
		b.Fatalf("%d of %d events arrived", len(lat), events)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.Logf("poll %s, %d events at %d/s: p50 %s p90 %s p99 %s max %s", poll, events, perSecond, pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1])
	return pct(0.50), pct(0.99), lat[len(lat)-1]
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
