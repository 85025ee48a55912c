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
	// Append writes one event at its position (aggregate version, origin
	// region) if, and only if, that position is free. A taken position is a
	// *ConflictError. Appending an event that is already stored at its
	// position (same event id: a retry whose first answer was lost) is a
	// success, so retries are safe.
	Append(ctx context.Context, e domain.Envelope) error
	// Load returns the sale's events in position order, read strongly
	// consistently. An unknown sale has no events and no error.
	Load(ctx context.Context, saleID uuid.UUID) ([]domain.Envelope, error)
}

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
