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

// Events is the part of the event store the worker needs
// (eventstore.Store has it): merging versions of an operation written by
// two regions, and reading a sale.
type Events interface {
	Merge(ctx context.Context, e domain.Envelope) (domain.Envelope, error)
	Load(ctx context.Context, saleID uuid.UUID) ([]domain.Envelope, error)
}

// Finisher completes claims, appending SaleProcessed in the same step for
// normal processing.
type Finisher struct {
	Claims idempotency.Store
	Commit Committer
	// Events merges versions of an operation written by two regions.
	Events Events
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
	if w.Event.LegacyLayout() {
		// Written before canonical identities: its SaleProcessed, if any,
		// sits at a per-region position the canonical one does not meet
		// (a replay after the claim expired). Read the sale first.
		events, err := f.Events.Load(ctx, w.Event.SaleID)
		if err != nil {
			return fmt.Errorf("read sale %s before recording a legacy event: %w", w.Event.SaleID, err)
		}
		if domain.HasProcessed(events, w.Event.EventID) {
			return f.Claims.Complete(ctx, c, w.LakeKey)
		}
	}
	err := f.Commit.CompleteAndAppend(ctx, c, w.LakeKey, ProcessedEvent(w, f.Region, f.Now()))
	if errors.Is(err, eventstore.ErrConflict) {
		return f.Claims.Complete(ctx, c, w.LakeKey)
	}
	return err
}
