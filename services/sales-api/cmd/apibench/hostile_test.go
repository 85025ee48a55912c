package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// The test binary doubles as the server under attack: with
// APIBENCH_SERVE_PORT set it serves the API (in-memory store) instead of
// running tests, so the attack and the server are separate processes with
// separate file descriptor budgets, as in production.
func TestMain(m *testing.M) {
	if port := os.Getenv("APIBENCH_SERVE_PORT"); port != "" {
		if err := serve([]string{"-mode", "memory", "-port", port}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type server struct {
	addr string
	cmd  *exec.Cmd
}

func startServer(t *testing.T) *server {
	t.Helper()
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "APIBENCH_SERVE_PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := waitUp("http://" + s.addr + "/healthcheck"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) rssMiB() float64 { return float64(procStatus(s.cmd.Process.Pid, "VmRSS:")) / 1024 }

// healthy asserts a normal request is served promptly.
func (s *server) healthy(t *testing.T, during string) {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	start := time.Now()
	res, err := c.Post("http://"+s.addr+"/sales", "application/json", strings.NewReader(seedBody))
	if err != nil {
		t.Fatalf("during %s, a normal POST failed: %v", during, err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("during %s, a normal POST answered %d", during, res.StatusCode)
	}
	t.Logf("during %s: normal POST served in %s, server RSS %.1f MiB", during, time.Since(start).Round(time.Millisecond), s.rssMiB())
}

func TestManyIdleConnectionsKeepTheServerUpAndBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	s := startServer(t)
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	n := 10_000
	if max := int(lim.Cur) - 500; n > max {
		n = max // the server process has the same limit
	}
	before := s.rssMiB()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d refused: %v", i, err)
		}
		// Half of them start a request and never finish it.
		if i%2 == 0 {
			_, _ = c.Write([]byte("POST /sales HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"))
		}
		conns = append(conns, c)
	}
	s.healthy(t, fmt.Sprintf("%d open connections", n))
	after := s.rssMiB()
	t.Logf("%d connections: server RSS %.1f → %.1f MiB", n, before, after)
	if after > before+256 {
		t.Errorf("server RSS grew by %.0f MiB for %d idle connections", after-before, n)
	}
}

func TestSlowClientsAreCutOffAndOthersServed(t *testing.T) {
	s := startServer(t)
	// Slowloris: 200 connections sending a header byte every 300 ms. The
	// API's ReadTimeout (10 s) closes them; meanwhile others are served.
	const slow = 200
	closed := make(chan time.Duration, slow)
	for i := 0; i < slow; i++ {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			start := time.Now()
			req := "GET /sales/0190a0b0-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
			for j := 0; j < len(req); j++ {
				if _, err := c.Write([]byte{req[j]}); err != nil {
					closed <- time.Since(start)
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
			closed <- -1 // never cut off
		}()
	}
	time.Sleep(time.Second)
	s.healthy(t, "200 slowloris connections")
	deadline := time.After(25 * time.Second)
	for i := 0; i < slow; i++ {
		select {
		case d := <-closed:
			if d < 0 {
				t.Fatal("a slow client sent its whole request without being cut off")
			}
		case <-deadline:
			t.Fatalf("only %d of %d slow connections were closed within 25 s", i, slow)
		}
	}
}

func TestHugeHeadersAndBodies(t *testing.T) {
	s := startServer(t)
	raw := func(req string) string {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte(req))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	big := strings.Repeat("a", 1<<20)
	if got := raw("GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n"); !strings.Contains(got, "431") {
		t.Errorf("1 MiB header: %q, want 431", got)
	}
	if got := raw("POST /sales HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + strings.Repeat("a", 70_000)); !strings.Contains(got, "413") {
		t.Errorf("2 MB declared body: %q, want 413", got)
	}
	if got := raw("POST /sales HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 4") {
		t.Errorf("absurd Content-Length: %q, want a 4xx", got)
	}
	s.healthy(t, "after oversized requests")
}

// Compression bombs: a 1 KiB body of two stacked gzip layers that inflates
// to 1 GiB, and single-layer bombs at the size limit, sent by 16 clients at
// once. The server refuses them (415, 413) without inflating past the body
// limit: its RSS stays bounded (Fiber's Ctx.Body inflated each to the end).
func TestCompressionBombsAreRefusedWithinTheBodyLimit(t *testing.T) {
	s := startServer(t)
	gz := func(src io.Reader) []byte {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := io.Copy(w, src); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
		return buf.Bytes()
	}
	zeros := func(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }
	stacked := gz(bytes.NewReader(gz(zeros(1 << 30))))
	single := gz(zeros(60 << 20))
	t.Logf("stacked bomb %d bytes (1 GiB inflated), single bomb %d bytes (60 MiB inflated)", len(stacked), len(single))
	before := s.rssMiB()
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 16; i++ {
		for _, b := range []struct {
			enc  string
			body []byte
			want int
		}{{"gzip, gzip", stacked, 415}, {"gzip", single, 413}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", "http://"+s.addr+"/sales", bytes.NewReader(b.body))
				req.Header.Set("Content-Encoding", b.enc)
				res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
				if err != nil {
					errs <- fmt.Sprintf("%s bomb: %v", b.enc, err)
					return
				}
				res.Body.Close()
				if res.StatusCode != b.want {
					errs <- fmt.Sprintf("%s bomb: status %d, want %d", b.enc, res.StatusCode, b.want)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	after := s.rssMiB()
	t.Logf("32 bombs: server RSS %.1f → %.1f MiB", before, after)
	if after > before+64 {
		t.Errorf("server RSS grew by %.0f MiB for 32 compressed bodies: inflation is not bounded", after-before)
	}
	s.healthy(t, "after compression bombs")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPathTricksNeverReachTheStore(t *testing.T) {
	s := startServer(t)
	for _, p := range []string{
		"/sales/..%2f..%2fetc%2fpasswd",
		"/sales/%2e%2e/%2e%2e/etc/passwd",
		"/sales/0190a0b0-0000-7000-8000-00000000000%30",
		"/sales/0190a0b0-0000-7000-8000-000000000000%00",
		"/sales/0190a0b0-0000-7000-8000-000000000000/..",
		"/sales/%250190a0b0-0000-7000-8000-000000000000",
		"/sales/{0190a0b0-0000-7000-8000-000000000000}",
		"/sales//0190a0b0-0000-7000-8000-000000000000",
		"/SALES/0190a0b0-0000-7000-8000-000000000000",
	} {
		req, _ := http.NewRequest("GET", "http://"+s.addr+p, nil)
		req.URL.Opaque = p
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		res.Body.Close()
		if res.StatusCode != 400 && res.StatusCode != 404 {
			t.Errorf("%s → %d, want 400 or 404", p, res.StatusCode)
		}
	}
}
