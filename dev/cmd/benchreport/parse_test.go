package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]float64
	}{
		{
			name: "standard metrics and the GOMAXPROCS suffix",
			in: `goos: linux
goarch: amd64
pkg: github.com/salesplatform/services/sales-api/internal/httpapi
cpu: AMD EPYC
BenchmarkPostSale-2         	   51340	     48213 ns/op	   10232 B/op	      46 allocs/op
BenchmarkGetSale-2          	  100000	     15800 ns/op
PASS
ok  	github.com/salesplatform/services/sales-api/internal/httpapi	5.1s
`,
			want: map[string]float64{
				"BenchmarkPostSale ns/op": 48213, "BenchmarkPostSale B/op": 10232, "BenchmarkPostSale allocs/op": 46,
				"BenchmarkGetSale ns/op": 15800,
			},
		},
		{
			name: "sub-benchmarks with custom units, a failure among them",
			in: `BenchmarkDrain/consumers=1-2         	       1	         0 ns/op	        100.7 s/drain	         2.980 sales/s	         3.300 requests/sale
--- FAIL: BenchmarkDrain/consumers=2
    bench_test.go:120: queue not drained after 20m0s
BenchmarkDrain/consumers=4-2         	       1	         0 ns/op	        146.7 s/drain
FAIL
`,
			want: map[string]float64{
				"BenchmarkDrain/consumers=1 ns/op": 0, "BenchmarkDrain/consumers=1 s/drain": 100.7,
				"BenchmarkDrain/consumers=1 sales/s": 2.98, "BenchmarkDrain/consumers=1 requests/sale": 3.3,
				"BenchmarkDrain/consumers=4 ns/op": 0, "BenchmarkDrain/consumers=4 s/drain": 146.7,
			},
		},
		{
			name: "a name with a dash that is not a GOMAXPROCS suffix",
			in:   "BenchmarkRunnerOverhead/no-checkpoint-2 1 0 ns/op 72134 events/s\n",
			want: map[string]float64{"BenchmarkRunnerOverhead/no-checkpoint ns/op": 0, "BenchmarkRunnerOverhead/no-checkpoint events/s": 72134},
		},
		{
			name: "the first of a repeated name wins, log lines are ignored",
			in:   "BenchmarkInit-2 10 28100000 ns/op\n    main_test.go:40: BenchmarkInit 1 2 ns/op\nBenchmarkInit-2 10 52300000 ns/op\n",
			want: map[string]float64{"BenchmarkInit ns/op": 28100000},
		},
		{
			name: "no benchmarks",
			in:   "ok  \tgithub.com/x\t0.1s\n",
			want: map[string]float64{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseGoBench(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if g, ok := got[k]; !ok || math.Abs(g-v) > 1e-9 {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}

func FuzzParseGoBench(f *testing.F) {
	f.Add("BenchmarkX-2 1 5 ns/op 3 x/y\n")
	f.Add("Benchmark 1 2 3\n")
	f.Add("BenchmarkA-b-2 10 NaN ns/op\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseGoBench(strings.NewReader(s))
		if err != nil {
			return
		}
		for k := range got {
			if !strings.HasPrefix(k, "Benchmark") || !strings.Contains(k, " ") {
				t.Fatalf("key %q is not '<name> <unit>'", k)
			}
		}
	})
}

func TestParseTestLog(t *testing.T) {
	in := `=== RUN   TestAWSRequestsPerOperationAgainstEmulator
    main_test.go:167: 500 × POST: DynamoDB.PutItem=500 (1.00 AWS calls each)
    main_test.go:167: 300 × GET: DynamoDB.Query=300 (1.00 AWS calls each)
    main_test.go:167: 200 × DELETE: DynamoDB.PutItem=200 DynamoDB.Query=200 (2.00 AWS calls each)
    main_test.go:167: 100 × bad POST:  (0.00 AWS calls each)
    worker_test.go:128: AWS operations per processed sale: 3.20 (DynamoDB.PutItem=30 S3.PutObject=30); HTTP requests incl. retries: 3.27
--- PASS: TestAWSRequestsPerOperationAgainstEmulator (12.31s)
PASS
`
	vals, texts, err := parseTestLog(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"POST calls_each": 1, "POST requests": 500, "GET calls_each": 1, "DELETE calls_each": 2, "bad POST calls_each": 0,
		"operations_per_sale": 3.2, "requests_per_sale": 3.27,
	}
	for k, v := range want {
		if g, ok := vals[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if texts["DELETE counts"] != "DynamoDB.PutItem=200 DynamoDB.Query=200" {
		t.Errorf("DELETE counts %q", texts["DELETE counts"])
	}
	if texts["counts"] != "DynamoDB.PutItem=30 S3.PutObject=30" {
		t.Errorf("worker counts %q", texts["counts"])
	}
	if texts["verdict TestAWSRequestsPerOperationAgainstEmulator"] != "PASS" {
		t.Errorf("verdict %q", texts["verdict TestAWSRequestsPerOperationAgainstEmulator"])
	}
}

func TestParseLambda(t *testing.T) {
	vals, texts, err := parseLambda(strings.NewReader("/x/lambda.run1.zip sha256=abc123 zip_bytes=4339911 bootstrap_bytes=11599998\n"))
	if err != nil {
		t.Fatal(err)
	}
	if vals["zip_bytes"] != 4339911 || vals["bootstrap_bytes"] != 11599998 || texts["sha256"] != "abc123" {
		t.Fatalf("got %v %v", vals, texts)
	}
	if _, _, err := parseLambda(strings.NewReader("go: build failed\n")); err == nil {
		t.Fatal("an output without sha256 must be an error, not an empty figure")
	}
}

func TestParseAPI(t *testing.T) {
	in := `{"duration_s": 3, "concurrency": 32, "results": [
 {"run": 1, "route": "POST /sales", "mode": "minimal", "requests": 30000, "rps": 10000, "p50_ms": 0.3, "p99_ms": 2, "success": 1, "rss_peak_kib": 10240, "hwm_kib": 11264},
 {"run": 1, "route": "POST /sales", "mode": "memory", "requests": 18000, "rps": 6000, "p50_ms": 0.6, "p99_ms": 4, "success": 0.999, "rss_peak_kib": 25600, "hwm_kib": 24576},
 {"run": 2, "route": "POST /sales", "mode": "memory", "requests": 1, "rps": 1, "p50_ms": 1, "p99_ms": 1, "success": 1}
]}`
	vals, rep, err := parseAPI(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Concurrency != 32 || len(rep.Results) != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := map[string]float64{
		"POST /sales minimal rps": 10000, "POST /sales ours rps": 6000, "POST /sales ours p99_ms": 4,
		"POST /sales ours rss_peak_mib": 25, "POST /sales minimal rss_peak_mib": 11,
	}
	for k, v := range want {
		if g := vals[k]; math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if e := vals["POST /sales ours errors_pct"]; math.Abs(e-0.1) > 1e-9 {
		t.Errorf("errors %v%%, want 0.1%%", e)
	}
	if _, _, err := parseAPI(strings.NewReader("{")); err == nil {
		t.Fatal("truncated JSON must fail")
	}
}

func TestParsePipeline(t *testing.T) {
	in := `{"stack_ready_s": 190.5,
 "latency": {"rate_per_s": 3, "duration_s": 30, "accepted": 5, "lost": 0,
   "origin_ms": [300, 100, 200, 400, 500], "other_ms": [900, 1000, 1100, 1200, 1300], "both_ms": [1300, 900, 1100, 1000, 1200]},
 "requests": {"sales": 4, "per_sale": 6.5, "per_sale_with_polling": 9,
   "background": ["SQS.ReceiveMessage"],
   "by_component": {"sales-api": {"DynamoDB.PutItem": 4, "SSM.GetParameter": 2}, "sales-worker": {"S3.PutObject": 8, "SQS.ReceiveMessage": 12}}},
 "ramp": [{"offered_per_s": 2, "accepted_per_s": 2, "p50_ms": 900, "p99_ms": 1500, "tail_p50_ms": 950, "keeps_up": true}],
 "sustained_sales_per_s": 2, "max_lag_s": 10}`
	vals, rep, err := parsePipeline(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"latency both p50_ms": 1100, "latency both p100_ms": 1300, "latency origin p50_ms": 300, "latency other p99_ms": 1200,
		"requests per_sale": 6.5, "requests sales-api DynamoDB.PutItem per_sale": 1,
		"requests sales-worker SQS.ReceiveMessage per_sale": 3,
		// Without the background operations: 4 + 2 (SSM not listed as background here) over 4 sales.
		"requests sales-api per_sale": 1.5, "requests sales-worker per_sale": 2,
		"sustained_sales_per_s": 2, "stack_ready_s": 190.5,
	}
	for k, v := range want {
		if g, ok := vals[k]; !ok || math.Abs(g-v) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := vals["failover command_s"]; ok {
		t.Error("a skipped failover must leave no failover figure")
	}
	if len(rep.Ramp) != 1 || !rep.Ramp[0].KeepsUp {
		t.Errorf("ramp %+v", rep.Ramp)
	}
}

func TestPercentileIsNearestRankLikePipelinebench(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct{ p, want float64 }{{0, 1}, {50, 5}, {90, 9}, {99, 9}, {100, 10}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%g = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
}
