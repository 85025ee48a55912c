// Package regionstate reads and writes a region's ACTIVE/PASSIVE state, kept
// in one SSM parameter per region. Readers cache it: a Watcher refreshes it
// in the background every TTL, so no request ever waits on SSM and the SSM
// cost is one call per TTL per process, whatever the traffic.
package regionstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is a region's role.
type State string

const (
	// Active regions take writes and process events.
	Active State = "ACTIVE"
	// Passive regions refuse writes and process nothing; their queues keep
	// every event for a failover.
	Passive State = "PASSIVE"
	// Unknown is the state before the first read, after the parameter went
	// missing or held something else, or when the last good read is older
	// than the maximum staleness. It is handled like PASSIVE (fail closed):
	// a region that cannot tell whether it was switched off must not write.
	Unknown State = "UNKNOWN"
)

var ErrInvalidState = errors.New("region state must be ACTIVE or PASSIVE")

// Parse reads a parameter value. Case and surrounding blanks are forgiven;
// anything else is ErrInvalidState.
func Parse(s string) (State, error) {
	switch State(strings.ToUpper(strings.TrimSpace(s))) {
	case Active:
		return Active, nil
	case Passive:
		return Passive, nil
	}
	return Unknown, fmt.Errorf("%w: got %q", ErrInvalidState, s)
}

// Source reads the current raw state.
type Source interface {
	Get(ctx context.Context) (State, error)
}

// Watcher caches a Source.
type Watcher struct {
	src      Source
	ttl      time.Duration
	maxStale time.Duration
	log      *slog.Logger
	now      func() time.Time
	cur      atomic.Pointer[snapshot]
	gauge    *prometheus.GaugeVec
}

type snapshot struct {
	state State
	at    time.Time // last successful read
	err   error     // last read's error, if it failed
}

// WatcherOptions tune a Watcher.
type WatcherOptions struct {
	// TTL between refreshes (default 5 s).
	TTL time.Duration
	// MaxStale is how long a state read successfully stays trusted while
	// SSM cannot be reached (default 60 s); after it the state is Unknown.
	MaxStale time.Duration
	Logger   *slog.Logger
	// Registerer, when set, gets the region_state gauge.
	Registerer prometheus.Registerer
	// Now is the clock (tests).
	Now func() time.Time
}

// NewWatcher returns a watcher; call Refresh or Run before trusting it.
func NewWatcher(src Source, o WatcherOptions) *Watcher {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Second
	}
	if o.MaxStale <= 0 {
		o.MaxStale = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watcher{src: src, ttl: o.TTL, maxStale: o.MaxStale, log: o.Logger, now: o.Now}
	w.cur.Store(&snapshot{state: Unknown, err: errors.New("region state not read yet")})
	if o.Registerer != nil {
		w.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "region_state",
			Help: "1 for the region's current state (ACTIVE, PASSIVE or UNKNOWN), 0 for the others.",
		}, []string{"state"})
		o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "region_state_age_seconds",
			Help: "Seconds since the region state was last read successfully.",
		}, func() float64 {
			s := w.cur.Load()
			if s.at.IsZero() {
				return -1
			}
			return w.now().Sub(s.at).Seconds()
		}))
		o.Registerer.MustRegister(w.gauge)
	}
	return w
}

// Refresh reads the source once. A failed read keeps the last good state
// (until it is older than MaxStale) and is returned.
func (w *Watcher) Refresh(ctx context.Context) error {
	st, err := w.src.Get(ctx)
	prev := w.cur.Load()
	next := &snapshot{state: st, at: w.now()}
	if err != nil {
		next = &snapshot{state: prev.state, at: prev.at, err: err}
		if errors.Is(err, ErrInvalidState) || errors.Is(err, ErrParameterNotFound) {
			// The parameter answers but says nothing usable: that is a
			// definite answer, not an outage, so fail closed at once.
			next = &snapshot{state: Unknown, at: w.now(), err: err}
		}
		w.log.Error("region state refresh failed", "err", err, "keeping", next.state)
	} else if st != prev.state {
		w.log.Info("region state changed", "from", prev.state, "to", st)
	}
	w.cur.Store(next)
	w.publish()
	return err
}

// Run refreshes every TTL until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.ttl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, w.ttl)
			_ = w.Refresh(rctx)
			cancel()
		}
	}
}

// State is the cached state: no I/O.
func (w *Watcher) State() State {
	s := w.cur.Load()
	if s.at.IsZero() || w.now().Sub(s.at) > w.maxStale {
		return Unknown
	}
	return s.state
}

// Err explains an Unknown state, for readiness probes.
func (w *Watcher) Err() error {
	s := w.cur.Load()
	switch {
	case s.at.IsZero() || s.state == Unknown:
		if s.err != nil {
			return s.err
		}
		return errors.New("region state unknown")
	case w.now().Sub(s.at) > w.maxStale:
		return fmt.Errorf("region state is stale: last read %s ago: %v", w.now().Sub(s.at).Round(time.Second), s.err)
	}
	return nil
}

func (w *Watcher) publish() {
	if w.gauge == nil {
		return
	}
	st := w.State()
	for _, s := range []State{Active, Passive, Unknown} {
		v := 0.0
		if s == st {
			v = 1
		}
		w.gauge.WithLabelValues(string(s)).Set(v)
	}
}

// Static is a Source that always answers the same state (tests, benchmarks).
type Static State

// Get implements Source.
func (s Static) Get(context.Context) (State, error) { return Parse(string(s)) }
