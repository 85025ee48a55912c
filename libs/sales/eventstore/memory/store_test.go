package memory_test

import (
	"testing"

	"github.com/salesplatform/libs/sales/eventstore"
	"github.com/salesplatform/libs/sales/eventstore/eventstoretest"
	"github.com/salesplatform/libs/sales/eventstore/memory"
)

func TestAcceptance(t *testing.T) {
	eventstoretest.Run(t, func(*testing.T) eventstore.Store { return memory.New() })
}
