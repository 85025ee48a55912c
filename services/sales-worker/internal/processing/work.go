// Package processing decides what happens to each message the worker
// receives, independent of SQS: decode, region gating, claim, lake write,
// completion. It returns an Action per message; the consumer carries the
// actions out against the queue (delete, dead-letter, change visibility).
//
// The order guarantees that nothing is deleted before its effect is
// durable: a message becomes a Delete only after its claim is COMPLETED
// (which, for normal processing, is the same transaction that appends
// SaleProcessed), or when the claim was already COMPLETED before.
package processing

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/messaging"
)

// AttrReprocessGeneration is the SQS message attribute of a deliberate
// reprocessing (operator CLI): a generation N > 0 gets its own idempotency
// key and lake prefix and appends no SaleProcessed. Absent or 0 is normal
// processing.
const AttrReprocessGeneration = "reprocess_generation"

// maxGeneration bounds the attribute: generations are counted by hand.
const maxGeneration = 1_000_000

// Message is a received message, transport-neutral.
type Message struct {
	ID   string
	Body []byte
	// Attributes are the string message attributes.
	Attributes map[string]string
	// ReceiveCount is SQS's ApproximateReceiveCount (1 on first delivery).
	ReceiveCount int
}

// Work is a decoded message and everything derived from it.
type Work struct {
	Event      domain.Envelope
	Generation int
	// ClaimKey is the idempotency key, LakeKey the object key.
	ClaimKey string
	LakeKey  string
	// PayloadHash is the claim's payload hash: SHA-256 of the envelope's
	// canonical JSON, so raw and SNS-wrapped deliveries of one event agree.
	PayloadHash string
}

// Poison reasons: the dead-letter reason recorded with the message.
const (
	ReasonUndecodable      = "undecodable"
	ReasonUnsupportedEvent = "unsupported-event"
	ReasonBadGeneration    = "bad-reprocess-generation"
	ReasonBadKey           = "no-lake-key"
)

// PoisonError is a message that can never be processed.
type PoisonError struct {
	Reason string
	Err    error
}

func (e *PoisonError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *PoisonError) Unwrap() error { return e.Err }

// Derive decodes m and derives its keys: the one place where claim keys,
// lake keys and payload hashes come from. Errors are *PoisonError.
func Derive(m Message) (Work, error) {
	gen, err := Generation(m.Attributes[AttrReprocessGeneration])
	if err != nil {
		return Work{}, &PoisonError{Reason: ReasonBadGeneration, Err: err}
	}
	e, err := messaging.Decode(m.Body)
	if err != nil {
		return Work{}, &PoisonError{Reason: ReasonUndecodable, Err: err}
	}
	if e.EventType != domain.EventSaleCreated && e.EventType != domain.EventSaleCancelled {
		// SaleProcessed reaching the processing queue means a subscription
		// lost its filter; processing it would loop.
		return Work{}, &PoisonError{Reason: ReasonUnsupportedEvent, Err: fmt.Errorf("%s is not processed by the worker", e.EventType)}
	}
	lakeKey, err := lake.ObjectKey(e, gen)
	if err != nil {
		return Work{}, &PoisonError{Reason: ReasonBadKey, Err: err}
	}
	canonical, err := messaging.Body(e)
	if err != nil {
		return Work{}, &PoisonError{Reason: ReasonUndecodable, Err: err}
	}
	return Work{
		Event:       e,
		Generation:  gen,
		ClaimKey:    idempotency.Key(e.EventID, gen),
		LakeKey:     lakeKey,
		PayloadHash: idempotency.HashPayload(canonical),
	}, nil
}

// Generation parses the reprocess_generation attribute ("" is 0).
func Generation(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxGeneration {
		return 0, fmt.Errorf("%s must be an integer from 0 to %d, got %q", AttrReprocessGeneration, maxGeneration, v)
	}
	return n, nil
}

// poisonReason returns the reason of a poison error, or "".
func poisonReason(err error) string {
	var p *PoisonError
	if errors.As(err, &p) {
		return p.Reason
	}
	return ""
}
