// Command salesctl is the operator CLI: region state and failover, replay
// of the event store and streams, dead-letter redrive and reprocessing. The
// same commands run against AWS and against the local stack.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/salesplatform/cmd/salesctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
