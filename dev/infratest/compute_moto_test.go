package infratest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/salesplatform/dev/iamcheck"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// Units of the compute and edge layer (applied by the test only: the local
// stack runs the services as processes).
const (
	UnitNetwork  = "network"
	UnitServices = "services"
)

type computeClients struct {
	ecs   *ecs.Client
	elb   *elbv2.Client
	ecr   *ecr.Client
	acm   *acm.Client
	kms   *kms.Client
	state *s3.Client
}

func newComputeClients(t *testing.T, moto *motoserver.Server, region string) computeClients {
	cfg := moto.TestConfig(t, region, awsconfig.Options{})
	return computeClients{
		ecs: ecs.NewFromConfig(cfg), elb: elbv2.NewFromConfig(cfg), ecr: ecr.NewFromConfig(cfg),
		acm: acm.NewFromConfig(cfg), kms: kms.NewFromConfig(cfg), state: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)),
	}
}

// checkCompute reads one region's compute and edge layer back: the task
// definitions (arm64, read-only root, non-root user, health check, logs,
// the environment the services read), the services (circuit breaker with
// rollback, private subnets, no public address, the API behind its target
// group), the API's target group (health check on /healthcheck,
// deregistration delay covering the graceful shutdown), the repositories
// (immutable, scanned on push) and the custom domain's certificate.
func checkCompute(ctx context.Context, t *testing.T, region string, c computeClients, o RegionOutputs, root, envDir string) {
	privateSubnets := stateOutput[[]string](ctx, t, c.state, root, envDir, region, UnitNetwork, "private_subnet_ids")
	if len(privateSubnets) != 3 {
		t.Errorf("%s: %d private subnets, want one per zone (3)", region, len(privateSubnets))
	}
	cluster := stateOutput[string](ctx, t, c.state, root, envDir, region, UnitServices, "cluster_name")

	services, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"sales-api", "sales-worker"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(services.Services) != 2 {
		t.Fatalf("%s: services = %+v", region, services.Services)
	}
	wantEnv := map[string]map[string]string{
		"sales-api": {
			"AWS_REGION": region, "DYNAMO_SALES_TABLE": o.EventTable, "SSM_PARAMETER_STORE_STATE": o.RegionStateParameter,
			"PORT": "8080", "SHUTDOWN_DELAY": "5s", "SHUTDOWN_TIMEOUT": "20s",
		},
		"sales-worker": {
			"AWS_REGION": region, "SQS_SALES_QUEUE": o.ProcessingQueueURL, "SQS_SALES_DLQ": o.ProcessingDLQURL,
			"SSM_PARAMETER_STORE_STATE": o.RegionStateParameter, "DYNAMO_SALES_TABLE": o.EventTable,
			"DYNAMO_SALES_IDEMPOTENCY_TABLE": o.IdempotencyTable, "S3_SALES_BUCKET": o.LakeBucket,
			"PORT": "8080", "STOP_TIMEOUT": "25s",
		},
	}
	wantStop := map[string]int32{"sales-api": 30, "sales-worker": 30}
	// moto's ECS does not keep a service's deployment configuration, so
	// the circuit breaker is read from the applied state instead.
	breakers := 0
	for _, attrs := range stateResources(ctx, t, c.state, root, envDir, region, UnitServices, "aws_ecs_service") {
		var cb []struct{ Enable, Rollback bool }
		if err := json.Unmarshal(attrs["deployment_circuit_breaker"], &cb); err != nil || len(cb) != 1 || !cb[0].Enable || !cb[0].Rollback {
			t.Errorf("%s %s: deployment circuit breaker with rollback not set: %s", region, attrs["name"], attrs["deployment_circuit_breaker"])
			continue
		}
		breakers++
	}
	if breakers != 2 {
		t.Errorf("%s: %d services with a circuit breaker and rollback in the state, want 2", region, breakers)
	}
	for _, svc := range services.Services {
		name := aws.ToString(svc.ServiceName)
		if nc := svc.NetworkConfiguration; nc == nil || nc.AwsvpcConfiguration == nil ||
			nc.AwsvpcConfiguration.AssignPublicIp != ecstypes.AssignPublicIpDisabled ||
			!sameSet(nc.AwsvpcConfiguration.Subnets, privateSubnets) {
			t.Errorf("%s %s: network = %+v, want the private subnets %v without public addresses", region, name, svc.NetworkConfiguration, privateSubnets)
		}
		if name == "sales-api" && (len(svc.LoadBalancers) != 1 || aws.ToInt32(svc.LoadBalancers[0].ContainerPort) != 8080) {
			t.Errorf("%s sales-api: load balancers = %+v", region, svc.LoadBalancers)
		}
		td, err := c.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
		if err != nil {
			t.Fatal(err)
		}
		def := td.TaskDefinition
		if def.RuntimePlatform == nil || def.RuntimePlatform.CpuArchitecture != ecstypes.CPUArchitectureArm64 {
			t.Errorf("%s %s: runtime platform = %+v, want ARM64", region, name, def.RuntimePlatform)
		}
		if def.NetworkMode != ecstypes.NetworkModeAwsvpc || aws.ToString(def.TaskRoleArn) == "" || aws.ToString(def.ExecutionRoleArn) == "" {
			t.Errorf("%s %s: network mode %s, task role %q, execution role %q", region, name, def.NetworkMode, aws.ToString(def.TaskRoleArn), aws.ToString(def.ExecutionRoleArn))
		}
		if len(def.ContainerDefinitions) != 1 {
			t.Fatalf("%s %s: %d containers", region, name, len(def.ContainerDefinitions))
		}
		cd := def.ContainerDefinitions[0]
		if !aws.ToBool(cd.ReadonlyRootFilesystem) || aws.ToString(cd.User) != "65532:65532" {
			t.Errorf("%s %s: read-only root %v, user %q", region, name, aws.ToBool(cd.ReadonlyRootFilesystem), aws.ToString(cd.User))
		}
		if cd.HealthCheck == nil || !slices.Equal(cd.HealthCheck.Command, []string{"CMD", "/healthprobe"}) {
			t.Errorf("%s %s: health check = %+v", region, name, cd.HealthCheck)
		}
		if cd.LogConfiguration == nil || cd.LogConfiguration.LogDriver != ecstypes.LogDriverAwslogs {
			t.Errorf("%s %s: log configuration = %+v", region, name, cd.LogConfiguration)
		}
		if aws.ToInt32(cd.StopTimeout) != wantStop[name] {
			t.Errorf("%s %s: stop timeout %d, want %d", region, name, aws.ToInt32(cd.StopTimeout), wantStop[name])
		}
		if !strings.Contains(aws.ToString(cd.Image), ".dkr.ecr."+region+".amazonaws.com/"+name+":") {
			t.Errorf("%s %s: image %q is not from the region's own repository", region, name, aws.ToString(cd.Image))
		}
		env := map[string]string{}
		for _, kv := range cd.Environment {
			env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		}
		for k, v := range wantEnv[name] {
			if env[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", region, name, k, env[k], v)
			}
		}
	}

	tgs, err := c.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"sales-api"}})
	if err != nil {
		t.Fatal(err)
	}
	tg := tgs.TargetGroups[0]
	if aws.ToString(tg.HealthCheckPath) != "/healthcheck" || tg.TargetType != "ip" || aws.ToInt32(tg.Port) != 8080 {
		t.Errorf("%s: API target group = path %q, type %s, port %d", region, aws.ToString(tg.HealthCheckPath), tg.TargetType, aws.ToInt32(tg.Port))
	}
	attrs, err := c.elb.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs.Attributes {
		if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" && aws.ToString(a.Value) != "25" {
			t.Errorf("%s: deregistration delay %s s, want 25 (SHUTDOWN_DELAY 5 s + SHUTDOWN_TIMEOUT 20 s)", region, aws.ToString(a.Value))
		}
	}
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"sales-api"}})
	if err != nil {
		t.Fatal(err)
	}
	if lbs.LoadBalancers[0].Scheme != "internal" {
		t.Errorf("%s: the API's load balancer is %s, want internal", region, lbs.LoadBalancers[0].Scheme)
	}

	repos, err := c.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"sales-api", "sales-worker"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range repos.Repositories {
		if r.ImageTagMutability != ecrtypes.ImageTagMutabilityImmutable || r.ImageScanningConfiguration == nil || !r.ImageScanningConfiguration.ScanOnPush {
			t.Errorf("%s %s: tags %s, scan on push %+v", region, aws.ToString(r.RepositoryName), r.ImageTagMutability, r.ImageScanningConfiguration)
		}
	}

	certs, err := c.acm.ListCertificates(ctx, &acm.ListCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	issued := false
	for _, cs := range certs.CertificateSummaryList {
		if strings.HasPrefix(aws.ToString(cs.DomainName), "api.") && cs.Status == acmtypes.CertificateStatusIssued {
			issued = true
		}
	}
	if !issued {
		t.Errorf("%s: no issued certificate for the API's domain: %+v", region, certs.CertificateSummaryList)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// stateResources returns the attributes of every instance of the
// resources of one type in an applied unit's state.
func stateResources(ctx context.Context, t *testing.T, c *s3.Client, root, envDir, region, unit, typ string) []map[string]json.RawMessage {
	t.Helper()
	var doc struct {
		Resources []struct {
			Mode, Type string
			Instances  []struct {
				Attributes map[string]json.RawMessage `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(readState(ctx, t, c, root, envDir, region, unit), &doc); err != nil {
		t.Fatalf("state of %s/%s: %v", region, unit, err)
	}
	var out []map[string]json.RawMessage
	for _, r := range doc.Resources {
		if r.Mode == "managed" && r.Type == typ {
			for _, in := range r.Instances {
				out = append(out, in.Attributes)
			}
		}
	}
	return out
}

// checkRenderedIAM runs the IAM gate (dev/iamcheck) on what the apply
// produced: every role's inline and attached policies, and every region's
// KMS key policies.
func checkRenderedIAM(ctx context.Context, t *testing.T, moto *motoserver.Server, regions []string) {
	iamc := iam.NewFromConfig(moto.TestConfig(t, regions[0], awsconfig.Options{}))
	docs := 0
	check := func(source, encoded string) {
		t.Helper()
		doc, err := url.QueryUnescape(encoded)
		if err != nil {
			doc = encoded
		}
		p, err := iamcheck.ParseJSON(source, []byte(doc))
		if err != nil {
			t.Error(err)
			return
		}
		findings, _ := iamcheck.Check(p)
		for _, f := range findings {
			t.Error(f)
		}
		docs++
	}
	roles := iam.NewListRolesPaginator(iamc, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		page, err := roles.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Roles {
			role := aws.ToString(r.RoleName)
			inline, err := iamc.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: r.RoleName})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range inline.PolicyNames {
				p, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: r.RoleName, PolicyName: aws.String(name)})
				if err != nil {
					t.Fatal(err)
				}
				check("role "+role+" policy "+name, aws.ToString(p.PolicyDocument))
			}
			attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: r.RoleName})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range attached.AttachedPolicies {
				arn := aws.ToString(a.PolicyArn)
				if strings.Contains(arn, ":iam::aws:policy/") {
					if f, _, bad := iamcheck.CheckManaged("role "+role, arn); bad {
						t.Error(f)
					}
					continue
				}
				pol, err := iamc.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: a.PolicyArn})
				if err != nil {
					t.Fatal(err)
				}
				v, err := iamc.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: a.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
				if err != nil {
					t.Fatal(err)
				}
				check("role "+role+" managed "+arn, aws.ToString(v.PolicyVersion.Document))
			}
		}
	}
	for _, region := range regions {
		kc := kms.NewFromConfig(moto.TestConfig(t, region, awsconfig.Options{}))
		keys, err := kc.ListKeys(ctx, &kms.ListKeysInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys.Keys {
			// The modules tag every key they create (default_tags);
			// an untagged key was made by a service for itself — moto's
			// stand-in for the AWS managed alias/aws/dynamodb key, with
			// moto's default policy — and its policy is not ours.
			tags, err := kc.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			if len(tags.Tags) == 0 {
				continue
			}
			p, err := kc.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: k.KeyId, PolicyName: aws.String("default")})
			if err != nil {
				t.Fatal(err)
			}
			check(region+" key "+aws.ToString(k.KeyId), aws.ToString(p.Policy))
		}
	}
	// Roles: publisher and flow logs per region, two task and two execution
	// roles per region, the API Gateway logging role per region, the CI
	// and operator roles; keys: lake, messaging, alarms, logs per region.
	if docs < 20 {
		t.Errorf("only %d rendered policy documents checked", docs)
	}
	t.Logf("rendered IAM: %d policy documents checked", docs)
}

// planChanges is what a plan's text says it would do, per resource address.
var planHeader = regexp.MustCompile(`(?m)^\s*# (\S+) (will be created|will be destroyed|must be replaced|will be updated in-place|will be read during apply)`)

// motoDrift lists the in-place updates a second plan shows only because
// moto does not store the attribute (each would be a no-op on AWS). Any
// other change fails the no-op check.
var motoDrift = map[string]string{
	"aws_ecs_service":                     "moto does not return availability_zone_rebalancing",
	"aws_api_gateway_integration":         "moto does not return an integration's connection_id (the VPC link)",
	"aws_vpc_security_group_egress_rule":  "moto does not return a security group rule's description",
	"aws_vpc_security_group_ingress_rule": "moto does not return a security group rule's description",
	"aws_api_gateway_stage":               "follows the deployment below",
}

// motoReplacements lists the replacements a second plan shows only because
// moto drops an attribute that forces a new resource (each a no-op on
// AWS). Only compute and edge resources: the data path must plan to
// nothing at all.
var motoReplacements = map[string]string{
	"aws_ecs_service":            "moto does not keep a service's capacity_provider_strategy (nor its deployment configuration, read from the state instead)",
	"aws_api_gateway_deployment": "its redeployment trigger hashes the integration, whose connection_id moto drops",
}

// unexpectedChanges returns every planned change that is not documented
// moto drift.
func unexpectedChanges(planText string) []string {
	var out []string
	for _, m := range planHeader.FindAllStringSubmatch(planText, -1) {
		addr, action := m[1], m[2]
		if action == "will be read during apply" {
			continue
		}
		typ := resourceType(addr)
		if action == "will be updated in-place" {
			if _, ok := motoDrift[typ]; ok {
				continue
			}
		}
		if action == "must be replaced" {
			if _, ok := motoReplacements[typ]; ok {
				continue
			}
		}
		out = append(out, addr+" "+action)
	}
	return out
}

// resourceType of "module.api.aws_ecs_service.this" or
// "module.x.aws_lb.this[0]" is the resource type.
func resourceType(addr string) string {
	parts := strings.Split(addr, ".")
	for i := len(parts) - 2; i >= 0; i-- {
		if strings.HasPrefix(parts[i], "aws_") {
			return parts[i]
		}
	}
	return ""
}

// planProdOnEmulator plans the prod layout against a fresh emulator of its
// own: every unit whose data sources do not need resources that only an
// applied prod has. It returns the number of units planned.
func planProdOnEmulator(ctx context.Context, root, work string, env []string) (int, error) {
	moto, err := motoserver.Start(ctx, motoserver.Options{LogFile: filepath.Join(work, "moto-prod.log")})
	if err != nil {
		return 0, err
	}
	defer moto.Stop()
	liveProd := filepath.Join(root, "infra", "terragrunt", "prod")
	regions, err := Regions(liveProd)
	if err != nil {
		return 0, err
	}
	logFile := filepath.Join(work, "prod-plan.log")
	penv := append(slices.Clone(env), moto.Env()...)
	penv = append(penv, "SALES_PROD_PLAN_EMULATOR="+moto.URL, "SALES_IMAGE_TAG=plan-test", "SALES_PROD_ACCOUNT_ID=")
	if err := runLogged(ctx, root, penv, logFile, filepath.Join(root, "bin", "infralocal"), "state-buckets",
		"-env", liveProd, "-state-bucket-prefix", "sales-platform-tfstate-prod"); err != nil {
		return 0, err
	}
	args := []string{filepath.Join(root, "bin", "terragrunt"), "run", "--all", "plan", "--non-interactive", "--log-format", "bare", "--no-color",
		"--working-dir", liveProd, "--download-dir", filepath.Join(work, "prod-cache")}
	for _, u := range ProdUnitsNotPlannable {
		args = append(args, "--filter", "!"+u.Path)
	}
	if err := runLogged(ctx, root, penv, logFile, filepath.Join(root, "infra", "scripts", "tf-env.sh"), args...); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		return 0, err
	}
	n := strings.Count(string(b), "\nPlan: ") + strings.Count(string(b), "No changes. Your infrastructure matches the configuration.")
	// Per region event-pipeline, network and services (its data-stores is
	// not plannable); the global layer's six units but the two that are not.
	want := len(regions)*3 + 6 - 2
	if n != want {
		return n, fmt.Errorf("%d units planned, want %d (log %s)", n, want, logFile)
	}
	return n, nil
}

// ProdUnitsNotPlannable are the prod units a plan against an empty
// emulator cannot do, each with the reason: their data sources read
// resources that exist only once other prod units are applied.
var ProdUnitsNotPlannable = []struct{ Path, Reason string }{
	{"./*/data-stores", "reads its region's replica of the global tables (data source), which only an applied _global/event-store creates"},
	{"./_global/cross-region-subscriptions", "looks up every region's topic and queue by name (data sources)"},
}

func checkComputeGone(ctx context.Context, t *testing.T, region string, c computeClients) {
	t.Helper()
	clusters, err := c.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"sales"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range clusters.Clusters {
		if aws.ToString(cl.Status) == "ACTIVE" {
			t.Errorf("%s: cluster %s still active after destroy", region, aws.ToString(cl.ClusterName))
		}
	}
	if lbs, err := c.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatal(err)
	} else if len(lbs.LoadBalancers) > 0 {
		t.Errorf("%s: %d load balancers left after destroy", region, len(lbs.LoadBalancers))
	}
	if repos, err := c.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatal(err)
	} else if len(repos.Repositories) > 0 {
		t.Errorf("%s: %d repositories left after destroy", region, len(repos.Repositories))
	}
}
