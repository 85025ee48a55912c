package memory_test

import (
	"testing"

	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/idempotency/idempotencytest"
	"github.com/salesplatform/libs/sales/idempotency/memory"
)

func TestAcceptance(t *testing.T) {
	idempotencytest.Run(t, func(t *testing.T, o idempotency.Options) idempotency.Store { return memory.New(o) })
}
