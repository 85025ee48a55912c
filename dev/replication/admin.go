package replication

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the stand-in's admin API (bind it to loopback):
//
//	GET  /status         Status as JSON
//	POST /pause          stop applying changes
//	POST /resume         apply what queued up and go on
//	PUT  /lag?lag=2s     change the lag (also {"lag":"2s"} as the body)
//	GET  /metrics        Prometheus metrics
//	GET  /healthcheck    200 while running; /readiness 503 until every stream is read
func (s *StandIn) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readiness", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "streams not read yet"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Status()) })
	mux.HandleFunc("POST /pause", func(w http.ResponseWriter, _ *http.Request) {
		s.Pause()
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, _ *http.Request) {
		s.Resume()
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("PUT /lag", func(w http.ResponseWriter, r *http.Request) {
		raw := r.URL.Query().Get("lag")
		if raw == "" {
			var body struct {
				Lag string `json:"lag"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want ?lag=<duration> or {\"lag\":\"<duration>\"}"})
				return
			}
			raw = body.Lag
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 || d > time.Hour {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "lag must be a duration from 0s to 1h, e.g. 500ms"})
			return
		}
		s.SetLag(d)
		writeJSON(w, http.StatusOK, s.Status())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
