package domain

import (
	"encoding/json"
	"fmt"
)

// Upcaster rewrites one event type's payload from schema version From to
// From+1. Stored events are never rewritten: old versions are upcast every
// time they are read.
type Upcaster struct {
	Type EventType
	From int
	Up   func(json.RawMessage) (json.RawMessage, error)
}

// Upcasters is a registry of upcasters. The zero value has none.
type Upcasters struct {
	steps map[EventType]map[int]Upcaster
}

// DefaultUpcasters holds the upcasters of the schema history. All current
// events are at their first schema version, so it is empty; the mechanism is
// exercised by the tests and ready for the first schema change.
var DefaultUpcasters = &Upcasters{}

// Register adds an upcaster. It panics on a duplicate, a programming error.
func (u *Upcasters) Register(c Upcaster) {
	if u.steps == nil {
		u.steps = map[EventType]map[int]Upcaster{}
	}
	if u.steps[c.Type] == nil {
		u.steps[c.Type] = map[int]Upcaster{}
	}
	if _, dup := u.steps[c.Type][c.From]; dup {
		panic(fmt.Sprintf("domain: upcaster %s v%d registered twice", c.Type, c.From))
	}
	u.steps[c.Type][c.From] = c
}

// Decode upcasts data from version to the current schema of t and decodes it.
func (u *Upcasters) Decode(t EventType, version int, data json.RawMessage) (Event, error) {
	target, err := newEvent(t)
	if err != nil {
		return nil, err
	}
	current := target.SchemaVersion()
	if version < 1 || version > current {
		return nil, fmt.Errorf("%w: %s schema_version %d (this code reads up to %d)", ErrMalformedEnvelope, t, version, current)
	}
	return u.upcastFrom(t, version, data)
}

// upcastFrom runs the upcaster chain from version to the current schema.
func (u *Upcasters) upcastFrom(t EventType, version int, data json.RawMessage) (Event, error) {
	target, err := newEvent(t)
	if err != nil {
		return nil, err
	}
	for v := version; v < target.SchemaVersion(); v++ {
		step, ok := u.steps[t][v]
		if !ok {
			return nil, fmt.Errorf("%w: no upcaster for %s v%d", ErrMalformedEnvelope, t, v)
		}
		if data, err = step.Up(data); err != nil {
			return nil, fmt.Errorf("%w: upcast %s v%d: %v", ErrMalformedEnvelope, t, v, err)
		}
	}
	if len(data) == 0 || string(data) == "null" {
		return nil, fmt.Errorf("%w: data is missing", ErrMalformedEnvelope)
	}
	return decodePayload(t, data)
}

func newEvent(t EventType) (Event, error) {
	switch t {
	case EventSaleCreated:
		return SaleCreated{}, nil
	case EventSaleCancelled:
		return SaleCancelled{}, nil
	case EventSaleProcessed:
		return SaleProcessed{}, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, t)
}

func decodePayload(t EventType, data json.RawMessage) (Event, error) {
	switch t {
	case EventSaleCreated:
		var ev SaleCreated
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, t, err)
		}
		p, err := NormalizeProduct(ev.Product)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, t, err)
		}
		ev.Product = p
		if ev.Amount <= 0 {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, t, ErrAmountNotPositive)
		}
		return ev, nil
	case EventSaleCancelled:
		var ev SaleCancelled
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, t, err)
		}
		return ev, nil
	case EventSaleProcessed:
		var ev SaleProcessed
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformedEnvelope, t, err)
		}
		return ev, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, t)
}
