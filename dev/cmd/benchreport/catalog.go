package main

import (
	"strconv"
	"time"
)

// Kind says how a bench's output is read.
type Kind string

const (
	// KindGoBench: standard `go test -bench` output on stdout.
	KindGoBench Kind = "gobench"
	// KindAPIBench: apibench's -json file.
	KindAPIBench Kind = "apibench"
	// KindPipeline: pipelinebench's -json file.
	KindPipeline Kind = "pipeline"
	// KindTestLog: `go test -v` output whose t.Logf lines carry counts.
	KindTestLog Kind = "testlog"
	// KindLambda: buildlambda's one line "path sha256=… zip_bytes=… bootstrap_bytes=…".
	KindLambda Kind = "lambda"
)

// Bench is one benchmark as `task bench` runs it: a command run RUNS
// times, each run in a separate process, its output kept beside its meta.
type Bench struct {
	Name  string // file stem under the results directory
	Title string
	Kind  Kind
	Dir   string   // working directory, relative to the repository root
	Env   []string // added to the environment
	Args  []string // argv; "{json}" is replaced by the run's JSON path, "{stem}" by its path without extension
	// Prepare runs once before the first run (builds), not timed.
	Prepare [][]string
	Timeout time.Duration
}

// Sizes are the knobs QUICK=1 makes smaller.
type Sizes struct {
	Quick          bool
	APIDuration    string // per load run of apibench
	APIConcurrency int
	BenchTime      string // Go micro-benchmarks
	PublisherEvent int    // append → SQS latency events
	WorkerSales    int    // queued sales per drain
	WorkerInMem    string // -benchtime of the in-memory worker benchmark
	ReplayEvents   int
	PipelineRate   float64
	PipelineDur    string
	PipelineRamp   string
	PipelineStep   string
	PipelineFail   bool // run the failover part
}

// DefaultSizes are the full run's sizes, or QUICK=1's.
//
// The pipeline's latency run offers 1 sale/s: on this shared 2-core
// machine moto falls behind from 3/s (measured: p50 to both lakes 12 s at
// 3/s, the ramp's 4/s step behind), and a latency measured while a queue
// grows is the queue's. The ramp finds the sustained rate.
//
// The worker drains 300 sales, not the 1,000 the issue names: moto
// 5.2.1 copies every table a transaction touches, so a drain is quadratic
// in its depth; 1,000 sales ran past 17 minutes and 11 GiB of emulator
// memory (docs/benchmarks/sales-worker.md). WORKER_SALES=1000 runs it.
func DefaultSizes(quick bool) Sizes {
	if quick {
		return Sizes{Quick: true, APIDuration: "3s", APIConcurrency: 32, BenchTime: "300ms", PublisherEvent: 200,
			WorkerSales: 60, WorkerInMem: "5000x", ReplayEvents: 300,
			PipelineRate: 1, PipelineDur: "20s", PipelineRamp: "1,2,4", PipelineStep: "10s"}
	}
	return Sizes{APIDuration: "10s", APIConcurrency: 32, BenchTime: "2s", PublisherEvent: 1000,
		WorkerSales: 300, WorkerInMem: "20000x", ReplayEvents: 2000,
		PipelineRate: 1, PipelineDur: "60s", PipelineRamp: "1,2,3,4,6", PipelineStep: "20s", PipelineFail: true}
}

// Catalog is every benchmark of the repository, in the order they run:
// the cheap, in-process ones first, the local stack last.
func Catalog(s Sizes) []Bench {
	fmtF := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	pipeline := []string{"bin/pipelinebench", "-rate", fmtF(s.PipelineRate), "-duration", s.PipelineDur,
		"-ramp", s.PipelineRamp, "-step", s.PipelineStep, "-json", "{json}"}
	if !s.PipelineFail {
		pipeline = append(pipeline, "-skip-failover")
	}
	return []Bench{
		{Name: "lambda", Title: "Lambda package (task build:lambda)", Kind: KindLambda, Dir: "functions/stream-publisher",
			Args:    []string{"go", "run", "./cmd/buildlambda", "-out", "{stem}.zip"},
			Timeout: 10 * time.Minute},
		{Name: "api", Title: "API under load vs a minimal Fiber handler (task bench:api)", Kind: KindAPIBench, Dir: ".",
			Prepare: [][]string{{"go", "build", "-o", "bin/apibench", "./services/sales-api/cmd/apibench"}},
			Args: []string{"bin/apibench", "compare", "-duration", s.APIDuration, "-concurrency", strconv.Itoa(s.APIConcurrency),
				"-runs", "1", "-json", "{json}"},
			Timeout: 10 * time.Minute},
		{Name: "api-handlers", Title: "API handlers without the network (task bench:api:go)", Kind: KindGoBench, Dir: ".",
			Args:    []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime", s.BenchTime, "-count", "1", "./services/sales-api/internal/httpapi/"},
			Timeout: 10 * time.Minute},
		{Name: "aws-api", Title: "AWS calls per API operation (services/sales-api/main_test.go)", Kind: KindTestLog, Dir: ".",
			Args:    []string{"go", "test", "-count=1", "-run", "^TestAWSRequestsPerOperationAgainstEmulator$", "-v", "./services/sales-api/"},
			Timeout: 10 * time.Minute},
		{Name: "aws-worker", Title: "AWS calls per processed sale in the worker (TestRequestsPerProcessedSaleStayUnder3point5)", Kind: KindTestLog, Dir: ".",
			Args:    []string{"go", "test", "-count=1", "-run", "^TestRequestsPerProcessedSaleStayUnder3point5$", "-v", "./services/sales-worker/internal/worker/"},
			Timeout: 10 * time.Minute},
		{Name: "publisher", Title: "Stream publisher handler and init (task bench:publisher)", Kind: KindGoBench, Dir: "functions/stream-publisher",
			Args:    []string{"go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", s.BenchTime, "-count", "1", "./internal/publisher/", "."},
			Timeout: 10 * time.Minute},
		{Name: "publisher-latency", Title: "Append → SQS latency through the runner on moto (task bench:publisher)", Kind: KindGoBench, Dir: "functions/stream-publisher",
			Env:     []string{"BENCH_EVENTS=" + strconv.Itoa(s.PublisherEvent)},
			Args:    []string{"go", "test", "-run", "^$", "-bench", "AppendToSQSLatency", "-benchtime", "1x", "-count", "1", "-timeout", "30m", "./cmd/stream-runner/"},
			Timeout: 35 * time.Minute},
		{Name: "worker-cost", Title: "Worker's own cost per sale on fakes (task bench:worker)", Kind: KindGoBench, Dir: "services/sales-worker",
			Args:    []string{"go", "test", "-run", "^$", "-bench", "^BenchmarkPollInMemory$", "-benchtime", s.WorkerInMem, "-count", "1", "./internal/consumer/"},
			Timeout: 10 * time.Minute},
		{Name: "worker-drain", Title: "Worker drain on moto with 1, 2, 4 consumers (task bench:worker)", Kind: KindGoBench, Dir: "services/sales-worker",
			Env:     []string{"BENCH_SALES=" + strconv.Itoa(s.WorkerSales)},
			Args:    []string{"go", "test", "-run", "^$", "-bench", "^BenchmarkDrain$", "-benchtime", "1x", "-count", "1", "-timeout", "60m", "."},
			Timeout: 65 * time.Minute},
		{Name: "replay", Title: "Replay throughput on moto (task bench:replay)", Kind: KindGoBench, Dir: "cmd/salesctl",
			Env:     []string{"BENCH_EVENTS=" + strconv.Itoa(s.ReplayEvents)},
			Args:    []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime", "1x", "-count", "1", "-timeout", "30m", "./internal/replay/"},
			Timeout: 35 * time.Minute},
		{Name: "pipeline", Title: "Whole pipeline on a fresh local stack (task bench:pipeline)", Kind: KindPipeline, Dir: ".",
			Prepare: [][]string{{"go", "build", "-o", "bin/pipelinebench", "./dev/cmd/pipelinebench"}},
			Args:    pipeline,
			Timeout: 45 * time.Minute},
	}
}
