package main_test

// BenchmarkDrain is the worker's load driver (task bench:worker): it queues
// BENCH_SALES sales (default 300) in a fresh emulator, starts the
// production worker binary with 1, 2 or 4 consumers, and measures how long
// the queue takes to drain, the AWS requests per processed sale and the
// mean latency of each call (from the worker's own /metrics), the worker's
// peak RSS and CPU per sale, and the emulator's RSS. Run it with
// -benchtime 1x: one drain is one sample.
//
// Why 300 and not 1,000: moto 5.2.1 deep-copies every table a
// TransactWriteItems touches (stream records included) to be able to roll
// back, so each commit costs time and memory in proportion to everything
// written before it and a drain is quadratic in its depth. At 300 sales a
// commit already averages over a second and moto grows past 1 GiB; a
// 1,000-sale drain ran for over 17 minutes and took moto past 11 GiB
// before it was stopped (docs/benchmarks/sales-worker.md).

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/testing/motoserver"

	"github.com/salesplatform/services/sales-worker/internal/stacktest"
)

// benchSales is the queue depth each drain starts from.
var benchSales = envInt("BENCH_SALES", 300)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

var (
	prodOnce   sync.Once
	prodBinary string
	prodErr    error
)

// productionBinary builds the worker as it ships (no fault injection).
func productionBinary(b *testing.B) string {
	prodOnce.Do(func() {
		prodBinary = filepath.Join(b.TempDir(), "sales-worker")
		cmd := exec.Command(goTool(), "build", "-o", prodBinary, ".")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		prodErr = cmd.Run()
	})
	if prodErr != nil {
		b.Fatalf("build: %v", prodErr)
	}
	return prodBinary
}

func BenchmarkDrain(b *testing.B) {
	bin := productionBinary(b)
	for _, consumers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			for range b.N {
				drainOnce(b, bin, consumers)
			}
		})
	}
}

func drainOnce(b *testing.B, bin string, consumers int) {
	b.StopTimer()
	// A fresh emulator per drain: moto slows as it accumulates data, and
	// each sample must start from the same state.
	moto, err := motoserver.Start(context.Background(), motoserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer moto.Stop()
	s := stacktest.New(b, region, stacktest.Options{Moto: moto, NoStream: os.Getenv("BENCH_EVENT_STREAM") == "off"})
	queueSales(b, s, benchSales)

	cfg := s.Config()
	cfg.Consumers = consumers
	cfg.VisibilityTimeout, cfg.Lease = 60*time.Second, 90*time.Second
	cfg.ReceiveWait = 2 * time.Second
	cfg.RegionStateTTL = 5 * time.Second
	cfg.Port, _ = motoserver.FreePort()
	cmd := exec.Command(bin)
	cmd.Env = append(s.Env(cfg), "LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr

	b.StartTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var peakRSS, motoRSS int64
	deadline := start.Add(20 * time.Minute)
	for {
		peakRSS = max(peakRSS, rss(cmd.Process.Pid, "VmRSS"))
		motoRSS = max(motoRSS, rss(moto.PID(), "VmRSS"))
		if s.Total(b, s.QueueURL) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("queue not drained after %s", time.Since(start))
		}
		time.Sleep(250 * time.Millisecond)
	}
	drain := time.Since(start)
	b.StopTimer()

	metrics := scrape(b, fmt.Sprintf("http://127.0.0.1:%d/metrics", cfg.Port))
	processed := metrics[`sales_worker_messages_processed_total{event_type="SaleCreated"}`]
	if int(processed) != benchSales {
		b.Fatalf("worker processed %v sales, want %d", processed, benchSales)
	}
	var requests, operations float64
	var breakdown []string
	for k, v := range metrics {
		switch {
		case strings.HasPrefix(k, "aws_requests_total{"):
			requests += v
			breakdown = append(breakdown, fmt.Sprintf("%s=%.0f", strings.TrimPrefix(k, "aws_requests_total"), v))
		case strings.HasPrefix(k, "aws_operations_total{"):
			operations += v
		}
	}
	sort.Strings(breakdown)
	b.Logf("consumers=%d: AWS requests by operation: %s", consumers, strings.Join(breakdown, " "))
	peakRSS = max(peakRSS, rss(cmd.Process.Pid, "VmHWM"))
	cpu := cpuTime(cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)

	b.ReportMetric(drain.Seconds(), "s/drain")
	b.ReportMetric(float64(benchSales)/drain.Seconds(), "sales/s")
	b.ReportMetric(requests/processed, "requests/sale")
	b.ReportMetric(operations/processed, "operations/sale")
	b.ReportMetric(float64(peakRSS)/1024, "MiB-peak-RSS")
	b.ReportMetric(float64(motoRSS)/1024, "MiB-moto-RSS")
	b.ReportMetric(float64(cpu.Microseconds())/1000/processed, "worker-CPU-ms/sale")
	// Mean latency of the calls on the path, as the worker saw them: on
	// moto they, not the worker, set the drain time.
	for _, op := range []struct{ service, name, unit string }{
		{"SQS", "ReceiveMessage", "ms/receive"}, {"DynamoDB", "PutItem", "ms/claim"},
		{"S3", "PutObject", "ms/lake-put"}, {"DynamoDB", "TransactWriteItems", "ms/commit"},
	} {
		labels := fmt.Sprintf(`{operation=%q,service=%q}`, op.name, op.service)
		if n := metrics["aws_operation_seconds_count"+labels]; n > 0 {
			b.ReportMetric(1000*metrics["aws_operation_seconds_sum"+labels]/n, op.unit)
		}
	}
	b.ReportMetric(0, "ns/op") // one drain per op: the ns figure says nothing
}

// queueSales appends n SaleCreated events to the event store and sends
// their messages, as the API and the publisher would have.
func queueSales(b *testing.B, s *stacktest.Stack, n int) {
	var msgs []stacktest.Message
	var writes []types.WriteRequest
	flush := func() {
		if len(writes) == 0 {
			return
		}
		out, err := s.DDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.EventsTable: writes}})
		if err != nil || len(out.UnprocessedItems) > 0 {
			b.Fatalf("seed events: %v (%d unprocessed)", err, len(out.UnprocessedItems))
		}
		writes = nil
	}
	for range n {
		ev, _ := domain.NewSaleCreated("O Pequeno Principe", 1400)
		e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, region, "bench", time.Now(), ev)
		if err != nil {
			b.Fatal(err)
		}
		item, err := esddb.EncodeItem(e)
		if err != nil {
			b.Fatal(err)
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(writes) == 25 {
			flush()
		}
		msgs = append(msgs, stacktest.EventMessage(b, e))
	}
	flush()
	s.Send(b, msgs...)
	if got := s.Total(b, s.QueueURL); got != n {
		b.Fatalf("queued %d, want %d", got, n)
	}
}

// rss reads a memory figure (kB) of a process from /proc.
func rss(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuTime is a process's user plus system CPU time so far, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count after its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// scrape reads a Prometheus text page into "name{labels}" → value.
func scrape(b *testing.B, url string) map[string]float64 {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
