// Command replication-standin is the local stack's DEVELOPMENT-ONLY stand-in
// for DynamoDB global-table replication, which moto does not do (see
// dev/replication). It reads the stack description (the infrastructure's
// outputs) for the table names of every region and replicates between them,
// last writer wins per item, until stopped. Lakes are not replicated: every
// region's worker writes its own.
//
//	replication-standin -outputs .local/infra/outputs.json -listen 127.0.0.1:9190 -lag 200ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/dev/replication"
	"github.com/salesplatform/libs/sales/awsconfig"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "replication-standin:", err)
		os.Exit(1)
	}
}

func run() error {
	outputs := flag.String("outputs", ".local/infra/outputs.json", "stack description (per-region table names)")
	listen := flag.String("listen", "127.0.0.1:9190", "admin API and metrics (loopback only)")
	lag := flag.Duration("lag", 200*time.Millisecond, "hold every change this long before applying it")
	poll := flag.Duration("poll", 200*time.Millisecond, "stream polling interval")
	checkpoints := flag.String("checkpoint-dir", "", "keep stream positions here across restarts")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*listen); err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return fmt.Errorf("listen address %q must be on loopback", *listen)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "replication-standin")
	out, err := devstack.LoadOutputs(*outputs)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := awsconfig.NewRequestCounter(reg)
	clients := map[string]replication.Clients{}
	events := replication.Table{Name: "events", ByRegion: map[string]string{}}
	claims := replication.Table{Name: "idempotency", ByRegion: map[string]string{}}
	for region, r := range out.Regions {
		cfg, err := awsconfig.Load(ctx, region, awsconfig.Options{Counter: counter})
		if err != nil {
			return err
		}
		clients[region] = replication.NewClients(cfg)
		events.ByRegion[region] = r.EventTable
		claims.ByRegion[region] = r.IdempotencyTable
	}
	s, err := replication.New(clients, replication.Config{
		Tables: []replication.Table{events, claims},
		Lag:    *lag, PollInterval: *poll, CheckpointDir: *checkpoints,
		Logger: log, Registry: reg,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server stopped", "error", err)
		}
	}()
	log.Info("replicating (development-only stand-in: never runs in AWS)", "regions", out.RegionNames(), "lag", lag.String(), "admin", *listen)
	err = s.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return err
}
