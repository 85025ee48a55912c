package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/salesplatform/libs/sales/atomicfile"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// Component names.
const (
	API         = "sales-api"
	Worker      = "sales-worker"
	Runner      = "stream-runner"
	Replication = "replication-standin"
	Edge        = "local-edge"
	Salesctl    = "salesctl"
)

// localKeySecret keys the local stack's sale ids derived from
// Idempotency-Keys (development only; production reads its secret from
// SSM).
const localKeySecret = "local-stack-idempotency-keys-only" // #nosec G101 -- development-only, not a credential

// packages are the binaries the stack builds, by component.
var packages = map[string]string{
	API:         "github.com/salesplatform/services/sales-api",
	Worker:      "github.com/salesplatform/services/sales-worker",
	Runner:      "github.com/salesplatform/functions/stream-publisher/cmd/stream-runner",
	Replication: "github.com/salesplatform/dev/cmd/replication-standin",
	Edge:        "github.com/salesplatform/dev/cmd/local-edge",
	Salesctl:    "github.com/salesplatform/cmd/salesctl",
}

// Stack is a running local stack.
type Stack struct {
	opts    Options
	moto    *motoserver.Server
	outputs Outputs
	procs   []*Process
	byName  map[string]*Process
	start   time.Time
}

// Endpoints are the stack's URLs.
type Endpoints struct {
	Moto        string            `json:"moto"`
	Edge        string            `json:"edge"`
	EdgeAdmin   string            `json:"edge_admin"`
	Replication string            `json:"replication"`
	API         map[string]string `json:"api"`
	Worker      map[string]string `json:"worker"`
	Runner      map[string]string `json:"runner"`
}

func loopback(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// Endpoints returns the URLs of everything.
func (s *Stack) Endpoints() Endpoints { return endpointsOf(s.opts.Ports, s.opts.Regions) }

func endpointsOf(p Ports, regions []string) Endpoints {
	e := Endpoints{Moto: loopback(p.Moto), Edge: loopback(p.Edge), EdgeAdmin: loopback(p.EdgeAdmin), Replication: loopback(p.Replication),
		API: map[string]string{}, Worker: map[string]string{}, Runner: map[string]string{}}
	for _, r := range regions {
		e.API[r], e.Worker[r], e.Runner[r] = loopback(p.API[r]), loopback(p.Worker[r]), loopback(p.Runner[r])
	}
	return e
}

// Outputs is the stack description (resources plus the stand-ins' URLs).
func (s *Stack) Outputs() Outputs { return s.outputs }

// Options are the options the stack runs with (defaults filled in).
func (s *Stack) Options() Options { return s.opts }

// Regions lists the regions, primary first.
func (s *Stack) Regions() []string { return s.opts.Regions }

// Bin is the path of a built binary.
func (s *Stack) Bin(component string) string { return filepath.Join(s.opts.BinDir, component) }

// MotoEnv is the environment a process needs to reach the emulator.
func (s *Stack) MotoEnv() []string { return s.moto.Env() }

// AWSConfig is a config for region against the stack's emulator, through
// the project's one loader.
func (s *Stack) AWSConfig(ctx context.Context, region string, o awsconfig.Options) (aws.Config, error) {
	return s.moto.Config(ctx, region, o)
}

func (s *Stack) progress(format string, args ...any) {
	fmt.Fprintf(s.opts.Progress, "[%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// Start brings the whole stack up and returns once every process is ready.
// Its processes die with the calling process; call Stop to end them
// cleanly.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s := &Stack{opts: opts, byName: map[string]*Process{}, start: time.Now()}
	for _, d := range []string{opts.Dir, opts.logDir(), opts.pidDir(), opts.checkpointDir(), opts.BinDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// A fresh emulator is a fresh environment: checkpoints of streams that
	// no longer exist only clutter.
	_ = os.RemoveAll(opts.checkpointDir())

	buildErr := make(chan error, 1)
	if opts.SkipBuild {
		buildErr <- nil
	} else {
		go func() { buildErr <- s.build(ctx) }()
	}

	s.progress("starting moto_server on 127.0.0.1:%d", opts.Ports.Moto)
	moto, err := motoserver.Start(ctx, motoserver.Options{Port: opts.Ports.Moto, LogFile: filepath.Join(opts.logDir(), "moto.log")})
	if err != nil {
		return nil, errors.Join(err, <-buildErr)
	}
	s.moto = moto
	ok := false
	defer func() {
		if !ok {
			s.Stop(context.Background())
		}
	}()
	if moto.URL != loopback(opts.Ports.Moto) {
		s.progress("using the emulator at %s (MOTO_ENDPOINT)", moto.URL)
	}
	_ = atomicfile.Write(filepath.Join(opts.pidDir(), "moto.pid"), []byte(motoPID(moto)+"\n"))

	s.progress("creating resources: %s (log: %s)", opts.Provisioner.Name(), filepath.Join(opts.logDir(), "infra.log"))
	infraLog, err := os.OpenFile(filepath.Join(opts.logDir(), "infra.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	out, err := opts.Provisioner.Provision(ctx, ProvisionRequest{
		Root: opts.Root, Dir: opts.Dir, Endpoint: moto.URL, Regions: opts.Regions, OutputsPath: opts.OutputsPath(), Log: infraLog,
	})
	infraLog.Close()
	if err != nil {
		return nil, fmt.Errorf("create resources: %w", err)
	}
	if err := out.Validate(opts.Regions); err != nil {
		return nil, err
	}
	out.EdgeURL = loopback(opts.Ports.EdgeAdmin)
	out.ReplicationURL = loopback(opts.Ports.Replication)
	if err := out.Save(opts.OutputsPath()); err != nil {
		return nil, err
	}
	s.outputs = out
	s.progress("resources ready; stack description in %s", opts.OutputsPath())

	// The local stack starts ACTIVE/ACTIVE whatever the parameters were
	// created with.
	for _, r := range opts.Regions {
		if err := s.setState(ctx, r, regionstate.Active); err != nil {
			return nil, err
		}
	}

	if err := <-buildErr; err != nil {
		return nil, err
	}
	s.define()
	if err := s.overrideEndpoints(); err != nil {
		return nil, err
	}
	for _, p := range s.procs {
		if err := p.Start(); err != nil {
			return nil, err
		}
	}
	s.progress("started %d processes; waiting until they are ready", len(s.procs))
	if err := s.WaitReady(ctx, opts.ReadyTimeout, s.procs...); err != nil {
		return nil, err
	}
	ok = true
	s.progress("ready")
	return s, nil
}

func motoPID(m *motoserver.Server) string {
	if pid := m.PID(); pid != 0 {
		return strconv.Itoa(pid)
	}
	return "0"
}

func (s *Stack) build(ctx context.Context) error {
	names := make([]string, 0, len(packages))
	for n := range packages {
		names = append(names, n)
	}
	sort.Strings(names)
	args := []string{"build", "-o", s.opts.BinDir + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, packages[n])
	}
	s.progress("building %s into %s", strings.Join(names, ", "), s.opts.BinDir)
	t := time.Now()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.opts.Root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(s.opts.Root, "go.work"), "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	s.progress("built in %.1fs", time.Since(t).Seconds())
	return nil
}

func (s *Stack) setState(ctx context.Context, region string, st regionstate.State) error {
	cfg, err := s.AWSConfig(ctx, region, awsconfig.Options{})
	if err != nil {
		return err
	}
	return regionstate.SSM{Client: ssm.NewFromConfig(cfg), Name: s.outputs.Regions[region].RegionStateParameter}.Set(ctx, st)
}

// define creates the process table from the options and outputs.
func (s *Stack) define() {
	o := s.opts
	base := append(os.Environ(), s.moto.Env()...)
	base = append(base, "LOG_LEVEL=info")
	ttl := o.StateTTL.String()
	add := func(p *Process) {
		slug := strings.ReplaceAll(p.Name, "/", "-")
		p.LogPath = filepath.Join(o.logDir(), slug+".log")
		p.PIDPath = filepath.Join(o.pidDir(), slug+".pid")
		s.procs = append(s.procs, p)
		s.byName[p.Name] = p
	}
	add(&Process{
		Name: Replication, Binary: s.Bin(Replication),
		Args: []string{"-outputs", o.OutputsPath(), "-listen", "127.0.0.1:" + strconv.Itoa(o.Ports.Replication),
			"-lag", o.ReplicationLag.String(), "-poll", "500ms", "-checkpoint-dir", filepath.Join(o.checkpointDir(), "replication")},
		Env:      base,
		ReadyURL: loopback(o.Ports.Replication) + "/readiness", MetricsURL: loopback(o.Ports.Replication) + "/metrics",
	})
	for _, r := range o.Regions {
		ro := s.outputs.Regions[r]
		env := func(kv ...string) []string {
			e := append(append([]string{}, base...), "AWS_REGION="+r, "AWS_DEFAULT_REGION="+r)
			e = append(e, kv...)
			return append(e, o.ExtraEnv...)
		}
		add(&Process{
			Name: Runner + "/" + r, Region: r, Binary: s.Bin(Runner),
			Env: env("DYNAMO_SALES_TABLE="+ro.EventTable, "SNS_SALES_PROCESSING_TOPIC="+ro.TopicARN,
				"METRICS_HOST=127.0.0.1", "METRICS_PORT="+strconv.Itoa(o.Ports.Runner[r]),
				"CHECKPOINT_DIR="+filepath.Join(o.checkpointDir(), "publisher", r), "STREAM_POLL_INTERVAL=500ms"),
			ReadyURL: loopback(o.Ports.Runner[r]) + "/readiness", MetricsURL: loopback(o.Ports.Runner[r]) + "/metrics",
		})
		add(&Process{
			Name: Worker + "/" + r, Region: r, Binary: s.Bin(Worker),
			Env: env("SQS_SALES_QUEUE="+ro.ProcessingQueueURL, "SQS_SALES_DLQ="+ro.ProcessingDLQURL,
				"SSM_PARAMETER_STORE_STATE="+ro.RegionStateParameter, "DYNAMO_SALES_TABLE="+ro.EventTable,
				"DYNAMO_SALES_IDEMPOTENCY_TABLE="+ro.IdempotencyTable, "S3_SALES_BUCKET="+ro.LakeBucket,
				"HTTP_HOST=127.0.0.1", "PORT="+strconv.Itoa(o.Ports.Worker[r]),
				"REGION_STATE_TTL="+ttl, "TAKEOVER_DELAY="+o.TakeoverDelay.String(),
				"RECEIVE_WAIT_TIME=2s", "STOP_TIMEOUT=10s", "CONSUMER_THREADS=2"),
			ReadyURL: loopback(o.Ports.Worker[r]) + "/readiness", MetricsURL: loopback(o.Ports.Worker[r]) + "/metrics",
		})
		add(&Process{
			Name: API + "/" + r, Region: r, Binary: s.Bin(API),
			Env: env("DYNAMO_SALES_TABLE="+ro.EventTable, "SSM_PARAMETER_STORE_STATE="+ro.RegionStateParameter,
				"HTTP_HOST=127.0.0.1", "PORT="+strconv.Itoa(o.Ports.API[r]),
				"REGION_STATE_TTL="+ttl, "ACCESS_LOG=false", "SHUTDOWN_TIMEOUT=5s",
				// Open, as the original API (there is no gateway to
				// authenticate callers locally: the API says so at start),
				// but with the keyed sale ids of production: one secret
				// shared by both regions, development-only.
				"AUTH_MODE=none", "IDEMPOTENCY_KEY_SECRET="+localKeySecret),
			ReadyURL: loopback(o.Ports.API[r]) + "/healthcheck", MetricsURL: loopback(o.Ports.API[r]) + "/metrics",
		})
	}
	args := []string{"-listen", "127.0.0.1:" + strconv.Itoa(o.Ports.Edge), "-admin", "127.0.0.1:" + strconv.Itoa(o.Ports.EdgeAdmin),
		"-state", filepath.Join(o.Dir, "edge-dials.json")}
	for _, r := range o.Regions {
		args = append(args, "-upstream", r+"="+loopback(o.Ports.API[r]))
	}
	_ = os.Remove(filepath.Join(o.Dir, "edge-dials.json")) // a fresh stack is ACTIVE/ACTIVE: every dial at 100
	add(&Process{Name: Edge, Binary: s.Bin(Edge), Args: args, Env: base,
		ReadyURL: loopback(o.Ports.EdgeAdmin) + "/healthcheck", MetricsURL: loopback(o.Ports.EdgeAdmin) + "/metrics"})
}

// Processes lists the stack's processes in start order.
func (s *Stack) Processes() []*Process { return s.procs }

// Process returns one process by name ("sales-api/us-east-1").
func (s *Stack) Process(name string) *Process { return s.byName[name] }

// RegionProcesses are the API, runner and worker of a region.
func (s *Stack) RegionProcesses(region string) []*Process {
	var out []*Process
	for _, p := range s.procs {
		if p.Region == region {
			out = append(out, p)
		}
	}
	return out
}

// WaitReady polls the processes' readiness until all answer or timeout,
// printing what it still waits for every few seconds.
func (s *Stack) WaitReady(ctx context.Context, timeout time.Duration, procs ...*Process) error {
	deadline := time.Now().Add(timeout)
	lastReport := time.Now()
	for {
		var waiting []string
		for _, p := range procs {
			if err := p.Ready(ctx); err != nil {
				if !p.Running() {
					return fmt.Errorf("%s stopped during start: %v\n%s", p.Name, err, tailFile(p.LogPath, 15))
				}
				waiting = append(waiting, p.Name+" ("+err.Error()+")")
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %s", timeout, strings.Join(waiting, "; "))
		}
		if time.Since(lastReport) > 3*time.Second {
			s.progress("waiting for %s", strings.Join(waiting, ", "))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// KillRegion SIGKILLs every process of a region (API, runner, worker), as
// a region outage would, and returns their names.
func (s *Stack) KillRegion(region string) []string {
	var killed []string
	for _, p := range s.RegionProcesses(region) {
		if p.Running() {
			p.Kill()
			killed = append(killed, p.Name)
		}
	}
	return killed
}

// RestartDead starts every process that is not running and waits for it.
func (s *Stack) RestartDead(ctx context.Context) ([]string, error) {
	var started []*Process
	var names []string
	for _, p := range s.procs {
		if !p.Running() {
			if err := p.Start(); err != nil {
				return names, err
			}
			started = append(started, p)
			names = append(names, p.Name)
		}
	}
	if len(started) > 0 {
		s.progress("restarted %s", strings.Join(names, ", "))
	}
	return names, s.WaitReady(ctx, s.opts.ReadyTimeout, started...)
}

// Stop ends every process (edge and APIs first, moto last), each with
// SIGTERM and a grace period, so workers drain and checkpoints are saved.
func (s *Stack) Stop(ctx context.Context) {
	order := []string{Edge, API, Worker, Runner, Replication}
	for _, comp := range order {
		var wg sync.WaitGroup
		for _, p := range s.procs {
			if p.Name == comp || strings.HasPrefix(p.Name, comp+"/") {
				wg.Go(func() { p.Stop(15 * time.Second) })
			}
		}
		wg.Wait()
	}
	if s.moto != nil {
		s.moto.Stop()
		_ = os.Remove(filepath.Join(s.opts.pidDir(), "moto.pid"))
	}
}

func tailFile(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, _ := f.Stat()
	off := max(0, st.Size()-8192)
	_, _ = f.Seek(off, io.SeekStart)
	b, _ := io.ReadAll(f)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// RestartProcess stops one process (SIGTERM, so a worker drains) and
// starts it again with env added to its environment (later values win),
// then waits until it is ready. Tests use it to change a setting such as a
// worker's TAKEOVER_DELAY, as an operator would redeploy with it.
func (s *Stack) RestartProcess(ctx context.Context, name string, env ...string) error {
	p := s.byName[name]
	if p == nil {
		return fmt.Errorf("no process %q", name)
	}
	p.Stop(20 * time.Second)
	p.Env = append(p.Env, env...)
	if err := p.Start(); err != nil {
		return err
	}
	return s.WaitReady(ctx, s.opts.ReadyTimeout, p)
}
