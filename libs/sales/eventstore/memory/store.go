// Package memory is an in-process event store for unit tests and benchmarks.
// It keeps the same contract as the DynamoDB store (see the acceptance suite
// in eventstoretest) but no durability.
package memory

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
)

// Store is safe for concurrent use. The zero value is not: use New.
type Store struct {
	mu    sync.RWMutex
	sales map[uuid.UUID]map[string]domain.Envelope
	voids map[uuid.UUID]map[string]bool
	// closed is the write gate (SetWritesClosed).
	closed bool
}

// SetWritesClosed closes or opens the store's write gate, as a failover
// does for a region: a closed gate fails every Append with
// eventstore.ErrWritesClosed.
func (s *Store) SetWritesClosed(closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = closed
}

// New returns an empty store.
func New() *Store {
	return &Store{sales: map[uuid.UUID]map[string]domain.Envelope{}, voids: map[uuid.UUID]map[string]bool{}}
}

var _ eventstore.Store = (*Store)(nil)

// Append implements eventstore.Store.
func (s *Store) Append(_ context.Context, e domain.Envelope) error {
	if err := e.Validate(); err != nil {
		return err
	}
	pos := e.Position()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return eventstore.ErrWritesClosed
	}
	delete(s.voids[e.SaleID], pos)
	events := s.sales[e.SaleID]
	if events == nil {
		events = map[string]domain.Envelope{}
		s.sales[e.SaleID] = events
	}
	if old, taken := events[pos]; taken {
		if domain.SameVersion(old, e) {
			return nil
		}
		return &eventstore.ConflictError{Position: pos, Existing: &old}
	}
	events[pos] = e
	return nil
}

// Merge implements eventstore.Store (never gated, like the DynamoDB store:
// a merge converges what was written, it accepts nothing new).
func (s *Store) Merge(_ context.Context, e domain.Envelope) (domain.Envelope, error) {
	if err := e.Validate(); err != nil {
		return domain.Envelope{}, err
	}
	pos := e.Position()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.voids[e.SaleID], pos)
	if s.sales[e.SaleID] == nil {
		s.sales[e.SaleID] = map[string]domain.Envelope{}
	}
	if old, taken := s.sales[e.SaleID][pos]; taken && !domain.Earlier(e, old) {
		return old, nil
	}
	s.sales[e.SaleID][pos] = e
	return e, nil
}

// Void implements eventstore.Store.
func (s *Store) Void(_ context.Context, e domain.Envelope) error {
	pos := e.Position()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, taken := s.sales[e.SaleID][pos]; taken {
		return &eventstore.ConflictError{Position: pos, Existing: &old}
	}
	if s.voids[e.SaleID] == nil {
		s.voids[e.SaleID] = map[string]bool{}
	}
	s.voids[e.SaleID][pos] = true
	return nil
}

// Load implements eventstore.Store.
func (s *Store) Load(_ context.Context, saleID uuid.UUID) ([]domain.Envelope, error) {
	s.mu.RLock()
	events := s.sales[saleID]
	out := make([]domain.Envelope, 0, len(events))
	for _, e := range events {
		out = append(out, e)
	}
	s.mu.RUnlock()
	domain.SortEvents(out)
	return out, nil
}

// Len returns the number of stored events, for tests that assert nothing
// was written.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, events := range s.sales {
		n += len(events)
	}
	return n
}
