// Package eventstore defines the port through which sales are appended and
// read as events. Implementations live in the subpackages dynamodb (the
// production store) and memory (fast tests); eventstoretest is the
// acceptance suite both must pass.
package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
)

// Store appends events and reads a sale's events back.
type Store interface {
	// Append writes one event at its position (domain.Envelope.Position)
	// if, and only if, that position is free. A taken position is a
	// *ConflictError naming the event there: another version of the same
	// operation (another request, or another region's, replicated in).
	// Appending the very version that is stored (domain.SameVersion: a
	// retry whose first answer was lost) is a success, so retries are safe.
	Append(ctx context.Context, e domain.Envelope) error
	// Merge makes e's position hold the earlier (domain.Earlier) of e and
	// the version stored there, writing e when the position is free, and
	// returns the version kept. It is how the two versions of one operation
	// that two regions wrote within the replication lag converge to one:
	// every replica merges toward the same version, whatever it saw first.
	Merge(ctx context.Context, e domain.Envelope) (kept domain.Envelope, err error)
	// Void makes sure e can never be written afterwards: it occupies e's
	// free position with a void, an item that holds no event and that
	// every reader skips. It is what a writer does when it must answer a
	// client before knowing whether its append committed (a deadline): it
	// returns nil when the position is void (the append did not happen
	// and never will, whatever is still in flight), or a *ConflictError
	// naming the event there (domain.SameVersion with e: the append did
	// commit). Append writes over a void, so a retry of the operation can
	// still happen.
	Void(ctx context.Context, e domain.Envelope) error
	// Load returns the sale's events in position order, read strongly
	// consistently. An unknown sale has no events and no error.
	Load(ctx context.Context, saleID uuid.UUID) ([]domain.Envelope, error)
}

// ErrWritesClosed is returned by an append in a region whose write gate a
// failover has closed: nothing commits there any more, whatever a
// service's cached region state says (invariant 8).
var ErrWritesClosed = errors.New("writes are closed in this region")

// ErrConflict is matched by every *ConflictError.
var ErrConflict = errors.New("event position already taken")

// ConflictError says another event holds the position an append wanted.
type ConflictError struct {
	Position string
	// Existing is the event found there, when the store could read it.
	Existing *domain.Envelope
}

func (e *ConflictError) Error() string {
	if e.Existing != nil {
		return fmt.Sprintf("%v: %s holds %s %s", ErrConflict, e.Position, e.Existing.EventType, e.Existing.EventID)
	}
	return fmt.Sprintf("%v: %s", ErrConflict, e.Position)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }
