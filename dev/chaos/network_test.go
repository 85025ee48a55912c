package chaos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func linkedServer(t *testing.T) (*Network, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "pong")
	}))
	t.Cleanup(srv.Close)
	n := NewNetwork()
	t.Cleanup(n.Close)
	addr, err := n.Link("svc", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return n, "http://" + addr + "/"
}

func get(url string, timeout time.Duration) (string, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestNetworkToxics(t *testing.T) {
	n, url := linkedServer(t)
	if body, err := get(url, 2*time.Second); err != nil || body != "pong" {
		t.Fatalf("through a clean link: %q %v", body, err)
	}

	// reset_peer: the answer never arrives, the connection is reset.
	if err := n.Add(Toxic{Name: "reset", Type: "reset_peer", Attributes: map[string]any{"timeout": 0}}); err != nil {
		t.Fatal(err)
	}
	if got := n.Toxics("svc"); len(got) != 1 || got[0] != "reset" {
		t.Errorf("toxics %v", got)
	}
	if body, err := get(url, 2*time.Second); err == nil {
		t.Errorf("reset_peer: got %q, want an error", body)
	}
	if err := n.Remove("reset"); err != nil {
		t.Fatal(err)
	}

	// timeout 0: a blackout, data held until the toxic goes.
	if err := n.Add(Toxic{Name: "blackout", Type: "timeout", Attributes: map[string]any{"timeout": 0}}); err != nil {
		t.Fatal(err)
	}
	if body, err := get(url, 300*time.Millisecond); err == nil {
		t.Errorf("blackout: got %q, want a timeout", body)
	}
	n.Reset()
	if body, err := get(url, 2*time.Second); err != nil || body != "pong" {
		t.Fatalf("after the blackout: %q %v", body, err)
	}

	// latency: the answer comes, late.
	if err := n.Add(Toxic{Type: "latency", Attributes: map[string]any{"latency": 200}}, "svc"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if body, err := get(url, 3*time.Second); err != nil || body != "pong" {
		t.Fatalf("latency: %q %v", body, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("answered in %s through a 200 ms latency toxic", d)
	}
	n.Reset()

	// down: refused while down, served again once up, on the same port.
	if err := n.Down("svc"); err != nil {
		t.Fatal(err)
	}
	if body, err := get(url, time.Second); err == nil {
		t.Errorf("down: got %q, want a refused connection", body)
	}
	if err := n.Up(); err != nil {
		t.Fatal(err)
	}
	if body, err := get(url, 2*time.Second); err != nil || body != "pong" {
		t.Fatalf("up again: %q %v", body, err)
	}
	if err := n.Add(Toxic{Type: "latency"}, "nope"); err == nil {
		t.Error("a toxic on an unknown link was accepted")
	}
	if err := n.Add(Toxic{Type: "no-such-toxic"}); err == nil {
		t.Error("an unknown toxic type was accepted")
	}
}

func TestNetworkRefusesNonLoopback(t *testing.T) {
	n := NewNetwork()
	defer n.Close()
	for _, up := range []string{"10.1.2.3:80", "example.com:443", "nohost"} {
		if _, err := n.Link("x-"+up, up); err == nil {
			t.Errorf("Link to %s accepted", up)
		}
	}
}
