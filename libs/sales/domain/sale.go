package domain

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Status is where a sale is in its life.
type Status string

const (
	StatusCreated   Status = "CREATED"
	StatusProcessed Status = "PROCESSED"
	StatusCancelled Status = "CANCELLED"
)

// Sale is the aggregate as folded from its events. It is never stored.
type Sale struct {
	ID           uuid.UUID
	Product      string
	Amount       Amount
	Status       Status
	Processed    bool
	CreatedAt    time.Time
	OriginRegion string
	// Principal created the sale ("" without authorization).
	Principal string
	// CreatedEventID is the id of the SaleCreated event that opened the sale.
	CreatedEventID uuid.UUID
	// Version is the highest aggregate version seen; the next append uses
	// Version+1.
	Version int
}

var (
	ErrSaleNotFound    = errors.New("sale not found")
	ErrCorruptSale     = errors.New("corrupt sale history")
	ErrNotSaleCreated  = errors.New("first event of a sale must be SaleCreated")
	ErrAlreadyCanceled = errors.New("sale already cancelled")
)

// NewSaleCreated validates a new sale's fields and returns its first event.
// It is the only way to build a SaleCreated: an invalid sale cannot exist.
func NewSaleCreated(product string, amount Amount) (SaleCreated, error) {
	p, err := NormalizeProduct(product)
	if err != nil {
		return SaleCreated{}, err
	}
	if amount <= 0 {
		return SaleCreated{}, ErrAmountNotPositive
	}
	if amount > MaxAmount {
		return SaleCreated{}, ErrAmountTooLarge
	}
	return SaleCreated{Product: p, Amount: amount}, nil
}

// SortEvents orders events by position (version, then origin region), the
// store's sort key order, so every reader folds them the same way.
func SortEvents(events []Envelope) {
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if a.AggregateVersion != b.AggregateVersion {
			return a.AggregateVersion < b.AggregateVersion
		}
		return a.OriginRegion < b.OriginRegion
	})
}

// Fold rebuilds a sale from its events. The result depends only on the set
// of events, not on the order they are given in: two regions folding the
// same replicated events agree. A second SaleCreated (a concurrent create of
// the same id in two regions) is ignored: the first by position wins.
func Fold(events []Envelope) (Sale, error) {
	if len(events) == 0 {
		return Sale{}, ErrSaleNotFound
	}
	sorted := make([]Envelope, len(events))
	copy(sorted, events)
	SortEvents(sorted)

	first, ok := sorted[0].Data.(SaleCreated)
	if !ok {
		return Sale{}, fmt.Errorf("%w: %w (sale %s starts with %s)", ErrCorruptSale, ErrNotSaleCreated, sorted[0].SaleID, sorted[0].EventType)
	}
	s := Sale{
		ID:             sorted[0].SaleID,
		Product:        first.Product,
		Amount:         first.Amount,
		Status:         StatusCreated,
		CreatedAt:      sorted[0].OccurredAt,
		OriginRegion:   sorted[0].OriginRegion,
		Principal:      sorted[0].Principal,
		CreatedEventID: sorted[0].EventID,
	}
	cancelled := false
	for _, e := range sorted {
		if e.SaleID != s.ID {
			return Sale{}, fmt.Errorf("%w: event %s belongs to sale %s, not %s", ErrCorruptSale, e.EventID, e.SaleID, s.ID)
		}
		if e.AggregateVersion > s.Version {
			s.Version = e.AggregateVersion
		}
		switch ev := e.Data.(type) {
		case SaleCancelled:
			cancelled = true
		case SaleProcessed:
			if ev.SourceEventType == EventSaleCreated || ev.SourceEventType == "" {
				s.Processed = true
			}
		}
	}
	switch {
	case cancelled:
		s.Status = StatusCancelled
	case s.Processed:
		s.Status = StatusProcessed
	}
	return s, nil
}

// HasProcessed reports whether events already record that sourceEventID was
// processed, so a retried worker appends no second SaleProcessed.
func HasProcessed(events []Envelope, sourceEventID uuid.UUID) bool {
	for _, e := range events {
		if p, ok := e.Data.(SaleProcessed); ok && p.SourceEventID == sourceEventID {
			return true
		}
	}
	return false
}
