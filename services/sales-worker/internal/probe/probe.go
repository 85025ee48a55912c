// Package probe serves the worker's small HTTP surface: the original
// /healthcheck, /liveness and /readiness for the orchestrator, and
// /metrics for Prometheus.
package probe

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check answers nil when healthy, or an error whose text is safe to show
// (it names a condition, never carries an AWS error's text).
type Check func() error

// Handler routes the probes.
func Handler(reg *prometheus.Registry, live, ready Check, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /liveness", probe(live, log, "liveness"))
	mux.HandleFunc("GET /readiness", probe(ready, log, "readiness"))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	return mux
}

func probe(check Check, log *slog.Logger, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if err := check(); err != nil {
			log.Debug(name+" failing", "reason", err)
			write(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
		write(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

func write(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Server returns an http.Server with timeouts, so a slow client cannot
// hold a connection (or the shutdown) open.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}
