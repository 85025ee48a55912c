package main_test

// These tests run the worker binary itself, built with the faultinject tag
// so a test can make it SIGKILL itself, or stall, at a named point of the
// processing path. They prove what only a real process can: a crash at the
// worst moments loses nothing and duplicates nothing, SIGTERM drains
// without leaving a half-done claim, and bad configuration stops the start
// with one line.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/testing/motoserver"

	"github.com/salesplatform/services/sales-worker/internal/config"
	"github.com/salesplatform/services/sales-worker/internal/fault"
	"github.com/salesplatform/services/sales-worker/internal/stacktest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sales-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sales-worker")
	build := exec.Command(goTool(), "build", "-tags", "faultinject", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the worker with -tags faultinject:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	motoserver.Main(m)
}

const region = "us-east-1"

// goTool is the go command that runs these tests (on PATH, as task and CI
// put it).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// proc is a worker subprocess.
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	mu     sync.Mutex
	stderr bytes.Buffer
}

func spawn(t *testing.T, env []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(sc.Bytes())
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit, failing the test after timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("worker still running after %s; stderr:\n%s", timeout, p.log())
		return nil
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func testConfig(t *testing.T, s *stacktest.Stack) config.Config {
	t.Helper()
	cfg := s.Config()
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = port
	return cfg
}

func TestCrashMidwayIsProcessedExactlyOnceAfterTheLease(t *testing.T) {
	cases := []struct {
		point       string
		lakeWritten bool
	}{
		{fault.Claimed, false},    // killed before the lake write
		{fault.LakeWritten, true}, // killed after the lake write, before COMPLETED
		{fault.Completed, true},   // killed after COMPLETED, before the delete
	}
	for _, c := range cases {
		t.Run("killed at "+c.point, func(t *testing.T) {
			t.Parallel()
			s := stacktest.New(t, region, stacktest.Options{})
			e := s.Sale(t, region, time.Now())
			s.Send(t, stacktest.EventMessage(t, e))
			cfg := testConfig(t, s)
			cfg.Consumers = 1

			victim := spawn(t, append(s.Env(cfg), fault.EnvKill+"="+c.point))
			if err := victim.wait(t, 30*time.Second); !killedBySIGKILL(err) {
				t.Fatalf("worker exited with %v, want killed by SIGKILL at %s; stderr:\n%s", err, c.point, victim.log())
			}
			key, _ := lake.ObjectKey(e, 0)
			if _, ok := s.Lake(t)[key]; ok != c.lakeWritten {
				t.Fatalf("lake object present %v after a kill at %s, want %v", ok, c.point, c.lakeWritten)
			}
			rec := s.ClaimRecords(t)[e.EventID.String()]
			wantStatus := idempotency.StatusInProgress
			if c.point == fault.Completed {
				wantStatus = idempotency.StatusCompleted
			}
			if rec.Status != wantStatus {
				t.Fatalf("claim after the kill: %+v, want %s", rec, wantStatus)
			}
			if n := s.Total(t, s.QueueURL); n != 1 {
				t.Fatalf("%d messages queued after the kill, want the 1 undeleted message", n)
			}

			cfg.Port, _ = motoserver.FreePort()
			survivor := spawn(t, s.Env(cfg))
			stacktest.Eventually(t, 30*time.Second, func() (bool, string) {
				n := s.Total(t, s.QueueURL)
				return n == 0, fmt.Sprintf("%d messages still queued", n)
			})
			_ = survivor.cmd.Process.Signal(syscall.SIGTERM)
			if err := survivor.wait(t, cfg.StopTimeout+5*time.Second); err != nil {
				t.Fatalf("survivor exited with %v", err)
			}
			assertProcessedOnce(t, s, e)
			if c.point != fault.Completed && !strings.Contains(survivor.log(), "took over an abandoned claim") {
				t.Errorf("the survivor did not log a takeover:\n%s", survivor.log())
			}
		})
	}
}

func assertProcessedOnce(t *testing.T, s *stacktest.Stack, e domain.Envelope) {
	t.Helper()
	key, _ := lake.ObjectKey(e, 0)
	want, _ := lake.Content(e)
	if o, ok := s.Lake(t)[key]; !ok || o.Versions != 1 || string(o.Body) != string(want) {
		t.Fatalf("lake object %s: %+v (present %v); want one version of %q", key, o, ok, want)
	}
	if ps := s.Processed(t, e.SaleID); len(ps) != 1 {
		t.Fatalf("%d SaleProcessed for sale %s, want 1", len(ps), e.SaleID)
	}
	if rec := s.ClaimRecords(t)[e.EventID.String()]; rec.Status != idempotency.StatusCompleted {
		t.Fatalf("claim %+v, want COMPLETED", rec)
	}
	if n := s.Total(t, s.DLQURL); n != 0 {
		t.Fatalf("%d messages in the DLQ", n)
	}
}

func TestSIGTERMDuringABatchLeavesNoHalfDoneClaim(t *testing.T) {
	t.Parallel()
	s := stacktest.New(t, region, stacktest.Options{})
	const sales = 6
	var events []domain.Envelope
	var msgs []stacktest.Message
	for range sales {
		e := s.Sale(t, region, time.Now())
		events = append(events, e)
		msgs = append(msgs, stacktest.EventMessage(t, e))
	}
	s.Send(t, msgs...)
	cfg := testConfig(t, s)
	cfg.Consumers = 1
	cfg.StopTimeout = 3 * time.Second
	cfg.VisibilityTimeout, cfg.Lease = 20*time.Second, 30*time.Second // a leftover claim would block for 30 s

	// Every message stalls after its lake write, before completion: the
	// worst moment to be told to stop.
	w := spawn(t, append(s.Env(cfg), fault.EnvDelay+"="+fault.LakeWritten+"=60s"))
	stacktest.Eventually(t, 30*time.Second, func() (bool, string) {
		held := 0
		for _, r := range s.ClaimRecords(t) {
			if r.Status == idempotency.StatusInProgress {
				held++
			}
		}
		return held == sales, fmt.Sprintf("%d of %d claims held", held, sales)
	})
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	if err := w.wait(t, cfg.StopTimeout+5*time.Second); err != nil {
		t.Fatalf("drained worker exited with %v, want 0; stderr:\n%s", err, w.log())
	}
	t.Logf("drain took %s (stop timeout %s)", time.Since(signalled).Round(10*time.Millisecond), cfg.StopTimeout)
	if claims := s.ClaimRecords(t); len(claims) != 0 {
		t.Fatalf("%d claims left behind by the drain: %v", len(claims), stacktest.Keys(claims))
	}
	visible, inFlight := s.Depth(t, s.QueueURL)
	if visible != sales || inFlight != 0 {
		t.Fatalf("after the drain %d visible, %d in flight; want all %d given back at once", visible, inFlight, sales)
	}
	if !strings.Contains(w.log(), `"msg":"drained"`) {
		t.Errorf("no drain logged:\n%s", w.log())
	}

	cfg.Port, _ = motoserver.FreePort()
	next := spawn(t, s.Env(cfg))
	stacktest.Eventually(t, 30*time.Second, func() (bool, string) {
		n := s.Total(t, s.QueueURL)
		return n == 0, fmt.Sprintf("%d messages still queued", n)
	})
	_ = next.cmd.Process.Signal(syscall.SIGTERM)
	if err := next.wait(t, cfg.StopTimeout+5*time.Second); err != nil {
		t.Fatalf("second worker exited with %v", err)
	}
	for _, e := range events {
		assertProcessedOnce(t, s, e)
	}
}

func TestBadConfigurationStopsTheStartWithOneLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"nothing set", nil, "SQS_SALES_QUEUE is required"},
		{"queue not a URL", []string{"AWS_REGION=us-east-1", "SQS_SALES_QUEUE=sales-processing", "SSM_PARAMETER_STORE_STATE=/sales/region-state",
			"DYNAMO_SALES_TABLE=sales-events", "DYNAMO_SALES_IDEMPOTENCY_TABLE=sales-idempotency", "S3_SALES_BUCKET=lake"}, "SQS_SALES_QUEUE must be a queue URL"},
		{"lease not above visibility", []string{"AWS_REGION=us-east-1", "SQS_SALES_QUEUE=http://127.0.0.1:1/123/q", "SSM_PARAMETER_STORE_STATE=/s",
			"DYNAMO_SALES_TABLE=e", "DYNAMO_SALES_IDEMPOTENCY_TABLE=i", "S3_SALES_BUCKET=b", "VISIBILITY_TIMEOUT=30", "IDEMPOTENCY_LEASE=30s"}, "IDEMPOTENCY_LEASE (30s) must exceed VISIBILITY_TIMEOUT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.CommandContext(context.Background(), binary)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Fatalf("stderr %q, want one line naming %q", stderr.String(), c.want)
			}
		})
	}
}
