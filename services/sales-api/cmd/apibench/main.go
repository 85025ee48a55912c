// Command apibench measures the sales API's HTTP path under load and
// compares it, in the same run, with a minimal Fiber handler that only
// answers 201: the ratio says what our code costs on top of Fiber itself.
//
//	apibench compare -duration 10s -concurrency 32 -runs 2 [-json results.json]
//
// With -json the same figures, plus a latency histogram per load run, are
// also written as JSON for dev/cmd/benchreport (docs/benchmarks.md).
//
// The API runs with the in-memory event store (no AWS), as a separate
// process whose peak RSS is read from /proc. Loopback only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore/memory"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/libs/sales/testing/motoserver"
	"github.com/salesplatform/services/sales-api/internal/app"
	"github.com/salesplatform/services/sales-api/internal/httpapi"
)

const seedBody = `{"product":"O Pequeno Principe", "amount": 14.00}`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: apibench compare [flags] | apibench serve -mode minimal|memory -port N")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	mode := fs.String("mode", "memory", "minimal | memory")
	port := fs.Int("port", 0, "port on 127.0.0.1")
	_ = fs.Parse(args)
	var a *fiber.App
	switch *mode {
	case "minimal":
		a = fiber.New(fiber.Config{DisableStartupMessage: true})
		a.Post("/sales", func(c *fiber.Ctx) error {
			return c.Status(201).SendString(`{"id":"0190a0b0-0000-7000-8000-000000000000","product":"O Pequeno Principe","amount":14,"processed":false,"status":"CREATED","created_at":"2026-11-27T00:00:00Z"}`)
		})
		a.Get("/sales/:id", func(c *fiber.Ctx) error {
			return c.SendString(`{"id":"0190a0b0-0000-7000-8000-000000000000","product":"O Pequeno Principe","amount":14,"processed":false,"status":"CREATED","created_at":"2026-11-27T00:00:00Z"}`)
		})
		a.Get("/healthcheck", func(c *fiber.Ctx) error { return c.SendString("ok") })
	case "memory":
		// The production wiring with the in-memory store, access log on
		// (to stdout, which the benchmark discards) as in production.
		log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		w := regionstate.NewWatcher(regionstate.Static(regionstate.Active), regionstate.WatcherOptions{TTL: time.Hour, MaxStale: 2 * time.Hour, Logger: log})
		if err := w.Refresh(context.Background()); err != nil {
			return err
		}
		a = httpapi.New(httpapi.Deps{
			Service:   &app.Service{Store: &boundedStore{Store: memory.New(), max: 1000}, Region: "us-east-1", State: w},
			Logger:    log,
			Registry:  prometheus.NewRegistry(),
			AccessLog: true,
		})
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	return a.Listen("127.0.0.1:" + strconv.Itoa(*port))
}

// boundedStore keeps the first max events and acknowledges the rest
// without keeping them, so a long POST run measures the API's memory, not
// an ever-growing in-memory table that production does not have.
type boundedStore struct {
	*memory.Store
	max int
}

func (b *boundedStore) Append(ctx context.Context, e domain.Envelope) error {
	if b.Len() >= b.max {
		return e.Validate()
	}
	return b.Store.Append(ctx, e)
}

type result struct {
	mode, route    string
	rps, p50, p99  float64
	success        float64
	rssKiB, hwmKiB int
	requests       uint64
	hist           vegeta.Histogram
}

// jsonReport is what -json writes: one entry per load run (run, route,
// mode), the figures of the table and the latency histogram.
type jsonReport struct {
	Started     time.Time    `json:"started"`
	Cores       int          `json:"cores"`
	GOMAXPROCS  int          `json:"gomaxprocs"`
	Go          string       `json:"go"`
	DurationS   float64      `json:"duration_s"`
	Concurrency int          `json:"concurrency"`
	Results     []jsonResult `json:"results"`
}

type jsonResult struct {
	Run        int     `json:"run"`
	Route      string  `json:"route"`
	Mode       string  `json:"mode"` // minimal | memory (ours)
	Requests   uint64  `json:"requests"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Success    float64 `json:"success"`
	RSSPeakKiB int     `json:"rss_peak_kib"`
	HWMKiB     int     `json:"hwm_kib"`
	// Histogram: Counts[i] requests took at least FromMS[i] and less
	// than FromMS[i+1] (the last bucket is open).
	Histogram struct {
		FromMS []float64 `json:"from_ms"`
		Counts []uint64  `json:"counts"`
	} `json:"histogram"`
}

// latencyBuckets are log-spaced from 20 µs to about 5 s (8 per decade),
// with a first bucket from 0.
func latencyBuckets() vegeta.Buckets {
	b := vegeta.Buckets{0}
	for d := 20e-6; d < 5; d *= 1.333521 { // 10^(1/8)
		b = append(b, time.Duration(d*float64(time.Second)))
	}
	return b
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	duration := fs.Duration("duration", 10*time.Second, "length of each load run")
	concurrency := fs.Int("concurrency", 32, "concurrent connections (closed loop)")
	runs := fs.Int("runs", 1, "repetitions, to show the spread")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	_ = fs.Parse(args)
	report := jsonReport{Started: time.Now().UTC(), Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		DurationS: duration.Seconds(), Concurrency: *concurrency}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("# apibench: %d cores (GOMAXPROCS %d), %s per run, %d connections, %s, %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *duration, *concurrency, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| run | route | minimal req/s | ours req/s | ratio | minimal p50/p99 ms | ours p50/p99 ms | ours RSS peak MiB | ours errors |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for run := 1; run <= *runs; run++ {
		for _, route := range []string{"POST /sales", "GET /sales/{id}"} {
			var rs [2]result
			for i, mode := range []string{"minimal", "memory"} {
				r, err := measure(self, mode, route, *duration, *concurrency)
				if err != nil {
					return err
				}
				rs[i] = r
				report.Results = append(report.Results, toJSON(run, r))
			}
			m, o := rs[0], rs[1]
			fmt.Printf("| %d | %s | %.0f | %.0f | %.2f | %.2f / %.2f | %.2f / %.2f | %.1f | %.2f%% |\n",
				run, route, m.rps, o.rps, o.rps/m.rps, m.p50, m.p99, o.p50, o.p99, float64(o.hwmKiB)/1024, 100*(1-o.success))
		}
	}
	if *jsonOut == "" {
		return nil
	}
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*jsonOut, append(b, '\n'), 0o600)
}

func toJSON(run int, r result) jsonResult {
	j := jsonResult{Run: run, Route: r.route, Mode: r.mode, Requests: r.requests, RPS: r.rps, P50ms: r.p50, P99ms: r.p99,
		Success: r.success, RSSPeakKiB: r.rssKiB, HWMKiB: r.hwmKiB}
	for _, b := range r.hist.Buckets {
		j.Histogram.FromMS = append(j.Histogram.FromMS, float64(b.Nanoseconds())/1e6)
	}
	j.Histogram.Counts = r.hist.Counts
	return j
}

func measure(self, mode, route string, d time.Duration, conns int) (result, error) {
	port, err := motoserver.FreePort()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "serve", "-mode", mode, "-port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitUp(base + "/healthcheck"); err != nil {
		return result{}, err
	}
	target := vegeta.Target{Method: "POST", URL: base + "/sales", Body: []byte(seedBody)}
	if strings.HasPrefix(route, "GET") {
		res, err := http.Post(base+"/sales", "application/json", strings.NewReader(seedBody))
		if err != nil {
			return result{}, err
		}
		loc := res.Header.Get("Location")
		res.Body.Close()
		if loc == "" {
			loc = "/sales/0190a0b0-0000-7000-8000-000000000000"
		}
		target = vegeta.Target{Method: "GET", URL: base + loc}
	}
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(uint64(conns)),
		vegeta.Connections(conns), vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second))
	var m vegeta.Metrics
	hist := vegeta.Histogram{Buckets: latencyBuckets()}
	peak := 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if rss := procStatus(cmd.Process.Pid, "VmRSS:"); rss > peak {
					peak = rss
				}
			}
		}
	}()
	for res := range atk.Attack(vegeta.NewStaticTargeter(target), vegeta.Rate{}, d, mode) {
		m.Add(res)
		hist.Add(res)
	}
	m.Close()
	close(stop)
	<-sampled
	return result{
		mode: mode, route: route,
		rps: m.Throughput, p50: ms(m.Latencies.P50), p99: ms(m.Latencies.P99),
		success: m.Success, rssKiB: peak, hwmKiB: procStatus(cmd.Process.Pid, "VmHWM:"), requests: m.Requests, hist: hist,
	}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func waitUp(url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}

// procStatus reads a kB field of /proc/PID/status.
func procStatus(pid int, field string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // read-only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), field) {
			n, _ := strconv.Atoi(strings.Fields(sc.Text())[1])
			return n
		}
	}
	return 0
}
