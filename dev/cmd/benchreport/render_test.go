package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fixture writes a results directory as `benchreport run` would: meta,
// stdout and JSON files per run.
type fixture struct {
	t   *testing.T
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	m := Machine{Cores: 2, CPU: "Test CPU", MemTotalKiB: 24 << 20, MemAvailKiB: 20 << 20, Go: "go1.26.8", Arch: "x86_64", Kernel: "6.1",
		Started: time.Date(2026, 11, 27, 19, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 27, 19, 40, 0, 0, time.UTC),
		LoadStart: [3]float64{5.5, 4, 3}, LoadEnd: [3]float64{6.25, 5, 4}, Runs: 2}
	if err := writeJSON(filepath.Join(dir, "machine.json"), m); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir}
}

func (f *fixture) run(bench string, n, exit int, files map[string]string) {
	f.t.Helper()
	meta := RunMeta{Bench: bench, Run: n, Dir: ".", Args: []string{"go", "test", "-json", stem(f.dir, bench, n) + ".json"},
		Started: time.Date(2026, 11, 27, 19, n, 0, 0, time.UTC), DurationS: 42, ExitCode: exit, LoadBefore: [3]float64{4.5}, LoadAfter: [3]float64{5.25}}
	meta.Command = shellCommand(meta.Dir, nil, meta.Args)
	if err := writeJSON(stem(f.dir, bench, n)+".meta.json", meta); err != nil {
		f.t.Fatal(err)
	}
	for ext, body := range files {
		if err := os.WriteFile(stem(f.dir, bench, n)+ext, []byte(body), 0o600); err != nil {
			f.t.Fatal(err)
		}
	}
}

func apiJSON(oursPOST, minPOST, oursGET, minGET float64) string {
	return `{"duration_s": 3, "concurrency": 32, "results": [
 {"run": 1, "route": "POST /sales", "mode": "minimal", "requests": 100, "rps": ` + fmt.Sprint(minPOST) + `, "p50_ms": 0.3, "p99_ms": 2, "success": 1, "hwm_kib": 10240,
  "histogram": {"from_ms": [0, 0.1, 1], "counts": [0, 60, 40]}},
 {"run": 1, "route": "POST /sales", "mode": "memory", "requests": 100, "rps": ` + fmt.Sprint(oursPOST) + `, "p50_ms": 0.6, "p99_ms": 4, "success": 1, "hwm_kib": 25600,
  "histogram": {"from_ms": [0, 0.1, 1], "counts": [0, 30, 70]}},
 {"run": 1, "route": "GET /sales/{id}", "mode": "minimal", "requests": 100, "rps": ` + fmt.Sprint(minGET) + `, "p50_ms": 0.2, "p99_ms": 1, "success": 1, "hwm_kib": 10240,
  "histogram": {"from_ms": [0, 0.1, 1], "counts": [0, 90, 10]}},
 {"run": 1, "route": "GET /sales/{id}", "mode": "memory", "requests": 100, "rps": ` + fmt.Sprint(oursGET) + `, "p50_ms": 0.4, "p99_ms": 3, "success": 1, "hwm_kib": 24576,
  "histogram": {"from_ms": [0, 0.1, 1], "counts": [0, 50, 50]}}]}`
}

const drainOut = `BenchmarkDrain/consumers=1-2 1 0 ns/op %s s/drain 3.000 requests/sale
BenchmarkDrain/consumers=2-2 1 0 ns/op %s s/drain
BenchmarkDrain/consumers=4-2 1 0 ns/op %s s/drain
`

func drain(c1, c2, c4 string) string { return fmt.Sprintf(drainOut, c1, c2, c4) }

// row finds a markdown table row by its first two cells.
func row(t *testing.T, md, label, unit string) []string {
	t.Helper()
	prefix := "| " + label + " | " + unit + " |"
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, prefix) {
			cells := strings.Split(strings.Trim(strings.TrimPrefix(l, prefix), " |"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	t.Fatalf("no row %q in\n%s", prefix, md)
	return nil
}

func TestRenderShowsBothRunsSpreadsAndSameRunRatios(t *testing.T) {
	f := newFixture(t)
	f.run("api", 1, 0, map[string]string{".json": apiJSON(6000, 10000, 8000, 12000)})
	f.run("api", 2, 0, map[string]string{".json": apiJSON(5000, 10000, 9000, 12000)})
	f.run("worker-drain", 1, 0, map[string]string{".out": drain("100", "90", "150")})
	f.run("worker-drain", 2, 0, map[string]string{".out": drain("120", "96", "150")})
	f.run("lambda", 1, 0, map[string]string{".out": "x sha256=aa zip_bytes=4194304 bootstrap_bytes=1\n"})
	f.run("lambda", 2, 0, map[string]string{".out": "x sha256=aa zip_bytes=4194304 bootstrap_bytes=1\n"})
	res, err := Load(f.dir, Catalog(DefaultSizes(false)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := Render(res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label, unit string
		want        []string
	}{
		// Values of both runs, then (max − min) / mean.
		{"POST /sales ours", "req/s", []string{"6,000", "5,000", "18.2 %"}},
		{"POST /sales minimal Fiber", "req/s", []string{"10,000", "10,000", "0 %"}},
		// Ratios within each run: 6000/10000 and 5000/10000.
		{"POST /sales ours ÷ minimal", "ratio", []string{"0.60×", "0.50×", "18.2 %"}},
		{"GET /sales/{id} ours ÷ minimal", "ratio", []string{"0.67×", "0.75×", "11.8 %"}},
		{"POST /sales ours RSS peak", "MiB", []string{"25", "25", "0 %"}},
		{"1 consumer(s): drain time", "s", []string{"100", "120", "18.2 %"}},
		// Drain time ratio to 1 consumer, in the same run: 150/100, 150/120.
		{"4 consumers: drain time ÷ 1 consumer's", "ratio", []string{"1.50×", "1.25×", "18.2 %"}},
		{"2 consumers: drain time ÷ 1 consumer's", "ratio", []string{"0.90×", "0.80×", "11.8 %"}},
		{"Lambda zip", "MiB", []string{"4", "4", "0 %"}},
	} {
		got := row(t, md, tc.label, tc.unit)
		if strings.Join(got, " ; ") != strings.Join(tc.want, " ; ") {
			t.Errorf("%s (%s): got %q, want %q", tc.label, tc.unit, got, tc.want)
		}
	}
	for _, want := range []string{
		"| machine | 2 cores (Test CPU), 24.0 GiB memory (20.0 GiB available at start), `uname -m` x86_64",
		"start 5.50 / 4.00 / 3.00, end 6.25 / 5.00 / 4.00",
		"| date | 2026-11-27 19:00 UTC – 19:40 UTC (40m0s) |",
		"sha256 `aa`, the same in all 2 builds (reproducible).",
		"`go test -json $OUT/api.run1.json`", // the exact command, results dir shortened
		"run 2: 2026-11-27 19:02 UTC, 42s, load 4.50 → 5.25: ok",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRenderMarksMissingAndFailedBenchesWithoutInventingNumbers(t *testing.T) {
	f := newFixture(t)
	// Replay: run 1 fine, run 2 failed after printing one of its figures.
	f.run("replay", 1, 0, map[string]string{".out": "BenchmarkReplayStore/segments=1-2 1 0 ns/op 56.00 events/s\nBenchmarkReplayStore/segments=4-2 1 0 ns/op 47.80 events/s\n"})
	f.run("replay", 2, 1, map[string]string{".out": "BenchmarkReplayStore/segments=1-2 1 0 ns/op 69.00 events/s\n--- FAIL: BenchmarkReplayStore/segments=4\nFAIL\n"})
	// The pipeline's JSON is unreadable in run 1 and absent in run 2.
	f.run("pipeline", 1, 0, map[string]string{".json": "{not json"})
	f.run("pipeline", 2, 1, nil)
	res, err := Load(f.dir, Catalog(DefaultSizes(false)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := Render(res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label, unit string
		want        []string
	}{
		{"replay store, Scan 1 segment", "events/s", []string{"56", "69", "20.8 %"}},
		{"replay store, Scan 4 segments", "events/s", []string{"47.8", "*failed*", "–"}},
		{"4 segments ÷ 1 segment", "ratio", []string{"0.85×", "*failed*", "–"}},
		// Ran fine, did not print this figure.
		{"replay stream from trim-horizon", "events/s", []string{"*not reported*", "*failed*", "–"}},
		{"sale → both lakes p99", "ms", []string{"*failed*", "*failed*", "–"}},
		// Never ran at all: the API is absent from the directory.
		{"API POST /sales (in-memory store)", "req/s", []string{"*not run*", "*not run*", "–"}},
	} {
		got := row(t, md, tc.label, tc.unit)
		if strings.Join(got, " ; ") != strings.Join(tc.want, " ; ") {
			t.Errorf("%s (%s): got %q, want %q", tc.label, tc.unit, got, tc.want)
		}
	}
	for _, want := range []string{
		"- `api` (API under load vs a minimal Fiber handler (task bench:api)): **not run** in this report.",
		"run 2: 2026-11-27 19:02 UTC, 42s, load 4.50 → 5.25: **failed** (exit 1; output in `replay.run2.out/.err`)",
		"**output unreadable**: pipelinebench json:",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// A section whose benches all did not run says so once, no table.
	api := md[strings.Index(md, "## API"):strings.Index(md, "## AWS requests")]
	if !strings.Contains(api, "*Not run in this report.*") || strings.Contains(api, "| POST /sales ours |") {
		t.Errorf("API section of a report without the API bench:\n%s", api)
	}
	// No number appears in a row whose bench never ran.
	if regexp.MustCompile(`\| API POST /sales \(in-memory store\) \| req/s \|[^\n]*\d`).MatchString(md) {
		t.Error("a number appears for a bench that did not run")
	}
}

func TestSkippedFailoverIsSaidNotLeftBlank(t *testing.T) {
	f := newFixture(t)
	pipeline := `{"stack_ready_s": 200, "latency": {"rate_per_s": 1, "accepted": 3, "origin_ms": [1, 2, 3], "other_ms": [4, 5, 6], "both_ms": [4, 5, 6]}}`
	for n := 1; n <= 2; n++ {
		f.run("pipeline", n, 0, map[string]string{".json": pipeline})
		// The fixture's args lack -skip-failover: rewrite the meta as QUICK=1 runs it.
		var m RunMeta
		b, _ := os.ReadFile(stem(f.dir, "pipeline", n) + ".meta.json")
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m.Args = append(m.Args, "-skip-failover")
		if err := writeJSON(stem(f.dir, "pipeline", n)+".meta.json", m); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Load(f.dir, Catalog(DefaultSizes(true)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := Render(res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md, "| failover") || !strings.Contains(md, "The failover under traffic was skipped") {
		t.Error("a skipped failover must be said once, without empty failover rows")
	}
	if got := row(t, md, "sale → both lakes p50", "ms"); strings.Join(got, ";") != "5;5;0 %" {
		t.Errorf("both lakes p50: %q", got)
	}
}

func TestRenderWithoutMachineFileSaysSo(t *testing.T) {
	res, err := Load(t.TempDir(), Catalog(DefaultSizes(true)))
	if err != nil {
		t.Fatal(err)
	}
	md, err := Render(res, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md, "**Machine: not recorded**") {
		t.Error("missing machine.json must be stated")
	}
}

func TestPlotsArePNGsForTheDataPresent(t *testing.T) {
	f := newFixture(t)
	f.run("api", 1, 0, map[string]string{".json": apiJSON(6000, 10000, 8000, 12000)})
	f.run("worker-drain", 1, 0, map[string]string{".out": drain("100", "90", "150")})
	f.run("pipeline", 1, 0, map[string]string{".json": `{"latency": {"rate_per_s": 3, "accepted": 4, "origin_ms": [300, 350, 400, 900], "both_ms": [800, 900, 1000, 2500]}}`})
	res, err := Load(f.dir, Catalog(DefaultSizes(false)))
	if err != nil {
		t.Fatal(err)
	}
	plots := filepath.Join(t.TempDir(), "plots")
	md, err := Render(res, Options{Plots: true, PlotsDir: plots, PlotsRel: "benchmarks/plots"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api-latency", "pipeline-latency", "worker-drain"} {
		b, err := os.ReadFile(filepath.Join(plots, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() < 300 {
			t.Errorf("%s: %d px wide", name, img.Bounds().Dx())
		}
		if !strings.Contains(md, "(benchmarks/plots/"+name+".png)") {
			t.Errorf("report does not link %s", name)
		}
	}

	// Without the data, no plot and no link.
	empty, err := Load(t.TempDir(), Catalog(DefaultSizes(false)))
	if err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(t.TempDir(), "plots")
	md, err = Render(empty, Options{Plots: true, PlotsDir: none, PlotsRel: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md, ".png") {
		t.Error("a plot is linked without data")
	}
	if entries, _ := os.ReadDir(none); len(entries) != 0 {
		t.Errorf("plots written without data: %v", entries)
	}
}

func TestSpreadAndFormat(t *testing.T) {
	for _, tc := range []struct {
		cells []Cell
		want  string
	}{
		{[]Cell{{V: 100, OK: true}, {V: 120, OK: true}}, "18.2 %"},
		{[]Cell{{V: 5, OK: true}, {V: 5, OK: true}}, "0 %"},
		{[]Cell{{V: 5, OK: true}}, "one run"},
		{[]Cell{{V: 5, OK: true}, {Why: "failed"}}, "–"},
		{[]Cell{{V: -1, OK: true}, {V: 1, OK: true}}, "–"},
	} {
		if got := Spread(tc.cells); got != tc.want {
			t.Errorf("Spread(%v) = %q, want %q", tc.cells, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {46, "46"}, {1234567.8, "1,234,568"}, {-2500, "-2,500"}, {123.4, "123"}, {12.34, "12.3"}, {3.204, "3.20"}, {0.1, "0.100"}, {0.01234, "0.0123"}} {
		if got := FormatNumber(tc.v); got != tc.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
