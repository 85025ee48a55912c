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
	// ErrTooManyConflicts: concurrent writers kept taking the next version.
	ErrTooManyConflicts = errors.New("too many concurrent changes to the sale")
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
	// MaxAttempts bounds retries of a command that lost a version race
	// (default 5).
	MaxAttempts int
}

// idempotencyNamespace scopes sale ids derived from Idempotency-Key values.
var idempotencyNamespace = uuid.MustParse("6f1b5a62-8d53-4f0e-9a4c-3f6f0f8a2d11")

// SaleIDForKey derives a sale id from an Idempotency-Key (UUIDv5), so a
// retried POST lands on the same sale and hits the conditional append.
func SaleIDForKey(key string) uuid.UUID { return uuid.NewSHA1(idempotencyNamespace, []byte(key)) }

// CreateSale is the POST /sales command.
type CreateSale struct {
	Sale           domain.SaleCreated
	IdempotencyKey string
	CorrelationID  string
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

func (s *Service) attempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return 5
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
// other region after replication.
func (s *Service) Create(ctx context.Context, cmd CreateSale) (Created, error) {
	if err := s.writable(); err != nil {
		return Created{}, err
	}
	var id uuid.UUID
	if cmd.IdempotencyKey != "" {
		id = SaleIDForKey(cmd.IdempotencyKey)
		if c, found, err := s.replay(ctx, id, cmd.Sale); found || err != nil {
			return c, err
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
	err = s.Store.Append(ctx, e)
	if errors.Is(err, eventstore.ErrConflict) && cmd.IdempotencyKey != "" {
		// A concurrent request with the same key won the race.
		if c, found, rerr := s.replay(ctx, id, cmd.Sale); found || rerr != nil {
			return c, rerr
		}
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

// replay answers an Idempotency-Key seen before: the same request gets the
// sale as its first answer showed it (created, not yet processed; a retry
// after a lost answer may come when the sale is processed or cancelled),
// another request gets ErrIdempotencyKeyReused.
func (s *Service) replay(ctx context.Context, id uuid.UUID, want domain.SaleCreated) (Created, bool, error) {
	events, err := s.Store.Load(ctx, id)
	if err != nil || len(events) == 0 {
		return Created{}, false, err
	}
	domain.SortEvents(events)
	sale, err := domain.Fold(events[:1])
	if err != nil {
		return Created{}, true, err
	}
	if sale.Product != want.Product || sale.Amount != want.Amount {
		return Created{}, true, ErrIdempotencyKeyReused
	}
	return Created{Sale: sale, Replayed: true}, true, nil
}

// Get folds a sale from one strongly consistent Query.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (domain.Sale, error) {
	events, err := s.Store.Load(ctx, id)
	if err != nil {
		return domain.Sale{}, err
	}
	return domain.Fold(events)
}

// Cancel appends SaleCancelled at the next version: one Query and one
// conditional PutItem. Cancelling a cancelled sale writes nothing. A lost
// version race re-reads and retries, a bounded number of times.
func (s *Service) Cancel(ctx context.Context, id uuid.UUID, correlationID string) error {
	if err := s.writable(); err != nil {
		return err
	}
	for range s.attempts() {
		sale, err := s.Get(ctx, id)
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
		err = s.Store.Append(ctx, e)
		if !errors.Is(err, eventstore.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("cancel sale %s: %w", id, ErrTooManyConflicts)
}
