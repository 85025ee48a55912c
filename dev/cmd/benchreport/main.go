// Command benchreport runs every benchmark of the repository and writes
// docs/benchmarks.md from their results (`task bench`):
//
//	benchreport run [-runs 2] [-quick] [-only api,pipeline] [-out docs/benchmarks.md]
//	benchreport render -dir .local/bench/<timestamp> [-out docs/benchmarks.md]
//
// run measures the machine (cores, memory, Go, uname -m, load average),
// runs each bench of the catalog RUNS times, one at a time, each run in a
// fresh process with its output and a meta file (exact command, times,
// load, exit code) under .local/bench/<timestamp>/, then renders. render
// turns an existing results directory into the markdown and its PNG
// plots. A bench that did not run, failed or did not print a figure shows
// as such; no figure is ever made up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/salesplatform/dev/devstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: benchreport run|render [flags]")
	}
	root, err := devstack.FindRoot()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("out", filepath.Join(root, "docs", "benchmarks.md"), "markdown to write")
	plots := fs.String("plots", filepath.Join(root, "docs", "benchmarks", "plots"), "directory of the PNG plots (linked relative to -out)")
	switch args[0] {
	case "run":
		runs := fs.Int("runs", 2, "runs of each bench, to show the spread")
		quick := fs.Bool("quick", false, "smaller sizes (minutes instead of an hour)")
		only := fs.String("only", "", "comma-separated bench names (default: all)")
		workerSales := fs.Int("worker-sales", 0, "queued sales per worker drain (default 300, quick 60)")
		pipelineRate := fs.Float64("pipeline-rate", 0, "offered sales/s of the pipeline's latency run (default 1)")
		resultsDir := fs.String("results", "", "results directory (default .local/bench/<UTC timestamp>)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *runs < 1 || *runs > 10 {
			return fmt.Errorf("-runs %d: want 1 to 10", *runs)
		}
		sizes := DefaultSizes(*quick)
		if *workerSales > 0 {
			sizes.WorkerSales = *workerSales
		}
		if *pipelineRate > 0 {
			sizes.PipelineRate = *pipelineRate
		}
		benches, err := selectBenches(Catalog(sizes), *only)
		if err != nil {
			return err
		}
		dir := *resultsDir
		if dir == "" {
			dir = filepath.Join(root, ".local", "bench", time.Now().UTC().Format("20060102T150405Z"))
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		m := probeMachine(ctx)
		m.Quick, m.Runs = *quick, *runs
		if *only != "" {
			m.Only = strings.Split(*only, ",")
		}
		fmt.Fprintf(os.Stderr, "benchreport: results in %s\n", dir)
		runErr := runAll(ctx, root, dir, benches, *runs, m, os.Stderr)
		if err := render(root, dir, *out, *plots, sizes); err != nil {
			return errors.Join(runErr, err)
		}
		return runErr
	case "render":
		dir := fs.String("dir", "", "results directory to render")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			return errors.New("render: -dir is required")
		}
		return render(root, *dir, *out, *plots, DefaultSizes(false))
	default:
		return fmt.Errorf("unknown command %q (run | render)", args[0])
	}
}

func selectBenches(all []Bench, only string) ([]Bench, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	byName := map[string]Bench{}
	var names []string
	for _, b := range all {
		byName[b.Name] = b
		names = append(names, b.Name)
	}
	var out []Bench
	for _, n := range strings.Split(only, ",") {
		b, ok := byName[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("unknown bench %q (have %s)", n, strings.Join(names, ", "))
		}
		out = append(out, b)
	}
	return out, nil
}

// render loads a results directory with the catalog's names and kinds
// (sizes do not change either) and writes the markdown and plots.
func render(root, dir, out, plotsDir string, sizes Sizes) error {
	res, err := Load(dir, Catalog(sizes))
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
		res.Dir = rel
	}
	plotsRel, err := filepath.Rel(filepath.Dir(out), plotsDir)
	if err != nil {
		return err
	}
	md, err := Render(res, Options{PlotsDir: plotsDir, PlotsRel: plotsRel, Plots: true})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil { //nolint:gosec // a document
		return err
	}
	fmt.Fprintf(os.Stderr, "benchreport: wrote %s\n", out)
	return nil
}
