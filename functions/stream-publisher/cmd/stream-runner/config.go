package main

import (
	"path/filepath"
	"strconv"
	"time"

	"github.com/salesplatform/functions/stream-publisher/internal/config"
	"github.com/salesplatform/libs/sales/streams"
)

// runnerConfig is the function's configuration plus the stream reading
// that an event source mapping does on AWS.
type runnerConfig struct {
	config.Lambda
	// Table is DYNAMO_SALES_TABLE, whose stream is read.
	Table string
	// CheckpointDir is CHECKPOINT_DIR (default .local/checkpoints/<region>).
	CheckpointDir string
	// Start is STREAM_START: trim-horizon (default), latest or an RFC 3339
	// time, for shards without a checkpoint.
	Start streams.Position
	// BatchSize is STREAM_BATCH_SIZE (default 100, at most 1000).
	BatchSize int
	// BatchWindow is STREAM_BATCH_WINDOW (default 0: no waiting).
	BatchWindow time.Duration
	// PollInterval is STREAM_POLL_INTERVAL (default 500ms).
	PollInterval time.Duration
	// MaxRetries is STREAM_MAX_RETRIES (default -1: until it succeeds;
	// otherwise at least 1, after which a batch is logged and skipped).
	MaxRetries int
	// MetricsAddr is METRICS_HOST:METRICS_PORT (default 127.0.0.1:9102,
	// clear of the API's and worker's 8080/8081).
	MetricsAddr string
}

// defaultMetricsPort is the runner's METRICS_PORT unless set; the local
// stack gives each region's runner its own.
const defaultMetricsPort = 9102

func loadConfig(lookup func(string) (string, bool)) (runnerConfig, error) {
	r := config.NewEnv(lookup)
	c := runnerConfig{Lambda: config.LoadLambdaFrom(r)}
	c.Table = r.Required("DYNAMO_SALES_TABLE", "the event table whose stream is read")
	c.CheckpointDir = r.String("CHECKPOINT_DIR", filepath.Join(".local", "checkpoints", c.Region))
	start, err := streams.ParsePosition(r.String("STREAM_START", string(streams.TrimHorizon)))
	if err != nil {
		r.Fail("STREAM_START: %v", err)
	}
	c.Start = start
	c.BatchSize = r.Int("STREAM_BATCH_SIZE", 100, 1, 1000)
	c.BatchWindow = r.Duration("STREAM_BATCH_WINDOW", 0, 0, 300*time.Second)
	c.PollInterval = r.Duration("STREAM_POLL_INTERVAL", 500*time.Millisecond, 10*time.Millisecond, time.Minute)
	c.MaxRetries = r.Int("STREAM_MAX_RETRIES", -1, -1, 10000)
	if c.MaxRetries == 0 {
		r.Fail("STREAM_MAX_RETRIES must be -1 (retry until it succeeds) or at least 1, got 0")
	}
	port := r.Int("METRICS_PORT", defaultMetricsPort, 0, 65535)
	c.MetricsAddr = r.String("METRICS_HOST", "127.0.0.1") + ":" + strconv.Itoa(port)
	return c, r.Err()
}
