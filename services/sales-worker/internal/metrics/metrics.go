// Package metrics holds the worker's Prometheus metrics, on a registry of
// its own (several workers can run in one test process).
package metrics

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/salesplatform/libs/sales/awsconfig"
)

// Metrics of one worker.
type Metrics struct {
	Registry *prometheus.Registry
	// AWS counts AWS operations and requests; pass it to awsconfig.Load.
	AWS *awsconfig.RequestCounter

	Received     prometheus.Counter
	Processed    *prometheus.CounterVec // event_type
	Duplicate    *prometheus.CounterVec // where: here | elsewhere | other-version
	Conflicts    *prometheus.CounterVec // event_type, kind
	Deferred     *prometheus.CounterVec // reason
	Failed       *prometheus.CounterVec // stage
	DeadLettered *prometheus.CounterVec // reason
	Deleted      prometheus.Counter
	DeleteFailed prometheus.Counter
	Released     prometheus.Counter
	Unparked     prometheus.Counter
	Heartbeats   prometheus.Counter
	InFlight     prometheus.Gauge
	Latency      *prometheus.HistogramVec // outcome
	EventAge     prometheus.Histogram
	// AWSLatency is the duration of each AWS operation, retries included.
	AWSLatency *prometheus.HistogramVec // service, operation
}

// New registers the worker's metrics, the AWS request counter and the Go
// runtime collectors on a fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		Registry: reg,
		AWS:      awsconfig.NewRequestCounter(reg),
		Received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_messages_received_total", Help: "Messages received from the processing queue.",
		}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_messages_processed_total", Help: "Events written to the lake and completed, by event type.",
		}, []string{"event_type"}),
		Duplicate: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_messages_duplicate_total", Help: "Messages whose event was already COMPLETED (here: found by a claim; elsewhere: by a passive region's sweep).",
		}, []string{"where"}),
		Conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_version_conflicts_total",
			Help: "Operations found written as two versions by two regions (kind retry: same payload; different_payload: one Idempotency-Key, two bodies), merged to the earliest and recorded under conflicts/ in the lake.",
		}, []string{"event_type", "kind"}),
		Deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_messages_deferred_total", Help: "Messages left in the queue for later, by reason (takeover-delay, in-progress, passive, claim-lost).",
		}, []string{"reason"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_messages_failed_total", Help: "Processing failures that will be retried with backoff, by stage.",
		}, []string{"stage"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sales_worker_messages_dead_lettered_total", Help: "Poison messages sent to the DLQ by the worker, by reason.",
		}, []string{"reason"}),
		Deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_messages_deleted_total", Help: "Messages deleted from the processing queue.",
		}),
		DeleteFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_delete_failures_total", Help: "Deletes that failed (the message comes back and is found COMPLETED).",
		}),
		Released: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_messages_released_total", Help: "Messages given back unfinished while draining.",
		}),
		Unparked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_messages_unparked_total", Help: "Parked messages made visible again when the region turned ACTIVE.",
		}),
		Heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sales_worker_heartbeats_total", Help: "Visibility and lease extensions of long-running batches.",
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sales_worker_messages_in_flight", Help: "Messages received and not yet acted on.",
		}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sales_worker_processing_seconds",
			Help:    "Time from decode to decision per message, by outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		EventAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sales_worker_event_age_seconds",
			Help:    "Age of an event (since it occurred) when it was processed.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16),
		}),
		AWSLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aws_operation_seconds",
			Help:    "Duration of AWS operations, retries included, by service and operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service", "operation"}),
	}
	for _, c := range []prometheus.Collector{m.AWSLatency, m.Received, m.Processed, m.Duplicate, m.Conflicts, m.Deferred, m.Failed, m.DeadLettered,
		m.Deleted, m.DeleteFailed, m.Released, m.Unparked, m.Heartbeats, m.InFlight, m.Latency, m.EventAge} {
		f(c)
	}
	return m
}

// TimeAWS is SDK middleware (for awsconfig.Options.APIOptions) that
// observes every operation's duration in AWSLatency.
func (m *Metrics) TimeAWS(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("TimeOperations",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			m.AWSLatency.WithLabelValues(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)).Observe(time.Since(start).Seconds())
			return out, md, err
		}), middleware.After)
}
