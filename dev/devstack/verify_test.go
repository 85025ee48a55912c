package devstack

import (
	"testing"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
)

func TestAllSourcesProcessed(t *testing.T) {
	created := domain.Envelope{EventID: uuid.New(), EventType: domain.EventSaleCreated, Data: domain.SaleCreated{Product: "p"}}
	cancelled := domain.Envelope{EventID: uuid.New(), EventType: domain.EventSaleCancelled, Data: domain.SaleCancelled{}}
	processed := func(src domain.Envelope) domain.Envelope {
		return domain.Envelope{EventID: uuid.New(), EventType: domain.EventSaleProcessed,
			Data: domain.SaleProcessed{SourceEventID: src.EventID, SourceEventType: src.EventType}}
	}
	for name, tc := range map[string]struct {
		evs  []domain.Envelope
		want bool
	}{
		"nothing":                    {nil, true},
		"created only":               {[]domain.Envelope{created}, false},
		"created and processed":      {[]domain.Envelope{created, processed(created)}, true},
		"cancellation not processed": {[]domain.Envelope{created, processed(created), cancelled}, false},
		"both processed":             {[]domain.Envelope{created, cancelled, processed(cancelled), processed(created)}, true},
		"processed names another":    {[]domain.Envelope{created, processed(cancelled)}, false},
	} {
		if got := AllSourcesProcessed(tc.evs); got != tc.want {
			t.Errorf("%s: AllSourcesProcessed = %v, want %v", name, got, tc.want)
		}
	}
}
