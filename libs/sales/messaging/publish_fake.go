package messaging

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// FakeSNS is an in-memory PublishAPI for tests and benchmarks of anything
// that publishes. It records what it accepted and fails what it is told to.
type FakeSNS struct {
	// FailCall, when set, is asked before each call (numbered from 0); a
	// non-nil error fails the whole call, as an exhausted SDK retry would.
	FailCall func(call int, in *sns.PublishBatchInput) error
	// FailEntry, when set, is asked for each entry; a non-nil result is
	// reported in the answer's Failed list.
	FailEntry func(body string, attrs map[string]snstypes.MessageAttributeValue) *EntryError
	// Silent, when set, is asked for each entry; true leaves the entry out
	// of both lists of the answer (a malformed answer).
	Silent func(body string) bool
	// Discard keeps no copy of accepted messages (benchmarks).
	Discard bool

	mu        sync.Mutex
	calls     int
	published []FakeMessage
}

// FakeMessage is one message the fake accepted.
type FakeMessage struct {
	TopicARN   string
	Body       string
	Attributes map[string]snstypes.MessageAttributeValue
}

var _ PublishAPI = (*FakeSNS)(nil)

// PublishBatch implements PublishAPI.
func (f *FakeSNS) PublishBatch(_ context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	f.mu.Lock()
	call := f.calls
	f.calls++
	f.mu.Unlock()
	if n := len(in.PublishBatchRequestEntries); n == 0 || n > MaxBatchEntries {
		return nil, fmt.Errorf("fake sns: %d entries in one batch", n)
	}
	if f.FailCall != nil {
		if err := f.FailCall(call, in); err != nil {
			return nil, err
		}
	}
	out := &sns.PublishBatchOutput{}
	seen := map[string]bool{}
	var accepted []FakeMessage
	for _, e := range in.PublishBatchRequestEntries {
		id := aws.ToString(e.Id)
		if seen[id] {
			return nil, fmt.Errorf("fake sns: duplicate entry id %q", id)
		}
		seen[id] = true
		body := aws.ToString(e.Message)
		if f.Silent != nil && f.Silent(body) {
			continue
		}
		if f.FailEntry != nil {
			if ee := f.FailEntry(body, e.MessageAttributes); ee != nil {
				out.Failed = append(out.Failed, snstypes.BatchResultErrorEntry{
					Id: e.Id, Code: aws.String(ee.Code), Message: aws.String(ee.Message), SenderFault: ee.SenderFault,
				})
				continue
			}
		}
		out.Successful = append(out.Successful, snstypes.PublishBatchResultEntry{Id: e.Id, MessageId: aws.String(fmt.Sprintf("msg-%d-%s", call, id))})
		if !f.Discard {
			accepted = append(accepted, FakeMessage{TopicARN: aws.ToString(in.TopicArn), Body: body, Attributes: e.MessageAttributes})
		}
	}
	f.mu.Lock()
	f.published = append(f.published, accepted...)
	f.mu.Unlock()
	return out, nil
}

// Calls is the number of PublishBatch calls made so far.
func (f *FakeSNS) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Published returns a copy of the accepted messages, in acceptance order.
func (f *FakeSNS) Published() []FakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeMessage(nil), f.published...)
}
