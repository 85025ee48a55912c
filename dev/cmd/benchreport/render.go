package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Row is one figure across the runs.
type Row struct {
	Label string
	Unit  string
	Cells []Cell // index 0 = run 1
	Ratio bool   // render as "0.59×"
}

// runs is the run numbers a report shows: 1..Runs (at least one column).
func (r *Results) runs() []int {
	n := max(r.Runs, 1)
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// valueRow is one bench figure per run, scaled (e.g. ns → µs).
func (r *Results) valueRow(label, unit, bench, key string, scale float64) Row {
	row := Row{Label: label, Unit: unit}
	for _, n := range r.runs() {
		c := r.Value(bench, n, key)
		if c.OK {
			c.V *= scale
		}
		row.Cells = append(row.Cells, c)
	}
	return row
}

// ratioRow divides two figures of the same bench within each run: both
// sides are measured in that run, on that machine state.
func (r *Results) ratioRow(label, bench, num, den string) Row {
	row := Row{Label: label, Unit: "ratio", Ratio: true}
	for _, n := range r.runs() {
		a, b := r.Value(bench, n, num), r.Value(bench, n, den)
		switch {
		case !a.OK:
			row.Cells = append(row.Cells, a)
		case !b.OK:
			row.Cells = append(row.Cells, b)
		case b.V == 0:
			row.Cells = append(row.Cells, Cell{Why: "n/a (÷0)"})
		default:
			row.Cells = append(row.Cells, Cell{V: a.V / b.V, OK: true})
		}
	}
	return row
}

// Spread is (max − min) / mean of the runs' values, in percent; "" when
// there is nothing to compare.
func Spread(cells []Cell) string {
	var vs []float64
	for _, c := range cells {
		if !c.OK {
			return "–"
		}
		vs = append(vs, c.V)
	}
	if len(vs) < 2 {
		return "one run"
	}
	lo, hi, sum := vs[0], vs[0], 0.0
	for _, v := range vs {
		lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
	}
	mean := sum / float64(len(vs))
	if hi == lo {
		return "0 %"
	}
	if mean == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*(hi-lo)/math.Abs(mean))
}

// FormatNumber prints a figure with a precision that suits its size.
func FormatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1000 || (v == math.Trunc(v) && a < 1e15):
		// Counts (allocations, requests, sales) stay whole.
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return fmt.Sprintf("%#.3g", v) // three significant digits, trailing zeros kept: 0.100
	}
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func (c Cell) String(ratio bool) string {
	if !c.OK {
		return "*" + c.Why + "*"
	}
	if ratio {
		return strconv.FormatFloat(c.V, 'f', 2, 64) + "×"
	}
	return FormatNumber(c.V)
}

// table renders rows as a markdown table: one column per run, then the
// spread.
func (r *Results) table(b *strings.Builder, rows []Row) {
	notRun := true
	for _, row := range rows {
		for _, c := range row.Cells {
			notRun = notRun && !c.OK && c.Why == "not run"
		}
	}
	if notRun {
		b.WriteString("*Not run in this report.*\n\n")
		return
	}
	b.WriteString("| figure | unit |")
	for _, n := range r.runs() {
		fmt.Fprintf(b, " run %d |", n)
	}
	b.WriteString(" spread |\n|---|---|")
	for range r.runs() {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, row := range rows {
		fmt.Fprintf(b, "| %s | %s |", row.Label, row.Unit)
		for _, c := range row.Cells {
			b.WriteString(" " + c.String(row.Ratio) + " |")
		}
		b.WriteString(" " + Spread(row.Cells) + " |\n")
	}
	b.WriteString("\n")
}

// runsNote says, for each bench, the exact command, when each run ran,
// how long it took, the load around it and how it ended.
func (r *Results) runsNote(b *strings.Builder, benches ...string) {
	for _, name := range benches {
		def, _ := r.bench(name)
		runs := r.Benches[name]
		if len(runs) == 0 {
			fmt.Fprintf(b, "- `%s` (%s): **not run** in this report.\n", name, def.Title)
			continue
		}
		nums := make([]int, 0, len(runs))
		for n := range runs {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		first := runs[nums[0]]
		fmt.Fprintf(b, "- `%s` (%s), at the repository root with `$OUT` the results directory:\n  `%s`\n", name, def.Title, r.relCommand(first.Meta.Command))
		for _, n := range nums {
			m := runs[n].Meta
			status := "ok"
			if !m.OK() {
				status = fmt.Sprintf("**failed** (exit %d%s; output in `%s.run%d.out/.err`)", m.ExitCode, strings.TrimSuffix(" "+m.Error, " "), name, n)
			} else if runs[n].ParseErr != "" {
				status = "**output unreadable**: " + runs[n].ParseErr
			}
			fmt.Fprintf(b, "  - run %d: %s, %s, load %.2f → %.2f: %s\n", n, m.Started.Format("2006-01-02 15:04 UTC"),
				(time.Duration(m.DurationS * float64(time.Second))).Round(time.Second), m.LoadBefore[0], m.LoadAfter[0], status)
		}
	}
	b.WriteString("\n")
}

// relCommand shows the results directory as the reader's relative path.
func (r *Results) relCommand(cmd string) string {
	if r.Abs != "" {
		cmd = strings.ReplaceAll(cmd, r.Abs+"/", "$OUT/")
	}
	return cmd
}

// Options are the renderer's inputs besides the results.
type Options struct {
	PlotsDir string // where PNGs are written
	PlotsRel string // the same directory, as linked from the markdown
	Plots    bool   // write the plots (tests may render markdown only)
}

// Render writes docs/benchmarks.md's text from a results directory.
func Render(r *Results, o Options) (string, error) {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("<!-- Generated by `go -C tools tool task bench` (dev/cmd/benchreport) from the results directory below; do not edit: rerun. -->\n\n")
	b.WriteString("The latest figures of every benchmark in the repository, from one run of `task bench`. How each is measured, and what the figures mean, is in the component notes: ")
	b.WriteString("[local stack](benchmarks/local-stack.md), [sales worker](benchmarks/sales-worker.md), [stream publisher](benchmarks/stream-publisher.md), [replay](benchmarks/replay.md).\n\n")
	r.header(&b)
	r.summary(&b)
	plots := map[string]string{}
	if o.Plots {
		var err error
		if plots, err = writePlots(r, o.PlotsDir); err != nil {
			return "", err
		}
	}
	img := func(name, alt string) {
		if p, ok := plots[name]; ok {
			fmt.Fprintf(&b, "![%s](%s)\n\n", alt, filepath.ToSlash(filepath.Join(o.PlotsRel, filepath.Base(p))))
		}
	}
	r.apiSection(&b)
	img("api-latency", "API latency distribution, ours vs minimal Fiber")
	r.awsSection(&b)
	r.pipelineSection(&b)
	img("pipeline-latency", "sale to lake latency histogram")
	r.workerSection(&b)
	img("worker-drain", "worker drain time by consumers")
	r.publisherSection(&b)
	r.replaySection(&b)
	r.lambdaSection(&b)
	return b.String(), nil
}

func gib(kib int64) float64 { return float64(kib) / (1 << 20) }

func (r *Results) header(b *strings.Builder) {
	m := r.Machine
	if m == nil {
		b.WriteString("**Machine: not recorded** (no machine.json in the results directory).\n\n")
		return
	}
	mode := "full sizes"
	if m.Quick {
		mode = "**QUICK=1** (smaller sizes, see each section)"
	}
	end := "not finished"
	total := ""
	if !m.Finished.IsZero() {
		end = m.Finished.Format("15:04 UTC")
		total = fmt.Sprintf(" (%s)", m.Finished.Sub(m.Started).Round(time.Second))
	}
	fmt.Fprintf(b, "| | |\n|---|---|\n")
	fmt.Fprintf(b, "| date | %s – %s%s |\n", m.Started.Format("2006-01-02 15:04 UTC"), end, total)
	fmt.Fprintf(b, "| machine | %d cores (%s), %.1f GiB memory (%.1f GiB available at start), `uname -m` %s, kernel %s |\n",
		m.Cores, orDash(m.CPU), gib(m.MemTotalKiB), gib(m.MemAvailKiB), orDash(m.Arch), orDash(m.Kernel))
	fmt.Fprintf(b, "| Go | %s |\n", orDash(m.Go))
	fmt.Fprintf(b, "| load average (1/5/15 min) | start %.2f / %.2f / %.2f, end %.2f / %.2f / %.2f — the machine is shared with other engineers' tests |\n",
		m.LoadStart[0], m.LoadStart[1], m.LoadStart[2], m.LoadEnd[0], m.LoadEnd[1], m.LoadEnd[2])
	only := ""
	if len(m.Only) > 0 {
		only = ", only " + strings.Join(m.Only, ", ")
	}
	if len(m.Reruns) > 0 {
		only += "; run again into this directory: " + strings.Join(m.Reruns, ", ")
	}
	fmt.Fprintf(b, "| mode | %s, %d run(s) per bench%s |\n", mode, m.Runs, only)
	fmt.Fprintf(b, "| results | `%s` (gitignored: JSON, outputs and logs of every run) |\n\n", filepath.ToSlash(r.Dir))
	b.WriteString("Rerun: `go -C tools tool task bench` (`RUNS=1` for one run, `QUICK=1` for smaller sizes, `ONLY=api,worker-drain` for some benches; ")
	b.WriteString("`go run ./dev/cmd/benchreport render -dir .local/bench/<timestamp>` renders an existing results directory again).\n\n")
	b.WriteString("How to read: each bench runs in a fresh process per run, one bench at a time. ")
	b.WriteString("A figure shows every run and its **spread = (max − min) / mean** of the runs. ")
	b.WriteString("Comparisons are ratios of two figures measured **in the same run** (then their spread across runs); absolute figures move with the machine's load, ratios much less. ")
	b.WriteString("*not run*: the bench was not part of this report; *failed*: the bench ran and failed (see its runs below the table); *not reported*: it ran but did not print that figure. No figure is ever filled in by hand.\n\n")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func (r *Results) summary(b *strings.Builder) {
	b.WriteString("## Headline figures\n\n")
	r.table(b, []Row{
		r.valueRow("API POST /sales (in-memory store)", "req/s", "api", "POST /sales ours rps", 1),
		r.ratioRow("API POST /sales ÷ minimal Fiber handler", "api", "POST /sales ours rps", "POST /sales minimal rps"),
		r.valueRow("API GET /sales/{id}", "req/s", "api", "GET /sales/{id} ours rps", 1),
		r.ratioRow("API GET ÷ minimal Fiber handler", "api", "GET /sales/{id} ours rps", "GET /sales/{id} minimal rps"),
		r.valueRow("AWS requests per sale, end to end (no polling)", "requests", "pipeline", "requests per_sale", 1),
		r.valueRow("sale → both lakes p50", "ms", "pipeline", "latency both p50_ms", 1),
		r.valueRow("sale → both lakes p99", "ms", "pipeline", "latency both p99_ms", 1),
		r.valueRow("sustained pipeline throughput", "sales/s", "pipeline", "sustained_sales_per_s", 1),
		r.valueRow("worker drain, 1 consumer", "s", "worker-drain", "BenchmarkDrain/consumers=1 s/drain", 1),
		r.ratioRow("worker drain time, 4 consumers ÷ 1", "worker-drain", "BenchmarkDrain/consumers=4 s/drain", "BenchmarkDrain/consumers=1 s/drain"),
		r.valueRow("publisher handler, batch 100", "records/s", "publisher", "BenchmarkHandle/batch=100 records/s", 1),
		r.valueRow("publisher SNS calls per record", "calls", "publisher", "BenchmarkHandle/batch=100 sns_calls/record", 1),
		r.valueRow("replay from the store (1 segment)", "events/s", "replay", "BenchmarkReplayStore/segments=1 events/s", 1),
		r.valueRow("Lambda zip", "MiB", "lambda", "zip_bytes", 1.0/(1<<20)),
		r.valueRow("Lambda handler init", "ms", "publisher", "BenchmarkInit ns/op", 1e-6),
	})
}

func (r *Results) apiSection(b *strings.Builder) {
	b.WriteString("## API\n\n")
	b.WriteString("The sales API (production wiring, access log on, in-memory event store: no AWS) as a separate process, loaded closed-loop over loopback by vegeta at fixed concurrency, against a minimal Fiber handler that only answers a constant body, in the same run: the ratio is what our code costs on top of Fiber. RSS is the API process's peak (VmHWM).\n\n")
	if rep := r.firstAPI(); rep != nil {
		fmt.Fprintf(b, "Load: %d connections, %s per route and server.\n\n", rep.Concurrency, time.Duration(rep.DurationS*float64(time.Second)))
	}
	var rows []Row
	for _, route := range []string{"POST /sales", "GET /sales/{id}"} {
		k := route + " "
		rows = append(rows,
			r.valueRow(route+" ours", "req/s", "api", k+"ours rps", 1),
			r.valueRow(route+" minimal Fiber", "req/s", "api", k+"minimal rps", 1),
			r.ratioRow(route+" ours ÷ minimal", "api", k+"ours rps", k+"minimal rps"),
			r.valueRow(route+" ours p50", "ms", "api", k+"ours p50_ms", 1),
			r.valueRow(route+" ours p99", "ms", "api", k+"ours p99_ms", 1),
			r.valueRow(route+" minimal p50", "ms", "api", k+"minimal p50_ms", 1),
			r.valueRow(route+" minimal p99", "ms", "api", k+"minimal p99_ms", 1),
			r.ratioRow(route+" p99 ours ÷ minimal", "api", k+"ours p99_ms", k+"minimal p99_ms"),
			r.valueRow(route+" ours RSS peak", "MiB", "api", k+"ours rss_peak_mib", 1),
			r.valueRow(route+" ours errors", "%", "api", k+"ours errors_pct", 1),
		)
	}
	r.table(b, rows)
	b.WriteString("The handlers alone (fasthttp request context, no network, `go test -bench`):\n\n")
	r.table(b, []Row{
		r.valueRow("POST /sales handler", "µs/op", "api-handlers", "BenchmarkPostSale ns/op", 1e-3),
		r.valueRow("POST /sales handler", "allocs/op", "api-handlers", "BenchmarkPostSale allocs/op", 1),
		r.valueRow("GET /sales/{id} handler", "µs/op", "api-handlers", "BenchmarkGetSale ns/op", 1e-3),
		r.valueRow("GET /sales/{id} handler", "allocs/op", "api-handlers", "BenchmarkGetSale allocs/op", 1),
		r.valueRow("request body decoder", "µs/op", "api-handlers", "BenchmarkDecodeCreateSale ns/op", 1e-3),
	})
	r.runsNote(b, "api", "api-handlers")
}

func (r *Results) firstAPI() *APIReport {
	for _, n := range r.runs() {
		if x := r.Benches["api"][n]; x != nil && x.API != nil {
			return x.API
		}
	}
	return nil
}

func (r *Results) awsSection(b *strings.Builder) {
	b.WriteString("## AWS requests per operation and per sale\n\n")
	b.WriteString("From the `awsconfig` request counters (`aws_operations_total`: calls; `aws_requests_total`: HTTP attempts, SDK retries included) against moto. ")
	b.WriteString("The API and worker tests assert these counts in `task test`; here their logged figures are collected.\n\n")
	rows := []Row{}
	for _, op := range []string{"POST", "GET", "DELETE", "bad POST"} {
		rows = append(rows, r.valueRow("API "+op+" (test)", "calls each", "aws-api", op+" calls_each", 1))
	}
	rows = append(rows,
		r.valueRow("worker, per processed sale (test)", "operations", "aws-worker", "operations_per_sale", 1),
		r.valueRow("worker, per processed sale (test)", "requests incl. retries", "aws-worker", "requests_per_sale", 1),
		r.valueRow("publisher, per published record (fake SNS, batch 100)", "PublishBatch calls", "publisher", "BenchmarkHandle/batch=100 sns_calls/record", 1),
		r.valueRow("end to end, per accepted sale, both regions (pipeline)", "requests", "pipeline", "requests per_sale", 1),
		r.valueRow("end to end, with stream polling, receives and state refreshes at this load", "requests", "pipeline", "requests per_sale_with_polling", 1),
	)
	for _, comp := range []string{"sales-api", "stream-runner", "sales-worker"} {
		rows = append(rows, r.valueRow("end to end: "+comp+" (no polling)", "requests/sale", "pipeline", "requests "+comp+" per_sale", 1))
	}
	r.table(b, rows)
	for _, op := range []string{"POST", "GET", "DELETE", "bad POST"} {
		if t := r.Text("aws-api", 1, op+" counts"); t != "" {
			fmt.Fprintf(b, "- API %s, run 1: `%s`\n", op, t)
		}
	}
	if t := r.Text("aws-worker", 1, "counts"); t != "" {
		fmt.Fprintf(b, "- worker, run 1: `%s`\n", t)
	}
	b.WriteString("\n")
	// End to end, by component and operation: the union over the runs.
	keys := map[string]bool{}
	for _, x := range r.Benches["pipeline"] {
		for k := range x.Values {
			if strings.HasPrefix(k, "requests ") && strings.Count(k, " ") == 3 {
				keys[k] = true
			}
		}
	}
	if len(keys) > 0 {
		b.WriteString("End to end by process and operation, per accepted sale (the pipeline's latency run; both regions; the replication stand-in is not AWS's cost and is left out; *polling* marks calls made whatever the traffic):\n\n")
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		bg := map[string]bool{}
		for _, x := range r.Benches["pipeline"] {
			if x.Pipeline != nil && x.Pipeline.Requests != nil {
				for _, op := range x.Pipeline.Requests.Background {
					bg[op] = true
				}
			}
		}
		var rows []Row
		for _, k := range sorted {
			f := strings.Fields(k) // requests <component> <op> per_sale
			label := f[1] + " " + f[2]
			if bg[f[2]] {
				label += " *(polling)*"
			}
			row := r.valueRow(label, "requests/sale", "pipeline", k, 1)
			for i, c := range row.Cells {
				// An operation absent from one run made no request there.
				if !c.OK && c.Why == "not reported" {
					row.Cells[i] = Cell{V: 0, OK: true}
				}
			}
			rows = append(rows, row)
		}
		r.table(b, rows)
	}
	r.runsNote(b, "aws-api", "aws-worker")
}

func (r *Results) pipelineSection(b *strings.Builder) {
	b.WriteString("## Pipeline: sale → lake on the local stack\n\n")
	b.WriteString("`dev/cmd/pipelinebench` on a fresh local stack per run (moto, the Terraform apply of the local environment, two regions' APIs, publishers, workers, the replication stand-in and the edge on free loopback ports). ")
	b.WriteString("Sales are posted through the edge open-loop at a fixed rate; each is followed until its object is in its own region's lake and in the other's. ")
	b.WriteString("moto, one Python process serving every AWS call of both regions, bounds every figure here ([notes](benchmarks/local-stack.md)).\n\n")
	rows := []Row{
		r.valueRow("offered load", "sales/s", "pipeline", "latency rate_per_s", 1),
		r.valueRow("sales accepted", "sales", "pipeline", "latency accepted", 1),
		r.valueRow("accepted but not in both lakes in time", "sales", "pipeline", "latency lost", 1),
		r.valueRow("sale → its region's lake p50", "ms", "pipeline", "latency origin p50_ms", 1),
		r.valueRow("sale → its region's lake p99", "ms", "pipeline", "latency origin p99_ms", 1),
		r.valueRow("sale → the other region's lake p50", "ms", "pipeline", "latency other p50_ms", 1),
		r.valueRow("sale → the other region's lake p99", "ms", "pipeline", "latency other p99_ms", 1),
		r.valueRow("sale → both lakes p50", "ms", "pipeline", "latency both p50_ms", 1),
		r.valueRow("sale → both lakes p90", "ms", "pipeline", "latency both p90_ms", 1),
		r.valueRow("sale → both lakes p99", "ms", "pipeline", "latency both p99_ms", 1),
		r.valueRow("sale → both lakes max", "ms", "pipeline", "latency both p100_ms", 1),
		r.valueRow("sustained: highest ramp step that kept up", "sales/s", "pipeline", "sustained_sales_per_s", 1),
	}
	skipped := len(r.Benches["pipeline"]) > 0
	for _, x := range r.Benches["pipeline"] {
		skipped = skipped && slices.Contains(x.Meta.Args, "-skip-failover")
	}
	if !skipped {
		rows = append(rows,
			r.valueRow("failover under traffic: salesctl failover", "s", "pipeline", "failover command_s", 1),
			r.valueRow("failover: clients saw 503s for", "s", "pipeline", "failover window_503_s", 1),
			r.valueRow("failover: accepted sales not in both lakes", "sales", "pipeline", "failover lost", 1))
	}
	rows = append(rows, r.valueRow("local stack ready (incl. Terraform apply)", "s", "pipeline", "stack_ready_s", 1))
	r.table(b, rows)
	if skipped {
		b.WriteString("The failover under traffic was skipped (`-skip-failover`, QUICK=1).\n\n")
	}
	for _, x := range r.Benches["pipeline"] {
		if slices.Contains(x.Meta.Env, "COMPUTE=1") {
			b.WriteString("`COMPUTE=1` in the command only stopped `task infra:local:apply` from adding its own unit filter, which was broken when this ran (`printf -- …` printed `--` under task's shell; fixed since); the local stack's `TG_FILTER` still applied the data-path units only.\n\n")
			break
		}
	}
	for _, n := range r.runs() {
		x := r.Benches["pipeline"][n]
		if x == nil || x.Pipeline == nil || len(x.Pipeline.Ramp) == 0 {
			continue
		}
		fmt.Fprintf(b, "Throughput ramp, run %d (a step is behind when its last tenth of sales takes over %s to reach both lakes, or some never do):\n\n", n, time.Duration(x.Pipeline.MaxLagS*float64(time.Second)))
		b.WriteString("| offered sales/s | accepted sales/s | both lakes p50 ms | p99 ms | last 10 % p50 ms | |\n|---:|---:|---:|---:|---:|---|\n")
		for _, s := range x.Pipeline.Ramp {
			verdict := "keeps up"
			if !s.KeepsUp {
				verdict = "**behind**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", FormatNumber(s.OfferedPerS), FormatNumber(s.AcceptedPerS),
				FormatNumber(s.P50ms), FormatNumber(s.P99ms), FormatNumber(s.TailP50ms), verdict)
		}
		b.WriteString("\n")
	}
	if x := r.Benches["pipeline"]; x != nil {
		for _, n := range r.runs() {
			if x[n] != nil && x[n].Texts["error"] != "" {
				fmt.Fprintf(b, "Run %d stopped with: `%s`\n\n", n, x[n].Texts["error"])
			}
		}
	}
	r.runsNote(b, "pipeline")
}

func (r *Results) workerSection(b *strings.Builder) {
	b.WriteString("## Worker: draining a queue\n\n")
	sales := "the"
	if x := r.Benches["worker-drain"][1]; x != nil {
		for _, e := range x.Meta.Env {
			if v, ok := strings.CutPrefix(e, "BENCH_SALES="); ok {
				sales = v
			}
		}
	}
	fmt.Fprintf(b, "Each drain: a fresh moto, %s queued sales (events in the store, messages in the queue), the production worker binary with 1, 2 or 4 consumers; the clock stops when the queue is empty and the worker's processed counter must equal the depth. ", sales)
	b.WriteString("The issue asks for 1,000 sales; moto 5.2.1 makes a drain quadratic in its depth (it copies every table a transaction touches), so the default is 300 ([why](benchmarks/sales-worker.md)); `WORKER_SALES=1000` runs it where there is room.\n\n")
	var rows []Row
	for _, c := range []string{"1", "2", "4"} {
		k := "BenchmarkDrain/consumers=" + c + " "
		rows = append(rows, r.valueRow(c+" consumer(s): drain time", "s", "worker-drain", k+"s/drain", 1))
		if c != "1" {
			rows = append(rows, r.ratioRow(c+" consumers: drain time ÷ 1 consumer's", "worker-drain", k+"s/drain", "BenchmarkDrain/consumers=1 s/drain"))
		}
		rows = append(rows,
			r.valueRow(c+" consumer(s): sales/s", "sales/s", "worker-drain", k+"sales/s", 1),
			r.valueRow(c+" consumer(s): AWS requests per sale", "requests", "worker-drain", k+"requests/sale", 1),
			r.valueRow(c+" consumer(s): worker peak RSS", "MiB", "worker-drain", k+"MiB-peak-RSS", 1),
			r.valueRow(c+" consumer(s): worker CPU per sale", "ms", "worker-drain", k+"worker-CPU-ms/sale", 1),
			r.valueRow(c+" consumer(s): mean commit (TransactWriteItems)", "ms", "worker-drain", k+"ms/commit", 1),
			r.valueRow(c+" consumer(s): moto peak RSS", "MiB", "worker-drain", k+"MiB-moto-RSS", 1),
		)
	}
	rows = append(rows,
		r.valueRow("worker's own cost per sale on fakes", "µs", "worker-cost", "BenchmarkPollInMemory ns/op", 1e-3),
		r.valueRow("worker's own allocations per sale", "allocs", "worker-cost", "BenchmarkPollInMemory allocs/op", 1),
	)
	r.table(b, rows)
	r.runsNote(b, "worker-drain", "worker-cost")
}

func (r *Results) publisherSection(b *strings.Builder) {
	b.WriteString("## Stream publisher\n\n")
	b.WriteString("The handler with an SNS fake that answers at once (its own ceiling), and append → SQS latency through the local runner, SNS and SQS on moto at 50 appends/s ([notes](benchmarks/stream-publisher.md)).\n\n")
	var rows []Row
	for _, size := range []string{"10", "100", "1000"} {
		k := "BenchmarkHandle/batch=" + size + " "
		rows = append(rows,
			r.valueRow("handler, batch "+size, "records/s", "publisher", k+"records/s", 1),
			r.valueRow("handler, batch "+size, "SNS calls/record", "publisher", k+"sns_calls/record", 1))
	}
	rows = append(rows, r.ratioRow("handler records/s, batch 1000 ÷ batch 10", "publisher", "BenchmarkHandle/batch=1000 records/s", "BenchmarkHandle/batch=10 records/s"))
	for _, poll := range []string{"500ms", "100ms"} {
		k := "BenchmarkAppendToSQSLatency/poll=" + poll + " "
		rows = append(rows,
			r.valueRow("append → SQS p50, runner poll "+poll, "ms", "publisher-latency", k+"p50_ms", 1),
			r.valueRow("append → SQS p99, runner poll "+poll, "ms", "publisher-latency", k+"p99_ms", 1),
			r.valueRow("append → SQS max, runner poll "+poll, "ms", "publisher-latency", k+"max_ms", 1))
	}
	rows = append(rows, r.ratioRow("append → SQS p99, poll 100ms ÷ 500ms", "publisher-latency",
		"BenchmarkAppendToSQSLatency/poll=100ms p99_ms", "BenchmarkAppendToSQSLatency/poll=500ms p99_ms"))
	r.table(b, rows)
	r.runsNote(b, "publisher", "publisher-latency")
}

func (r *Results) replaySection(b *strings.Builder) {
	b.WriteString("## Replay\n\n")
	b.WriteString("`salesctl replay` run in process against moto: a fresh table of events per run, republished to SNS while consumers drain the subscriber queues; the runner's own ceiling with an in-memory SNS; and the two access paths for a time window ([notes](benchmarks/replay.md)).\n\n")
	r.table(b, []Row{
		r.valueRow("replay store, Scan 1 segment", "events/s", "replay", "BenchmarkReplayStore/segments=1 events/s", 1),
		r.valueRow("replay store, Scan 4 segments", "events/s", "replay", "BenchmarkReplayStore/segments=4 events/s", 1),
		r.ratioRow("4 segments ÷ 1 segment", "replay", "BenchmarkReplayStore/segments=4 events/s", "BenchmarkReplayStore/segments=1 events/s"),
		r.valueRow("replay stream from trim-horizon", "events/s", "replay", "BenchmarkReplayStream events/s", 1),
		r.ratioRow("stream ÷ store (1 segment)", "replay", "BenchmarkReplayStream events/s", "BenchmarkReplayStore/segments=1 events/s"),
		r.valueRow("SNS calls per event (store, 1 segment)", "calls", "replay", "BenchmarkReplayStore/segments=1 publish-calls/event", 1),
		r.valueRow("runner overhead, no checkpoint (in-memory SNS)", "events/s", "replay", "BenchmarkRunnerOverhead/no-checkpoint events/s", 1),
		r.valueRow("runner overhead, with checkpoint", "events/s", "replay", "BenchmarkRunnerOverhead/checkpoint events/s", 1),
		r.ratioRow("checkpoint ÷ no checkpoint", "replay", "BenchmarkRunnerOverhead/checkpoint events/s", "BenchmarkRunnerOverhead/no-checkpoint events/s"),
		r.valueRow("one hour of ten: Scan + filter", "items read/event", "replay", "BenchmarkAccessPath/scan-filter items-read/event", 1),
		r.valueRow("one hour of ten: Query on an hour GSI", "items read/event", "replay", "BenchmarkAccessPath/gsi-query items-read/event", 1),
	})
	r.runsNote(b, "replay")
}

func (r *Results) lambdaSection(b *strings.Builder) {
	b.WriteString("## Lambda package and init\n\n")
	b.WriteString("The stream publisher's package as `task build:lambda` builds it (static linux/arm64 `bootstrap`, reproducible zip), and `initHandler` (environment, AWS config, clients; no AWS call) from `BenchmarkInit`; Lambda's own runtime start comes on top and is not measurable here.\n\n")
	r.table(b, []Row{
		r.valueRow("zip", "bytes", "lambda", "zip_bytes", 1),
		r.valueRow("zip", "MiB", "lambda", "zip_bytes", 1.0/(1<<20)),
		r.valueRow("bootstrap", "bytes", "lambda", "bootstrap_bytes", 1),
		r.valueRow("handler init", "ms", "publisher", "BenchmarkInit ns/op", 1e-6),
		r.valueRow("handler init", "allocs", "publisher", "BenchmarkInit allocs/op", 1),
	})
	var sums []string
	for _, n := range r.runs() {
		if s := r.Text("lambda", n, "sha256"); s != "" {
			sums = append(sums, s)
		}
	}
	switch {
	case len(sums) == 0:
	case len(sums) > 1 && allEqual(sums):
		fmt.Fprintf(b, "sha256 `%s`, the same in all %d builds (reproducible).\n\n", sums[0], len(sums))
	case len(sums) > 1:
		fmt.Fprintf(b, "sha256 **differs between builds**: `%s`.\n\n", strings.Join(sums, "`, `"))
	default:
		fmt.Fprintf(b, "sha256 `%s` (one build).\n\n", sums[0])
	}
	r.runsNote(b, "lambda")
}

func allEqual(s []string) bool {
	for _, x := range s {
		if x != s[0] {
			return false
		}
	}
	return true
}
