package probe_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesplatform/services/sales-worker/internal/probe"
)

func TestRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "probe_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	var ready error
	h := probe.Handler(reg, func() error { return nil }, func() error { return ready }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	cases := []struct {
		name, method, path string
		notReady           error
		code               int
		body               string
	}{
		{"healthcheck", http.MethodGet, "/healthcheck", nil, 200, `{"status":"ok"}`},
		{"liveness", http.MethodGet, "/liveness", nil, 200, `{"status":"ok"}`},
		{"ready", http.MethodGet, "/readiness", nil, 200, `{"status":"ok"}`},
		{"not ready", http.MethodGet, "/readiness", errors.New("region state unknown"), 503, `"reason":"region state unknown"`},
		{"metrics", http.MethodGet, "/metrics", nil, 200, "probe_test_total 1"},
		{"unknown path", http.MethodGet, "/sales", nil, 404, `{"error":"not found"}`},
		{"wrong method", http.MethodPost, "/healthcheck", nil, 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ready = tc.notReady
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.body)
			}
		})
	}
}
