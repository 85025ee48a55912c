// Command sales-api serves POST/GET/DELETE /sales for one region. It only
// appends events to the regional DynamoDB event store; the stream publisher
// moves them on.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/envconfig"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/services/sales-api/internal/app"
	"github.com/salesplatform/services/sales-api/internal/config"
	"github.com/salesplatform/services/sales-api/internal/httpapi"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	if err := run(context.Background(), os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, "sales-api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, lookup func(string) (string, bool)) error {
	cfg, err := config.FromEnv(lookup)
	if err != nil {
		return err
	}
	log := envconfig.Logger(cfg.LogLevel, "service", "sales-api", "region", cfg.Region)
	if cfg.LegacyTopic != "" {
		log.Info("SNS_SALES_PROCESSING_TOPIC is set but unused: events are published from the table's stream")
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := awsconfig.NewRequestCounter(reg)
	// Every SDK attempt, retries and backoff included, fits in a request's
	// budget: no attempt starts after the client got its answer.
	awsCfg, err := awsconfig.Load(ctx, cfg.Region, awsconfig.Options{
		Counter: counter, MaxAttempts: 3, AttemptTimeout: cfg.RequestTimeout / 3,
	})
	if err != nil {
		return err
	}
	dynamo := ddb.NewFromConfig(awsCfg)
	// Every append checks this region's write gate in the same transaction:
	// once a failover closed it, nothing commits here (invariant 8).
	events := store.New(dynamo, cfg.Table).Gated(cfg.Region)
	watcher := regionstate.NewWatcher(
		regionstate.SSM{Client: ssm.NewFromConfig(awsCfg), Name: cfg.StateParameter},
		regionstate.WatcherOptions{TTL: cfg.StateTTL, MaxStale: cfg.StateMaxStale, Logger: log, Registerer: reg},
	)
	if err := watcher.Refresh(ctx); err != nil {
		// Not fatal: the region refuses writes and reports not ready until
		// the parameter can be read, and reads keep working.
		log.Error("region state unknown at start; writes refused until it is read", "err", err)
	}
	go watcher.Run(ctx)

	keySecret := []byte(cfg.KeySecret)
	if cfg.KeySecretParameter != "" {
		out, err := ssm.NewFromConfig(awsCfg).GetParameter(ctx, &ssm.GetParameterInput{Name: &cfg.KeySecretParameter, WithDecryption: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("read IDEMPOTENCY_KEY_SECRET_PARAMETER %s: %w", cfg.KeySecretParameter, err)
		}
		keySecret = []byte(aws.ToString(out.Parameter.Value))
	}
	if cfg.AuthMode == httpapi.AuthNone {
		log.Warn("authorization is off (AUTH_MODE=none): every caller may read and cancel every sale", "idempotency_keys_secret", len(keySecret) > 0)
	}

	var draining atomic.Bool
	probe := &storeProbe{events: events, every: 10 * time.Second}
	ready := func(ctx context.Context) error {
		if draining.Load() {
			return errors.New("shutting down")
		}
		if watcher.State() == regionstate.Unknown {
			return watcher.Err()
		}
		return probe.check(ctx)
	}

	api := httpapi.New(httpapi.Deps{
		Service:        &app.Service{Store: events, Region: cfg.Region, State: watcher},
		Ready:          ready,
		Logger:         log,
		Registry:       reg,
		Version:        httpapi.Version{Version: version, Commit: commit, Region: cfg.Region},
		RetryAfter:     int(cfg.StateTTL.Seconds()) + 1,
		AccessLog:      cfg.AccessLog,
		RequestTimeout: cfg.RequestTimeout,
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- api.Listener(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "table", cfg.Table, "state", watcher.State(), "version", version)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Readiness fails first so the load balancer stops sending new
	// requests, then the listener closes and in-flight requests finish.
	draining.Store(true)
	log.Info("shutting down", "delay", cfg.ShutdownDelay, "timeout", cfg.ShutdownTimeout)
	time.Sleep(cfg.ShutdownDelay)
	if err := api.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// storeProbe checks the event store is reachable with the API's own
// permission (a Query), at most once per interval whatever the probe rate.
type storeProbe struct {
	events *store.Store
	every  time.Duration
	mu     sync.Mutex
	last   time.Time
	err    error
}

var probeSale = uuid.MustParse("00000000-0000-7000-8000-000000000000")

func (p *storeProbe) check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < p.every {
		return p.err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := p.events.Load(ctx, probeSale)
	p.last, p.err = time.Now(), nil
	if err != nil {
		p.err = errors.New("event store unreachable")
	}
	return p.err
}
