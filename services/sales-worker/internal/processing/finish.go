package processing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
	"github.com/salesplatform/libs/sales/idempotency"
)

// Committer makes processed work durable in one atomic step.
type Committer interface {
	// CompleteAndAppend marks the claim COMPLETED with result and appends
	// e to the event store, both or neither. It returns an error matching
	// eventstore.ErrConflict when e's position is taken (nothing was
	// written), one matching idempotency.ErrClaimLost when the claim is no
	// longer held (nothing was written), and nil when both writes are
	// there, including when a retry finds its own earlier success.
	CompleteAndAppend(ctx context.Context, c idempotency.Claim, result string, e domain.Envelope) error
}

// EventLoader reads a sale's events (eventstore.Store has it).
type EventLoader interface {
	Load(ctx context.Context, saleID uuid.UUID) ([]domain.Envelope, error)
}

// maxAppendAttempts bounds the version guesses for SaleProcessed. Each
// conflict re-reads the sale, so more than a few means the sale is being
// written to continuously, which no real sale is.
const maxAppendAttempts = 5

// Finisher completes claims, appending SaleProcessed in the same step for
// normal processing.
type Finisher struct {
	Claims idempotency.Store
	Commit Committer
	Events EventLoader
	// Region is the worker's region: SaleProcessed's origin and position.
	Region string
	Now    func() time.Time
}

// processedNamespace makes SaleProcessed event ids deterministic: one per
// (source event, processing region), the same on every retry.
var processedNamespace = uuid.MustParse("6d1f0a52-7c0b-4e1e-9a57-3c2f5e8b9d10")

// ProcessedEvent is the SaleProcessed event recording w at version.
func ProcessedEvent(w Work, region string, version int, at time.Time) domain.Envelope {
	src := w.Event
	return domain.Envelope{
		EventID:          uuid.NewSHA1(processedNamespace, []byte(src.EventID.String()+"/"+region)),
		EventType:        domain.EventSaleProcessed,
		SchemaVersion:    domain.SaleProcessed{}.SchemaVersion(),
		SaleID:           src.SaleID,
		AggregateVersion: version,
		OriginRegion:     region,
		OccurredAt:       at.UTC(),
		CorrelationID:    src.CorrelationID,
		Data: domain.SaleProcessed{
			LakeKey:         w.LakeKey,
			ProcessedRegion: region,
			SourceEventID:   src.EventID,
			SourceEventType: src.EventType,
		},
	}
}

// Finish makes w's processing durable under claim c. A reprocessing
// generation only completes its claim. Normal processing completes the
// claim and appends SaleProcessed in one transaction, guessing the version
// after the source event's; on a conflict it reads the sale, stops if
// SaleProcessed for this source event is already there (completing the
// claim alone), and otherwise retries after the highest version.
func (f *Finisher) Finish(ctx context.Context, c idempotency.Claim, w Work) error {
	if w.Generation > 0 {
		return f.Claims.Complete(ctx, c, w.LakeKey)
	}
	version := w.Event.AggregateVersion + 1
	for attempt := 1; ; attempt++ {
		ev := ProcessedEvent(w, f.Region, version, f.Now())
		err := f.Commit.CompleteAndAppend(ctx, c, w.LakeKey, ev)
		if err == nil || !errors.Is(err, eventstore.ErrConflict) {
			return err
		}
		if attempt >= maxAppendAttempts {
			return fmt.Errorf("append SaleProcessed to sale %s: still conflicting after %d attempts: %w", w.Event.SaleID, attempt, err)
		}
		events, lerr := f.Events.Load(ctx, w.Event.SaleID)
		if lerr != nil {
			return fmt.Errorf("append SaleProcessed after a conflict: %w", lerr)
		}
		if domain.HasProcessed(events, w.Event.EventID) {
			return f.Claims.Complete(ctx, c, w.LakeKey)
		}
		next := version + 1 // the position just tried is taken, whatever the read shows
		for _, e := range events {
			next = max(next, e.AggregateVersion+1)
		}
		version = next
	}
}
