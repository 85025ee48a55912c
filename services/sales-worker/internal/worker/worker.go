// Package worker wires the sales worker together from its configuration:
// AWS clients, region-state watcher, idempotency and event stores, lake
// writer, processor, SQS consumer and the probe server. main calls it;
// integration tests call it too, in process, with fakes where they need
// them.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/salesplatform/libs/sales/awsconfig"
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency"
	idemddb "github.com/salesplatform/libs/sales/idempotency/dynamodb"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/config"
	"github.com/salesplatform/services/sales-worker/internal/consumer"
	"github.com/salesplatform/services/sales-worker/internal/metrics"
	"github.com/salesplatform/services/sales-worker/internal/probe"
	"github.com/salesplatform/services/sales-worker/internal/processing"
	"github.com/salesplatform/services/sales-worker/internal/transact"
)

// Options are what the environment does not say.
type Options struct {
	// AWS is the config from awsconfig.Load, built with Metrics.AWS as its
	// counter so /metrics shows AWS requests by operation.
	AWS aws.Config
	// Metrics (default: a fresh set). Pass the one whose counter AWS uses.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Instance names this process in claim owners (default host/pid).
	Instance string
	// Lake replaces the S3 lake writer (tests inject failures).
	Lake processing.Lake
	// DisableHTTP skips the probe server (in-process tests of several
	// workers).
	DisableHTTP bool
}

// Worker is a wired worker.
type Worker struct {
	cfg      config.Config
	log      *slog.Logger
	m        *metrics.Metrics
	watcher  *regionstate.Watcher
	consumer *consumer.Consumer
	claims   *idemddb.Store
	http     *http.Server
	listener net.Listener
}

// New wires a worker. It makes the start-up AWS calls that configuration
// needs (the DLQ's URL from the queue's redrive policy when SQS_SALES_DLQ
// is not set) and binds the probe port, so a misconfiguration fails here.
func New(ctx context.Context, cfg config.Config, o Options) (*Worker, error) {
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	log := o.Logger
	sqsClient := sqs.NewFromConfig(o.AWS)
	ddbClient := dynamodb.NewFromConfig(o.AWS)

	dlq := cfg.DLQURL
	if dlq == "" {
		var err error
		if dlq, err = consumer.ResolveDLQ(ctx, sqsClient, cfg.QueueURL); err != nil {
			return nil, err
		}
		if dlq == "" {
			log.Warn("SQS_SALES_DLQ is not set and the queue has no redrive policy: poison messages will stay hidden in the queue")
		}
	}

	watcher := regionstate.NewWatcher(regionstate.SSM{Client: ssm.NewFromConfig(o.AWS), Name: cfg.StateParameter}, regionstate.WatcherOptions{
		TTL: cfg.RegionStateTTL, Logger: log, Registerer: o.Metrics.Registry,
	})
	claims := idemddb.New(ddbClient, cfg.IdempotencyTable, idempotency.Options{
		Region: cfg.Region, Instance: o.Instance, Lease: cfg.Lease, TTL: cfg.IdempotencyTTL,
	})
	// Completions check the region's write gate: once a failover closed
	// it, nothing commits here (invariant 8).
	events := esddb.New(ddbClient, cfg.EventsTable).Gated(cfg.Region)
	finisher := &processing.Finisher{
		Claims: claims, Commit: transact.New(ddbClient, claims, events), Events: events, Region: cfg.Region, Now: time.Now,
	}
	lakeWriter := o.Lake
	if lakeWriter == nil {
		lakeWriter = lake.NewWriter(s3.NewFromConfig(o.AWS, awsconfig.S3Options(o.AWS)), cfg.Bucket)
	}
	proc := processing.New(claims, lakeWriter, finisher, watcher, processing.Options{
		Region:            cfg.Region,
		TakeoverDelay:     cfg.TakeoverDelay,
		PassiveVisibility: cfg.PassiveVisibility,
		BackoffBase:       cfg.BackoffBase,
		BackoffMax:        cfg.BackoffMax,
		ReleaseTimeout:    consumer.CleanupBudget(cfg.StopTimeout) / 2,
		Logger:            log,
	})
	cons := consumer.New(sqsClient, proc, claims, watcher, o.Metrics, consumer.Options{
		QueueURL:    cfg.QueueURL,
		DLQURL:      dlq,
		Consumers:   cfg.Consumers,
		Visibility:  cfg.VisibilityTimeout,
		Wait:        cfg.ReceiveWait,
		StopTimeout: cfg.StopTimeout,
		Logger:      log,
	})
	w := &Worker{cfg: cfg, log: log, m: o.Metrics, watcher: watcher, consumer: cons, claims: claims}
	if !o.DisableHTTP {
		l, err := net.Listen("tcp", cfg.Addr())
		if err != nil {
			return nil, fmt.Errorf("listen on %s (PORT): %w", cfg.Addr(), err)
		}
		w.listener = l
		w.http = probe.Server(cfg.Addr(), probe.Handler(o.Metrics.Registry, w.Live, w.Ready, log))
	}
	log.Info("sales worker configured", "region", cfg.Region, "queue", cfg.QueueURL, "dlq", dlq,
		"consumers", cfg.Consumers, "visibility", cfg.VisibilityTimeout.String(), "lease", cfg.Lease.String(),
		"takeover_delay", cfg.TakeoverDelay.String(), "stop_timeout", cfg.StopTimeout.String(), "instance", o.Instance)
	return w, nil
}

// Addr is the probe server's bound address ("" without one).
func (w *Worker) Addr() string {
	if w.listener == nil {
		return ""
	}
	return w.listener.Addr().String()
}

// Consumer exposes the consumer (tests drive single polls).
func (w *Worker) Consumer() *consumer.Consumer { return w.consumer }

// Metrics exposes the worker's metrics.
func (w *Worker) Metrics() *metrics.Metrics { return w.m }

// Watcher exposes the region-state watcher.
func (w *Worker) Watcher() *regionstate.Watcher { return w.watcher }

// Live is the liveness check.
func (w *Worker) Live() error { return w.consumer.Live() }

// Ready is the readiness check: consuming, and the region state known.
func (w *Worker) Ready() error {
	if err := w.consumer.Ready(); err != nil {
		return err
	}
	if w.watcher.State() == regionstate.Unknown {
		// The watcher's error may carry AWS text; the probe says only this.
		return errors.New("region state unknown")
	}
	return nil
}

// Run reads the region state, serves the probes and consumes until ctx
// ends, then drains (see consumer.Run) and stops the probe server. It
// returns within the stop timeout of ctx ending.
func (w *Worker) Run(ctx context.Context) error {
	refreshCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := w.watcher.Refresh(refreshCtx); err != nil {
		w.log.Warn("region state unknown at start: processing nothing until it is read", "parameter", w.cfg.StateParameter)
	}
	cancel()
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	go w.watcher.Run(watchCtx)

	serveErr := make(chan error, 1)
	if w.http != nil {
		go func() {
			if err := w.http.Serve(w.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	failure := make(chan error, 1)
	go func() {
		select {
		case err := <-serveErr:
			w.log.Error("probe server failed; stopping", "err", err)
			failure <- err
			stopRun()
		case <-runCtx.Done():
		}
	}()
	w.log.Info("sales worker started", "addr", w.Addr(), "region_state", w.watcher.State())
	runErr := w.consumer.Run(runCtx)
	if w.http != nil {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = w.http.Shutdown(shutdownCtx)
		cancel()
	}
	w.log.Info("sales worker stopped")
	select {
	case err := <-failure:
		return errors.Join(runErr, err)
	default:
		return runErr
	}
}
