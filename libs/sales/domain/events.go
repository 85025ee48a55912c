package domain

import (
	"github.com/google/uuid"
)

// EventType names an event on the wire, in the store and in SNS attributes.
type EventType string

const (
	EventSaleCreated   EventType = "SaleCreated"
	EventSaleCancelled EventType = "SaleCancelled"
	EventSaleProcessed EventType = "SaleProcessed"
)

// Event is the payload of an envelope. Each type knows its own name and the
// schema version it is written with; older versions are upcast on read.
type Event interface {
	EventType() EventType
	SchemaVersion() int
}

// SaleCreated opens a sale. It is always the first event of a sale.
type SaleCreated struct {
	Product string `json:"product"`
	Amount  Amount `json:"amount"`
}

// SaleCancelled closes a sale. Cancelling twice appends nothing.
type SaleCancelled struct {
	Reason string `json:"reason,omitempty"`
}

// SaleProcessed records that a worker wrote SourceEventID into the lake.
type SaleProcessed struct {
	LakeKey         string    `json:"lake_key"`
	ProcessedRegion string    `json:"processed_region"`
	SourceEventID   uuid.UUID `json:"source_event_id"`
	SourceEventType EventType `json:"source_event_type"`
}

func (SaleCreated) EventType() EventType   { return EventSaleCreated }
func (SaleCancelled) EventType() EventType { return EventSaleCancelled }
func (SaleProcessed) EventType() EventType { return EventSaleProcessed }

func (SaleCreated) SchemaVersion() int   { return 1 }
func (SaleCancelled) SchemaVersion() int { return 1 }
func (SaleProcessed) SchemaVersion() int { return 1 }

// Known reports whether t is an event type this code can read.
func (t EventType) Known() bool {
	switch t {
	case EventSaleCreated, EventSaleCancelled, EventSaleProcessed:
		return true
	}
	return false
}
