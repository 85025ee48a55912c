// Package app is the sales API's application layer: the commands and the
// query it serves, on the event store port. HTTP lives above it, the domain
// and the store adapters below it.
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
	"github.com/salesplatform/libs/sales/regionstate"
)

var (
	// ErrRegionNotActive refuses a write in a PASSIVE (or unknown) region.
	ErrRegionNotActive = errors.New("region is not accepting writes")
	// ErrIdempotencyKeyReused: the key was first used with another body.
	ErrIdempotencyKeyReused = errors.New("idempotency key already used with a different request")
	// ErrNotCommitted: the write did not commit within the request's
	// budget, and its position was voided, so it never will: the client may
	// retry (the same Idempotency-Key included).
	ErrNotCommitted = errors.New("the write did not complete in time and was cancelled")
	// ErrOutcomeUnknown: neither the write nor its void answered in time;
	// only a retry with the same Idempotency-Key is safe.
	ErrOutcomeUnknown = errors.New("the outcome of the write is unknown")
	// ErrUnavailable: the store could not be read; nothing was written.
	ErrUnavailable = errors.New("the event store did not answer")
)

// StateReader tells whether this region takes writes; a
// regionstate.Watcher is one.
type StateReader interface {
	State() regionstate.State
}

// Service runs the sales commands for one region.
type Service struct {
	Store  eventstore.Store
	Region string
	State  StateReader
	// Now is the clock (default time.Now).
	Now func() time.Time
	// VoidTimeout bounds the void that settles a write whose outcome the
	// request's budget did not see (default 1 s): the request's budget plus
	// it stays below the edge's integration timeout.
	VoidTimeout time.Duration
	// Keys derives sale ids from Idempotency-Keys.
	Keys Keys
}

// CreateSale is the POST /sales command.
type CreateSale struct {
	Sale           domain.SaleCreated
	IdempotencyKey string
	CorrelationID  string
	Caller         Caller
}

// Created is the outcome of CreateSale.
type Created struct {
	Sale domain.Sale
	// Replayed is true when an Idempotency-Key matched an earlier request:
	// no event was written this time.
	Replayed bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) writable() error {
	if st := s.State.State(); st != regionstate.Active {
		return fmt.Errorf("%w: %s is %s", ErrRegionNotActive, s.Region, st)
	}
	return nil
}

// Create appends SaleCreated: one conditional PutItem. With an idempotency
// key the sale id is derived from the key and the sale is read first (one
// Query), so a retry returns the first answer even if it arrives at the
// other region after replication. A retry that reaches the other region
// before replication writes a second version of the same event at the same
// item (the event id and position come from the sale id alone); the
// replicas and the lakes converge to the earliest version (ADR 0071).
func (s *Service) Create(ctx context.Context, cmd CreateSale) (Created, error) {
	if err := s.writable(); err != nil {
		return Created{}, err
	}
	var id uuid.UUID
	if cmd.IdempotencyKey != "" {
		id = s.Keys.SaleID(cmd.Caller.Principal, cmd.IdempotencyKey)
		events, err := s.load(ctx, id)
		if err != nil {
			return Created{}, err
		}
		if len(events) > 0 {
			return replay(events[0], cmd.Sale)
		}
	} else {
		var err error
		if id, err = uuid.NewV7(); err != nil {
			return Created{}, fmt.Errorf("new sale id: %w", err)
		}
	}
	e, err := domain.NewEnvelope(id, 1, s.Region, cmd.CorrelationID, s.now(), cmd.Sale)
	if err != nil {
		return Created{}, err
	}
	e.Principal = cmd.Caller.Principal
	err = s.append(ctx, e)
	var conflict *eventstore.ConflictError
	if errors.As(err, &conflict) && conflict.Existing != nil && cmd.IdempotencyKey != "" {
		// A concurrent request with the same key won the race.
		return replay(*conflict.Existing, cmd.Sale)
	}
	if err != nil {
		return Created{}, err
	}
	sale, err := domain.Fold([]domain.Envelope{e})
	if err != nil {
		return Created{}, err
	}
	return Created{Sale: sale}, nil
}

// replay answers an Idempotency-Key seen before, from the sale's first
// event: the same request gets the sale as its first answer showed it
// (created, not yet processed; a retry after a lost answer may come when
// the sale is processed or cancelled), another request gets
// ErrIdempotencyKeyReused.
func replay(first domain.Envelope, want domain.SaleCreated) (Created, error) {
	sale, err := domain.Fold([]domain.Envelope{first})
	if err != nil {
		return Created{}, err
	}
	if sale.Product != want.Product || sale.Amount != want.Amount {
		return Created{}, ErrIdempotencyKeyReused
	}
	return Created{Sale: sale, Replayed: true}, nil
}

// Get folds a sale from one strongly consistent Query. A caller that may
// not access the sale gets ErrSaleNotFound, as for a sale that does not
// exist: an id says nothing to whoever does not own it.
func (s *Service) Get(ctx context.Context, id uuid.UUID, caller Caller) (domain.Sale, error) {
	events, err := s.load(ctx, id)
	if err != nil {
		return domain.Sale{}, err
	}
	sale, err := domain.Fold(events)
	if err != nil {
		return domain.Sale{}, err
	}
	if !caller.mayAccess(sale.Principal) {
		return domain.Sale{}, domain.ErrSaleNotFound
	}
	return sale, nil
}

// load reads a sale's events; a failure is ErrUnavailable (a read writes
// nothing, so the client may simply retry).
func (s *Service) load(ctx context.Context, id uuid.UUID) ([]domain.Envelope, error) {
	events, err := s.Store.Load(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return events, nil
}

// Cancel appends SaleCancelled: one Query and one conditional PutItem.
// Cancelling a cancelled sale writes nothing. A sale has one cancellation
// item, so a concurrent cancel (here or in the other region) can only meet
// the same operation: its conflict means the sale is cancelled.
func (s *Service) Cancel(ctx context.Context, id uuid.UUID, caller Caller, correlationID string) error {
	if err := s.writable(); err != nil {
		return err
	}
	sale, err := s.Get(ctx, id, caller)
	if err != nil {
		return err
	}
	if sale.Status == domain.StatusCancelled {
		return nil
	}
	e, err := domain.NewEnvelope(id, sale.Version+1, s.Region, correlationID, s.now(), domain.SaleCancelled{})
	if err != nil {
		return err
	}
	e.Principal = caller.Principal
	if err := s.append(ctx, e); err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return err
	}
	return nil
}

// append writes e, and settles a write whose outcome it could not see (a
// timeout, a reset connection, a store that kept failing) before the
// client hears anything: it voids e's position, so that an attempt still
// in flight can never commit after the client was told it failed
// (invariant 7). The void either lands (ErrNotCommitted: nothing was
// written, nothing will be), or finds what is there: e itself (it did
// commit: success) or another version (the caller's conflict handling).
// Only when the void cannot be settled either is the outcome unknown.
func (s *Service) append(ctx context.Context, e domain.Envelope) error {
	err := s.Store.Append(ctx, e)
	if err == nil || errors.Is(err, eventstore.ErrConflict) || errors.Is(err, eventstore.ErrWritesClosed) || errors.Is(err, domain.ErrMalformedEnvelope) {
		return err
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.voidTimeout())
	defer cancel()
	verr := s.Store.Void(vctx, e)
	var conflict *eventstore.ConflictError
	switch {
	case verr == nil:
		return fmt.Errorf("%w: %v", ErrNotCommitted, err)
	case errors.As(verr, &conflict) && conflict.Existing != nil && domain.SameVersion(*conflict.Existing, e):
		return nil
	case errors.As(verr, &conflict):
		return verr
	}
	return fmt.Errorf("%w: %v; void: %v", ErrOutcomeUnknown, err, verr)
}

func (s *Service) voidTimeout() time.Duration {
	if s.VoidTimeout > 0 {
		return s.VoidTimeout
	}
	return time.Second
}
