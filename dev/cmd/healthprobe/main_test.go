package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthcheck" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: a closed listener's.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	tests := []struct {
		name       string
		port, path string
		status     int
		wantErr    bool
	}{
		{name: "healthy", port: port, status: http.StatusOK},
		{name: "unhealthy answer", port: port, status: http.StatusServiceUnavailable, wantErr: true},
		{name: "other path not found", port: port, path: "/readiness", status: http.StatusOK, wantErr: true},
		{name: "nothing listening", port: closed, status: http.StatusOK, wantErr: true},
		{name: "bad port", port: "http", status: http.StatusOK, wantErr: true},
		{name: "port out of range", port: "70000", status: http.StatusOK, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status = tt.status
			err := probe(tt.port, tt.path, 2*time.Second)
			if (err != nil) != tt.wantErr {
				t.Fatalf("probe(%q, %q) = %v, want error %v", tt.port, tt.path, err, tt.wantErr)
			}
		})
	}
}
