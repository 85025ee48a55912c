// Command salesdev runs the whole two-region system on this machine, with
// no AWS account: moto on loopback, the resources through the
// infrastructure's local Terragrunt environment, and per region the sales
// API, the stream publisher's local runner and the worker, plus the
// development-only replication stand-in and local edge.
//
//	salesdev up       start everything (idempotent) and print the URLs
//	salesdev status   regions' state, dials, queue depths, lake counts, processes
//	salesdev logs     the processes' logs (salesdev logs sales-api -n 50)
//	salesdev demo     post the seed's sale through the edge and follow it to both lakes
//	salesdev down     stop everything salesdev started, by pid
//
// up starts a supervisor (salesdev supervise) in the background that owns
// every process: they die with it. See docs/local-stack.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: salesdev <command> [flags]

commands:
  up        start the local stack (idempotent) and wait until it is ready
  down      stop everything salesdev started
  status    show regions, dials, queues, lakes and processes (--json)
  logs      print logs: salesdev logs [name-prefix] [-n lines] [-f]
  demo      post the seed's sale through the edge and follow it hop by hop
  env       print the environment that points AWS tools (salesctl) at the running stack

flags common to all: -dir (default .local under the repository root)`)
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "up":
		err = cmdUp(ctx, rest)
	case "supervise":
		err = cmdSupervise(ctx, rest)
	case "down":
		err = cmdDown(ctx, rest)
	case "status":
		err = cmdStatus(ctx, rest)
	case "logs":
		err = cmdLogs(ctx, rest)
	case "demo":
		err = cmdDemo(ctx, rest)
	case "env":
		err = cmdEnv(ctx, rest)
	default:
		fmt.Fprintf(os.Stderr, "salesdev: unknown command %q\n", cmd)
		usage()
		return 2
	}
	var ue usageErr
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "salesdev:", err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(os.Stderr, "salesdev:", err)
		return 1
	}
}

type usageErr struct{ error }
