package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salesplatform/libs/sales/streams"
)

// Config describes what to replicate.
type Config struct {
	// Tables to replicate (the event store and the idempotency table).
	// Lakes are not replicated: every region's worker writes its own lake
	// (ADR 0071).
	Tables []Table
	// Lag holds every change until it is this old (default 0).
	Lag time.Duration
	// PollInterval is the stream polling interval (default 200 ms).
	PollInterval time.Duration
	// CheckpointDir keeps the stream positions across restarts (default:
	// memory only, so a restart re-reads the streams; harmless, every
	// copy is idempotent, only slower).
	CheckpointDir string
	Logger        *slog.Logger
	// Registry gets the metrics (default: a fresh one).
	Registry *prometheus.Registry
	// Now is the clock (tests).
	Now func() time.Time
}

// Clients are one region's AWS clients.
type Clients struct {
	ddb     ItemAPI
	tables  streams.TableAPI
	streams streams.API
}

// NewClients builds a region's clients from a config made by awsconfig.Load.
func NewClients(cfg aws.Config) Clients {
	d := ddb.NewFromConfig(cfg)
	return Clients{
		ddb:     d,
		tables:  d,
		streams: dynamodbstreams.NewFromConfig(cfg),
	}
}

// StandIn replicates between regions. Create it with New and call Run.
type StandIn struct {
	cfg      Config
	clients  map[string]Clients
	regions  []string
	log      *slog.Logger
	now      func() time.Time
	echo     echoes
	versions versions
	scans    map[string]*scanned // by region|table, under mu
	metrics  *metrics

	paused  atomic.Bool
	lagNs   atomic.Int64
	resumed chan struct{} // closed and replaced on every resume

	mu      sync.Mutex
	links   map[string]*LinkStatus
	readers map[string]*streams.Reader
}

type metrics struct {
	records  *prometheus.CounterVec
	lag      *prometheus.GaugeVec
	paused   prometheus.Gauge
	lagSet   prometheus.Gauge
	registry *prometheus.Registry
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "replication_standin_items_total",
			Help: "Table changes by table, source, destination and outcome (applied, skipped_echo, skipped_equal, skipped_newer, failed).",
		}, []string{"table", "from", "to", "outcome"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "replication_standin_lag_seconds",
			Help: "Age of the last change applied (from its creation to its arrival), like a global table's ReplicationLatency.",
		}, []string{"table", "from", "to"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{Name: "replication_standin_paused", Help: "1 while replication is paused."}),
		lagSet: prometheus.NewGauge(prometheus.GaugeOpts{Name: "replication_standin_configured_lag_seconds", Help: "The lag every change is held for."}),
	}
	reg.MustRegister(m.records, m.lag, m.paused, m.lagSet)
	return m
}

// LinkStatus is one direction of one table.
type LinkStatus struct {
	Table         string    `json:"table"`
	From          string    `json:"from"`
	To            string    `json:"to"`
	Applied       int64     `json:"applied"`
	LastAppliedAt time.Time `json:"last_applied_at,omitzero"`
	// LastLagSeconds is the age of the last applied change when applied.
	LastLagSeconds float64 `json:"last_lag_seconds"`
}

// Status is what the admin API's GET /status answers.
type Status struct {
	StandIn    string       `json:"stand_in"`
	Paused     bool         `json:"paused"`
	LagSeconds float64      `json:"lag_seconds"`
	Links      []LinkStatus `json:"links"`
}

// New returns a stand-in over the given per-region clients.
func New(clients map[string]Clients, cfg Config) (*StandIn, error) {
	if len(clients) < 2 {
		return nil, errors.New("replication: need at least two regions")
	}
	for _, t := range cfg.Tables {
		for r := range t.ByRegion {
			if _, ok := clients[r]; !ok {
				return nil, fmt.Errorf("replication: table %s: no clients for region %s", t.Name, r)
			}
		}
	}

	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &StandIn{
		cfg: cfg, clients: clients, log: cfg.Logger, now: cfg.Now,
		metrics: newMetrics(cfg.Registry), resumed: make(chan struct{}), scans: map[string]*scanned{},
		links: map[string]*LinkStatus{}, readers: map[string]*streams.Reader{},
	}
	for r := range clients {
		s.regions = append(s.regions, r)
	}
	sort.Strings(s.regions)
	s.SetLag(cfg.Lag)
	return s, nil
}

// Registry is where the metrics are.
func (s *StandIn) Registry() *prometheus.Registry { return s.metrics.registry }

func (s *StandIn) otherRegions(src string) []string {
	out := make([]string, 0, len(s.regions)-1)
	for _, r := range s.regions {
		if r != src {
			out = append(out, r)
		}
	}
	return out
}

// Lag is the current replication lag.
func (s *StandIn) Lag() time.Duration { return time.Duration(s.lagNs.Load()) }

// SetLag changes the lag for changes not yet applied.
func (s *StandIn) SetLag(d time.Duration) {
	if d < 0 {
		d = 0
	}
	s.lagNs.Store(int64(d))
	s.metrics.lagSet.Set(d.Seconds())
}

// Paused reports whether replication is paused.
func (s *StandIn) Paused() bool { return s.paused.Load() }

// Pause stops applying changes (they queue up in the streams and buckets).
func (s *StandIn) Pause() {
	if !s.paused.Swap(true) {
		s.metrics.paused.Set(1)
		s.log.Info("replication paused")
	}
}

// Resume applies what queued up and goes on.
func (s *StandIn) Resume() {
	if s.paused.Swap(false) {
		s.metrics.paused.Set(0)
		s.mu.Lock()
		close(s.resumed)
		s.resumed = make(chan struct{})
		s.mu.Unlock()
		s.log.Info("replication resumed")
	}
}

// waitDue blocks while paused and until a change created at created (or
// received at received, when the stream gave no usable time) is Lag old.
func (s *StandIn) waitDue(ctx context.Context, created, received time.Time) error {
	base := created
	if base.IsZero() || base.After(received.Add(time.Second)) {
		base = received
	}
	for {
		s.mu.Lock()
		resumed := s.resumed
		s.mu.Unlock()
		if s.Paused() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-resumed:
			case <-time.After(time.Second):
			}
			continue
		}
		wait := base.Add(s.Lag()).Sub(s.now())
		if wait <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait, 500*time.Millisecond)):
		}
	}
}

func (s *StandIn) link(table, from, to string) *LinkStatus {
	k := table + "|" + from + "|" + to
	l := s.links[k]
	if l == nil {
		l = &LinkStatus{Table: table, From: from, To: to}
		s.links[k] = l
	}
	return l
}

func (s *StandIn) applied(table, from, to string, created time.Time) {
	now := s.now()
	lag := 0.0
	if !created.IsZero() {
		lag = max(0, now.Sub(created).Seconds())
	}
	s.metrics.lag.WithLabelValues(table, from, to).Set(lag)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.link(table, from, to)
	l.Applied++
	l.LastAppliedAt = now
	l.LastLagSeconds = lag
}

// Status is a snapshot for the admin API.
func (s *StandIn) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		StandIn:    "development-only replication stand-in (DynamoDB global tables, last writer wins per item); never runs in AWS",
		Paused:     s.Paused(),
		LagSeconds: s.Lag().Seconds(),
	}
	for _, l := range s.links {
		st.Links = append(st.Links, *l)
	}
	sort.Slice(st.Links, func(i, j int) bool {
		a, b := st.Links[i], st.Links[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	return st
}

// Ready reports whether every stream is being read.
func (s *StandIn) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := 0
	for _, t := range s.cfg.Tables {
		want += len(t.ByRegion)
	}
	if len(s.readers) < want {
		return false
	}
	for _, r := range s.readers {
		if !r.Ready() {
			return false
		}
	}
	return true
}

// Run replicates until ctx ends.
func (s *StandIn) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, t := range s.cfg.Tables {
		for region := range t.ByRegion {
			l := &tableLink{s: s, table: t, source: region}
			for _, dst := range s.otherRegions(region) {
				s.mu.Lock()
				s.link(t.Name, region, dst)
				s.mu.Unlock()
			}
			wg.Go(func() {
				if err := s.runTable(ctx, l); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

func (s *StandIn) runTable(ctx context.Context, l *tableLink) error {
	table := l.table.ByRegion[l.source]
	log := s.log.With("table", table, "region", l.source)
	c := s.clients[l.source]
	var arn string
	for backoff := 200 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		var err error
		arn, err = streams.StreamARN(ctx, c.tables, table)
		if err == nil {
			break
		}
		if errors.Is(err, streams.ErrNoStream) {
			log.Error("replication: the table has no stream, so nothing of it can be replicated (enable its stream in the infrastructure)")
			return fmt.Errorf("replication: %w", err)
		}
		log.Warn("replication: table not readable yet; retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	var cp streams.Checkpoint = &streams.MemoryCheckpoint{}
	if s.cfg.CheckpointDir != "" {
		cp = &streams.FileCheckpoint{Dir: filepath.Join(s.cfg.CheckpointDir, l.table.Name, l.source)}
	}
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"table": l.table.Name, "region": l.source}, s.metrics.registry)
	r, err := streams.New(c.streams, streams.Config{
		StreamARN:    arn,
		Start:        streams.Position{Type: streams.TrimHorizon},
		BatchSize:    100,
		PollInterval: s.cfg.PollInterval,
		Checkpoint:   cp,
		Logger:       log,
		Metrics:      streams.NewMetrics(reg),
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.readers[table+"|"+l.source] = r
	s.mu.Unlock()
	log.Info("replication: reading stream", "stream_arn", arn)
	return r.Run(ctx, l.handle)
}
