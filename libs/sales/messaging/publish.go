package messaging

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/salesplatform/libs/sales/domain"
)

// SNS PublishBatch limits: 10 entries and 256 KiB (bodies plus attribute
// names, types and values) per call.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 256 << 10
)

// PublishAPI is the part of the SNS client the publisher uses.
type PublishAPI interface {
	PublishBatch(ctx context.Context, in *sns.PublishBatchInput, opts ...func(*sns.Options)) (*sns.PublishBatchOutput, error)
}

var (
	// ErrEntryRejected wraps a per-entry failure reported by PublishBatch.
	ErrEntryRejected = errors.New("sns rejected the entry")
	// ErrTooLarge is an envelope whose message alone exceeds SNS's limit.
	ErrTooLarge = errors.New("message exceeds the SNS size limit")
	// ErrNoAnswer marks an entry SNS did not mention in its answer; it
	// cannot be assumed published.
	ErrNoAnswer = errors.New("sns answered neither success nor failure for the entry")
)

// EntryError is a per-entry failure of PublishBatch.
type EntryError struct {
	Code        string
	Message     string
	SenderFault bool
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("%v: %s: %s (sender fault %t)", ErrEntryRejected, e.Code, e.Message, e.SenderFault)
}

func (e *EntryError) Unwrap() error { return ErrEntryRejected }

// Publisher publishes envelopes to one SNS topic with PublishBatch. It is
// shared by the stream publisher and the operator CLI's replay, so an event
// looks the same on the wire whoever sends it.
type Publisher struct {
	client      PublishAPI
	topicARN    string
	concurrency int
	extra       map[string]string
}

// PublisherOptions tune a Publisher.
type PublisherOptions struct {
	// Concurrency is how many PublishBatch calls may be in flight at once
	// (default 4). SNS standard topics do not order messages, so
	// concurrency changes no guarantee, only latency.
	Concurrency int
	// ExtraAttributes are added as String message attributes to every
	// message, after Attributes(e) (which they may not replace). The
	// operator CLI's reprocessing sets AttrReprocessGeneration this way.
	ExtraAttributes map[string]string
}

// NewPublisher returns a publisher to topicARN.
func NewPublisher(client PublishAPI, topicARN string, o PublisherOptions) *Publisher {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	extra := make(map[string]string, len(o.ExtraAttributes))
	for k, v := range o.ExtraAttributes {
		extra[k] = v
	}
	return &Publisher{client: client, topicARN: topicARN, concurrency: o.Concurrency, extra: extra}
}

// TopicARN is the topic this publisher sends to.
func (p *Publisher) TopicARN() string { return p.topicARN }

// PublishResult is the outcome of Publish. Errs is aligned with the
// envelopes given: Errs[i] == nil means SNS accepted envelope i.
type PublishResult struct {
	Errs []error
	// Calls is the number of PublishBatch calls made.
	Calls int
}

// Published counts the accepted envelopes.
func (r PublishResult) Published() int {
	n := 0
	for _, err := range r.Errs {
		if err == nil {
			n++
		}
	}
	return n
}

// FirstFailed is the index of the first envelope not published, or -1.
func (r PublishResult) FirstFailed() int {
	for i, err := range r.Errs {
		if err != nil {
			return i
		}
	}
	return -1
}

// Err joins the distinct failures, or is nil when everything was published.
func (r PublishResult) Err() error {
	var errs []error
	for i, err := range r.Errs {
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Entry builds the PublishBatch entry of an envelope: the body is the
// envelope's JSON, the attributes are Attributes(e) with schema_version as
// a Number so filter policies can compare it numerically.
func Entry(id string, e domain.Envelope) (snstypes.PublishBatchRequestEntry, int, error) {
	return entry(id, e, nil)
}

func entry(id string, e domain.Envelope, extra map[string]string) (snstypes.PublishBatchRequestEntry, int, error) {
	body, err := Body(e)
	if err != nil {
		return snstypes.PublishBatchRequestEntry{}, 0, err
	}
	attrs := Attributes(e)
	for k, v := range extra {
		if _, taken := attrs[k]; !taken {
			attrs[k] = v
		}
	}
	size := len(body)
	mav := make(map[string]snstypes.MessageAttributeValue, len(attrs))
	for name, value := range attrs {
		dataType := "String"
		if name == AttrSchemaVersion {
			dataType = "Number"
		}
		mav[name] = snstypes.MessageAttributeValue{DataType: aws.String(dataType), StringValue: aws.String(value)}
		size += len(name) + len(dataType) + len(value)
	}
	return snstypes.PublishBatchRequestEntry{
		Id:                aws.String(id),
		Message:           aws.String(string(body)),
		MessageAttributes: mav,
	}, size, nil
}

type batch struct {
	indexes []int
	entries []snstypes.PublishBatchRequestEntry
}

// Publish sends envs in as few PublishBatch calls as the limits allow (10
// entries, 256 KiB), in parallel up to the configured concurrency, and
// reports each envelope's outcome. It never reports an envelope as
// published unless SNS listed it as successful. A whole-call failure (after
// the SDK's own retries) fails every entry of that call; a context
// cancellation fails the calls not yet made.
func (p *Publisher) Publish(ctx context.Context, envs []domain.Envelope) PublishResult {
	res := PublishResult{Errs: make([]error, len(envs))}
	var batches []batch
	var cur batch
	curBytes := 0
	flush := func() {
		if len(cur.entries) > 0 {
			batches = append(batches, cur)
		}
		cur, curBytes = batch{}, 0
	}
	for i, e := range envs {
		entry, size, err := entry(strconv.Itoa(i), e, p.extra)
		if err != nil {
			res.Errs[i] = err
			continue
		}
		if size > MaxBatchBytes {
			res.Errs[i] = fmt.Errorf("%w: event %s is %d bytes", ErrTooLarge, e.EventID, size)
			continue
		}
		if len(cur.entries) == MaxBatchEntries || curBytes+size > MaxBatchBytes {
			flush()
		}
		cur.indexes = append(cur.indexes, i)
		cur.entries = append(cur.entries, entry)
		curBytes += size
	}
	flush()
	res.Calls = len(batches)

	sem := make(chan struct{}, p.concurrency)
	var wg sync.WaitGroup
	for _, b := range batches {
		// Errs entries are distinct per batch, so the goroutines write
		// disjoint indexes and need no lock.
		if err := ctx.Err(); err != nil {
			for _, i := range b.indexes {
				res.Errs[i] = fmt.Errorf("publish not attempted: %w", err)
			}
			res.Calls--
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(b batch) {
			defer wg.Done()
			defer func() { <-sem }()
			p.send(ctx, b, res.Errs)
		}(b)
	}
	wg.Wait()
	return res
}

func (p *Publisher) send(ctx context.Context, b batch, errs []error) {
	out, err := p.client.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: &p.topicARN, PublishBatchRequestEntries: b.entries})
	if err != nil {
		err = fmt.Errorf("publish batch to %s: %w", p.topicARN, err)
		for _, i := range b.indexes {
			errs[i] = err
		}
		return
	}
	// Until SNS says otherwise, an entry is not published.
	for _, i := range b.indexes {
		errs[i] = ErrNoAnswer
	}
	byID := make(map[string]int, len(b.indexes))
	for _, i := range b.indexes {
		byID[strconv.Itoa(i)] = i
	}
	for _, s := range out.Successful {
		if i, ok := byID[aws.ToString(s.Id)]; ok {
			errs[i] = nil
		}
	}
	for _, f := range out.Failed {
		if i, ok := byID[aws.ToString(f.Id)]; ok {
			errs[i] = &EntryError{Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
		}
	}
}
