// Command iacscan is trivy's misconfiguration scanner ("trivy config")
// for Terraform and Dockerfiles, built from trivy's own packages with its
// embedded checks: the same engine and rules, offline, at a quarter of the
// full trivy binary's build cost (docs/adr/0013).
//
//	iacscan -severity HIGH,CRITICAL infra/modules services
//
// It exits 1 when a finding of a listed severity is not ignored by an
// inline `trivy:ignore:<ID>` annotation (which must say why).
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aquasecurity/trivy/pkg/iac/rego"
	"github.com/aquasecurity/trivy/pkg/iac/scan"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/dockerfile"
	"github.com/aquasecurity/trivy/pkg/iac/scanners/terraform"
)

func main() {
	severity := flag.String("severity", "HIGH,CRITICAL", "severities that fail the scan")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: iacscan [-severity HIGH,CRITICAL] DIR...")
		os.Exit(2)
	}
	failing := strings.Split(strings.ToUpper(*severity), ",")
	bad, total := 0, scanCounts{}
	for _, dir := range flag.Args() {
		results, err := scanDir(context.Background(), dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "iacscan: %s: %v\n", dir, err)
			os.Exit(2)
		}
		for _, r := range results.GetFailed() {
			sev := string(r.Severity())
			fmt.Printf("%-8s %s %s: %s\n", sev, r.Rule().ID, filepath.Join(dir, r.Range().String()), r.Description())
			if slices.Contains(failing, sev) {
				bad++
			}
		}
		total.add(results)
	}
	fmt.Printf("iacscan: %d checks passed, %d failed, %d ignored by annotation; %d at %s\n",
		total.passed, total.failed, total.ignored, bad, *severity)
	if bad > 0 {
		os.Exit(1)
	}
}

type scanCounts struct{ passed, failed, ignored int }

func (c *scanCounts) add(r scan.Results) {
	c.passed += len(r.GetPassed())
	c.failed += len(r.GetFailed())
	c.ignored += len(r.GetIgnored())
}

func scanDir(ctx context.Context, dir string) (scan.Results, error) {
	fsys := os.DirFS(dir)
	checks := []func() (scan.Results, error){
		func() (scan.Results, error) {
			return terraform.New(
				rego.WithEmbeddedPolicies(true),
				rego.WithEmbeddedLibraries(true),
				terraform.ScannerWithAllDirectories(true),
				terraform.ScannerWithDownloadsAllowed(false),
				terraform.ScannerWithSkipDownloaded(true),
			).ScanFS(ctx, fsys, ".")
		},
	}
	if hasDockerfile(fsys) {
		checks = append(checks, func() (scan.Results, error) {
			return dockerfile.NewScanner(rego.WithEmbeddedPolicies(true), rego.WithEmbeddedLibraries(true)).ScanFS(ctx, fsys, ".")
		})
	}
	var all scan.Results
	for _, check := range checks {
		r, err := check()
		if err != nil {
			return nil, err
		}
		all = append(all, r...)
	}
	return all, nil
}

func hasDockerfile(fsys fs.FS) bool {
	found := false
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (d.Name() == "Dockerfile" || strings.HasSuffix(d.Name(), ".Dockerfile")) {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}
