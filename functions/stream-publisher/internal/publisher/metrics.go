package publisher

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesplatform/libs/sales/awsconfig"
)

// Namespace of the CloudWatch metrics the Lambda emits.
const Namespace = "SalesPlatform/StreamPublisher"

// EMF writes one CloudWatch Embedded Metric Format line per invocation.
// Lambda ships stdout to CloudWatch Logs, which extracts the metrics: no
// PutMetricData call, no latency added to the handler.
type EMF struct {
	w       io.Writer
	service string
	counter *awsconfig.RequestCounter
	mu      sync.Mutex
	before  awsconfig.Counts
	now     func() time.Time
}

// NewEMF writes to w with the dimension Service=service. With a counter
// (the one the SNS client was loaded with), each line also carries the SNS
// HTTP requests of the invocation, SDK retries included. Lambda runs one
// invocation at a time per environment, so the difference between two
// lines is that invocation's.
func NewEMF(w io.Writer, service string, counter *awsconfig.RequestCounter) *EMF {
	e := &EMF{w: w, service: service, counter: counter, now: time.Now}
	if counter != nil {
		e.before = counter.Requests()
	}
	return e
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

var emfMetrics = []emfMetric{
	{"Published", "Count"},
	{"SkippedReplicated", "Count"},
	{"SkippedNotInsert", "Count"},
	{"SkippedVoid", "Count"},
	{"Failed", "Count"},
	{"Undecodable", "Count"},
	{"Retried", "Count"},
	{"BatchSize", "Count"},
	{"PublishCalls", "Count"},
	{"OldestRecordAge", "Milliseconds"},
	{"HandlerDuration", "Milliseconds"},
	{"SNSRequests", "Count"},
}

// Record implements Recorder.
func (e *EMF) Record(s Stats) {
	line := map[string]any{
		"_aws": emfMeta{
			Timestamp:         e.now().UnixMilli(),
			CloudWatchMetrics: []emfDirective{{Namespace: Namespace, Dimensions: [][]string{{"Service"}}, Metrics: emfMetrics}},
		},
		"Service":           e.service,
		"Published":         s.Published,
		"SkippedReplicated": s.SkippedReplicated,
		"SkippedNotInsert":  s.SkippedNotInsert,
		"SkippedVoid":       s.SkippedVoid,
		"Failed":            s.FailedPublish,
		"Undecodable":       s.Undecodable,
		"Retried":           s.Retried,
		"BatchSize":         s.Records,
		"PublishCalls":      s.PublishCalls,
		"OldestRecordAge":   s.OldestRecordAge.Milliseconds(),
		"HandlerDuration":   float64(s.Duration.Microseconds()) / 1000,
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var requests int64
	if e.counter != nil {
		now := e.counter.Requests()
		requests = now.Sub(e.before).Total("SNS")
		e.before = now
	}
	line["SNSRequests"] = requests
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	_, _ = e.w.Write(append(b, '\n'))
}

// Prometheus records the same figures as counters and histograms for the
// local runner's /metrics.
type Prometheus struct {
	records   *prometheus.CounterVec
	calls     prometheus.Counter
	batchSize prometheus.Histogram
	oldestAge prometheus.Gauge
	duration  prometheus.Histogram
}

// NewPrometheus registers the publisher's metrics on reg.
func NewPrometheus(reg prometheus.Registerer) *Prometheus {
	p := &Prometheus{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "publisher_records_total",
			Help: "Stream records by outcome: published, skipped_replicated, skipped_not_insert, failed (SNS did not accept), undecodable, retried (handed back by the partial batch response).",
		}, []string{"outcome"}),
		calls:     prometheus.NewCounter(prometheus.CounterOpts{Name: "publisher_publish_calls_total", Help: "SNS PublishBatch calls."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "publisher_batch_size", Help: "Records per invocation.", Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "publisher_oldest_record_age_seconds", Help: "Age of the oldest record of the last invocation."}),
		duration:  prometheus.NewHistogram(prometheus.HistogramOpts{Name: "publisher_handler_duration_seconds", Help: "Duration of one invocation.", Buckets: prometheus.DefBuckets}),
	}
	for _, o := range []string{"published", "skipped_replicated", "skipped_not_insert", "failed", "undecodable", "retried"} {
		p.records.WithLabelValues(o) // present at zero from the start
	}
	if reg != nil {
		reg.MustRegister(p.records, p.calls, p.batchSize, p.oldestAge, p.duration)
	}
	return p
}

// Record implements Recorder.
func (p *Prometheus) Record(s Stats) {
	p.records.WithLabelValues("published").Add(float64(s.Published))
	p.records.WithLabelValues("skipped_replicated").Add(float64(s.SkippedReplicated))
	p.records.WithLabelValues("skipped_not_insert").Add(float64(s.SkippedNotInsert))
	p.records.WithLabelValues("skipped_void").Add(float64(s.SkippedVoid))
	p.records.WithLabelValues("failed").Add(float64(s.FailedPublish))
	p.records.WithLabelValues("undecodable").Add(float64(s.Undecodable))
	p.records.WithLabelValues("retried").Add(float64(s.Retried))
	p.calls.Add(float64(s.PublishCalls))
	p.batchSize.Observe(float64(s.Records))
	p.oldestAge.Set(s.OldestRecordAge.Seconds())
	p.duration.Observe(s.Duration.Seconds())
}
