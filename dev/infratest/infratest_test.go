package infratest

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRegions(t *testing.T) {
	tests := []struct {
		name    string
		dirs    map[string]bool // folder -> has region.hcl
		want    []string
		wantErr bool
	}{
		{
			name: "regions sorted, layers and plain folders left out",
			dirs: map[string]bool{"us-east-1": true, "sa-east-1": true, "_global": true, "docs": false, ".terragrunt-cache": true},
			want: []string{"sa-east-1", "us-east-1"},
		},
		{
			name: "a third region is one more folder",
			dirs: map[string]bool{"us-east-1": true, "sa-east-1": true, "eu-west-1": true},
			want: []string{"eu-west-1", "sa-east-1", "us-east-1"},
		},
		{
			name:    "no region at all",
			dirs:    map[string]bool{"_global": true},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := t.TempDir()
			for d, hasRegion := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(env, d), 0o755); err != nil {
					t.Fatal(err)
				}
				if hasRegion {
					if err := os.WriteFile(filepath.Join(env, d, "region.hcl"), []byte("locals {}\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := Regions(env)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Regions = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("Regions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateKey(t *testing.T) {
	tests := []struct {
		root, unit, want string
		wantErr          bool
	}{
		{root: "/repo", unit: "/repo/infra/terragrunt/local/us-east-1/data-stores", want: "infra/terragrunt/local/us-east-1/data-stores/terraform.tfstate"},
		{root: "/repo", unit: "/repo/infra/terragrunt/local/_global/cross-region-subscriptions", want: "infra/terragrunt/local/_global/cross-region-subscriptions/terraform.tfstate"},
		{root: "/repo", unit: "/elsewhere/unit", wantErr: true},
	}
	for _, tt := range tests {
		got, err := StateKey(tt.root, tt.unit)
		if tt.wantErr {
			if err == nil {
				t.Errorf("StateKey(%s, %s) = %q, want an error", tt.root, tt.unit, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("StateKey(%s, %s) = %q, %v; want %q", tt.root, tt.unit, got, err, tt.want)
		}
	}
}

const stateDoc = `{
  "version": 4,
  "terraform_version": "1.11.4",
  "outputs": {
    "event_table_name": {"value": "sales-events", "type": "string"},
    "replica_regions": {"value": [], "type": ["tuple", []]}
  },
  "resources": []
}`

func TestStateOutputs(t *testing.T) {
	out, err := StateOutputs(strings.NewReader(stateDoc))
	if err != nil {
		t.Fatal(err)
	}
	if string(out["event_table_name"]) != `"sales-events"` {
		t.Fatalf("event_table_name = %s", out["event_table_name"])
	}
	if _, err := StateOutputs(strings.NewReader(`{"version": 3, "outputs": {}}`)); err == nil {
		t.Fatal("a version 3 state was accepted")
	}
	if _, err := StateOutputs(strings.NewReader(`not json`)); err == nil {
		t.Fatal("garbage was accepted")
	}
}

func completeUnits() map[string]map[string][]byte {
	return map[string]map[string][]byte{
		UnitDataStores: {
			"event_table_name":            []byte(`"sales-events"`),
			"event_stream_arn":            []byte(`"arn:aws:dynamodb:us-east-1:123456789012:table/sales-events/stream/x"`),
			"idempotency_table_name":      []byte(`"sales-idempotency"`),
			"lake_bucket_name":            []byte(`"sales-lake-local-us-east-1"`),
			"region_state_parameter_name": []byte(`"/sales/region-state"`),
		},
		UnitEventPipeline: {
			"topic_arn":                   []byte(`"arn:aws:sns:us-east-1:123456789012:sales-events"`),
			"processing_queue_url":        []byte(`"http://127.0.0.1:1/123456789012/sales-processing"`),
			"processing_dlq_url":          []byte(`"http://127.0.0.1:1/123456789012/sales-processing-dlq"`),
			"publisher_failure_queue_url": []byte(`"http://127.0.0.1:1/123456789012/sales-stream-publisher-dlq"`),
		},
	}
}

type jsonRaw = json.RawMessage

func toRaw(in map[string]map[string][]byte) map[string]map[string]jsonRaw {
	out := map[string]map[string]jsonRaw{}
	for u, m := range in {
		out[u] = map[string]jsonRaw{}
		for k, v := range m {
			out[u][k] = v
		}
	}
	return out
}

func TestRegionFromStates(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(map[string]map[string][]byte)
		wantErr string
	}{
		{name: "complete", mutate: func(map[string]map[string][]byte) {}},
		{name: "unit not applied", mutate: func(u map[string]map[string][]byte) { delete(u, UnitEventPipeline) }, wantErr: "no output topic_arn"},
		{name: "output missing", mutate: func(u map[string]map[string][]byte) { delete(u[UnitDataStores], "event_stream_arn") }, wantErr: "no output event_stream_arn"},
		{name: "empty value", mutate: func(u map[string]map[string][]byte) { u[UnitDataStores]["lake_bucket_name"] = []byte(`""`) }, wantErr: "is empty"},
		{name: "not a string", mutate: func(u map[string]map[string][]byte) { u[UnitEventPipeline]["topic_arn"] = []byte(`["a"]`) }, wantErr: "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units := completeUnits()
			tt.mutate(units)
			got, err := RegionFromStates(toRaw(units))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := RegionOutputs{
				EventTable:               "sales-events",
				EventStreamARN:           "arn:aws:dynamodb:us-east-1:123456789012:table/sales-events/stream/x",
				IdempotencyTable:         "sales-idempotency",
				TopicARN:                 "arn:aws:sns:us-east-1:123456789012:sales-events",
				ProcessingQueueURL:       "http://127.0.0.1:1/123456789012/sales-processing",
				ProcessingDLQURL:         "http://127.0.0.1:1/123456789012/sales-processing-dlq",
				PublisherFailureQueueURL: "http://127.0.0.1:1/123456789012/sales-stream-publisher-dlq",
				LakeBucket:               "sales-lake-local-us-east-1",
				RegionStateParameter:     "/sales/region-state",
			}
			if got != want {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestWriteOutputsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "infra", "outputs.json")
	o := Outputs{Regions: map[string]RegionOutputs{"us-east-1": {EventTable: "sales-events"}}}
	if err := o.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"regions"`) || !strings.Contains(string(b), `"event_table": "sales-events"`) {
		t.Fatalf("outputs file:\n%s", b)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".outputs-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

// The state bucket prefix lives in env.hcl (Terragrunt) and here (the
// bootstrap and the outputs reader): they must not drift apart.
func TestLocalStateBucketPrefixMatchesEnvHCL(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "infra", "terragrunt", "local", "env.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*state_bucket_prefix\s*=\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("env.hcl has no state_bucket_prefix")
	}
	if string(m[1]) != LocalStateBucketPrefix {
		t.Fatalf("env.hcl state_bucket_prefix = %q, infratest uses %q", m[1], LocalStateBucketPrefix)
	}
}

// The live tree's region folders are what Regions reports for it.
func TestRegionsOfTheLiveTree(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"local", "prod"} {
		got, err := Regions(filepath.Join(root, "infra", "terragrunt", env))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "sa-east-1,us-east-1" {
			t.Errorf("%s regions = %v", env, got)
		}
	}
}

func TestEndpointGroups(t *testing.T) {
	tests := []struct {
		name    string
		outputs string
		want    map[string]string
		wantErr bool
	}{
		{
			name:    "one group per region",
			outputs: `{"endpoint_group_arns": {"us-east-1": "arn:aws:globalaccelerator::1:accelerator/a/listener/l/endpoint-group/u", "sa-east-1": "arn:aws:globalaccelerator::1:accelerator/a/listener/l/endpoint-group/s"}}`,
			want: map[string]string{
				"us-east-1": "arn:aws:globalaccelerator::1:accelerator/a/listener/l/endpoint-group/u",
				"sa-east-1": "arn:aws:globalaccelerator::1:accelerator/a/listener/l/endpoint-group/s",
			},
		},
		{name: "output missing", outputs: `{"dns_name": "a.awsglobalaccelerator.com"}`, wantErr: true},
		{name: "not a map", outputs: `{"endpoint_group_arns": ["x"]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outputs map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.outputs), &outputs); err != nil {
				t.Fatal(err)
			}
			got, err := EndpointGroups(outputs)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("EndpointGroups = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("EndpointGroups = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// TestRegionCIDRsDoNotOverlap reads every region.hcl of every environment:
// each region has its own VPC block, and no two blocks of an environment
// overlap (so the VPCs can be connected later without renumbering).
func TestRegionCIDRsDoNotOverlap(t *testing.T) {
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	cidrRE := regexp.MustCompile(`(?m)^\s*vpc_cidr\s*=\s*"([^"]+)"`)
	for _, env := range []string{"prod", "local"} {
		envDir := filepath.Join(root, "infra", "terragrunt", env)
		regions, err := Regions(envDir)
		if err != nil {
			t.Fatal(err)
		}
		var nets []*net.IPNet
		var names []string
		for _, r := range regions {
			b, err := os.ReadFile(filepath.Join(envDir, r, "region.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			m := cidrRE.FindSubmatch(b)
			if m == nil {
				t.Errorf("%s/%s/region.hcl has no vpc_cidr", env, r)
				continue
			}
			_, n, err := net.ParseCIDR(string(m[1]))
			if err != nil {
				t.Errorf("%s/%s: vpc_cidr %q: %v", env, r, m[1], err)
				continue
			}
			for i, other := range nets {
				if n.Contains(other.IP) || other.Contains(n.IP) {
					t.Errorf("%s: %s (%s) overlaps %s (%s)", env, r, n, names[i], other)
				}
			}
			nets = append(nets, n)
			names = append(names, r)
		}
	}
}

func TestUnexpectedChangesLetOnlyDocumentedMotoDriftThrough(t *testing.T) {
	plan := `
  # module.api.aws_ecs_service.this must be replaced
  # module.api.aws_vpc_security_group_egress_rule.gateway_endpoints["s3"] will be updated in-place
  # module.api_gateway.aws_api_gateway_deployment.this must be replaced
  # module.api_gateway.data.aws_iam_policy_document.api will be read during apply
  # module.messaging.aws_sqs_queue.processing will be updated in-place
  # module.event_store.aws_dynamodb_table.this[0] must be replaced
  # module.lake.aws_s3_bucket.this will be destroyed
  # module.api.aws_vpc_security_group_egress_rule.gateway_endpoints["dynamodb"] must be replaced
`
	got := unexpectedChanges(plan)
	want := []string{
		"module.messaging.aws_sqs_queue.processing will be updated in-place",
		"module.event_store.aws_dynamodb_table.this[0] must be replaced",
		"module.lake.aws_s3_bucket.this will be destroyed",
		`module.api.aws_vpc_security_group_egress_rule.gateway_endpoints["dynamodb"] must be replaced`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("unexpectedChanges =\n%q\nwant\n%q", got, want)
	}
}
