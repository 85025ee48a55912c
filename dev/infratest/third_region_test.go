package infratest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestThirdRegionValidates shows that adding a region is adding one folder
// with a region.hcl: it copies the prod environment, adds eu-west-1 as a
// copy of a region folder, and validates the new region's units together
// with the global layer, which must now create the eu-west-1 replicas and
// subscriptions without any other edit.
func TestThirdRegionValidates(t *testing.T) {
	root := requireInfraTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	// Inside the repository (gitignored .local/), because units find the
	// root configuration and the shared unit definitions from the
	// repository root.
	scratch := filepath.Join(root, ".local")
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(scratch, "third-region-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	env := filepath.Join(dir, "prod")
	copyTree(t, filepath.Join(root, "infra", "terragrunt", "prod"), env)
	copyTree(t, filepath.Join(env, "sa-east-1"), filepath.Join(env, "eu-west-1"))
	if err := os.WriteFile(filepath.Join(env, "eu-west-1", "region.hcl"), []byte("locals {\n  region   = \"eu-west-1\"\n  vpc_cidr = \"10.30.0.0/16\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	regions, err := Regions(env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(regions, ",") != "eu-west-1,sa-east-1,us-east-1" {
		t.Fatalf("regions of the copy = %v", regions)
	}

	cache := filepath.Join(dir, "cache")
	logFile := filepath.Join(dir, "validate.log")
	procEnv := os.Environ()
	err = run(ctx, t, root, procEnv, logFile, filepath.Join(root, "infra", "scripts", "tf-env.sh"),
		filepath.Join(root, "bin", "terragrunt"), "run", "--all", "validate",
		"--non-interactive", "--log-format", "bare", "--no-color",
		"--working-dir", env, "--download-dir", cache,
		"--filter", "./eu-west-1/**", "--filter", "./_global/**")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(logFile)
	// eu-west-1: data-stores, event-pipeline, network, services; _global:
	// event-store, idempotency, cross-region-subscriptions, foundation,
	// routing.
	if n := strings.Count(string(b), "The configuration is valid"); n != 9 {
		t.Errorf("%d units reported valid, want 9 (eu-west-1: 4, _global: 5)\n%s", n, b)
	}

	// The global layer's generated root modules include the new region.
	generated := map[string][]string{
		"cross_region_subscriptions.tf": {`module "from_eu_west_1"`, `"eu-west-1" = data.aws_sqs_queue.eu_west_1.arn`},
		"provider.tf":                   {`alias  = "eu_west_1"`},
		"foundation.tf":                 {`module "ecr_eu_west_1"`, `replication_regions = ["eu-west-1", "sa-east-1"]`},
		"routing.tf":                    {`data "aws_lbs" "edge_eu_west_1"`, `"eu-west-1" = { endpoint_arn = try(one(data.aws_lbs.edge_eu_west_1.arns), "")`},
	}
	found := map[string]bool{}
	_ = filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		wants, ok := generated[d.Name()]
		if !ok {
			return nil
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		all := true
		for _, w := range wants {
			all = all && strings.Contains(string(body), w)
		}
		if all {
			found[d.Name()] = true
		}
		return nil
	})
	for name := range generated {
		if !found[name] {
			t.Errorf("no generated %s covers eu-west-1", name)
		}
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terragrunt-cache" || d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		if d.Name() == ".terraform.lock.hcl" {
			return nil
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
