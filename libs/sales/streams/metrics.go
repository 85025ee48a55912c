package streams

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reader's Prometheus metrics, named after the Lambda
// metrics they stand in for (IteratorAge above all). A nil *Metrics
// records nothing.
type Metrics struct {
	recordsReadTotal   prometheus.Counter
	getRecordsTotal    prometheus.Counter
	readErrorsTotal    prometheus.Counter
	batchesTotal       *prometheus.CounterVec
	batchSize          prometheus.Histogram
	handlerSeconds     prometheus.Histogram
	iteratorAgeSeconds prometheus.Gauge
	shardsActive       prometheus.Gauge
	checkpointErrors   prometheus.Counter
	trimmedTotal       prometheus.Counter
	skippedTotal       prometheus.Counter
}

// NewMetrics registers the reader's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		recordsReadTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_records_read_total", Help: "Stream records read with GetRecords."}),
		getRecordsTotal:  prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_get_records_total", Help: "GetRecords calls."}),
		readErrorsTotal:  prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_read_errors_total", Help: "Failed GetShardIterator/GetRecords calls (after SDK retries)."}),
		batchesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stream_batches_total", Help: "Handler calls by outcome: success, retry (failed or partially failed) or discarded (given up after the retry limit).",
		}, []string{"outcome"}),
		batchSize:          prometheus.NewHistogram(prometheus.HistogramOpts{Name: "stream_batch_size", Help: "Records per handler call.", Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}}),
		handlerSeconds:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "stream_handler_duration_seconds", Help: "Duration of one handler call.", Buckets: prometheus.DefBuckets}),
		iteratorAgeSeconds: prometheus.NewGauge(prometheus.GaugeOpts{Name: "stream_iterator_age_seconds", Help: "Age of the last record acknowledged when it was acknowledged (Lambda's IteratorAge)."}),
		shardsActive:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "stream_shards_active", Help: "Shards being read."}),
		checkpointErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_checkpoint_errors_total", Help: "Checkpoint saves that failed."}),
		trimmedTotal:       prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_checkpoint_trimmed_total", Help: "Checkpoints found behind the trim horizon (records lost)."}),
		skippedTotal:       prometheus.NewCounter(prometheus.CounterOpts{Name: "stream_records_before_start_total", Help: "Records passed over because they predate an at-timestamp start."}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsReadTotal, m.getRecordsTotal, m.readErrorsTotal, m.batchesTotal, m.batchSize,
			m.handlerSeconds, m.iteratorAgeSeconds, m.shardsActive, m.checkpointErrors, m.trimmedTotal, m.skippedTotal)
	}
	return m
}

func (m *Metrics) recordsRead(n int) {
	if m != nil {
		m.recordsReadTotal.Add(float64(n))
	}
}

func (m *Metrics) getRecords() {
	if m != nil {
		m.getRecordsTotal.Inc()
	}
}

func (m *Metrics) readError() {
	if m != nil {
		m.readErrorsTotal.Inc()
	}
}

func (m *Metrics) batch(n int, d time.Duration) {
	if m != nil {
		m.batchSize.Observe(float64(n))
		m.handlerSeconds.Observe(d.Seconds())
	}
}

func (m *Metrics) outcome(o string) {
	if m != nil {
		m.batchesTotal.WithLabelValues(o).Inc()
	}
}

func (m *Metrics) acked(age time.Duration, unknown bool) {
	if m != nil && !unknown {
		m.iteratorAgeSeconds.Set(age.Seconds())
	}
}

func (m *Metrics) shards(n int) {
	if m != nil {
		m.shardsActive.Set(float64(n))
	}
}

func (m *Metrics) checkpointError() {
	if m != nil {
		m.checkpointErrors.Inc()
	}
}

func (m *Metrics) trimmed() {
	if m != nil {
		m.trimmedTotal.Inc()
	}
}

func (m *Metrics) skippedBeforeStart() {
	if m != nil {
		m.skippedTotal.Inc()
	}
}
