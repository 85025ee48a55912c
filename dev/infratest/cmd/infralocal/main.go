// Command infralocal serves the infrastructure's local environment (moto):
//
//	infralocal state-buckets -env infra/terragrunt/local
//	    creates each region's Terraform state bucket in the emulator
//	infralocal outputs -env infra/terragrunt/local -out .local/infra/outputs.json
//	    writes the stack description from the applied units' state
//	infralocal outputs -env infra/terragrunt/prod -state-bucket-prefix P -out F
//	    the same for prod (task outputs ENV=prod): reads state objects only
//
// state-buckets needs AWS_ENDPOINT_URL naming the emulator: it refuses to
// create anything in AWS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/salesplatform/dev/infratest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("infralocal failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: infralocal state-buckets|outputs [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	envDir := fs.String("env", "infra/terragrunt/local", "environment directory of the live tree")
	out := fs.String("out", filepath.Join(".local", "infra", "outputs.json"), "where outputs writes the stack description")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the whole command")
	bucketPrefix := fs.String("state-bucket-prefix", infratest.LocalStateBucketPrefix, "state buckets are <prefix>-<region>")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "state-buckets" && os.Getenv("AWS_ENDPOINT_URL") == "" {
		return errors.New("AWS_ENDPOINT_URL is not set: infralocal creates state buckets in the local emulator only")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	dir, err := filepath.Abs(*envDir)
	if err != nil {
		return err
	}
	switch args[0] {
	case "state-buckets":
		regions, err := infratest.Regions(dir)
		if err != nil {
			return err
		}
		if err := infratest.EnsureStateBucketsFor(ctx, *bucketPrefix, regions); err != nil {
			return err
		}
		fmt.Printf("state buckets ready for %v\n", regions)
		return nil
	case "outputs":
		root, err := infratest.RepoRoot(dir)
		if err != nil {
			return err
		}
		o, err := infratest.ReadOutputsFrom(ctx, root, dir, *bucketPrefix)
		if err != nil {
			return err
		}
		if err := o.Save(*out); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
		fmt.Printf("wrote %s (%d regions)\n", *out, len(o.Regions))
		return nil
	default:
		return fmt.Errorf("unknown command %q (state-buckets or outputs)", args[0])
	}
}
