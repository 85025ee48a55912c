package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is where and when a results directory was measured.
type Machine struct {
	Cores       int        `json:"cores"`
	CPU         string     `json:"cpu"`
	MemTotalKiB int64      `json:"mem_total_kib"`
	MemAvailKiB int64      `json:"mem_available_kib"`
	Go          string     `json:"go"`
	Arch        string     `json:"arch"` // uname -m
	Kernel      string     `json:"kernel"`
	Started     time.Time  `json:"started"`
	Finished    time.Time  `json:"finished,omitzero"`
	LoadStart   [3]float64 `json:"load_start"`
	LoadEnd     [3]float64 `json:"load_end,omitzero"`
	Quick       bool       `json:"quick"`
	Runs        int        `json:"runs"`
	Only        []string   `json:"only,omitempty"`
	// Reruns: benches run again into this directory later (each run's
	// meta has its own date and load).
	Reruns []string `json:"reruns,omitempty"`
}

// RunMeta is what happened to one run of one bench.
type RunMeta struct {
	Bench      string     `json:"bench"`
	Run        int        `json:"run"`
	Dir        string     `json:"dir"`
	Env        []string   `json:"env,omitempty"`
	Args       []string   `json:"args"`
	Command    string     `json:"command"`
	Started    time.Time  `json:"started"`
	Finished   time.Time  `json:"finished"`
	DurationS  float64    `json:"duration_s"`
	ExitCode   int        `json:"exit_code"`
	Error      string     `json:"error,omitempty"`
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
}

// OK says the command ran and exited 0.
func (m RunMeta) OK() bool { return m.ExitCode == 0 && m.Error == "" }

func stem(dir, bench string, run int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.run%d", bench, run))
}

// expand replaces the placeholders of a bench's arguments for one run.
func expand(args []string, dir, bench string, run int) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "{json}", stem(dir, bench, run)+".json")
		out[i] = strings.ReplaceAll(a, "{stem}", stem(dir, bench, run))
	}
	return out
}

// shellCommand renders what a reader pastes into a shell at the
// repository root to rerun one run.
func shellCommand(dir string, env, args []string) string {
	var b strings.Builder
	if dir != "" && dir != "." {
		b.WriteString("cd " + shellQuote(dir) + " && ")
	}
	for _, e := range env {
		b.WriteString(shellQuote(e) + " ")
	}
	for i, a := range args {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=,:+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runOnce runs one bench once, output to <stem>.out/.err, meta to
// <stem>.meta.json. Its process group is killed at the timeout.
func runOnce(ctx context.Context, root, dir string, b Bench, run int, progress io.Writer) (RunMeta, error) {
	args := expand(b.Args, dir, b.Name, run)
	m := RunMeta{Bench: b.Name, Run: run, Dir: b.Dir, Env: b.Env, Args: args, Command: shellCommand(b.Dir, b.Env, args)}
	out, err := os.Create(stem(dir, b.Name, run) + ".out")
	if err != nil {
		return m, err
	}
	defer out.Close() //nolint:errcheck // written by the child; a lost close loses nothing the meta needs
	errf, err := os.Create(stem(dir, b.Name, run) + ".err")
	if err != nil {
		return m, err
	}
	defer errf.Close() //nolint:errcheck // as above

	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	cmd := command(ctx, root, b.Dir, b.Env, args)
	cmd.Stdout, cmd.Stderr = out, errf
	m.LoadBefore = loadAvg()
	m.Started = time.Now().UTC()
	fmt.Fprintf(progress, "benchreport: %s run %d: %s\n", b.Name, run, m.Command)
	err = cmd.Run()
	m.Finished = time.Now().UTC()
	m.DurationS = m.Finished.Sub(m.Started).Seconds()
	m.LoadAfter = loadAvg()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		m.ExitCode = exit.ExitCode()
		if ctx.Err() != nil {
			m.Error = fmt.Sprintf("stopped after the %s timeout", b.Timeout)
		}
	default:
		m.ExitCode = -1
		m.Error = err.Error()
	}
	fmt.Fprintf(progress, "benchreport: %s run %d: exit %d in %.0fs %s\n", b.Name, run, m.ExitCode, m.DurationS, m.Error)
	return m, writeJSON(stem(dir, b.Name, run)+".meta.json", m)
}

// command builds a child in its own process group (moto servers, test
// binaries and stacks below it die with it) with the project workspace.
func command(ctx context.Context, root, dir string, env, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...) //nolint:gosec // the catalog's own commands
	if !filepath.IsAbs(args[0]) && strings.Contains(args[0], "/") {
		cmd.Path = filepath.Join(root, args[0])
	}
	cmd.Dir = filepath.Join(root, dir)
	cmd.Env = append(append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"), "GOFLAGS=-buildvcs=false"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// loadAvg is /proc/loadavg's three figures (zeros if unreadable).
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// probeMachine reads the machine's facts from /proc, uname and the go
// command that runs the benches.
func probeMachine(ctx context.Context) Machine {
	m := Machine{Cores: runtime.NumCPU(), Started: time.Now().UTC(), LoadStart: loadAvg()}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 2 {
				continue
			}
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			switch fs[0] {
			case "MemTotal:":
				m.MemTotalKiB = n
			case "MemAvailable:":
				m.MemAvailKiB = n
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	m.Arch = cmdOutput(ctx, "uname", "-m")
	m.Kernel = cmdOutput(ctx, "uname", "-r")
	m.Go = cmdOutput(ctx, "go", "env", "GOVERSION")
	return m
}

func cmdOutput(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output() //nolint:gosec // fixed commands
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// runAll prepares and runs every selected bench runs times, one after the
// other (never two at once: they would measure each other), then writes
// machine.json. A failing bench is recorded and the next one runs.
func runAll(ctx context.Context, root, dir string, benches []Bench, runs int, m Machine, progress io.Writer) error {
	if b, err := os.ReadFile(filepath.Join(dir, "machine.json")); err == nil {
		// Running some benches again into an existing directory: the
		// directory keeps its first start, and says what ran again.
		var prev Machine
		if err := json.Unmarshal(b, &prev); err != nil {
			return fmt.Errorf("machine.json: %w", err)
		}
		for _, b := range benches {
			prev.Reruns = append(prev.Reruns, fmt.Sprintf("%s at %s", b.Name, m.Started.Format("15:04 UTC")))
		}
		m.Started, m.LoadStart, m.Only, m.Reruns, m.Runs = prev.Started, prev.LoadStart, prev.Only, prev.Reruns, max(prev.Runs, runs)
		m.Quick = m.Quick || prev.Quick
	}
	if err := writeJSON(filepath.Join(dir, "machine.json"), m); err != nil {
		return err
	}
	for _, b := range benches {
		prepared := true
		for _, p := range b.Prepare {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			cmd := command(pctx, root, ".", nil, p)
			cmd.Stdout, cmd.Stderr = progress, progress
			fmt.Fprintf(progress, "benchreport: prepare %s: %s\n", b.Name, shellCommand(".", nil, p))
			err := cmd.Run()
			cancel()
			if err != nil {
				// Recorded as a failed run: the report says so instead of
				// leaving the figure out silently.
				prepared = false
				for run := 1; run <= runs; run++ {
					meta := RunMeta{Bench: b.Name, Run: run, Dir: b.Dir, Env: b.Env, Args: expand(b.Args, dir, b.Name, run),
						Started: time.Now().UTC(), Finished: time.Now().UTC(), ExitCode: -1,
						Error: fmt.Sprintf("prepare %q failed: %v", strings.Join(p, " "), err)}
					meta.Command = shellCommand(b.Dir, b.Env, meta.Args)
					if werr := writeJSON(stem(dir, b.Name, run)+".meta.json", meta); werr != nil {
						return werr
					}
				}
				break
			}
		}
		if !prepared {
			continue
		}
		for run := 1; run <= runs; run++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if _, err := runOnce(ctx, root, dir, b, run, progress); err != nil {
				return err
			}
		}
	}
	m.Finished = time.Now().UTC()
	m.LoadEnd = loadAvg()
	return writeJSON(filepath.Join(dir, "machine.json"), m)
}
