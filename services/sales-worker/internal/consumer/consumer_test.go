package consumer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/salesplatform/libs/sales/domain"
	esmem "github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/idempotency"
	idemmem "github.com/salesplatform/libs/sales/idempotency/memory"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/metrics"
	"github.com/salesplatform/services/sales-worker/internal/processing"
	"github.com/salesplatform/services/sales-worker/internal/processing/processingfake"
)

// fakeSQS is a scripted SQS: it hands out the batches queued in receive,
// records every call, and fails the entries its hooks say.
type fakeSQS struct {
	mu      sync.Mutex
	receive [][]types.Message
	deletes [][]string // receipt handles per DeleteMessageBatch call
	changes []map[string]int32
	sent    []*sqs.SendMessageInput
	sendErr error
	failDel func(call int, handle string) (fail, senderFault bool)
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	if len(f.receive) > 0 {
		batch := f.receive[0]
		f.receive = f.receive[1:]
		f.mu.Unlock()
		return &sqs.ReceiveMessageOutput{Messages: batch}, nil
	}
	f.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Millisecond):
		return &sqs.ReceiveMessageOutput{}, nil
	}
}

func (f *fakeSQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := len(f.deletes)
	var handles []string
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		h := aws.ToString(e.ReceiptHandle)
		handles = append(handles, h)
		if f.failDel != nil {
			if fail, sender := f.failDel(call, h); fail {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: sender})
				continue
			}
		}
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	f.deletes = append(f.deletes, handles)
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := map[string]int32{}
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		call[aws.ToString(e.ReceiptHandle)] = e.VisibilityTimeout
		out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	f.changes = append(f.changes, call)
	return out, nil
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{MessageId: aws.String(uuid.NewString())}, nil
}

type rig struct {
	sqs   *fakeSQS
	state *processingfake.State
	m     *metrics.Metrics
	c     *Consumer
}

func newRig(t *testing.T, dlq string) *rig {
	t.Helper()
	claims := idemmem.New(idempotency.Options{Region: "us-east-1", Lease: time.Minute})
	events := esmem.New()
	state := processingfake.NewState(regionstate.Active)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	proc := processing.New(claims, processingfake.NewLake(), &processing.Finisher{
		Claims: claims, Commit: &processingfake.Committer{Claims: claims, Events: events}, Events: events, Region: "us-east-1", Now: time.Now,
	}, state, processing.Options{Region: "us-east-1", TakeoverDelay: time.Minute, PassiveVisibility: 2 * time.Minute, BackoffBase: time.Second, BackoffMax: time.Minute, Logger: log})
	r := &rig{sqs: &fakeSQS{}, state: state, m: metrics.New()}
	r.c = New(r.sqs, proc, claims, state, r.m, Options{
		QueueURL: "q", DLQURL: dlq, Consumers: 1, Visibility: 30 * time.Second, StopTimeout: 2 * time.Second, StatePoll: 10 * time.Millisecond, Logger: log,
	})
	return r
}

func sqsMessage(t *testing.T, handle string, body string) types.Message {
	t.Helper()
	return types.Message{
		MessageId: aws.String("id-" + handle), ReceiptHandle: aws.String(handle), Body: aws.String(body),
		Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]types.MessageAttributeValue{"event_type": {DataType: aws.String("String"), StringValue: aws.String("SaleCreated")}},
	}
}

func saleBody(t *testing.T) string { return saleBodyAt(t, time.Now()) }

// saleBodyAt is a sale that occurred at at.
func saleBodyAt(t *testing.T, at time.Time) string {
	t.Helper()
	ev, _ := domain.NewSaleCreated("Book", 100)
	e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, "us-east-1", "", at, ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := messaging.Body(e)
	return string(b)
}

func TestABatchCostsOneDeleteCall(t *testing.T) {
	r := newRig(t, "dlq")
	var batch []types.Message
	for i := range 10 {
		batch = append(batch, sqsMessage(t, "h"+strconv.Itoa(i), saleBody(t)))
	}
	r.sqs.receive = [][]types.Message{batch}
	n, err := r.c.Poll(context.Background(), context.Background())
	if err != nil || n != 10 {
		t.Fatalf("poll: %d, %v", n, err)
	}
	if len(r.sqs.deletes) != 1 || len(r.sqs.deletes[0]) != 10 || len(r.sqs.changes) != 0 {
		t.Fatalf("%d delete calls %v, %d visibility calls; want one delete of 10 and nothing else", len(r.sqs.deletes), r.sqs.deletes, len(r.sqs.changes))
	}
	if got := testutil.ToFloat64(r.m.Deleted); got != 10 {
		t.Fatalf("deleted metric %v", got)
	}
}

func TestPartialDeleteFailuresAreRetriedOnceUnlessTheSendersFault(t *testing.T) {
	r := newRig(t, "dlq")
	r.sqs.failDel = func(call int, h string) (bool, bool) {
		switch h {
		case "transient":
			return call == 0, false
		case "sender":
			return true, true
		}
		return false, false
	}
	r.sqs.receive = [][]types.Message{{sqsMessage(t, "ok", saleBody(t)), sqsMessage(t, "transient", saleBody(t)), sqsMessage(t, "sender", saleBody(t))}}
	if _, err := r.c.Poll(context.Background(), context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.sqs.deletes) != 2 || len(r.sqs.deletes[1]) != 1 || r.sqs.deletes[1][0] != "transient" {
		t.Fatalf("delete calls %v, want the batch then a retry of the transient failure alone", r.sqs.deletes)
	}
	if got, failed := testutil.ToFloat64(r.m.Deleted), testutil.ToFloat64(r.m.DeleteFailed); got != 2 || failed != 1 {
		t.Fatalf("deleted %v, failed %v; want 2 and 1", got, failed)
	}
}

func TestPoisonIsDeletedOnlyOnceItIsInTheDLQ(t *testing.T) {
	cases := []struct {
		name        string
		dlq         string
		sendErr     error
		wantDeleted bool
		wantHidden  int32
	}{
		{"sent", "dlq", nil, true, 0},
		{"DLQ send fails", "dlq", errors.New("sqs down"), false, 1},
		{"no DLQ", "", nil, false, int32(noDLQVisibility / time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.dlq)
			r.sqs.sendErr = c.sendErr
			r.sqs.receive = [][]types.Message{{sqsMessage(t, "poison", "not json")}}
			if _, err := r.c.Poll(context.Background(), context.Background()); err != nil {
				t.Fatal(err)
			}
			deleted := len(r.sqs.deletes) == 1 && r.sqs.deletes[0][0] == "poison"
			if deleted != c.wantDeleted {
				t.Fatalf("deleted %v, want %v (deletes %v)", deleted, c.wantDeleted, r.sqs.deletes)
			}
			if c.wantDeleted {
				sent := r.sqs.sent[0]
				if aws.ToString(sent.MessageBody) != "not json" || aws.ToString(sent.QueueUrl) != "dlq" ||
					aws.ToString(sent.MessageAttributes[AttrDeadLetterReason].StringValue) != processing.ReasonUndecodable ||
					aws.ToString(sent.MessageAttributes[AttrSourceMessageID].StringValue) != "id-poison" ||
					sent.MessageAttributes["event_type"].StringValue == nil {
					t.Fatalf("sent to the DLQ: %+v", sent)
				}
				return
			}
			if len(r.sqs.changes) != 1 || r.sqs.changes[0]["poison"] < c.wantHidden {
				t.Fatalf("visibility changes %v, want the poison hidden for at least %ds", r.sqs.changes, c.wantHidden)
			}
		})
	}
}

func TestParkedMessagesComeBackWhenTheRegionTurnsActive(t *testing.T) {
	r := newRig(t, "dlq")
	r.state.Set(regionstate.Passive)
	// Older than the takeover delay: parked, not deferred for it.
	old := time.Now().Add(-2 * time.Minute)
	r.sqs.receive = [][]types.Message{{sqsMessage(t, "a", saleBodyAt(t, old)), sqsMessage(t, "b", saleBodyAt(t, old))}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.c.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for r.c.parked.len() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("messages not parked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.sqs.mu.Lock()
	parkedFor := r.sqs.changes[0]["a"]
	r.sqs.mu.Unlock()
	if parkedFor != 120 {
		t.Fatalf("parked for %ds, want 120", parkedFor)
	}
	r.state.Set(regionstate.Active)
	for testutil.ToFloat64(r.m.Unparked) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("parked messages not given back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	r.sqs.mu.Lock()
	defer r.sqs.mu.Unlock()
	last := r.sqs.changes[len(r.sqs.changes)-1]
	if last["a"] != 0 || last["b"] != 0 {
		t.Fatalf("unpark set %v, want visibility 0 for both", last)
	}
	if len(r.sqs.deletes) != 0 {
		t.Fatal("a passive region deleted messages")
	}
}

func TestRunReturnsWithinTheStopTimeout(t *testing.T) {
	r := newRig(t, "dlq")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.c.Run(ctx); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if err := r.c.Ready(); err != nil {
		t.Fatalf("running consumer not ready: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(r.c.o.StopTimeout + time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := r.c.Ready(); err == nil {
		t.Fatal("a drained consumer says it is ready")
	}
}

func TestSecondsRoundUpWithinSQSLimits(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want int32
	}{{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}, {24 * time.Hour, 43200}}
	for _, c := range cases {
		if got := seconds(c.in); got != c.want {
			t.Errorf("seconds(%s) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestParkedSetIsBounded(t *testing.T) {
	p := newParkedSet(3)
	for i := range 5 {
		p.add(strconv.Itoa(i), "h"+strconv.Itoa(i))
	}
	p.add("4", "h4b") // re-parked: new handle, same place
	p.remove("3")
	got := p.drain()
	if len(got) != 2 || got[0] != (parked{"2", "h2"}) || got[1] != (parked{"4", "h4b"}) {
		t.Fatalf("drain = %v, want 2, then 4 with its newest handle (0 and 1 evicted, 3 removed)", got)
	}
	if again := p.drain(); len(again) != 0 {
		t.Fatalf("second drain = %v, want nothing", again)
	}
	for i := range 100 {
		p.add(strconv.Itoa(i), "h")
		p.remove(strconv.Itoa(i))
	}
	if len(p.order) > 2*p.limit+1 {
		t.Fatalf("order grew to %d entries for an empty set", len(p.order))
	}
}

type fakeQueueAttrs struct {
	policy  string
	gotName string
	gotAcct string
}

func (f *fakeQueueAttrs) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	attrs := map[string]string{}
	if f.policy != "" {
		attrs["RedrivePolicy"] = f.policy
	}
	return &sqs.GetQueueAttributesOutput{Attributes: attrs}, nil
}

func (f *fakeQueueAttrs) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	f.gotName, f.gotAcct = aws.ToString(in.QueueName), aws.ToString(in.QueueOwnerAWSAccountId)
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs/" + f.gotAcct + "/" + f.gotName)}, nil
}

func TestResolveDLQFromTheRedrivePolicy(t *testing.T) {
	cases := []struct {
		name, policy, want string
		wantErr            bool
	}{
		{"policy", `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:sales-processing-dlq","maxReceiveCount":5}`, "https://sqs/123456789012/sales-processing-dlq", false},
		{"no policy", "", "", false},
		{"not JSON", "{", "", true},
		{"not a queue ARN", `{"deadLetterTargetArn":"arn:aws:sns:us-east-1:1:t"}`, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolveDLQ(context.Background(), &fakeQueueAttrs{policy: c.policy}, "q")
			if got != c.want || (err != nil) != c.wantErr {
				t.Fatalf("ResolveDLQ = %q, %v; want %q, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}
