// Command sales-worker consumes the sales processing queue and writes each
// event, exactly once, into the S3 lake, recording SaleProcessed in the
// event store. See docs/sales-worker.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/salesplatform/libs/sales/awsconfig"

	"github.com/salesplatform/services/sales-worker/internal/config"
	"github.com/salesplatform/services/sales-worker/internal/metrics"
	"github.com/salesplatform/services/sales-worker/internal/worker"
)

func main() {
	log := newLogger(os.Getenv("LOG_LEVEL"))
	if err := run(log); err != nil {
		log.Error("sales-worker: " + err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	m := metrics.New()
	awsCfg, err := awsconfig.Load(ctx, cfg.Region, awsconfig.Options{
		Counter: m.AWS, APIOptions: []func(*middleware.Stack) error{m.TimeAWS},
	})
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	w, err := worker.New(startCtx, cfg, worker.Options{AWS: awsCfg, Metrics: m, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Draining. The worker bounds itself by the stop timeout; this is the
	// backstop should a call ignore its deadline.
	select {
	case err := <-done:
		return err
	case <-time.After(cfg.StopTimeout + 2*time.Second):
		return fmt.Errorf("drain did not finish within STOP_TIMEOUT %s", cfg.StopTimeout)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil || level == "" {
		l = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("service", "sales-worker")
	slog.SetDefault(log)
	return log
}
