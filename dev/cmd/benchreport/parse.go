package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// parseGoBench reads the standard `go test -bench` format
// (golang.org/design/14313-benchmark-format): a result line is the name
// with its -GOMAXPROCS suffix, the iteration count, then value/unit
// pairs. Every figure is keyed "<name> <unit>", the name without the
// suffix ("BenchmarkDrain/consumers=1 s/drain"). A name seen twice keeps
// its first value (each run is its own process with -count 1).
func parseGoBench(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			key := name + " " + f[i+1]
			if _, seen := out[key]; !seen {
				out[key] = v
			}
		}
	}
	return out, sc.Err()
}

// APIReport is apibench's -json file.
type APIReport struct {
	DurationS   float64     `json:"duration_s"`
	Concurrency int         `json:"concurrency"`
	Results     []APIResult `json:"results"`
}

// APIResult is one load run of one route against one server.
type APIResult struct {
	Run        int     `json:"run"`
	Route      string  `json:"route"`
	Mode       string  `json:"mode"`
	Requests   uint64  `json:"requests"`
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Success    float64 `json:"success"`
	RSSPeakKiB int     `json:"rss_peak_kib"`
	HWMKiB     int     `json:"hwm_kib"`
	Histogram  struct {
		FromMS []float64 `json:"from_ms"`
		Counts []uint64  `json:"counts"`
	} `json:"histogram"`
}

// parseAPI flattens apibench's results to "<route> <mode> <figure>" keys
// (mode: minimal or ours).
func parseAPI(r io.Reader) (map[string]float64, *APIReport, error) {
	var rep APIReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, nil, fmt.Errorf("apibench json: %w", err)
	}
	out := map[string]float64{}
	for _, res := range rep.Results {
		if res.Run != rep.Results[0].Run {
			continue // task bench runs apibench with -runs 1; keep the first if more
		}
		mode := res.Mode
		if mode == "memory" {
			mode = "ours"
		}
		k := res.Route + " " + mode + " "
		out[k+"rps"] = res.RPS
		out[k+"p50_ms"] = res.P50ms
		out[k+"p99_ms"] = res.P99ms
		out[k+"errors_pct"] = 100 * (1 - res.Success)
		out[k+"rss_peak_mib"] = float64(max(res.RSSPeakKiB, res.HWMKiB)) / 1024
		out[k+"requests"] = float64(res.Requests)
	}
	return out, &rep, nil
}

// PipelineReport is pipelinebench's -json file.
type PipelineReport struct {
	StackReadyS float64 `json:"stack_ready_s"`
	Latency     *struct {
		RatePerS  float64   `json:"rate_per_s"`
		DurationS float64   `json:"duration_s"`
		Accepted  int       `json:"accepted"`
		Lost      int       `json:"lost"`
		OriginMS  []float64 `json:"origin_ms"`
		OtherMS   []float64 `json:"other_ms"`
		BothMS    []float64 `json:"both_ms"`
	} `json:"latency"`
	Requests *struct {
		Sales              int                           `json:"sales"`
		ByComponent        map[string]map[string]float64 `json:"by_component"`
		Background         []string                      `json:"background"`
		PerSale            float64                       `json:"per_sale"`
		PerSaleWithPolling float64                       `json:"per_sale_with_polling"`
	} `json:"requests"`
	Ramp []struct {
		OfferedPerS  float64 `json:"offered_per_s"`
		AcceptedPerS float64 `json:"accepted_per_s"`
		P50ms        float64 `json:"p50_ms"`
		P99ms        float64 `json:"p99_ms"`
		TailP50ms    float64 `json:"tail_p50_ms"`
		Lost         int     `json:"lost"`
		KeepsUp      bool    `json:"keeps_up"`
	} `json:"ramp"`
	SustainedSalesPerS *float64 `json:"sustained_sales_per_s"`
	MaxLagS            float64  `json:"max_lag_s"`
	Failover           *struct {
		CommandS    float64 `json:"command_s"`
		Window503S  float64 `json:"window_503_s"`
		Accepted    int     `json:"accepted"`
		NotAccepted int     `json:"not_accepted"`
		Lost        int     `json:"lost"`
	} `json:"failover"`
	Error string `json:"error"`
}

// percentile is the nearest-rank value at p (0..100) of sorted values,
// the same rule as pipelinebench's own printout.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p/100)]
}

// parsePipeline flattens pipelinebench's report: latency percentiles
// ("latency both p99_ms"), requests per sale by component and operation
// ("requests sales-worker S3.PutObject per_sale"), throughput, failover.
func parsePipeline(r io.Reader) (map[string]float64, *PipelineReport, error) {
	var rep PipelineReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, nil, fmt.Errorf("pipelinebench json: %w", err)
	}
	out := map[string]float64{"stack_ready_s": rep.StackReadyS}
	if l := rep.Latency; l != nil {
		out["latency rate_per_s"] = l.RatePerS
		out["latency accepted"] = float64(l.Accepted)
		out["latency lost"] = float64(l.Lost)
		for name, xs := range map[string][]float64{"origin": l.OriginMS, "other": l.OtherMS, "both": l.BothMS} {
			if len(xs) == 0 {
				continue
			}
			s := append([]float64(nil), xs...)
			sort.Float64s(s)
			for _, p := range []float64{50, 90, 99, 100} {
				out[fmt.Sprintf("latency %s p%g_ms", name, p)] = percentile(s, p)
			}
		}
	}
	if q := rep.Requests; q != nil && q.Sales > 0 {
		out["requests per_sale"] = q.PerSale
		out["requests per_sale_with_polling"] = q.PerSaleWithPolling
		bg := map[string]bool{}
		for _, op := range q.Background {
			bg[op] = true
		}
		for comp, ops := range q.ByComponent {
			total := 0.0
			for op, n := range ops {
				out["requests "+comp+" "+op+" per_sale"] = n / float64(q.Sales)
				if !bg[op] {
					total += n
				}
			}
			out["requests "+comp+" per_sale"] = total / float64(q.Sales)
		}
	}
	if rep.SustainedSalesPerS != nil {
		out["sustained_sales_per_s"] = *rep.SustainedSalesPerS
	}
	if f := rep.Failover; f != nil {
		out["failover command_s"] = f.CommandS
		// First to last 503 seen; one 503 alone is a window of
		// nanoseconds: rounded to 10 ms as pipelinebench prints it.
		out["failover window_503_s"] = math.Round(f.Window503S*100) / 100
		out["failover lost"] = float64(f.Lost)
	}
	return out, &rep, nil
}

var (
	// "500 × POST: DynamoDB.PutItem=500 (1.00 AWS calls each)"
	apiCallsLine = regexp.MustCompile(`(\d+) × ([A-Za-z ]+): (.*) \(([\d.]+) AWS calls each\)`)
	// "AWS operations per processed sale: 3.20 (…); HTTP requests incl. retries: 3.20"
	workerCallsLine = regexp.MustCompile(`AWS operations per processed sale: ([\d.]+) \((.*)\); HTTP requests incl\. retries: ([\d.]+)`)
	testResultLine  = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+)`)
)

// parseTestLog reads `go test -v` output: the tests' logged call counts
// and their verdicts. Numbers come only from the lines the tests log;
// the texts keep the per-operation counts as the test printed them.
func parseTestLog(r io.Reader) (map[string]float64, map[string]string, error) {
	vals, texts := map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := apiCallsLine.FindStringSubmatch(line); m != nil {
			op := strings.TrimSpace(m[2])
			v, _ := strconv.ParseFloat(m[4], 64)
			vals[op+" calls_each"] = v
			n, _ := strconv.ParseFloat(m[1], 64)
			vals[op+" requests"] = n
			texts[op+" counts"] = m[3]
		}
		if m := workerCallsLine.FindStringSubmatch(line); m != nil {
			ops, _ := strconv.ParseFloat(m[1], 64)
			reqs, _ := strconv.ParseFloat(m[3], 64)
			vals["operations_per_sale"] = ops
			vals["requests_per_sale"] = reqs
			texts["counts"] = m[2]
		}
		if m := testResultLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			texts["verdict "+m[2]] = m[1]
		}
	}
	return vals, texts, sc.Err()
}

// parseLambda reads buildlambda's line
// "<path> sha256=<hex> zip_bytes=<n> bootstrap_bytes=<n>".
func parseLambda(r io.Reader) (map[string]float64, map[string]string, error) {
	vals, texts := map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			switch k {
			case "sha256":
				texts["sha256"] = v
			case "zip_bytes", "bootstrap_bytes":
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					vals[k] = n
				}
			}
		}
	}
	if _, ok := texts["sha256"]; !ok {
		return vals, texts, fmt.Errorf("no sha256=… in buildlambda's output")
	}
	return vals, texts, sc.Err()
}
