package processing

import (
	"context"
	"errors"
	"time"

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

// EventMerger merges a version of an operation into the event store
// (eventstore.Store has it).
type EventMerger interface {
	Merge(ctx context.Context, e domain.Envelope) (domain.Envelope, error)
}

// Finisher completes claims, appending SaleProcessed in the same step for
// normal processing.
type Finisher struct {
	Claims idempotency.Store
	Commit Committer
	// Events merges versions of an operation written by two regions.
	Events EventMerger
	// Region is the worker's region: SaleProcessed's origin.
	Region string
	Now    func() time.Time
}

// ProcessedEvent is the SaleProcessed event recording w. Its id and
// position come from the source event alone, so the processing of one
// source event is one item whichever regions processed it.
func ProcessedEvent(w Work, region string, at time.Time) domain.Envelope {
	src := w.Event
	e, _ := domain.NewEnvelope(src.SaleID, src.AggregateVersion+1, region, src.CorrelationID, at, domain.SaleProcessed{
		LakeKey:         w.LakeKey,
		ProcessedRegion: region,
		SourceEventID:   src.EventID,
		SourceEventType: src.EventType,
	})
	return e
}

// Finish makes w's processing durable under claim c. A reprocessing
// generation only completes its claim. Normal processing completes the
// claim and appends SaleProcessed in one transaction; when SaleProcessed
// of this source event is already there (the other region processed it
// too, or an attempt of ours whose answer was lost), the claim is
// completed alone: one SaleProcessed per source event.
func (f *Finisher) Finish(ctx context.Context, c idempotency.Claim, w Work) error {
	if w.Generation > 0 {
		return f.Claims.Complete(ctx, c, w.LakeKey)
	}
	err := f.Commit.CompleteAndAppend(ctx, c, w.LakeKey, ProcessedEvent(w, f.Region, f.Now()))
	if errors.Is(err, eventstore.ErrConflict) {
		return f.Claims.Complete(ctx, c, w.LakeKey)
	}
	return err
}
