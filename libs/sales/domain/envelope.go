package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Envelope is one stored event: the payload plus what every consumer needs
// to route, order, deduplicate and trace it. Its JSON form is the SNS message
// body and the lake's source of truth.
type Envelope struct {
	EventID          uuid.UUID `json:"event_id"`
	EventType        EventType `json:"event_type"`
	SchemaVersion    int       `json:"schema_version"`
	SaleID           uuid.UUID `json:"sale_id"`
	AggregateVersion int       `json:"aggregate_version"`
	OriginRegion     string    `json:"origin_region"`
	OccurredAt       time.Time `json:"occurred_at"`
	CorrelationID    string    `json:"correlation_id,omitempty"`
	// Principal is the authenticated caller that wrote the event (the
	// gateway's identity of it: an IAM ARN, a token's subject), "" where
	// the API runs without authorization (the local stack).
	Principal string `json:"principal,omitempty"`
	Data      Event  `json:"data"`
}

var (
	ErrMalformedEnvelope = errors.New("malformed event envelope")
	ErrUnknownEventType  = errors.New("unknown event type")
)

// NewEnvelope wraps an event for a sale at a version, stamped with the
// event's canonical id (CanonicalEventID): the same operation gets the same
// id in every region and on every retry.
func NewEnvelope(saleID uuid.UUID, version int, region, correlationID string, at time.Time, ev Event) (Envelope, error) {
	if ev == nil {
		return Envelope{}, fmt.Errorf("%w: data is missing", ErrMalformedEnvelope)
	}
	return Envelope{
		EventID:          CanonicalEventID(saleID, ev),
		EventType:        ev.EventType(),
		SchemaVersion:    ev.SchemaVersion(),
		SaleID:           saleID,
		AggregateVersion: version,
		OriginRegion:     region,
		OccurredAt:       at.UTC(),
		CorrelationID:    correlationID,
		Data:             ev,
	}, nil
}

// Validate checks the envelope fields every consumer relies on.
func (e Envelope) Validate() error {
	switch {
	case e.EventID == uuid.Nil:
		return fmt.Errorf("%w: event_id is missing", ErrMalformedEnvelope)
	case e.SaleID == uuid.Nil:
		return fmt.Errorf("%w: sale_id is missing", ErrMalformedEnvelope)
	case !e.EventType.Known():
		return fmt.Errorf("%w: %q", ErrUnknownEventType, e.EventType)
	case e.AggregateVersion < 1:
		return fmt.Errorf("%w: aggregate_version %d", ErrMalformedEnvelope, e.AggregateVersion)
	case e.OriginRegion == "":
		return fmt.Errorf("%w: origin_region is missing", ErrMalformedEnvelope)
	case e.OccurredAt.IsZero():
		return fmt.Errorf("%w: occurred_at is missing", ErrMalformedEnvelope)
	case e.Data == nil:
		return fmt.Errorf("%w: data is missing", ErrMalformedEnvelope)
	case e.Data.EventType() != e.EventType:
		return fmt.Errorf("%w: data is %s, envelope says %s", ErrMalformedEnvelope, e.Data.EventType(), e.EventType)
	}
	return nil
}

// RawEnvelope is an envelope whose payload has not been decoded yet. Every
// reader (JSON from SNS/SQS, items from DynamoDB, stream records) fills one
// and calls Decode, so upcasting happens in exactly one place.
type RawEnvelope struct {
	EventID          uuid.UUID       `json:"event_id"`
	EventType        EventType       `json:"event_type"`
	SchemaVersion    int             `json:"schema_version"`
	SaleID           uuid.UUID       `json:"sale_id"`
	AggregateVersion int             `json:"aggregate_version"`
	OriginRegion     string          `json:"origin_region"`
	OccurredAt       time.Time       `json:"occurred_at"`
	CorrelationID    string          `json:"correlation_id,omitempty"`
	Principal        string          `json:"principal,omitempty"`
	Data             json.RawMessage `json:"data"`
}

// Decode upcasts the payload to the current schema and returns a validated
// envelope.
func (r RawEnvelope) Decode(u *Upcasters) (Envelope, error) {
	if u == nil {
		u = DefaultUpcasters
	}
	ev, err := u.Decode(r.EventType, r.SchemaVersion, r.Data)
	if err != nil {
		return Envelope{}, err
	}
	e := Envelope{
		EventID:          r.EventID,
		EventType:        r.EventType,
		SchemaVersion:    ev.SchemaVersion(),
		SaleID:           r.SaleID,
		AggregateVersion: r.AggregateVersion,
		OriginRegion:     r.OriginRegion,
		OccurredAt:       r.OccurredAt.UTC(),
		CorrelationID:    r.CorrelationID,
		Principal:        r.Principal,
		Data:             ev,
	}
	return e, e.Validate()
}

// UnmarshalJSON decodes and upcasts an envelope with the default upcasters.
func (e *Envelope) UnmarshalJSON(b []byte) error {
	var raw RawEnvelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedEnvelope, err)
	}
	v, err := raw.Decode(nil)
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// ParseEnvelope decodes the JSON form of an envelope.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	err := json.Unmarshal(b, &e)
	return e, err
}
