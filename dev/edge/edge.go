// Package edge is the local stack's stand-in for AWS Global Accelerator
// (development only): one listener in front of the regional APIs that
// routes each request to a region by traffic dials and health checks.
//
//   - A traffic dial (0–100) per region, as Global Accelerator's endpoint
//     groups have. A request goes to a healthy region with a dial above 0;
//     a region whose dial is 0 gets nothing. (Global Accelerator sends a
//     client to its nearest region and the dial lets only that share
//     through, spilling the rest to the next region; with every client on
//     one machine there is no "nearest", so the share of clients each
//     region gets is proportional to the dials.)
//   - Client affinity by source IP, as the accelerator's listener has
//     (client_affinity = "SOURCE_IP" in infra/modules/routing): every
//     request of one client IP goes to the same region as long as that
//     region stays healthy with its dial above 0 (weighted rendezvous
//     hashing of the IP over the eligible regions), so a client reads its
//     own writes. When its region fails or its dial goes to 0 the client
//     moves, and only the clients of that region move. Local clients can
//     be told apart by binding different loopback addresses (127.0.0.2,
//     ...). Affinity "none" picks at random in proportion to the dials.
//   - Health checks: GET <upstream>/healthcheck every interval; a region is
//     unhealthy after UnhealthyAfter failed checks in a row (or at once
//     when a request to it cannot connect) and healthy again after one
//     good check.
//   - No healthy region with a dial above 0: 503 with Retry-After, the
//     answer a client gets while a failover has every region closed.
//
// Forwarding is net/http/httputil.ReverseProxy. The admin API (loopback
// only) reads and sets the dials; the failover command uses it locally
// where it would call UpdateEndpointGroup on AWS.
package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Upstream is one region's API.
type Upstream struct {
	Region string
	URL    string
	// Dial is the initial traffic dial (0–100).
	Dial int
}

// Config tunes an Edge.
type Config struct {
	Upstreams []Upstream
	// HealthInterval between checks (default 1 s); HealthTimeout bounds
	// one (default 1 s).
	HealthInterval, HealthTimeout time.Duration
	// UnhealthyAfter failed checks in a row (default 2).
	UnhealthyAfter int
	Logger         *slog.Logger
	Registry       *prometheus.Registry
	// Rand returns a uniform float in [0, 1) (default math/rand/v2).
	Rand func() float64
	// Affinity is AffinitySourceIP (the default) or AffinityNone.
	Affinity string
	// OnDialChange is called after a dial changed (the command persists
	// the dials with it, so a restarted edge keeps a failover's routing).
	OnDialChange func([]RegionState)
}

// Client affinities.
const (
	AffinitySourceIP = "source-ip"
	AffinityNone     = "none"
)

// RegionHeader names the region that served a response.
const RegionHeader = "X-Edge-Region"

type region struct {
	name     string
	url      *url.URL
	proxy    *httputil.ReverseProxy
	dial     int
	healthy  bool
	checked  bool
	failures int
	lastErr  string
}

// Edge routes requests to regions.
type Edge struct {
	cfg     Config
	log     *slog.Logger
	mu      sync.RWMutex
	regions map[string]*region
	order   []string
	client  *http.Client

	requests *prometheus.CounterVec
	healthy  *prometheus.GaugeVec
	dials    *prometheus.GaugeVec
}

// New returns an edge; call Run to start health checks.
func New(cfg Config) (*Edge, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("edge: no upstreams")
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = time.Second
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = time.Second
	}
	if cfg.UnhealthyAfter <= 0 {
		cfg.UnhealthyAfter = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	switch cfg.Affinity {
	case "":
		cfg.Affinity = AffinitySourceIP
	case AffinitySourceIP, AffinityNone:
	default:
		return nil, fmt.Errorf("edge: affinity must be %s or %s, got %q", AffinitySourceIP, AffinityNone, cfg.Affinity)
	}
	e := &Edge{
		cfg: cfg, log: cfg.Logger, regions: map[string]*region{},
		client: &http.Client{Timeout: cfg.HealthTimeout},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_requests_total", Help: "Requests by the region they went to (none: no region available) and status code.",
		}, []string{"region", "code"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edge_region_healthy", Help: "1 while the region passes its health checks."}, []string{"region"}),
		dials:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edge_traffic_dial", Help: "The region's traffic dial (0-100)."}, []string{"region"}),
	}
	cfg.Registry.MustRegister(e.requests, e.healthy, e.dials)
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	for _, u := range cfg.Upstreams {
		if _, dup := e.regions[u.Region]; dup || u.Region == "" {
			return nil, fmt.Errorf("edge: region %q is empty or listed twice", u.Region)
		}
		target, err := url.Parse(u.URL)
		if err != nil || target.Scheme == "" || target.Host == "" {
			return nil, fmt.Errorf("edge: upstream %s: %q is not a URL", u.Region, u.URL)
		}
		if u.Dial < 0 || u.Dial > 100 {
			return nil, fmt.Errorf("edge: upstream %s: dial %d outside 0-100", u.Region, u.Dial)
		}
		r := &region{name: u.Region, url: target, dial: u.Dial}
		r.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport: transport,
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Set(RegionHeader, r.name)
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				e.proxyFailed(r.name, err)
				w.Header().Set(RegionHeader, r.name)
				writeJSON(w, http.StatusBadGateway, map[string]string{"error": "region unavailable"})
			},
		}
		e.regions[u.Region] = r
		e.order = append(e.order, u.Region)
		e.dials.WithLabelValues(u.Region).Set(float64(u.Dial))
		e.healthy.WithLabelValues(u.Region).Set(0)
	}
	sort.Strings(e.order)
	return e, nil
}

// Run health-checks every region until ctx ends (the first round at once).
func (e *Edge) Run(ctx context.Context) {
	t := time.NewTicker(e.cfg.HealthInterval)
	defer t.Stop()
	for {
		e.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow runs one round of health checks.
func (e *Edge) CheckNow(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range e.order {
		e.mu.RLock()
		u := e.regions[name].url
		e.mu.RUnlock()
		wg.Go(func() {
			err := e.check(ctx, u)
			e.record(name, err)
		})
	}
	wg.Wait()
}

func (e *Edge) check(ctx context.Context, u *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.JoinPath("/healthcheck").String(), nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck answered %d", resp.StatusCode)
	}
	return nil
}

func (e *Edge) record(name string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.regions[name]
	was := r.healthy && r.checked
	r.checked = true
	if err == nil {
		r.failures, r.healthy, r.lastErr = 0, true, ""
	} else {
		r.failures++
		r.lastErr = err.Error()
		if r.failures >= e.cfg.UnhealthyAfter {
			r.healthy = false
		}
	}
	if r.healthy != was {
		e.log.Info("edge: region health changed", "region", name, "healthy", r.healthy, "error", r.lastErr)
	}
	e.healthy.WithLabelValues(name).Set(b2f(r.healthy))
}

// proxyFailed marks a region down at once when a request could not reach
// it: waiting for the next checks would send it more requests meanwhile.
func (e *Edge) proxyFailed(name string, err error) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.regions[name]
	if r.healthy {
		e.log.Warn("edge: region unreachable; marked unhealthy", "region", name, "error", err)
	}
	r.healthy, r.failures, r.lastErr = false, e.cfg.UnhealthyAfter, err.Error()
	e.healthy.WithLabelValues(name).Set(0)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// pick chooses a region for one request from the client at clientIP, or
// nil when none takes traffic.
func (e *Edge) pick(clientIP string) *region {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.cfg.Affinity == AffinitySourceIP {
		return e.rendezvous(clientIP)
	}
	total := 0
	for _, name := range e.order {
		r := e.regions[name]
		if r.healthy && r.dial > 0 {
			total += r.dial
		}
	}
	if total == 0 {
		return nil
	}
	n := int(e.cfg.Rand() * float64(total))
	for _, name := range e.order {
		r := e.regions[name]
		if !r.healthy || r.dial <= 0 {
			continue
		}
		if n < r.dial {
			return r
		}
		n -= r.dial
	}
	return nil
}

// rendezvous is weighted rendezvous hashing: each eligible region scores
// -dial/ln(u) with u a uniform hash of (client, region) in (0, 1); the best
// score wins. A client keeps its region while that region stays eligible,
// and the share of clients per region is proportional to the dials. The
// caller holds mu.
func (e *Edge) rendezvous(client string) *region {
	var best *region
	bestScore := 0.0
	for _, name := range e.order {
		r := e.regions[name]
		if !r.healthy || r.dial <= 0 {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte(client + "|" + name))
		u := (float64(h.Sum64()>>11) + 0.5) / (1 << 53)
		score := -float64(r.dial) / math.Log(u)
		if best == nil || score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

// clientIP is the request's source address without its port.
func clientIP(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// ServeHTTP forwards one request.
func (e *Edge) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r := e.pick(clientIP(req))
	if r == nil {
		e.requests.WithLabelValues("none", "503").Inc()
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no region is taking traffic"})
		return
	}
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	r.proxy.ServeHTTP(sw, req)
	e.requests.WithLabelValues(r.name, strconv.Itoa(sw.code)).Inc()
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (flushes).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ErrUnknownRegion is a dial for a region the edge does not route to.
var ErrUnknownRegion = errors.New("unknown region")

// SetDial sets a region's traffic dial.
func (e *Edge) SetDial(name string, dial int) error {
	if dial < 0 || dial > 100 {
		return fmt.Errorf("dial %d outside 0-100", dial)
	}
	e.mu.Lock()
	r, ok := e.regions[name]
	if !ok {
		e.mu.Unlock()
		return fmt.Errorf("%w %q", ErrUnknownRegion, name)
	}
	if r.dial != dial {
		e.log.Info("edge: traffic dial changed", "region", name, "from", r.dial, "to", dial)
	}
	r.dial = dial
	e.dials.WithLabelValues(name).Set(float64(dial))
	e.mu.Unlock()
	if e.cfg.OnDialChange != nil {
		e.cfg.OnDialChange(e.Dials())
	}
	return nil
}

// RegionState is one region as the admin API shows it.
type RegionState struct {
	Region    string `json:"region"`
	Dial      int    `json:"dial"`
	Healthy   bool   `json:"healthy"`
	Upstream  string `json:"upstream"`
	LastError string `json:"last_error,omitempty"`
}

// Dials lists every region, sorted.
func (e *Edge) Dials() []RegionState {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]RegionState, 0, len(e.order))
	for _, name := range e.order {
		r := e.regions[name]
		out = append(out, RegionState{Region: name, Dial: r.dial, Healthy: r.healthy, Upstream: r.url.String(), LastError: r.lastErr})
	}
	return out
}

// DialsResponse is the admin API's body for GET /dials.
type DialsResponse struct {
	Regions []RegionState `json:"regions"`
}

// AdminHandler serves the admin API (bind it to loopback only):
//
//	GET /dials                         every region's dial and health
//	PUT /dials/{region}  {"dial": 0}   set a dial (0-100)
//	GET /metrics, GET /healthcheck
func (e *Edge) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /dials", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, DialsResponse{Regions: e.Dials()})
	})
	mux.HandleFunc("PUT /dials/{region}", func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Dial *int `json:"dial"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<10)).Decode(&body); err != nil || body.Dial == nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"dial": <0-100>}`})
			return
		}
		name := req.PathValue("region")
		err := e.SetDial(name, *body.Dial)
		switch {
		case errors.Is(err, ErrUnknownRegion):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		for _, s := range e.Dials() {
			if s.Region == name {
				writeJSON(w, http.StatusOK, s)
			}
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
