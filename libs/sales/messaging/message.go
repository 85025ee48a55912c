// Package messaging is the wire contract between the stream publisher, SNS,
// SQS and the worker: an event travels as its envelope's JSON with a few
// message attributes that subscriptions filter on.
package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/salesplatform/libs/sales/domain"
)

// Message attribute names, set on every published event. Subscriptions
// filter on AttrEventType (the processing queues take SaleCreated and
// SaleCancelled, not SaleProcessed).
const (
	AttrEventType     = "event_type"
	AttrOriginRegion  = "origin_region"
	AttrSaleID        = "sale_id"
	AttrSchemaVersion = "schema_version"
)

// AttrReprocessGeneration marks a deliberate reprocessing (operator CLI's
// reprocess command): a generation N > 0 makes the worker claim the event
// under its own idempotency key, write the lake object under
// reprocess/g<N>/ and append nothing to the event store. It is not part of
// Attributes: normal publishing never sets it.
const AttrReprocessGeneration = "reprocess_generation"

// MaxBodyBytes is the largest body the worker accepts. Real envelopes are
// well under 2 KiB; anything near SQS's 256 KiB limit is not ours.
const MaxBodyBytes = 64 << 10

// ErrUndecodable marks a message that can never be processed (poison): it
// goes to the dead-letter queue at once instead of being retried.
var ErrUndecodable = errors.New("undecodable message")

// Attributes are the message attributes for an envelope, as strings.
func Attributes(e domain.Envelope) map[string]string {
	return map[string]string{
		AttrEventType:     string(e.EventType),
		AttrOriginRegion:  e.OriginRegion,
		AttrSaleID:        e.SaleID.String(),
		AttrSchemaVersion: strconv.Itoa(e.SchemaVersion),
	}
}

// Body is the message body for an envelope: its JSON.
func Body(e domain.Envelope) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode envelope %s: %w", e.EventID, err)
	}
	return b, nil
}

// snsNotification is the body SQS receives from SNS without raw delivery.
type snsNotification struct {
	Type      string `json:"Type"`
	MessageID string `json:"MessageId"`
	TopicArn  string `json:"TopicArn"`
	Message   string `json:"Message"`
}

// Decode reads an SQS body in either form, raw (the envelope itself, the
// form our subscriptions use) or wrapped in an SNS notification. Every
// failure wraps ErrUndecodable.
func Decode(body []byte) (domain.Envelope, error) {
	if len(body) > MaxBodyBytes {
		return domain.Envelope{}, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrUndecodable, len(body), MaxBodyBytes)
	}
	trimmed := bytes.TrimSpace(body)
	var probe struct {
		Type    string          `json:"Type"`
		Message json.RawMessage `json:"Message"`
		EventID json.RawMessage `json:"event_id"`
	}
	if err := json.Unmarshal(trimmed, &probe); err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: not JSON: %v", ErrUndecodable, err)
	}
	if probe.Type == "Notification" && len(probe.Message) > 0 && probe.EventID == nil {
		var n snsNotification
		if err := json.Unmarshal(trimmed, &n); err != nil {
			return domain.Envelope{}, fmt.Errorf("%w: SNS notification: %v", ErrUndecodable, err)
		}
		trimmed = []byte(n.Message)
	}
	e, err := domain.ParseEnvelope(trimmed)
	if err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	return e, nil
}
