// Command local-edge is the local stack's stand-in for Global Accelerator
// (DEVELOPMENT ONLY; see dev/edge): one port in front of the regional APIs,
// routing by traffic dials with health checks, and a loopback admin API to
// read and set the dials.
//
//	local-edge -listen 127.0.0.1:8000 -admin 127.0.0.1:8001 \
//	  -upstream us-east-1=http://127.0.0.1:8080 -upstream sa-east-1=http://127.0.0.1:8081 \
//	  -state .local/edge-dials.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/salesplatform/dev/edge"
)

type upstreams []edge.Upstream

func (u *upstreams) String() string { return fmt.Sprint(*u) }
func (u *upstreams) Set(v string) error {
	region, url, ok := strings.Cut(v, "=")
	if !ok || region == "" || url == "" {
		return errors.New("want <region>=<url>")
	}
	*u = append(*u, edge.Upstream{Region: region, URL: url, Dial: 100})
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local-edge:", err)
		os.Exit(1)
	}
}

func run() error {
	var ups upstreams
	listen := flag.String("listen", "127.0.0.1:8000", "public listener (loopback)")
	admin := flag.String("admin", "127.0.0.1:8001", "admin API listener (loopback only)")
	state := flag.String("state", "", "file that keeps the dials across restarts")
	interval := flag.Duration("health-interval", time.Second, "health check interval")
	timeout := flag.Duration("health-timeout", 3*time.Second, "health check timeout (a loaded laptop answers slowly)")
	unhealthy := flag.Int("unhealthy-after", 3, "failed checks in a row before a region gets no traffic")
	affinity := flag.String("affinity", edge.AffinitySourceIP, "client affinity: source-ip (a client stays on one region, as Global Accelerator's SOURCE_IP) or none (each request drawn by the dials)")
	flag.Var(&ups, "upstream", "<region>=<url> of a regional API (repeat)")
	flag.Parse()
	for _, addr := range []string{*listen, *admin} {
		if host, _, err := net.SplitHostPort(addr); err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			return fmt.Errorf("listen address %q must be on loopback", addr)
		}
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("service", "local-edge")
	if *state != "" {
		if b, err := os.ReadFile(*state); err == nil {
			var saved edge.DialsResponse
			if json.Unmarshal(b, &saved) == nil {
				for i := range ups {
					for _, s := range saved.Regions {
						if s.Region == ups[i].Region {
							ups[i].Dial = s.Dial
						}
					}
				}
			}
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e, err := edge.New(edge.Config{
		Affinity:  *affinity,
		Upstreams: ups, HealthInterval: *interval, HealthTimeout: *timeout, UnhealthyAfter: *unhealthy, Logger: log, Registry: reg,
		OnDialChange: func(d []edge.RegionState) {
			if *state == "" {
				return
			}
			b, _ := json.Marshal(edge.DialsResponse{Regions: d})
			tmp := *state + ".tmp"
			if err := os.WriteFile(tmp, b, 0o644); err == nil {
				_ = os.Rename(tmp, *state)
			}
		},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go e.Run(ctx)

	pub := &http.Server{Addr: *listen, Handler: e, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	adm := &http.Server{Addr: *admin, Handler: e.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	errs := make(chan error, 2)
	for _, s := range []*http.Server{pub, adm} {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	log.Info("listening", "addr", *listen, "admin", *admin, "upstreams", ups.String())
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = adm.Shutdown(sctx)
	return pub.Shutdown(sctx)
}
