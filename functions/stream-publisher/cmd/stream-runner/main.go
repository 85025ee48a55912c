// Command stream-runner drives the stream publisher's Lambda handler from
// the DynamoDB Streams API, for the local stack (the emulator cannot run
// Lambda without Docker) and wherever a Lambda is not wanted. It does what
// the event source mapping does on AWS: reads every shard, batches, calls
// the handler, rewinds on its partial batch response, and checkpoints per
// shard in CHECKPOINT_DIR so a restart resumes without loss.
//
// Development only: on AWS the Lambda and its event source mapping run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/salesplatform/functions/stream-publisher/internal/app"
	"github.com/salesplatform/functions/stream-publisher/internal/publisher"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/streams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stream-runner:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookup func(string) (string, bool), out io.Writer) error {
	c, err := loadConfig(lookup)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: c.LogLevel})).
		With("service", "stream-runner", "region", c.Region)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := awsconfig.NewRequestCounter(reg)
	awsOpts := awsconfig.Options{Counter: counter}

	handler, err := app.NewHandler(ctx, c.Lambda, app.Options{Recorder: publisher.NewPrometheus(reg), AWS: awsOpts, Logger: log})
	if err != nil {
		return err
	}
	cfg, err := awsconfig.Load(ctx, c.Region, awsOpts)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}

	var reader atomic.Pointer[streams.Reader]
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s (METRICS_PORT): %w", c.MetricsAddr, err)
	}
	srv := &http.Server{Handler: probes(reg, func() bool {
		r := reader.Load()
		return r != nil && r.Ready()
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())

	arn, err := waitForStream(ctx, ddb.NewFromConfig(cfg), c.Table, log)
	if err != nil || ctx.Err() != nil {
		return err
	}
	r, err := streams.New(dynamodbstreams.NewFromConfig(cfg), streams.Config{
		StreamARN:    arn,
		Start:        c.Start,
		BatchSize:    c.BatchSize,
		BatchWindow:  c.BatchWindow,
		PollInterval: c.PollInterval,
		MaxRetries:   c.MaxRetries,
		Checkpoint:   &streams.FileCheckpoint{Dir: c.CheckpointDir},
		Logger:       log,
		Metrics:      streams.NewMetrics(reg),
	})
	if err != nil {
		return err
	}
	reader.Store(r)
	log.Info("reading stream", "stream_arn", arn, "table", c.Table, "topic_arn", c.TopicARN,
		"publish_region", c.PublishRegion, "checkpoint_dir", c.CheckpointDir, "start", string(c.Start.Type),
		"batch_size", c.BatchSize, "batch_window", c.BatchWindow.String())
	if err := r.Run(ctx, handler.Handle); err != nil {
		return err
	}
	log.Info("stopped; checkpoints saved", "aws_operations", counter.Operations().String())
	return nil
}

// waitForStream finds the table's stream, waiting while the table does not
// exist yet (the local stack may start the runner before the tables).
func waitForStream(ctx context.Context, client *ddb.Client, table string, log *slog.Logger) (string, error) {
	backoff := 500 * time.Millisecond
	for {
		arn, err := streams.StreamARN(ctx, client, table)
		if err == nil {
			return arn, nil
		}
		if errors.Is(err, streams.ErrNoStream) {
			return "", err
		}
		if ctx.Err() != nil {
			return "", nil
		}
		log.Warn("table not readable yet; retrying", "table", table, "error", err)
		select {
		case <-ctx.Done():
			return "", nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// probes serves /metrics, /healthcheck and /liveness (the process is up)
// and /readiness (the stream has been read at least once).
func probes(reg *prometheus.Registry, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}
	mux.HandleFunc("GET /healthcheck", ok)
	mux.HandleFunc("GET /liveness", ok)
	mux.HandleFunc("GET /readiness", func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"not ready"}`)
			return
		}
		ok(w, r)
	})
	return mux
}
