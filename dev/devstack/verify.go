package devstack

import (
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
)

// AllSourcesProcessed reports whether every SaleCreated and SaleCancelled
// among a sale's events has its SaleProcessed (what the suites wait for
// before they count lake objects).
func AllSourcesProcessed(evs []domain.Envelope) bool {
	done := map[uuid.UUID]bool{}
	for _, ev := range evs {
		if p, ok := ev.Data.(domain.SaleProcessed); ok {
			done[p.SourceEventID] = true
		}
	}
	for _, ev := range evs {
		if (ev.EventType == domain.EventSaleCreated || ev.EventType == domain.EventSaleCancelled) && !done[ev.EventID] {
			return false
		}
	}
	return true
}
