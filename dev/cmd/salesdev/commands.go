package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/salesplatform/dev/devstack"
	"github.com/salesplatform/libs/sales/awsconfig"
)

type common struct {
	dir string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", "", "state directory (default <repo>/.local)")
}

func (c *common) resolve() error {
	if c.dir != "" {
		abs, err := filepath.Abs(c.dir)
		c.dir = abs
		return err
	}
	root, err := devstack.FindRoot()
	if err != nil {
		return err
	}
	c.dir = filepath.Join(root, ".local")
	return nil
}

func supervisorAlive(st devstack.State) bool {
	return devstack.Alive(st.SupervisorPID, "salesdev", "supervise")
}

func cmdUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var c common
	c.register(fs)
	timeout := fs.Duration("timeout", 8*time.Minute, "give up waiting after this long (the Terraform apply of the local environment takes minutes)")
	motoPort := fs.Int("moto-port", envInt("MOTO_PORT", 4566), "moto_server port ($MOTO_PORT)")
	lag := fs.Duration("replication-lag", 200*time.Millisecond, "the replication stand-in's lag")
	takeover := fs.Duration("takeover-delay", 20*time.Second, "workers' TAKEOVER_DELAY")
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	start := time.Now()
	if st, err := devstack.ReadState(c.dir); err == nil && supervisorAlive(st) {
		st.Refresh()
		var dead []string
		for _, p := range st.Processes {
			if !p.Running {
				dead = append(dead, p.Name)
			}
		}
		if len(dead) == 0 && !st.ReadyAt.IsZero() {
			fmt.Printf("already up (supervisor pid %d, since %s)\n", st.SupervisorPID, st.ReadyAt.Format(time.TimeOnly))
			printReady(st, 0)
			return nil
		}
		if len(dead) > 0 {
			fmt.Printf("restarting %s\n", strings.Join(dead, ", "))
			if err := syscall.Kill(st.SupervisorPID, syscall.SIGHUP); err != nil {
				return err
			}
		}
		return waitReady(ctx, c.dir, st.SupervisorPID, time.Now(), start, *timeout, 0)
	}
	root, err := devstack.FindRoot()
	if err != nil {
		return err
	}
	logDir := filepath.Join(c.dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(devstack.StatePath(c.dir))
	logPath := filepath.Join(logDir, "salesdev.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	sup := exec.Command(exe, "supervise", "-dir", c.dir, "-root", root, "-moto-port", strconv.Itoa(*motoPort),
		"-replication-lag", lag.String(), "-takeover-delay", takeover.String())
	sup.Stdout, sup.Stderr = logf, logf
	sup.Stdin = nil
	sup.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := sup.Start(); err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	pid := sup.Process.Pid
	_ = sup.Process.Release()
	fmt.Printf("starting the local stack (supervisor pid %d, log %s)\n", pid, logPath)
	return waitReady(ctx, c.dir, pid, start, start, *timeout, 0)
}

// waitReady follows the supervisor's log, printing its progress lines,
// until the state file says ready, the supervisor exits, or timeout.
func waitReady(ctx context.Context, dir string, pid int, since, start time.Time, timeout time.Duration, offset int64) error {
	logPath := filepath.Join(dir, "logs", "salesdev.log")
	deadline := time.Now().Add(timeout)
	for {
		offset = printNew(logPath, offset)
		st, err := devstack.ReadState(dir)
		if err == nil && st.SupervisorPID == pid && !st.ReadyAt.IsZero() && !st.ReadyAt.Before(since) {
			st.Refresh()
			printReady(st, time.Since(start))
			return nil
		}
		if err == nil && st.Error != "" {
			return fmt.Errorf("the stack did not start: %s (see %s)", st.Error, logPath)
		}
		if !devstack.Alive(pid, "salesdev") {
			printNew(logPath, offset)
			return fmt.Errorf("the supervisor exited before the stack was ready (see %s)", logPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s (the supervisor goes on; see %s, or run salesdev down)", timeout, logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// printNew prints the progress lines appended to the supervisor's log
// since offset and returns the new offset.
func printNew(path string, offset int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return offset // an incomplete line is printed next time
		}
		offset += int64(len(line))
		if strings.HasPrefix(line, "[") {
			fmt.Print("  " + line)
		}
	}
}

func printReady(st devstack.State, took time.Duration) {
	e := st.Endpoints
	fmt.Println()
	fmt.Printf("  edge (Global Accelerator stand-in)  %s      admin %s/dials\n", e.Edge, e.EdgeAdmin)
	for _, r := range st.Regions {
		fmt.Printf("  sales-api %-10s               %s   worker %s   publisher %s\n", r, e.API[r], e.Worker[r], e.Runner[r])
	}
	fmt.Printf("  replication stand-in                %s/status\n", e.Replication)
	fmt.Printf("  moto (local AWS)                    %s   stack description %s\n", e.Moto, filepath.Join(st.Dir, "infra", "outputs.json"))
	fmt.Println()
	fmt.Printf("  try: curl -X POST %s/sales -d '%s'\n", e.Edge, devstack.SeedBody)
	fmt.Println()
	if took > 0 {
		fmt.Printf("READY in %.1fs: %s\n", took.Seconds(), st.Describe())
	} else {
		fmt.Printf("READY: %s\n", st.Describe())
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func cmdSupervise(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("supervise", flag.ContinueOnError)
	var c common
	c.register(fs)
	root := fs.String("root", "", "repository root")
	motoPort := fs.Int("moto-port", 4566, "moto_server port")
	lag := fs.Duration("replication-lag", 200*time.Millisecond, "replication lag")
	takeover := fs.Duration("takeover-delay", 20*time.Second, "TAKEOVER_DELAY")
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	exe, _ := os.Executable()
	st := devstack.State{SupervisorPID: os.Getpid(), Executable: exe, StartedAt: time.Now(), Dir: c.dir}
	_ = st.Save()
	opts := devstack.Options{Root: *root, Dir: c.dir, Progress: os.Stdout, ReplicationLag: *lag, TakeoverDelay: *takeover}
	opts.Ports = devstack.DefaultPorts(devstack.DefaultRegions)
	opts.Ports.Moto = *motoPort
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		st.Error = err.Error()
		_ = st.Save()
		return err
	}
	save := func(ready bool) {
		snap := s.Snapshot()
		snap.SupervisorPID, snap.Executable, snap.StartedAt = st.SupervisorPID, exe, st.StartedAt
		if ready {
			snap.ReadyAt = time.Now()
		}
		if err := snap.Save(); err != nil {
			fmt.Println("[     ] could not save the state:", err)
		}
	}
	save(true)
	fmt.Printf("[%5.1fs] READY\n", time.Since(st.StartedAt).Seconds())
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	known := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			fmt.Println("[     ] stopping (SIGTERM): edge, APIs, workers (drain), runners, stand-in, moto")
			s.Stop(context.Background())
			_ = os.Remove(devstack.StatePath(c.dir))
			fmt.Println("[     ] stopped")
			return nil
		case <-hup:
			fmt.Println("[     ] SIGHUP: restarting dead processes")
			names, err := s.RestartDead(ctx)
			if err != nil {
				fmt.Println("[     ] restart failed:", err)
			}
			for _, n := range names {
				known[n] = false
			}
			save(err == nil)
		case <-tick.C:
			for _, p := range s.Processes() {
				if !p.Running() && !known[p.Name] {
					known[p.Name] = true
					fmt.Printf("[     ] %s exited: %v (salesdev up restarts it)\n", p.Name, p.ExitError())
					save(false)
				}
			}
		}
	}
}

func cmdDown(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	st, err := devstack.ReadState(c.dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("nothing to stop (no state file; the stack is not running)")
		return nil
	}
	if err != nil {
		return err
	}
	if supervisorAlive(st) {
		fmt.Printf("stopping the supervisor (pid %d) and everything it started\n", st.SupervisorPID)
		_ = syscall.Kill(st.SupervisorPID, syscall.SIGTERM)
		deadline := time.Now().Add(60 * time.Second)
		for supervisorAlive(st) && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Whatever is left (a supervisor killed with -9 takes its children
	// along through the parent-death signal; this is the backstop): only
	// the recorded pids, and only if they still run our binaries.
	left := 0
	for _, p := range st.Processes {
		if devstack.Alive(p.PID, strings.Split(p.Name, "/")[0]) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			left++
		}
	}
	if devstack.Alive(st.MotoPID, "moto_server") {
		_ = syscall.Kill(st.MotoPID, syscall.SIGKILL)
		left++
	}
	if devstack.Alive(st.SupervisorPID, "salesdev", "supervise") {
		_ = syscall.Kill(st.SupervisorPID, syscall.SIGKILL)
		left++
	}
	_ = os.Remove(devstack.StatePath(c.dir))
	if left > 0 {
		fmt.Printf("killed %d leftover process(es) by pid\n", left)
	}
	fmt.Printf("stopped; logs kept in %s\n", filepath.Join(c.dir, "logs"))
	return nil
}

func loadRunning(c *common) (devstack.State, devstack.Outputs, error) {
	st, err := devstack.ReadState(c.dir)
	if err != nil {
		return st, devstack.Outputs{}, fmt.Errorf("the local stack is not running (no %s); start it with: task up", devstack.StatePath(c.dir))
	}
	if !supervisorAlive(st) {
		return st, devstack.Outputs{}, errors.New("the local stack is not running (its supervisor is gone); start it with: task up")
	}
	st.Refresh()
	out, err := devstack.LoadOutputs(filepath.Join(c.dir, "infra", "outputs.json"))
	return st, out, err
}

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	st, out, err := loadRunning(&c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	clients, err := devstack.NewClients(ctx, st.Endpoints.Moto, out, awsconfig.Options{MaxAttempts: 2})
	if err != nil {
		return err
	}
	status := devstack.CollectStatus(ctx, clients, st.Endpoints, st.Processes)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(status)
	}
	fmt.Printf("local stack up since %s (supervisor pid %d)\n\n", st.ReadyAt.Format(time.DateTime), st.SupervisorPID)
	status.Print(os.Stdout)
	return nil
}

func cmdLogs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 20, "lines per log")
	follow := fs.Bool("f", false, "follow (until Ctrl-C)")
	var filter string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		filter, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(c.dir, "logs", "*.log"))
	sort.Strings(files)
	var picked []string
	for _, f := range files {
		if filter == "" || strings.HasPrefix(filepath.Base(f), strings.ReplaceAll(filter, "/", "-")) {
			picked = append(picked, f)
		}
	}
	if len(picked) == 0 {
		return fmt.Errorf("no log matches %q in %s", filter, filepath.Join(c.dir, "logs"))
	}
	offsets := map[string]int64{}
	for _, f := range picked {
		fmt.Printf("==> %s <==\n", f)
		lines, size := lastLines(f, *n)
		for _, l := range lines {
			fmt.Println(l)
		}
		offsets[f] = size
	}
	for *follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
		for _, f := range picked {
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			_, _ = fh.Seek(offsets[f], io.SeekStart)
			b, _ := io.ReadAll(fh)
			fh.Close()
			if len(b) > 0 {
				for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
					fmt.Printf("%s: %s\n", strings.TrimSuffix(filepath.Base(f), ".log"), l)
				}
				offsets[f] += int64(len(b))
			}
		}
	}
	return nil
}

func lastLines(path string, n int) ([]string, int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, int64(len(b))
}

func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c common
	c.register(fs)
	timeout := fs.Duration("timeout", 90*time.Second, "give up following after this long")
	body := fs.String("body", devstack.SeedBody, "the sale to post")
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	st, out, err := loadRunning(&c)
	if err != nil {
		return err
	}
	clients, err := devstack.NewClients(ctx, st.Endpoints.Moto, out, awsconfig.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("$ curl -X POST %s/sales -d '%s'\n", st.Endpoints.Edge, *body)
	tr := &devstack.Tracer{Clients: clients, Endpoints: st.Endpoints}
	res, err := tr.PostAndTrace(ctx, *body, *timeout)
	if res.Body != "" {
		fmt.Println(res.Body)
		fmt.Println()
	}
	res.Print(os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("\nthe sale reached both lakes; GET %s/sales/%s\n", st.Endpoints.Edge, res.SaleID)
	return nil
}

// cmdEnv prints KEY=VALUE lines that point the AWS SDK and salesctl at
// the running stack's emulator: env $(salesdev env) salesctl region get
func cmdEnv(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if err := c.resolve(); err != nil {
		return err
	}
	st, _, err := loadRunning(&c)
	if err != nil {
		return err
	}
	fmt.Printf("AWS_ENDPOINT_URL=%s\nAWS_ACCESS_KEY_ID=testing\nAWS_SECRET_ACCESS_KEY=testing\nAWS_EC2_METADATA_DISABLED=true\nSALESCTL_STACK=%s\n",
		st.Endpoints.Moto, filepath.Join(c.dir, "infra", "outputs.json"))
	return nil
}
