package messaging_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

func envelope(t testing.TB, ev domain.Event) domain.Envelope {
	t.Helper()
	e, err := domain.NewEnvelope(uuid.New(), 1, "us-east-1", "corr-1", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func envelopes(t testing.TB, n int) []domain.Envelope {
	out := make([]domain.Envelope, n)
	for i := range out {
		out[i] = envelope(t, domain.SaleCreated{Product: "book", Amount: domain.Amount(100 + i)})
	}
	return out
}

func TestPublishBatchesOfTenWithAttributes(t *testing.T) {
	fake := &messaging.FakeSNS{}
	p := messaging.NewPublisher(fake, "arn:aws:sns:us-east-1:123456789012:sales-events", messaging.PublisherOptions{Concurrency: 1})
	envs := envelopes(t, 25)
	envs[3] = envelope(t, domain.SaleProcessed{LakeKey: "k", ProcessedRegion: "us-east-1", SourceEventID: uuid.New(), SourceEventType: domain.EventSaleCreated})
	res := p.Publish(context.Background(), envs)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if res.Calls != 3 || fake.Calls() != 3 {
		t.Fatalf("calls = %d (fake saw %d), want 3 for 25 entries", res.Calls, fake.Calls())
	}
	if res.Published() != 25 || res.FirstFailed() != -1 {
		t.Fatalf("published %d, first failed %d", res.Published(), res.FirstFailed())
	}
	got := fake.Published()
	if len(got) != 25 {
		t.Fatalf("fake accepted %d messages", len(got))
	}
	byID := map[uuid.UUID]messaging.FakeMessage{}
	for _, m := range got {
		e, err := messaging.Decode([]byte(m.Body))
		if err != nil {
			t.Fatalf("body does not decode: %v", err)
		}
		byID[e.EventID] = m
	}
	for _, e := range envs {
		m, ok := byID[e.EventID]
		if !ok {
			t.Fatalf("event %s not published", e.EventID)
		}
		want := map[string][2]string{
			"event_type":     {"String", string(e.EventType)},
			"origin_region":  {"String", "us-east-1"},
			"sale_id":        {"String", e.SaleID.String()},
			"schema_version": {"Number", "1"},
		}
		if len(m.Attributes) != len(want) {
			t.Fatalf("attributes %v, want %v", m.Attributes, want)
		}
		for name, w := range want {
			a := m.Attributes[name]
			if aws.ToString(a.DataType) != w[0] || aws.ToString(a.StringValue) != w[1] {
				t.Errorf("attribute %s = %s/%s, want %s/%s", name, aws.ToString(a.DataType), aws.ToString(a.StringValue), w[0], w[1])
			}
		}
	}
}

func TestPublishReportsEachFailure(t *testing.T) {
	boom := errors.New("throttled after retries")
	cases := []struct {
		name       string
		n          int
		fake       func(envs []domain.Envelope) *messaging.FakeSNS
		wantFailed []int
		wantIs     error
	}{
		{
			name: "entry rejected",
			n:    12,
			fake: func(envs []domain.Envelope) *messaging.FakeSNS {
				return &messaging.FakeSNS{FailEntry: func(body string, _ map[string]snstypes.MessageAttributeValue) *messaging.EntryError {
					if strings.Contains(body, envs[4].EventID.String()) || strings.Contains(body, envs[11].EventID.String()) {
						return &messaging.EntryError{Code: "InternalError", Message: "try again"}
					}
					return nil
				}}
			},
			wantFailed: []int{4, 11},
			wantIs:     messaging.ErrEntryRejected,
		},
		{
			name: "second call fails whole",
			n:    25,
			fake: func([]domain.Envelope) *messaging.FakeSNS {
				return &messaging.FakeSNS{FailCall: func(call int, _ *sns.PublishBatchInput) error {
					if call == 1 {
						return boom
					}
					return nil
				}}
			},
			wantFailed: []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
			wantIs:     boom,
		},
		{
			name: "entry missing from the answer",
			n:    3,
			fake: func(envs []domain.Envelope) *messaging.FakeSNS {
				return &messaging.FakeSNS{Silent: func(body string) bool { return strings.Contains(body, envs[1].EventID.String()) }}
			},
			wantFailed: []int{1},
			wantIs:     messaging.ErrNoAnswer,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			envs := envelopes(t, tc.n)
			fake := tc.fake(envs)
			// Concurrency 1 makes the fake's call numbers follow batch order.
			res := messaging.NewPublisher(fake, "arn:topic", messaging.PublisherOptions{Concurrency: 1}).Publish(context.Background(), envs)
			var failed []int
			for i, err := range res.Errs {
				if err != nil {
					failed = append(failed, i)
					if !errors.Is(err, tc.wantIs) {
						t.Errorf("entry %d: %v, want %v", i, err, tc.wantIs)
					}
				}
			}
			if !equalInts(failed, tc.wantFailed) {
				t.Fatalf("failed entries %v, want %v", failed, tc.wantFailed)
			}
			if res.FirstFailed() != tc.wantFailed[0] {
				t.Fatalf("first failed %d, want %d", res.FirstFailed(), tc.wantFailed[0])
			}
			if res.Published() != tc.n-len(tc.wantFailed) || len(fake.Published()) != res.Published() {
				t.Fatalf("published %d, fake holds %d", res.Published(), len(fake.Published()))
			}
		})
	}
}

func TestPublishSplitsBySize(t *testing.T) {
	fake := &messaging.FakeSNS{}
	p := messaging.NewPublisher(fake, "arn:topic", messaging.PublisherOptions{})
	// 60 KiB each: four fit in 256 KiB, a fifth does not.
	var envs []domain.Envelope
	for range 10 {
		envs = append(envs, envelope(t, domain.SaleCancelled{Reason: strings.Repeat("x", 60<<10)}))
	}
	huge := envelope(t, domain.SaleCancelled{Reason: strings.Repeat("y", 300<<10)})
	envs = append(envs, huge)
	res := p.Publish(context.Background(), envs)
	if res.Calls != 3 {
		t.Fatalf("calls = %d, want 3 (4+4+2 entries of 60 KiB)", res.Calls)
	}
	if res.FirstFailed() != 10 || !errors.Is(res.Errs[10], messaging.ErrTooLarge) {
		t.Fatalf("oversized entry: %v", res.Errs[10])
	}
	if res.Published() != 10 {
		t.Fatalf("published %d, want 10", res.Published())
	}
}

func TestPublishAfterCancelAttemptsNothing(t *testing.T) {
	fake := &messaging.FakeSNS{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := messaging.NewPublisher(fake, "arn:topic", messaging.PublisherOptions{}).Publish(ctx, envelopes(t, 5))
	if fake.Calls() != 0 || res.Calls != 0 || res.Published() != 0 || !errors.Is(res.Errs[0], context.Canceled) {
		t.Fatalf("calls %d/%d, published %d, err %v", fake.Calls(), res.Calls, res.Published(), res.Errs[0])
	}
}

func TestPublishIsSafeConcurrently(t *testing.T) {
	fake := &messaging.FakeSNS{}
	p := messaging.NewPublisher(fake, "arn:topic", messaging.PublisherOptions{Concurrency: 8})
	res := p.Publish(context.Background(), envelopes(t, 95))
	if res.Err() != nil || res.Calls != 10 || len(fake.Published()) != 95 {
		t.Fatalf("err %v, calls %d, published %d", res.Err(), res.Calls, len(fake.Published()))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
