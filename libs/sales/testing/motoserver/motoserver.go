// Package motoserver runs moto_server, the embedded AWS emulator, for tests
// and the local stack: on a free 127.0.0.1 port, or the one MOTO_ENDPOINT
// names, stopped with the process that started it.
package motoserver

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/salesplatform/libs/sales/awsconfig"
)

// EnvEndpoint names an already running emulator to use instead of starting one.
const EnvEndpoint = "MOTO_ENDPOINT"

// Server is a running (or borrowed) moto_server.
type Server struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Options for Start.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// LogFile receives moto's output (default: discarded).
	LogFile string
	// StartTimeout bounds the wait for moto to answer (default 30 s).
	StartTimeout time.Duration
}

// Start returns the emulator named by MOTO_ENDPOINT, or starts moto_server.
func Start(ctx context.Context, o Options) (*Server, error) {
	if url := os.Getenv(EnvEndpoint); url != "" {
		s := &Server{URL: url}
		return s, s.wait(ctx, 10*time.Second)
	}
	python := os.Getenv("MOTO_PYTHON")
	if python == "" {
		python = "python3"
	}
	bin, err := exec.LookPath(python)
	if err != nil {
		return nil, fmt.Errorf("%s is not on PATH: the emulator is Python's moto[server] (the machine image has it): %w", python, err)
	}
	launcher, err := writeLauncher()
	if err != nil {
		return nil, err
	}
	port := o.Port
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	// moto_server through patch.py: DynamoDB transactions isolated as on
	// AWS (see patch.py for the emulator defect it removes).
	cmd := exec.Command(bin, launcher, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=false")
	// The emulator dies with its parent, even on SIGKILL: a test binary
	// that crashes leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if o.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close() //nolint:errcheck // the child keeps its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{}), log: o.LogFile}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.wait(ctx, o.StartTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) wait(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/data.json", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if s.done != nil {
			select {
			case <-s.done:
				return fmt.Errorf("moto_server exited during start (see %s)", s.logHint())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("moto_server at %s did not answer within %s (see %s)", s.URL, timeout, s.logHint())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) logHint() string {
	if s.log == "" {
		return "its output, discarded; set Options.LogFile"
	}
	return s.log
}

// Stop ends a server this process started (a borrowed one is left alone).
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Reset wipes every resource in the emulator.
func (s *Server) Reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto reset: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Credentials are the fixed fake credentials the emulator accepts.
var Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")

// Config is an AWS config for region pointed at this emulator, through the
// project's one loader, so tests run the same retries and counters as the
// services.
func (s *Server) Config(ctx context.Context, region string, o awsconfig.Options) (aws.Config, error) {
	o.ConfigOptions = append([]func(*config.LoadOptions) error{
		config.WithCredentialsProvider(Credentials),
		config.WithBaseEndpoint(s.URL),
	}, o.ConfigOptions...)
	return awsconfig.Load(ctx, region, o)
}

// Env is the environment a child process needs to talk to this emulator.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

//go:embed patch.py
var launcherSource []byte

var (
	launcherOnce sync.Once
	launcherPath string
	launcherErr  error
)

// writeLauncher writes patch.py once per process to a private temp file.
func writeLauncher() (string, error) {
	launcherOnce.Do(func() {
		f, err := os.CreateTemp("", "moto-launcher-*.py")
		if err != nil {
			launcherErr = fmt.Errorf("write moto launcher: %w", err)
			return
		}
		defer f.Close() //nolint:errcheck // the child keeps its own descriptor
		if _, err := f.Write(launcherSource); err != nil {
			launcherErr = fmt.Errorf("write moto launcher: %w", err)
			return
		}
		launcherPath = f.Name()
	})
	return launcherPath, launcherErr
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("not a TCP address")
	}
	return addr.Port, nil
}

// PID is the emulator's process id (0 for a borrowed one).
func (s *Server) PID() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}
