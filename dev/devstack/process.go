package devstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/salesplatform/libs/sales/atomicfile"
)

// Process is one child process of the stack.
type Process struct {
	// Name is "<component>/<region>" or "<component>".
	Name   string
	Region string
	Binary string
	Args   []string
	Env    []string
	// ReadyURL answers 200 once the process is ready.
	ReadyURL string
	// MetricsURL serves its Prometheus metrics.
	MetricsURL string
	LogPath    string
	PIDPath    string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
	started time.Time
}

// Start launches the process. It dies with the stack's process (even on
// SIGKILL of the stack), so nothing outlives the supervisor.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.exitedLocked() {
		return fmt.Errorf("%s is already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	if err := os.MkdirAll(filepath.Dir(p.LogPath), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.Binary, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	p.cmd, p.done, p.exitErr, p.started = cmd, make(chan struct{}), nil, time.Now()
	done := p.done
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	if p.PIDPath != "" {
		_ = atomicfile.Write(p.PIDPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"))
	}
	return nil
}

func (p *Process) exitedLocked() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PID is the running process's id (0 when not running).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.exitedLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (p *Process) Running() bool { return p.PID() != 0 }

// ExitError is how the last run ended (nil while running or never run).
func (p *Process) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !p.exitedLocked() {
		return nil
	}
	if p.exitErr == nil {
		return errors.New("exited")
	}
	return p.exitErr
}

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	pid := p.PID()
	if pid == 0 {
		return fmt.Errorf("%s is not running", p.Name)
	}
	return syscall.Kill(pid, sig)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() {
	if p.Signal(syscall.SIGKILL) == nil {
		p.wait(10 * time.Second)
	}
	if p.PIDPath != "" {
		_ = os.Remove(p.PIDPath)
	}
}

// Stop sends SIGTERM, waits up to timeout, then SIGKILL.
func (p *Process) Stop(timeout time.Duration) {
	if p.Signal(syscall.SIGTERM) == nil && !p.wait(timeout) {
		_ = p.Signal(syscall.SIGKILL)
		p.wait(5 * time.Second)
	}
	if p.PIDPath != "" {
		_ = os.Remove(p.PIDPath)
	}
}

func (p *Process) wait(timeout time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

var probeClient = &http.Client{Timeout: 2 * time.Second}

// Ready asks the process's readiness URL once.
func (p *Process) Ready(ctx context.Context) error {
	if !p.Running() {
		if err := p.ExitError(); err != nil {
			return fmt.Errorf("not running (%v); see %s", err, p.LogPath)
		}
		return errors.New("not running")
	}
	if p.ReadyURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.ReadyURL, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			return errors.New("not listening yet")
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", p.ReadyURL, resp.StatusCode)
	}
	return nil
}
