// Package publisher is the stream publisher's handler: it turns the event
// store's stream records into SNS messages. The Lambda and the local runner
// call the same Handle.
package publisher

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
)

// Publisher is what the handler publishes with (messaging.Publisher).
type Publisher interface {
	Publish(ctx context.Context, envs []domain.Envelope) messaging.PublishResult
}

// Stats describe one invocation; a Recorder turns them into metrics.
type Stats struct {
	Records           int
	Published         int
	SkippedReplicated int
	SkippedNotInsert  int
	// SkippedVoid counts voids: items fencing a write abandoned at its
	// deadline, which hold no event.
	SkippedVoid int
	// FailedPublish counts records SNS did not accept.
	FailedPublish int
	// Undecodable counts records whose image is not an event.
	Undecodable int
	// Retried counts the records the partial batch response hands back
	// (the first unpublished one and everything after it).
	Retried int
	// OldestRecordAge is now minus the oldest record's creation time.
	OldestRecordAge time.Duration
	PublishCalls    int
	Duration        time.Duration
}

// Recorder records an invocation's stats (EMF in Lambda, Prometheus in
// the local runner).
type Recorder interface {
	Record(Stats)
}

// Handler publishes the INSERTs of its own region.
type Handler struct {
	region string
	pub    Publisher
	rec    Recorder
	log    *slog.Logger
	now    func() time.Time
}

// New returns a handler for region (the origin_region it publishes).
func New(region string, pub Publisher, rec Recorder, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{region: region, pub: pub, rec: rec, log: log, now: time.Now}
}

// Handle is the Lambda handler (DynamoDB stream event source with
// ReportBatchItemFailures).
//
// It publishes every record of its region that it can, then reports the
// earliest record that was not published (not decodable, or not accepted
// by SNS) as the batch's single item failure: the mapping checkpoints
// before it and retries from it, so nothing unpublished is ever
// acknowledged. Records after it that were published are published again
// on the retry; the consumers are idempotent. See docs/adr/0020.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	started := h.now()
	st := Stats{Records: len(ev.Records)}
	firstFailed := len(ev.Records)
	var envs []domain.Envelope
	var positions []int
	var oldest time.Time
	for i, r := range ev.Records {
		if t := r.Change.ApproximateCreationDateTime.Time; !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
		if r.EventName != string(events.DynamoDBOperationTypeInsert) {
			// Events are never updated or deleted; a MODIFY is a
			// rewrite of the same item (the emulator emits one for an
			// identical put) and a REMOVE is an operator's clean-up.
			st.SkippedNotInsert++
			continue
		}
		image := r.Change.NewImage
		if store.IsVoidImage(image) {
			st.SkippedVoid++
			continue
		}
		if region, ok := stringAttr(image, store.AttrOriginRegion); ok && region != h.region {
			// Replicated in by a global table: its own region publishes
			// it. Decided before decoding, so a malformed foreign record
			// never blocks this region's shard.
			st.SkippedReplicated++
			continue
		}
		e, err := store.DecodeStreamImage(image)
		if err != nil {
			eventID, _ := stringAttr(image, store.AttrEventID)
			h.log.ErrorContext(ctx, "undecodable stream record; reported as failed",
				"sequence_number", r.Change.SequenceNumber, "event_id", eventID, "stream_event_id", r.EventID, "error", err)
			st.Undecodable++
			firstFailed = min(firstFailed, i)
			continue
		}
		if e.OriginRegion != h.region {
			st.SkippedReplicated++
			continue
		}
		envs = append(envs, e)
		positions = append(positions, i)
	}
	if len(envs) > 0 {
		res := h.pub.Publish(ctx, envs)
		st.PublishCalls = res.Calls
		for j, err := range res.Errs {
			if err == nil {
				st.Published++
				continue
			}
			st.FailedPublish++
			firstFailed = min(firstFailed, positions[j])
			h.log.WarnContext(ctx, "publish failed; record will be retried",
				"sequence_number", ev.Records[positions[j]].Change.SequenceNumber, "event_id", envs[j].EventID, "error", err)
		}
	}
	var resp events.DynamoDBEventResponse
	if firstFailed < len(ev.Records) {
		st.Retried = len(ev.Records) - firstFailed
		resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[firstFailed].Change.SequenceNumber}}
	}
	if !oldest.IsZero() {
		st.OldestRecordAge = h.now().Sub(oldest)
	}
	st.Duration = h.now().Sub(started)
	if h.rec != nil {
		h.rec.Record(st)
	}
	h.log.DebugContext(ctx, "batch handled", "records", st.Records, "published", st.Published,
		"skipped_replicated", st.SkippedReplicated, "skipped_not_insert", st.SkippedNotInsert, "skipped_void", st.SkippedVoid,
		"failed", st.FailedPublish, "undecodable", st.Undecodable, "retried", st.Retried)
	return resp, nil
}

// stringAttr reads a string attribute of an image without trusting its
// type.
func stringAttr(image map[string]events.DynamoDBAttributeValue, name string) (string, bool) {
	v, ok := image[name]
	if !ok || v.DataType() != events.DataTypeString {
		return "", false
	}
	return v.String(), true
}
