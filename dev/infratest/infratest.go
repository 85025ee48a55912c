// Package infratest drives the infrastructure's Terragrunt live tree
// (infra/terragrunt) for development: it creates the local environment's
// state buckets in the emulator, turns the units' state into the stack
// description other tools read (.local/infra/outputs.json), and runs
// Terragrunt for the tests that prove the modules against moto.
//
// Development only: production state buckets are created by Terragrunt's
// own bootstrap (see docs/infrastructure.md).
package infratest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/stack"
)

// LocalStateBucketPrefix names the local environment's state buckets
// ("<prefix>-<region>"); infra/terragrunt/local/env.hcl says the same
// (a test keeps the two in step).
const LocalStateBucketPrefix = "sales-tfstate-local"

// Units whose outputs make up a region's stack description.
const (
	UnitDataStores    = "data-stores"
	UnitEventPipeline = "event-pipeline"
)

// RepoRoot finds the repository root (the directory holding go.work and
// the root terragrunt.hcl) from dir upwards.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(d, "go.work")) && fileExists(filepath.Join(d, "terragrunt.hcl")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no repository root (go.work and terragrunt.hcl) above %s", dir)
		}
		d = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Regions lists the region folders of an environment directory: the
// folders holding a region.hcl whose name does not start with "_" (those
// are layers such as _global). env.hcl derives the same list.
func Regions(envDir string) ([]string, error) {
	entries, err := os.ReadDir(envDir)
	if err != nil {
		return nil, fmt.Errorf("read environment %s: %w", envDir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "_") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fileExists(filepath.Join(envDir, e.Name(), "region.hcl")) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("environment %s has no region folder (a folder with region.hcl)", envDir)
	}
	return out, nil
}

// StateBucket is the local state bucket of a region.
func StateBucket(region string) string { return LocalStateBucketPrefix + "-" + region }

// StateKey is the state object of a unit: the root terragrunt.hcl keys
// state by the unit's path relative to the repository root.
func StateKey(root, unitDir string) (string, error) {
	rel, err := filepath.Rel(root, unitDir)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("unit %s is outside the repository %s", unitDir, root)
	}
	return filepath.ToSlash(rel) + "/terraform.tfstate", nil
}

// S3Client returns an S3 client for region through the project's one
// config loader; AWS_ENDPOINT_URL (the emulator) and the credentials come
// from the environment.
func S3Client(ctx context.Context, region string) (*s3.Client, error) {
	cfg, err := awsconfig.Load(ctx, region, awsconfig.Options{})
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)), nil
}

// EnsureStateBuckets creates each region's versioned state bucket in the
// emulator, if it is not there yet. Terragrunt's own bootstrap speaks only
// virtual-host S3, which an emulator on 127.0.0.1 cannot serve.
func EnsureStateBuckets(ctx context.Context, regions []string) error {
	return EnsureStateBucketsFor(ctx, LocalStateBucketPrefix, regions)
}

// EnsureStateBucketsFor is EnsureStateBuckets for buckets "<prefix>-<region>"
// (the prod layout planned against the emulator uses prod's names).
func EnsureStateBucketsFor(ctx context.Context, prefix string, regions []string) error {
	for _, region := range regions {
		client, err := S3Client(ctx, region)
		if err != nil {
			return err
		}
		bucket := prefix + "-" + region
		in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
				LocationConstraint: s3types.BucketLocationConstraint(region),
			}
		}
		if _, err := client.CreateBucket(ctx, in); err != nil {
			var owned *s3types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return fmt.Errorf("create state bucket %s: %w", bucket, err)
			}
		}
		if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(bucket),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
		}); err != nil {
			return fmt.Errorf("version state bucket %s: %w", bucket, err)
		}
	}
	return nil
}

// RegionOutputs is one region's part of the stack description.
type RegionOutputs = stack.Region

// Outputs is the stack description: {"regions": {"<region>": {...}}}.
type Outputs = stack.Stack

// stateOutputs maps each field of RegionOutputs to the unit output it
// comes from.
var stateOutputs = []struct {
	unit, output string
	set          func(*RegionOutputs, string)
}{
	{UnitDataStores, "event_table_name", func(r *RegionOutputs, v string) { r.EventTable = v }},
	{UnitDataStores, "event_stream_arn", func(r *RegionOutputs, v string) { r.EventStreamARN = v }},
	{UnitDataStores, "idempotency_table_name", func(r *RegionOutputs, v string) { r.IdempotencyTable = v }},
	{UnitDataStores, "lake_bucket_name", func(r *RegionOutputs, v string) { r.LakeBucket = v }},
	{UnitDataStores, "region_state_parameter_name", func(r *RegionOutputs, v string) { r.RegionStateParameter = v }},
	{UnitEventPipeline, "topic_arn", func(r *RegionOutputs, v string) { r.TopicARN = v }},
	{UnitEventPipeline, "processing_queue_url", func(r *RegionOutputs, v string) { r.ProcessingQueueURL = v }},
	{UnitEventPipeline, "processing_dlq_url", func(r *RegionOutputs, v string) { r.ProcessingDLQURL = v }},
	{UnitEventPipeline, "publisher_failure_queue_url", func(r *RegionOutputs, v string) { r.PublisherFailureQueueURL = v }},
}

// StateOutputs decodes the outputs of a Terraform state document (format
// version 4: {"outputs": {"name": {"value": ...}}}).
func StateOutputs(state io.Reader) (map[string]json.RawMessage, error) {
	var doc struct {
		Version int `json:"version"`
		Outputs map[string]struct {
			Value json.RawMessage `json:"value"`
		} `json:"outputs"`
	}
	if err := json.NewDecoder(state).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	if doc.Version != 4 {
		return nil, fmt.Errorf("state format version %d, want 4", doc.Version)
	}
	out := make(map[string]json.RawMessage, len(doc.Outputs))
	for k, v := range doc.Outputs {
		out[k] = v.Value
	}
	return out, nil
}

// RegionFromStates builds a region's description from its units' outputs.
func RegionFromStates(units map[string]map[string]json.RawMessage) (RegionOutputs, error) {
	var r RegionOutputs
	for _, o := range stateOutputs {
		raw, ok := units[o.unit][o.output]
		if !ok {
			return RegionOutputs{}, fmt.Errorf("unit %s has no output %s (applied?)", o.unit, o.output)
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return RegionOutputs{}, fmt.Errorf("output %s of %s is not a string: %w", o.output, o.unit, err)
		}
		if v == "" {
			return RegionOutputs{}, fmt.Errorf("output %s of %s is empty", o.output, o.unit)
		}
		o.set(&r, v)
	}
	return r, nil
}

// UnitRouting is the global unit whose outputs hold the endpoint groups.
const UnitRouting = "_global/routing"

// ReadOutputs reads the applied state of each region's units from the
// local state buckets and returns the stack description. It reads the
// state documents the S3 backend wrote rather than running
// `terragrunt output` per unit: the same values, without a Terraform
// process per unit on the local stack's start-up path.
func ReadOutputs(ctx context.Context, root, envDir string) (Outputs, error) {
	return ReadOutputsFrom(ctx, root, envDir, LocalStateBucketPrefix)
}

// ReadOutputsFrom is ReadOutputs for state buckets "<prefix>-<region>"
// (prod's are named in prod/env.hcl).
func ReadOutputsFrom(ctx context.Context, root, envDir, bucketPrefix string) (Outputs, error) {
	regions, err := Regions(envDir)
	if err != nil {
		return Outputs{}, err
	}
	out := Outputs{Regions: make(map[string]RegionOutputs, len(regions))}
	for _, region := range regions {
		client, err := S3Client(ctx, region)
		if err != nil {
			return Outputs{}, err
		}
		units := map[string]map[string]json.RawMessage{}
		for _, unit := range []string{UnitDataStores, UnitEventPipeline} {
			key, err := StateKey(root, filepath.Join(envDir, region, unit))
			if err != nil {
				return Outputs{}, err
			}
			bucket := bucketPrefix + "-" + region
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return Outputs{}, fmt.Errorf("state of %s/%s (s3://%s/%s): %w", region, unit, bucket, key, err)
			}
			outputs, err := StateOutputs(obj.Body)
			obj.Body.Close()
			if err != nil {
				return Outputs{}, fmt.Errorf("state of %s/%s: %w", region, unit, err)
			}
			units[unit] = outputs
		}
		r, err := RegionFromStates(units)
		if err != nil {
			return Outputs{}, fmt.Errorf("region %s: %w", region, err)
		}
		out.Regions[region] = r
	}
	groups, err := readEndpointGroups(ctx, root, envDir, bucketPrefix, regions)
	if err != nil {
		return Outputs{}, err
	}
	for region, arn := range groups {
		if r, ok := out.Regions[region]; ok {
			r.EndpointGroupARN = arn
			out.Regions[region] = r
		}
	}
	return out, nil
}

// readEndpointGroups reads the routing unit's endpoint_group_arns from the
// global layer's state, which lives in the primary region's bucket: each
// region's bucket is tried. No routing state (the local environment, or
// before the first deploy:global) is no endpoint groups, not an error.
func readEndpointGroups(ctx context.Context, root, envDir, bucketPrefix string, regions []string) (map[string]string, error) {
	key, err := StateKey(root, filepath.Join(envDir, filepath.FromSlash(UnitRouting)))
	if err != nil {
		return nil, err
	}
	for _, region := range regions {
		client, err := S3Client(ctx, region)
		if err != nil {
			return nil, err
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucketPrefix + "-" + region), Key: aws.String(key)})
		if err != nil {
			var noKey *s3types.NoSuchKey
			var noBucket *s3types.NoSuchBucket
			if errors.As(err, &noKey) || errors.As(err, &noBucket) {
				continue
			}
			return nil, fmt.Errorf("state of %s in %s: %w", UnitRouting, region, err)
		}
		outputs, err := StateOutputs(obj.Body)
		obj.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("state of %s: %w", UnitRouting, err)
		}
		return EndpointGroups(outputs)
	}
	return nil, nil
}

// EndpointGroups decodes the routing unit's endpoint_group_arns output
// (region -> endpoint group ARN).
func EndpointGroups(outputs map[string]json.RawMessage) (map[string]string, error) {
	raw, ok := outputs["endpoint_group_arns"]
	if !ok {
		return nil, fmt.Errorf("unit %s has no output endpoint_group_arns (applied?)", UnitRouting)
	}
	var groups map[string]string
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("endpoint_group_arns is not a map of strings: %w", err)
	}
	return groups, nil
}
