package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// metricsHandler serves the registry in the Prometheus text format,
// written straight into Fiber's response (no net/http adaptor).
func metricsHandler(g prometheus.Gatherer) fiber.Handler {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	return func(c *fiber.Ctx) error {
		families, err := g.Gather()
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, string(format))
		enc := expfmt.NewEncoder(c.Response().BodyWriter(), format)
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				return err
			}
		}
		return nil
	}
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}
