package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Identity of events across regions.
//
// Global tables merge two writes of one item by last-writer-wins, and each
// region accepts writes on its own. So the identity of an event (its id,
// its position in the store, its lake key, its claim key) is derived only
// from what every region agrees on about the operation — the sale id, the
// event type and, for SaleProcessed, the source event — never from the
// region, the time or the request that performed it. The same operation
// done in two regions (a keyed create or a cancel retried in the other
// region, two regions processing one source event) then lands on one item
// and one lake key and merges into one; two different operations never
// share an item, because each event type of a sale has positions of its
// own (SaleCreated and SaleCancelled happen once per sale, SaleProcessed
// once per source event).
//
// Two regions doing one operation within the replication lag still write
// two versions of it: same identity, different provenance (origin region,
// time, correlation id) and, for a keyed create that two clients sent with
// different bodies, a different payload. Every replica and every lake
// converges to the earliest version (Earlier), whichever it saw first.
//
// Events written before this layout (LegacyLayout) keep their identity: a
// random event id and the position version#origin-region.

// identityNamespace scopes the UUIDv5 event ids derived here.
var identityNamespace = uuid.MustParse("3b0c7d3e-5c1f-4b7e-8f5e-2a9d6c4e1b70")

// CanonicalEventID is the event id of ev for a sale: one per sale for
// SaleCreated and SaleCancelled, one per source event for SaleProcessed.
func CanonicalEventID(saleID uuid.UUID, ev Event) uuid.UUID {
	name := saleID.String() + "/" + string(ev.EventType())
	if p, ok := ev.(SaleProcessed); ok {
		name = p.SourceEventID.String() + "/" + string(EventSaleProcessed)
	}
	return uuid.NewSHA1(identityNamespace, []byte(name))
}

// LegacyLayout reports whether e was written before canonical identities:
// its event id is not the canonical one. Legacy events keep their
// positions and lake keys.
func (e Envelope) LegacyLayout() bool {
	return e.Data == nil || e.EventID != CanonicalEventID(e.SaleID, e.Data)
}

// Position is the event's sort key in the store. Canonical events are
// positioned by what they are: "SaleCreated", "SaleCancelled",
// "SaleProcessed#<source event id>". Legacy events keep
// "<version, zero-padded>#<origin region>".
func (e Envelope) Position() string {
	if e.LegacyLayout() {
		return FormatLegacyPosition(e.AggregateVersion, e.OriginRegion)
	}
	if p, ok := e.Data.(SaleProcessed); ok {
		return string(EventSaleProcessed) + "#" + p.SourceEventID.String()
	}
	return string(e.EventType)
}

// FormatLegacyPosition renders the sort key of a legacy event.
func FormatLegacyPosition(version int, region string) string {
	return fmt.Sprintf("%010d#%s", version, region)
}

// SameVersion reports whether a and b are the same write of an event (a
// retry whose first answer was lost), not merely the same operation.
func SameVersion(a, b Envelope) bool {
	if a.EventID != b.EventID || a.OriginRegion != b.OriginRegion || !a.OccurredAt.Equal(b.OccurredAt) ||
		a.CorrelationID != b.CorrelationID || a.AggregateVersion != b.AggregateVersion || a.Principal != b.Principal {
		return false
	}
	return bytes.Equal(payload(a), payload(b))
}

// SamePayload reports whether two versions of an operation carry the same
// payload (a retry with the same body), whatever their provenance.
func SamePayload(a, b Envelope) bool {
	return a.EventType == b.EventType && bytes.Equal(payload(a), payload(b))
}

func payload(e Envelope) []byte {
	b, err := json.Marshal(e.Data)
	if err != nil {
		return nil
	}
	return b
}

// Earlier reports whether a is the version that wins over b: the earlier
// occurred_at, then the smaller origin region, then the smaller payload
// bytes. It is a total order on versions, so every region that has seen
// the same versions keeps the same one. The earliest is also the natural
// winner: it is the first attempt of the client's request.
func Earlier(a, b Envelope) bool {
	if !a.OccurredAt.Equal(b.OccurredAt) {
		return a.OccurredAt.Before(b.OccurredAt)
	}
	if a.OriginRegion != b.OriginRegion {
		return a.OriginRegion < b.OriginRegion
	}
	if c := bytes.Compare(payload(a), payload(b)); c != 0 {
		return c < 0
	}
	if a.CorrelationID != b.CorrelationID {
		return a.CorrelationID < b.CorrelationID
	}
	return a.Principal < b.Principal
}

// SaleDate is the UTC day a sale belongs to, from what every region agrees
// on: the time in a UUIDv7 sale id (every sale created without an
// Idempotency-Key), else the event's occurred_at (a keyed sale's id is
// derived from its key and carries no time).
func SaleDate(e Envelope) string {
	if e.SaleID.Version() == 7 {
		sec, nsec := e.SaleID.Time().UnixTime()
		return time.Unix(sec, nsec).UTC().Format(time.DateOnly)
	}
	return e.OccurredAt.UTC().Format(time.DateOnly)
}
