package httpapi_test

import (
	"net"
	"testing"

	"github.com/salesplatform/libs/sales/domain"
)

type eventstoreEnvelope = domain.Envelope

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
