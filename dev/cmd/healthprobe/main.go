// Command healthprobe is the container health check of the service images:
// the images have no shell and no curl, so ECS's health check runs this
// static binary. It asks the service in the same container for
// GET http://127.0.0.1:$PORT/healthcheck (PORT defaults to 8080, as in the
// services) and exits 0 on a 2xx answer within the timeout, 1 otherwise.
//
// It imports the standard library only, so the images' builds (and the
// Dockerfiles) compile it on its own.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := probe(os.Getenv("PORT"), os.Getenv("HEALTHPROBE_PATH"), 3*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "healthprobe:", err)
		os.Exit(1)
	}
}

// probe asks 127.0.0.1:port for path and fails unless it answers 2xx.
func probe(port, path string, timeout time.Duration) error {
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("PORT %q is not a port number", port)
	}
	if path == "" {
		path = "/healthcheck"
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s answered %d", path, resp.StatusCode)
	}
	return nil
}
