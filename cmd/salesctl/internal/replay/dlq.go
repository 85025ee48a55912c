package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/messaging"
)

// SQSAPI is the part of the SQS client the dead-letter commands use.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, opts ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(ctx context.Context, in *sqs.CancelMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
}

// QueueDepth is a queue's approximate message counts.
type QueueDepth struct {
	Visible, InFlight, Delayed int64
	ARN                        string
}

// Depth reads a queue's approximate counts and ARN.
func Depth(ctx context.Context, api SQSAPI, url string) (QueueDepth, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed, types.QueueAttributeNameQueueArn,
	}})
	if err != nil {
		return QueueDepth{}, fmt.Errorf("queue attributes of %s: %w", url, err)
	}
	n := func(k types.QueueAttributeName) int64 {
		v, _ := strconv.ParseInt(out.Attributes[string(k)], 10, 64)
		return v
	}
	return QueueDepth{
		Visible:  n(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
		ARN:      out.Attributes[string(types.QueueAttributeNameQueueArn)],
	}, nil
}

// RedriveCopy moves dead letters by receive → send → delete, for where SQS
// message move tasks do not exist (the local emulator) or cannot do the
// job (a --max). It loses nothing on a crash: a message is deleted from
// the dead-letter queue only after the target accepted its copy, and the
// checkpoint lists the messages sent but not yet deleted, so a resume
// deletes them without sending them twice. A crash between a send and
// the checkpoint write makes one duplicate, which the idempotent worker
// absorbs (and the summary counts).
type RedriveCopy struct {
	API            SQSAPI
	Source, Target string
	// Max stops after this many messages (0: all).
	Max int64
	// Visibility hides received messages while they are copied (default
	// 60 s); a crash returns them to the queue after it.
	Visibility time.Duration
	// IdleReceives is how many empty receives in a row end the run
	// (default 2, each waiting 1 s).
	IdleReceives int
}

// Selection is the canonical description.
func (d *RedriveCopy) Selection() string {
	return fmt.Sprintf("copy from=%s to=%s max=%d", d.Source, d.Target, d.Max)
}

const dlqLane = "queue"

// Run copies until the queue is empty or Max is reached.
func (d *RedriveCopy) Run(ctx context.Context, r *Runner) (bool, error) {
	if d.Visibility <= 0 {
		d.Visibility = 60 * time.Second
	}
	if d.IdleReceives <= 0 {
		d.IdleReceives = 2
	}
	depth, err := Depth(ctx, d.API, d.Source)
	if err != nil {
		return false, err
	}
	total := depth.Visible
	if d.Max > 0 {
		total = min(total, d.Max)
	}
	r.SetTotal(total)
	if r.DryRun() {
		// Receiving would hide messages from the worker and raise their
		// receive counts: a dry run only counts.
		return true, r.Count(Counts{Read: total, Published: total})
	}
	var moved int64
	idle := 0
	var hiddenSince time.Time
	for {
		if ctx.Err() != nil {
			return false, nil
		}
		if d.Max > 0 && moved >= d.Max {
			return true, nil
		}
		n := int32(10)
		if d.Max > 0 {
			n = int32(min(10, d.Max-moved))
		}
		out, err := d.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &d.Source, MaxNumberOfMessages: n, WaitTimeSeconds: 1,
			VisibilityTimeout:           int32(d.Visibility / time.Second), //nolint:gosec // G115: the CLI bounds it to 1 s..12 h
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("receive from %s: %w", d.Source, err)
		}
		if len(out.Messages) == 0 {
			idle++
			if idle >= d.IdleReceives {
				dep, err := Depth(ctx, d.API, d.Source)
				switch {
				case err != nil:
				case dep.Visible == 0 && dep.InFlight == 0:
					return true, nil
				case dep.Visible == 0:
					// Hidden messages: received by a run that crashed (they
					// come back within the visibility timeout) or by
					// someone else. Wait for them that long, then stop.
					if hiddenSince.IsZero() {
						hiddenSince = time.Now()
					}
					if time.Since(hiddenSince) > d.Visibility+5*time.Second {
						r.o.Logger.Warn("messages in flight in the dead-letter queue were not moved (received by someone else); run again once they are visible", "in_flight", dep.InFlight)
						return false, nil
					}
				default:
					hiddenSince = time.Time{}
				}
				idle = 0
			}
			continue
		}
		idle = 0
		var already []types.Message
		var items []Item
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if r.IsDone(dlqLane, id) {
				already = append(already, m)
				continue
			}
			items = append(items, Item{ID: id, Payload: m})
		}
		sent, sendErr := r.Send(ctx, dlqLane, items, d.send)
		toDelete := already
		for _, it := range sent {
			toDelete = append(toDelete, it.Payload.(types.Message))
		}
		deleted, delErr := d.delete(context.WithoutCancel(ctx), toDelete)
		moved += int64(len(sent))
		r.Progressed(int64(len(sent)))
		if len(already) > 0 {
			r.o.Logger.Info("deleted dead letters an earlier run had sent", "messages", len(already))
		}
		if delErr == nil && deleted == len(toDelete) {
			// Everything sent is deleted: the lane's Done list may go.
			if err := r.Advance(dlqLane, nil, false); err != nil {
				return false, err
			}
		}
		if sendErr != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, sendErr
		}
		if delErr != nil {
			// Not fatal: the messages come back after the visibility
			// timeout and are then deleted without a second send.
			r.o.Logger.Warn("delete from the dead-letter queue failed; the messages return and are deleted then", "error", delErr)
		}
	}
}

// send copies messages to the target with their body and attributes.
func (d *RedriveCopy) send(ctx context.Context, items []Item) []error {
	errs := make([]error, len(items))
	for start := 0; start < len(items); start += 10 {
		end := min(start+10, len(items))
		in := &sqs.SendMessageBatchInput{QueueUrl: &d.Target}
		for i := start; i < end; i++ {
			m := items[i].Payload.(types.Message)
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: m.MessageAttributes,
			})
		}
		out, err := d.API.SendMessageBatch(ctx, in)
		if err != nil {
			for i := start; i < end; i++ {
				errs[i] = fmt.Errorf("send to %s: %w", d.Target, err)
			}
			continue
		}
		for i := start; i < end; i++ {
			errs[i] = messaging.ErrNoAnswer
		}
		for _, s := range out.Successful {
			if i, err := strconv.Atoi(aws.ToString(s.Id)); err == nil && i >= start && i < end {
				errs[i] = nil
			}
		}
		for _, f := range out.Failed {
			if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= start && i < end {
				errs[i] = &RejectedError{Err: fmt.Errorf("send to %s refused: %s: %s", d.Target, aws.ToString(f.Code), aws.ToString(f.Message))}
			}
		}
	}
	return errs
}

// delete removes messages from the source, returning how many went.
func (d *RedriveCopy) delete(ctx context.Context, msgs []types.Message) (int, error) {
	deleted := 0
	var errs []error
	for start := 0; start < len(msgs); start += 10 {
		end := min(start+10, len(msgs))
		in := &sqs.DeleteMessageBatchInput{QueueUrl: &d.Source}
		for i := start; i < end; i++ {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msgs[i].ReceiptHandle})
		}
		out, err := d.API.DeleteMessageBatch(ctx, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deleted += len(out.Successful)
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("delete %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return deleted, errors.Join(errs...)
}

// RedriveMoveTask moves dead letters with an SQS message move task: SQS
// itself moves them (to their source queues, or to Target), at most
// Rate per second, and the command follows the task's progress. The task
// handle is kept in the checkpoint; a resume follows the running task
// instead of starting another. Ctrl-C cancels the task: what was moved
// stays moved, the rest stays in the dead-letter queue.
type RedriveMoveTask struct {
	API SQSAPI
	// SourceARN is the dead-letter queue; TargetARN "" means the queues
	// the messages came from.
	SourceARN, TargetARN string
	Rate                 float64
	Poll                 time.Duration
}

// Selection is the canonical description.
func (m *RedriveMoveTask) Selection() string {
	to := m.TargetARN
	if to == "" {
		to = "source"
	}
	return fmt.Sprintf("move-task from=%s to=%s", m.SourceARN, to)
}

// Run starts (or follows) the task until it ends.
func (m *RedriveMoveTask) Run(ctx context.Context, r *Runner) (bool, error) {
	if m.Poll <= 0 {
		m.Poll = 2 * time.Second
	}
	// A task still running (started by an earlier run, or by the
	// console) is followed rather than duplicated: SQS allows one per
	// source queue.
	handle := ""
	if running, err := m.running(ctx); err != nil {
		return false, err
	} else if running != nil {
		handle = aws.ToString(running.TaskHandle)
	}
	if r.DryRun() {
		return true, nil
	}
	if handle == "" {
		in := &sqs.StartMessageMoveTaskInput{SourceArn: &m.SourceARN}
		if m.TargetARN != "" {
			in.DestinationArn = &m.TargetARN
		}
		if m.Rate > 0 {
			in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(max(1, min(500, m.Rate))))
		}
		out, err := m.API.StartMessageMoveTask(ctx, in)
		if err != nil {
			return false, fmt.Errorf("start message move task from %s: %w (on the local emulator use --method copy)", m.SourceARN, err)
		}
		handle = aws.ToString(out.TaskHandle)
		if err := r.SetExtra("move_task_handle", handle); err != nil {
			return false, err
		}
	}
	var moved int64
	t := time.NewTicker(m.Poll)
	defer t.Stop()
	for {
		task, err := m.task(ctx, handle)
		if err != nil && ctx.Err() == nil {
			return false, err
		}
		if task != nil {
			now := task.ApproximateNumberOfMessagesMoved
			if task.ApproximateNumberOfMessagesToMove != nil {
				r.SetTotal(*task.ApproximateNumberOfMessagesToMove)
			}
			if d := now - moved; d > 0 {
				r.Progressed(d)
				if err := r.Count(Counts{Read: d, Published: d}); err != nil {
					return false, err
				}
				moved = now
			}
			switch aws.ToString(task.Status) {
			case "COMPLETED":
				return true, nil
			case "FAILED":
				return false, fmt.Errorf("message move task failed: %s", aws.ToString(task.FailureReason))
			case "CANCELLED", "CANCELLING":
				return false, errors.New("message move task was cancelled")
			}
		}
		select {
		case <-ctx.Done():
			_, err := m.API.CancelMessageMoveTask(context.WithoutCancel(ctx), &sqs.CancelMessageMoveTaskInput{TaskHandle: &handle})
			if err != nil {
				r.o.Logger.Warn("cancel message move task failed; it keeps running in SQS", "task_handle", handle, "error", err)
			}
			return false, nil
		case <-t.C:
		}
	}
}

func (m *RedriveMoveTask) running(ctx context.Context) (*types.ListMessageMoveTasksResultEntry, error) {
	out, err := m.API.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &m.SourceARN, MaxResults: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("list message move tasks of %s: %w (on the local emulator use --method copy)", m.SourceARN, err)
	}
	for _, t := range out.Results {
		if aws.ToString(t.Status) == "RUNNING" {
			return &t, nil
		}
	}
	return nil, nil
}

func (m *RedriveMoveTask) task(ctx context.Context, handle string) (*types.ListMessageMoveTasksResultEntry, error) {
	out, err := m.API.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &m.SourceARN, MaxResults: aws.Int32(10)})
	if err != nil {
		return nil, fmt.Errorf("list message move tasks of %s: %w", m.SourceARN, err)
	}
	for _, t := range out.Results {
		if aws.ToString(t.TaskHandle) == handle || (aws.ToString(t.TaskHandle) == "" && len(out.Results) > 0) {
			return &t, nil
		}
	}
	if len(out.Results) > 0 {
		return &out.Results[0], nil // finished tasks carry no handle: the newest is ours
	}
	return nil, nil
}

// Inspection summarises a dead-letter queue.
type Inspection struct {
	Queue    string              `json:"queue"`
	Depth    QueueDepth          `json:"depth"`
	Sampled  int                 `json:"sampled"`
	ByType   map[string]int      `json:"by_event_type"`
	ByReason map[string]int      `json:"by_reason"`
	ByOrigin map[string]int      `json:"by_origin_region"`
	Oldest   time.Time           `json:"oldest_sent_at,omitzero"`
	Newest   time.Time           `json:"newest_sent_at,omitzero"`
	MaxRecv  int                 `json:"max_receive_count"`
	Samples  map[string][]string `json:"samples"`
	// StreamBatches are stream publisher failure records (Lambda
	// on-failure destination): where to replay the stream from.
	StreamBatches    int    `json:"stream_batches,omitempty"`
	StreamRecords    int    `json:"stream_records,omitempty"`
	EarliestSequence string `json:"earliest_sequence,omitempty"`
}

// ReasonMaxReceives labels a dead letter without the worker's reason
// attribute: SQS moved it after maxReceiveCount failed receives.
const ReasonMaxReceives = "max-receives-exceeded"

// Inspect receives up to max messages (hiding each for visibility so one
// pass sees each once), summarises them and makes them visible again.
// Receiving raises the messages' receive counts, which a dead-letter queue
// without a redrive policy of its own ignores.
func Inspect(ctx context.Context, api SQSAPI, url string, maxMessages int, visibility time.Duration) (Inspection, error) {
	depth, err := Depth(ctx, api, url)
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{Queue: url, Depth: depth, ByType: map[string]int{}, ByReason: map[string]int{}, ByOrigin: map[string]int{}, Samples: map[string][]string{}}
	seen := map[string]bool{}
	var handles []types.Message
	defer func() {
		// Visible again at once: inspecting must not delay a redrive.
		for start := 0; start < len(handles); start += 10 {
			end := min(start+10, len(handles))
			b := &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &url}
			for i := start; i < end; i++ {
				b.Entries = append(b.Entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: handles[i].ReceiptHandle, VisibilityTimeout: 0})
			}
			_, _ = api.ChangeMessageVisibilityBatch(context.WithoutCancel(ctx), b)
		}
	}()
	empty := 0
	for len(seen) < maxMessages && empty < 2 && ctx.Err() == nil {
		out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: int32(min(10, maxMessages-len(seen))), WaitTimeSeconds: 1, //nolint:gosec // G115: at most 10
			VisibilityTimeout:           int32(visibility / time.Second), //nolint:gosec // G115: the CLI passes 30 s
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return in, fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			handles = append(handles, m)
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			in.add(m)
		}
	}
	in.Sampled = len(seen)
	return in, nil
}

func (in *Inspection) sample(group, id string) {
	if len(in.Samples[group]) < 3 {
		in.Samples[group] = append(in.Samples[group], id)
	}
}

func (in *Inspection) add(m types.Message) {
	attr := func(k string) string {
		if v, ok := m.MessageAttributes[k]; ok {
			return aws.ToString(v.StringValue)
		}
		return ""
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		t := time.UnixMilli(ms).UTC()
		if in.Oldest.IsZero() || t.Before(in.Oldest) {
			in.Oldest = t
		}
		if t.After(in.Newest) {
			in.Newest = t
		}
	}
	if n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil && n > in.MaxRecv {
		in.MaxRecv = n
	}
	id := aws.ToString(m.MessageId)
	body := aws.ToString(m.Body)
	if batch, ok := streamBatch(body); ok {
		in.StreamBatches++
		in.StreamRecords += batch.BatchSize
		if in.EarliestSequence == "" || compareSequence(batch.StartSequenceNumber, in.EarliestSequence) < 0 {
			in.EarliestSequence = batch.StartSequenceNumber
		}
		in.ByType["stream-batch"]++
		in.sample("stream-batch", batch.StartSequenceNumber+".."+batch.EndSequenceNumber)
		return
	}
	reason := attr("dead_letter_reason")
	if reason == "" {
		reason = ReasonMaxReceives
	}
	in.ByReason[reason]++
	e, err := messaging.Decode([]byte(body))
	if err != nil {
		in.ByType["undecodable"]++
		in.sample("undecodable", "message:"+id)
		in.sample("reason:"+reason, "message:"+id)
		return
	}
	t := string(e.EventType)
	if a := attr(messaging.AttrEventType); a != "" && a != t {
		t = a + " (body: " + t + ")"
	}
	in.ByType[t]++
	in.ByOrigin[e.OriginRegion]++
	in.sample(t, e.EventID.String())
	in.sample("reason:"+reason, e.EventID.String())
}

// lambdaFailure is the part of a Lambda on-failure record for a DynamoDB
// stream batch that says where the batch lies.
type lambdaFailure struct {
	DDBStreamBatchInfo *struct {
		ShardID             string `json:"shardId"`
		StartSequenceNumber string `json:"startSequenceNumber"`
		EndSequenceNumber   string `json:"endSequenceNumber"`
		BatchSize           int    `json:"batchSize"`
		StreamArn           string `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

type streamBatchInfo struct {
	StartSequenceNumber, EndSequenceNumber string
	BatchSize                              int
}

func streamBatch(body string) (streamBatchInfo, bool) {
	if !strings.Contains(body, "DDBStreamBatchInfo") {
		return streamBatchInfo{}, false
	}
	var f lambdaFailure
	if err := json.Unmarshal([]byte(body), &f); err != nil || f.DDBStreamBatchInfo == nil {
		return streamBatchInfo{}, false
	}
	b := f.DDBStreamBatchInfo
	return streamBatchInfo{StartSequenceNumber: b.StartSequenceNumber, EndSequenceNumber: b.EndSequenceNumber, BatchSize: b.BatchSize}, true
}

// SortedKeys returns a map's keys by descending count, then name.
func SortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
