// Package consumer adapts the processing to SQS: long-polling receive
// loops, a visibility and lease heartbeat for slow batches, the actions
// (batched deletes, dead-lettering, batched visibility changes), parking
// while the region is passive, and the drain on shutdown.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/metrics"
	"github.com/salesplatform/services/sales-worker/internal/processing"
)

// API is the part of the SQS client the consumer uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Attributes the worker adds to a message it dead-letters.
const (
	AttrDeadLetterReason = "dead_letter_reason"
	AttrSourceMessageID  = "dead_letter_source_message_id"
)

const (
	// batchSize is SQS's maximum per receive, delete and visibility batch.
	batchSize = 10
	// maxMessageAttributes is SQS's limit per message.
	maxMessageAttributes = 10
	// noDLQVisibility hides a poison message when there is no DLQ to send
	// it to: it must not be deleted (it is data) nor spin the queue.
	noDLQVisibility = 15 * time.Minute
	// maxParked bounds the receipt handles remembered for unparking.
	maxParked = 10_000
)

// Options tune a Consumer.
type Options struct {
	QueueURL string
	// DLQURL receives poison messages; empty leaves them hidden in the
	// queue (see noDLQVisibility) until maxReceiveCount moves them.
	DLQURL string
	// Consumers is the number of receive loops.
	Consumers int
	// Visibility is asked for on every receive and renewed by the
	// heartbeat; Wait is the long-poll wait.
	Visibility, Wait time.Duration
	// StopTimeout bounds Run's drain after its context ends.
	StopTimeout time.Duration
	// StatePoll is how often the region state is checked for a turn to
	// ACTIVE, to unpark (default 250 ms; the read is a cached value).
	StatePoll time.Duration
	Logger    *slog.Logger
}

// Consumer runs receive loops over one queue.
type Consumer struct {
	sqs    API
	proc   *processing.Processor
	claims idempotency.Store
	state  processing.StateReader
	m      *metrics.Metrics
	o      Options
	log    *slog.Logger
	parked *parkedSet

	started  atomic.Bool
	draining atomic.Bool
	// hardStop is when a drain must be over (set when it starts).
	hardStop atomic.Pointer[time.Time]
	loopsUp  atomic.Int32
	lastTick sync.Map // loop index → time.Time
}

// New returns a consumer.
func New(api API, proc *processing.Processor, claims idempotency.Store, state processing.StateReader, m *metrics.Metrics, o Options) *Consumer {
	if o.Consumers <= 0 {
		o.Consumers = 1
	}
	if o.Visibility <= 0 {
		o.Visibility = 30 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 25 * time.Second
	}
	if o.StatePoll <= 0 {
		o.StatePoll = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Consumer{sqs: api, proc: proc, claims: claims, state: state, m: m, o: o, log: o.Logger, parked: newParkedSet(maxParked)}
}

func (c *Consumer) cleanupBudget() time.Duration { return CleanupBudget(c.o.StopTimeout) }

// cleanupContext bounds the calls that carry out a batch's actions: they
// must run even after processing was cut off, but end by the drain's hard
// stop (or, outside a drain, within a visibility timeout, after which the
// messages come back anyway).
func (c *Consumer) cleanupContext(workCtx context.Context) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(workCtx)
	if hard := c.hardStop.Load(); hard != nil {
		return context.WithDeadline(base, *hard)
	}
	return context.WithTimeout(base, c.o.Visibility)
}

// CleanupBudget is the part of the stop timeout kept for releasing claims,
// giving messages back and flushing deletes after processing is cut off.
func CleanupBudget(stopTimeout time.Duration) time.Duration {
	return min(5*time.Second, stopTimeout/4)
}

// Run receives and processes until ctx ends, then drains: it stops
// receiving, lets in-flight batches finish until the stop timeout minus a
// cleanup budget, then cuts them off (their claims are released and their
// messages given back), flushes the batches' deletes and returns. It
// returns within the stop timeout of ctx ending.
func (c *Consumer) Run(ctx context.Context) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			hard := time.Now().Add(c.o.StopTimeout - 100*time.Millisecond)
			c.hardStop.Store(&hard)
			c.draining.Store(true)
			c.log.Info("draining: receive stopped", "stop_timeout", c.o.StopTimeout.String())
			t := time.AfterFunc(c.o.StopTimeout-c.cleanupBudget(), stopWork)
			<-done
			t.Stop()
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() { c.watchState(ctx) })
	c.loopsUp.Store(int32(c.o.Consumers)) //nolint:gosec // CONSUMER_THREADS is validated to 1..64
	for i := range c.o.Consumers {
		c.lastTick.Store(i, time.Now())
		wg.Go(func() { c.loop(ctx, workCtx, i) })
	}
	c.started.Store(true)
	wg.Wait()
	close(done)
	c.log.Info("drained")
	return nil
}

func (c *Consumer) loop(recvCtx, workCtx context.Context, id int) {
	defer c.loopsUp.Add(-1)
	failures := 0
	for recvCtx.Err() == nil {
		c.lastTick.Store(id, time.Now())
		if _, err := c.Poll(recvCtx, workCtx); err != nil {
			if recvCtx.Err() != nil {
				return
			}
			failures++
			wait := receiveBackoff(failures)
			c.log.Error("receive failed", "err", err, "consumer", id, "retry_in", wait.String())
			select {
			case <-recvCtx.Done():
				return
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
	}
}

// receiveBackoff: 200 ms doubling to 20 s, jittered, while SQS fails.
func receiveBackoff(failures int) time.Duration {
	d := 200 * time.Millisecond << min(failures-1, 7)
	d = min(d, 20*time.Second)
	return d/2 + rand.N(d/2+1)
}

// Poll receives one batch (waiting up to the long-poll wait on recvCtx),
// processes it on workCtx and carries out its actions. It returns the
// number of messages received.
func (c *Consumer) Poll(recvCtx, workCtx context.Context) (int, error) {
	out, err := c.sqs.ReceiveMessage(recvCtx, &sqs.ReceiveMessageInput{
		QueueUrl:            &c.o.QueueURL,
		MaxNumberOfMessages: batchSize,
		WaitTimeSeconds:     int32(c.o.Wait / time.Second), //nolint:gosec // RECEIVE_WAIT_TIME is validated to 0..20 s
		VisibilityTimeout:   seconds(c.o.Visibility),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
		},
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		return 0, fmt.Errorf("receive from %s: %w", c.o.QueueURL, err)
	}
	n := len(out.Messages)
	if n == 0 {
		return 0, nil
	}
	c.m.Received.Add(float64(n))
	c.m.InFlight.Add(float64(n))
	defer c.m.InFlight.Sub(float64(n))

	msgs := make([]processing.Message, n)
	inflight := make([]*processing.Inflight, n)
	for i, raw := range out.Messages {
		msgs[i] = toMessage(raw)
		inflight[i] = &processing.Inflight{}
	}
	stopHeartbeat := c.heartbeat(workCtx, out.Messages, inflight)
	actions := c.proc.HandleBatch(workCtx, msgs, inflight)
	stopHeartbeat()

	cleanupCtx, cancel := c.cleanupContext(workCtx)
	defer cancel()
	c.apply(cleanupCtx, out.Messages, actions)
	return n, nil
}

func toMessage(raw types.Message) processing.Message {
	m := processing.Message{
		ID:           aws.ToString(raw.MessageId),
		Body:         []byte(aws.ToString(raw.Body)),
		Attributes:   make(map[string]string, len(raw.MessageAttributes)),
		ReceiveCount: 1,
	}
	for k, v := range raw.MessageAttributes {
		if v.StringValue != nil {
			m.Attributes[k] = *v.StringValue
		}
	}
	if n, err := strconv.Atoi(raw.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil && n > 0 {
		m.ReceiveCount = n
	}
	return m
}

// heartbeat extends the visibility of a batch's messages (and the leases
// of the claims they hold) every half visibility timeout until stopped, so
// work that outlives the timeout is never delivered to a second consumer.
func (c *Consumer) heartbeat(ctx context.Context, raw []types.Message, inflight []*processing.Inflight) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(c.o.Visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			c.m.Heartbeats.Inc()
			entries := make([]visibility, len(raw))
			for i, m := range raw {
				entries[i] = visibility{msg: m, timeout: c.o.Visibility}
			}
			c.changeVisibility(ctx, entries)
			for _, f := range inflight {
				if claim, ok := f.Claim(); ok {
					renewed, err := c.claims.Extend(ctx, claim)
					if err != nil {
						c.log.Warn("lease extension failed", "claim_key", claim.Key, "err", err)
						continue
					}
					f.Renewed(renewed)
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

type visibility struct {
	msg     types.Message
	timeout time.Duration
}

// apply carries out a batch's actions: one DeleteMessageBatch for every
// message done, one ChangeMessageVisibilityBatch for the others, a
// SendMessage to the DLQ per poison message (then deleted with the rest).
func (c *Consumer) apply(ctx context.Context, raw []types.Message, actions []processing.Action) {
	var deletes []types.Message
	var changes []visibility
	for i, a := range actions {
		m := raw[i]
		id := aws.ToString(m.MessageId)
		outcome := a.Reason
		switch a.Kind {
		case processing.Delete:
			deletes = append(deletes, m)
			switch a.Reason {
			case processing.OutcomeProcessed:
				c.m.Processed.WithLabelValues(string(a.EventType())).Inc()
				if a.Work != nil {
					c.m.EventAge.Observe(time.Since(a.Work.Event.OccurredAt).Seconds())
				}
			case processing.OutcomeDuplicate:
				c.m.Duplicate.WithLabelValues("here").Inc()
			case processing.OutcomeCompletedElsewhere:
				c.m.Duplicate.WithLabelValues("elsewhere").Inc()
			case processing.OutcomeVersionMerged:
				c.m.Duplicate.WithLabelValues("other-version").Inc()
			}
			if a.Conflict != "" {
				c.m.Conflicts.WithLabelValues(string(a.EventType()), a.Conflict).Inc()
			}
		case processing.DeadLetter:
			outcome = "dead-letter"
			if c.deadLetter(ctx, m, a) {
				deletes = append(deletes, m)
			} else {
				timeout := noDLQVisibility
				if c.o.DLQURL != "" {
					timeout = c.proc.Backoff(1)
				}
				changes = append(changes, visibility{msg: m, timeout: timeout})
			}
		case processing.Defer:
			outcome = "deferred"
			c.m.Deferred.WithLabelValues(a.Reason).Inc()
			changes = append(changes, visibility{msg: m, timeout: a.Delay})
			if a.Park {
				c.parked.add(id, aws.ToString(m.ReceiptHandle))
			}
		case processing.Retry:
			outcome = "failed"
			c.m.Failed.WithLabelValues(a.Reason).Inc()
			changes = append(changes, visibility{msg: m, timeout: a.Delay})
		case processing.Release:
			outcome = "released"
			c.m.Released.Inc()
			changes = append(changes, visibility{msg: m, timeout: 0})
		}
		c.m.Latency.WithLabelValues(outcome).Observe(a.Elapsed.Seconds())
	}
	c.deleteMessages(ctx, deletes)
	c.changeVisibility(ctx, changes)
}

// deadLetter sends a poison message to the DLQ with its reason. It
// reports whether the message may now be deleted.
func (c *Consumer) deadLetter(ctx context.Context, m types.Message, a processing.Action) bool {
	id := aws.ToString(m.MessageId)
	log := c.log.With("message_id", id, "reason", a.Reason, "err", a.Err)
	if c.o.DLQURL == "" {
		c.m.Failed.WithLabelValues("no-dlq").Inc()
		log.Error("poison message and no DLQ configured: leaving it hidden in the queue")
		return false
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.MessageAttributes)+2)
	for k, v := range m.MessageAttributes {
		attrs[k] = v
	}
	if len(attrs)+2 <= maxMessageAttributes {
		attrs[AttrDeadLetterReason] = stringAttr(a.Reason)
		attrs[AttrSourceMessageID] = stringAttr(id)
	}
	_, err := c.sqs.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          &c.o.DLQURL,
		MessageBody:       m.Body,
		MessageAttributes: attrs,
	})
	if err != nil {
		c.m.Failed.WithLabelValues("dead-letter").Inc()
		log.Error("poison message could not be sent to the DLQ; it stays queued", "dlq_err", err)
		return false
	}
	c.m.DeadLettered.WithLabelValues(a.Reason).Inc()
	log.Error("poison message sent to the DLQ")
	return true
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// deleteMessages deletes in batches of ten. Entries that fail for a
// reason other than the caller's are retried once; what still fails comes
// back later and is then found COMPLETED, so a failed delete costs a
// redelivery, never a second effect.
func (c *Consumer) deleteMessages(ctx context.Context, msgs []types.Message) {
	for start := 0; start < len(msgs); start += batchSize {
		chunk := msgs[start:min(start+batchSize, len(msgs))]
		for attempt := 1; attempt <= 2 && len(chunk) > 0; attempt++ {
			entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
			for i, m := range chunk {
				entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
			}
			out, err := c.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &c.o.QueueURL, Entries: entries})
			if err != nil {
				c.log.Error("delete batch failed; the messages will come back and be found completed", "err", err, "count", len(chunk))
				if attempt == 2 || ctx.Err() != nil {
					c.m.DeleteFailed.Add(float64(len(chunk)))
					break
				}
				continue
			}
			c.m.Deleted.Add(float64(len(out.Successful)))
			for _, s := range out.Successful {
				if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil {
					c.parked.remove(aws.ToString(chunk[i].MessageId))
				}
			}
			var retry []types.Message
			for _, f := range out.Failed {
				i, err := strconv.Atoi(aws.ToString(f.Id))
				if err != nil || i >= len(chunk) {
					continue
				}
				c.log.Warn("delete failed for one message", "message_id", aws.ToString(chunk[i].MessageId), "code", aws.ToString(f.Code), "sender_fault", f.SenderFault)
				if !f.SenderFault && attempt == 1 {
					retry = append(retry, chunk[i])
				} else {
					c.m.DeleteFailed.Inc()
				}
			}
			chunk = retry
		}
	}
}

// changeVisibility sets each message's visibility timeout, in batches of
// ten, and returns how many changes succeeded. Failures are logged: the
// message then reappears on its current timeout, which is early or late
// but never lost.
func (c *Consumer) changeVisibility(ctx context.Context, entries []visibility) int {
	changed := 0
	for start := 0; start < len(entries); start += batchSize {
		chunk := entries[start:min(start+batchSize, len(entries))]
		req := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, e := range chunk {
			req[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: e.msg.ReceiptHandle, VisibilityTimeout: seconds(e.timeout),
			}
		}
		out, err := c.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &c.o.QueueURL, Entries: req})
		if err != nil {
			c.log.Warn("visibility change failed", "err", err, "count", len(chunk))
			continue
		}
		changed += len(out.Successful)
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i >= 0 && i < len(chunk) {
				c.log.Warn("visibility change failed for one message", "message_id", aws.ToString(chunk[i].msg.MessageId), "code", aws.ToString(f.Code))
			}
		}
	}
	return changed
}

// seconds rounds a delay up to SQS's whole seconds within its limits.
func seconds(d time.Duration) int32 {
	s := math.Ceil(d.Seconds())
	return int32(min(max(s, 0), 43200))
}

// watchState unparks the parked messages when the region turns ACTIVE, so
// a failover does not wait out their passive visibility.
func (c *Consumer) watchState(ctx context.Context) {
	t := time.NewTicker(c.o.StatePoll)
	defer t.Stop()
	prev := c.state.State()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := c.state.State()
		if cur == regionstate.Active && prev != regionstate.Active {
			c.unpark(ctx)
		}
		prev = cur
	}
}

func (c *Consumer) unpark(ctx context.Context) {
	handles := c.parked.drain()
	if len(handles) == 0 {
		return
	}
	c.log.Info("region is ACTIVE: giving parked messages back", "count", len(handles))
	entries := make([]visibility, 0, len(handles))
	for _, h := range handles {
		entries = append(entries, visibility{msg: types.Message{MessageId: aws.String(h.id), ReceiptHandle: aws.String(h.handle)}, timeout: 0})
	}
	c.m.Unparked.Add(float64(c.changeVisibility(ctx, entries)))
}

// Live reports whether every receive loop is running and has turned over
// recently (a loop blocked for longer than a heartbeat-covered batch can
// take is stuck).
func (c *Consumer) Live() error {
	if !c.started.Load() {
		return nil
	}
	if up := int(c.loopsUp.Load()); up < c.o.Consumers && !c.draining.Load() {
		return fmt.Errorf("%d of %d receive loops running", up, c.o.Consumers)
	}
	limit := max(5*time.Minute, 4*c.o.Visibility) + c.o.Wait
	var stuck []string
	c.lastTick.Range(func(k, v any) bool {
		if time.Since(v.(time.Time)) > limit {
			stuck = append(stuck, fmt.Sprint(k))
		}
		return true
	})
	if len(stuck) > 0 {
		return fmt.Errorf("receive loops %s have not turned over in %s", strings.Join(stuck, ","), limit)
	}
	return nil
}

// Ready reports whether the consumer takes work: started and not draining.
func (c *Consumer) Ready() error {
	switch {
	case !c.started.Load():
		return errors.New("not started")
	case c.draining.Load():
		return errors.New("draining")
	}
	return nil
}

// ResolveDLQ finds the processing queue's dead-letter queue from its
// redrive policy (one GetQueueAttributes and one GetQueueUrl, at start).
// It returns "" when the queue has no redrive policy.
func ResolveDLQ(ctx context.Context, api interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}, queueURL string) (string, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return "", fmt.Errorf("read redrive policy of %s: %w", queueURL, err)
	}
	raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if raw == "" {
		return "", nil
	}
	var policy struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(raw), &policy); err != nil {
		return "", fmt.Errorf("redrive policy of %s: %w", queueURL, err)
	}
	// arn:aws:sqs:<region>:<account>:<name>
	parts := strings.Split(policy.DeadLetterTargetArn, ":")
	if len(parts) != 6 || parts[2] != "sqs" || parts[5] == "" {
		return "", fmt.Errorf("redrive policy of %s: %q is not a queue ARN", queueURL, policy.DeadLetterTargetArn)
	}
	u, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &parts[5], QueueOwnerAWSAccountId: &parts[4]})
	if err != nil {
		return "", fmt.Errorf("find dead-letter queue %s: %w", parts[5], err)
	}
	return aws.ToString(u.QueueUrl), nil
}
