package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

// Invariant 1 under faults between SNS and the workers: every event
// delivered again (twice more) and out of order (a cancellation before its
// sale) changes nothing in the lakes and processes nothing twice.
func TestDuplicatesAndReorderingChangeNothing(t *testing.T) {
	activeActive(t)
	ctx := context.Background()
	var ids, cancelled []string
	for i, r := range stk.Regions() {
		got := postMany(t, ep.API[r], 5, 5)
		ids = append(ids, got...)
		// Cancel some in the other region, some in their own (a sale is
		// in the other region's store once replicated: wait for that).
		other := stk.Regions()[(i+1)%len(stk.Regions())]
		for j, id := range got[:3] {
			api := ep.API[r]
			if j%2 == 1 {
				api = ep.API[other]
				eventually(t, 30*time.Second, "sale "+id+" replicated to "+other, func() (struct{}, bool) { return struct{}{}, len(events(t, other, id)) > 0 })
			}
			if code := retrying(ctx, http.MethodDelete, api+"/sales/"+id); code != http.StatusNoContent {
				t.Fatalf("DELETE %s: %d", id, code)
			}
			cancelled = append(cancelled, id)
		}
	}
	waitInLakes(t, ids, "sales/", 3*time.Minute)
	waitInLakes(t, cancelled, "cancellations/", 3*time.Minute)
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	checkExactlyOnce(t, cancelled, "cancellations/", domain.EventSaleCancelled)

	duplicatesBefore := 0.0
	for _, r := range stk.Regions() {
		duplicatesBefore += metric(t, ep.Worker[r]+"/metrics", "sales_worker_messages_duplicate_total")
	}
	// Re-deliver every event twice to its origin region's queue (where it
	// is processed at once), cancellations first and sales delayed, so
	// each cancellation overtakes its sale.
	injected := 0
	for _, id := range ids {
		for _, r := range stk.Regions() {
			for _, e := range events(t, r, id) {
				if e.OriginRegion != r || (e.EventType != domain.EventSaleCreated && e.EventType != domain.EventSaleCancelled) {
					continue
				}
				delay := int32(0)
				if e.EventType == domain.EventSaleCreated {
					delay = 4
				}
				for range 2 {
					sendEvent(t, r, e, delay)
					injected++
				}
			}
		}
	}
	t.Logf("injected %d duplicate deliveries (cancellations ahead of their sales)", injected)
	duplicates := eventually(t, 2*time.Minute, "the workers to recognise every injected duplicate", func() (float64, bool) {
		d := 0.0
		for _, r := range stk.Regions() {
			d += metric(t, ep.Worker[r]+"/metrics", "sales_worker_messages_duplicate_total")
		}
		return d - duplicatesBefore, d-duplicatesBefore >= float64(injected)
	})
	if duplicates < float64(injected) {
		t.Fatalf("workers recognised %.0f of %d injected duplicates", duplicates, injected)
	}
	checkExactlyOnce(t, ids, "sales/", domain.EventSaleCreated)
	checkExactlyOnce(t, cancelled, "cancellations/", domain.EventSaleCancelled)
	checkAllProcessedByGet(t, ids)
}

func sendEvent(t *testing.T, region string, e domain.Envelope, delay int32) {
	t.Helper()
	body, err := messaging.Body(e)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range messaging.Attributes(e) {
		attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	url := stk.Outputs().Regions[region].ProcessingQueueURL
	if _, err := clients.SQS[region].SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: &url, MessageBody: aws.String(string(body)), MessageAttributes: attrs, DelaySeconds: delay,
	}); err != nil {
		t.Fatalf("send %s to %s: %v", e.EventID, region, err)
	}
}
