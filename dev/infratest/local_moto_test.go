package infratest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// The switch for the tests that apply real Terraform: they take minutes of
// CPU, so `go test ./...` skips them and `task infra:test` runs them.
const envInfraTest = "SALES_INFRA_TEST"

func requireInfraTest(t *testing.T) string {
	t.Helper()
	if os.Getenv(envInfraTest) != "1" {
		t.Skipf("%s=1 runs it (task infra:test): it applies the Terragrunt local environment", envInfraTest)
	}
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "terragrunt")); err != nil {
		t.Fatalf("bin/terragrunt is missing: run `task infra:tools` first (%v)", err)
	}
	return root
}

// run runs a command with env, logging its output to the test log's file
// and returning the tail on failure.
func run(ctx context.Context, t *testing.T, dir string, env []string, logFile string, name string, args ...string) error {
	t.Helper()
	return runLogged(ctx, dir, env, logFile, name, args...)
}

// runLogged is run without a test (for commands run concurrently).
func runLogged(ctx context.Context, dir string, env []string, logFile string, name string, args ...string) error {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "\n$ %s %s\n", name, strings.Join(args, " "))
	var tail bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = io.MultiWriter(f, &tail)
	cmd.Stderr = io.MultiWriter(f, &tail)
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		out := tail.Bytes()
		if len(out) > 6000 {
			out = out[len(out)-6000:]
		}
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// TestLocalEnvironmentOnMoto applies the local environment (both regions
// and the global layer) to a fresh moto through the same tasks `task up`
// uses, reads the resources back through the SDK, checks that a second plan
// is a no-op even after a failover flipped a region's state, destroys, and
// checks nothing is left.
func TestLocalEnvironmentOnMoto(t *testing.T) {
	root := requireInfraTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Minute)
	defer cancel()

	// A fresh emulator of its own, whatever MOTO_ENDPOINT says: destroy is
	// checked against an account that held nothing else.
	t.Setenv(motoserver.EnvEndpoint, "")
	// Logs and plans stay for the post-mortem when the test fails.
	work, err := os.MkdirTemp("", "sales-infratest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs and plans kept in %s", work)
			return
		}
		_ = os.RemoveAll(work)
	})
	logFile := filepath.Join(work, "infra.log")
	moto, err := motoserver.Start(ctx, motoserver.Options{LogFile: filepath.Join(work, "moto.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("infra log tail:\n%s", b)
		}
	})

	outputsFile := filepath.Join(work, "infra", "outputs.json")
	cache := filepath.Join(work, "terragrunt-cache")
	// GOWORK is left out: under `task`, it names the project's workspace,
	// in which `go -C tools tool task` finds no task (tools has its own
	// go.work); the nested task sets it again for its own commands.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOWORK=") })
	env = append(env, moto.Env()...)
	env = append(env, "LOCAL_DIR="+work, "OUTPUTS_FILE="+outputsFile, "TG_DOWNLOAD_DIR="+cache)

	// The prod layout is planned against an emulator of its own meanwhile:
	// the local apply spends most of its time in the provider's waiters,
	// so the plan's CPU fits in beside it.
	type prodPlan struct {
		units int
		took  time.Duration
		err   error
	}
	prodDone := make(chan prodPlan, 1)
	go func() {
		start := time.Now()
		n, err := planProdOnEmulator(ctx, root, work, env)
		prodDone <- prodPlan{n, time.Since(start), err}
	}()
	// This test applies the compute and edge units too (task up does not).
	env = append(env, "COMPUTE=1")
	task := func(name string) error {
		return run(ctx, t, root, env, logFile, "go", "-C", filepath.Join(root, "tools"), "tool", "task", "-d", root, name)
	}
	terragrunt := func(args ...string) error {
		args = append([]string{filepath.Join(root, "bin", "terragrunt")}, args...)
		return run(ctx, t, root, env, logFile, filepath.Join(root, "infra", "scripts", "tf-env.sh"), args...)
	}
	liveLocal := filepath.Join(root, "infra", "terragrunt", "local")

	start := time.Now()
	if err := task("infra:local:apply"); err != nil {
		t.Fatal(err)
	}
	t.Logf("task infra:local:apply on a fresh moto took %s", time.Since(start).Round(100*time.Millisecond))
	if err := task("infra:local:outputs"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(outputsFile)
	if err != nil {
		t.Fatal(err)
	}
	var outputs Outputs
	if err := json.Unmarshal(b, &outputs); err != nil {
		t.Fatalf("outputs.json: %v\n%s", err, b)
	}
	regions, err := Regions(liveLocal)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for r := range outputs.Regions {
			if !yield(r) {
				return
			}
		}
	}); !slices.Equal(got, regions) {
		t.Fatalf("outputs regions = %v, want %v", got, regions)
	}

	clients := map[string]awsClients{}
	for _, r := range regions {
		cfg := moto.TestConfig(t, r, awsconfig.Options{})
		clients[r] = awsClients{
			ddb: dynamodb.NewFromConfig(cfg),
			sqs: sqs.NewFromConfig(cfg),
			sns: sns.NewFromConfig(cfg),
			s3:  s3.NewFromConfig(cfg, awsconfig.S3Options(cfg)),
			ssm: ssm.NewFromConfig(cfg),
		}
	}

	queueARNs := map[string]string{}
	for _, r := range regions {
		queueARNs[r] = queueARN(ctx, t, clients[r].sqs, outputs.Regions[r].ProcessingQueueURL)
	}
	for _, r := range regions {
		t.Run("readback/"+r, func(t *testing.T) {
			checkRegion(ctx, t, r, regions, clients[r], outputs.Regions[r], queueARNs)
		})
	}
	// The mapping itself is off in local (moto would run it in Docker), but
	// the filter it would get is an output of the applied unit: INSERTs
	// whose origin_region is the unit's own region, nothing else.
	t.Run("publisher-filter", func(t *testing.T) {
		for _, r := range regions {
			pattern := stateOutput[string](ctx, t, clients[r].s3, root, liveLocal, r, UnitEventPipeline, "publisher_filter_pattern")
			var f struct {
				EventName []string `json:"eventName"`
				DynamoDB  struct {
					NewImage struct {
						OriginRegion struct {
							S []string `json:"S"`
						} `json:"origin_region"`
					} `json:"NewImage"`
				} `json:"dynamodb"`
			}
			if err := json.Unmarshal([]byte(pattern), &f); err != nil {
				t.Fatalf("%s filter pattern %q: %v", r, pattern, err)
			}
			if !slices.Equal(f.EventName, []string{"INSERT"}) || !slices.Equal(f.DynamoDB.NewImage.OriginRegion.S, []string{r}) {
				t.Errorf("%s publisher filter = %s, want INSERT with origin_region %s", r, pattern, r)
			}
		}
	})
	t.Run("fanout", func(t *testing.T) {
		checkFanout(ctx, t, regions, clients, outputs)
	})
	for _, r := range regions {
		t.Run("compute/"+r, func(t *testing.T) {
			checkCompute(ctx, t, r, newComputeClients(t, moto, r), outputs.Regions[r], root, liveLocal)
		})
	}
	t.Run("rendered-iam", func(t *testing.T) {
		checkRenderedIAM(ctx, t, moto, regions)
	})
	t.Run("prod-plan-on-emulator", func(t *testing.T) {
		p := <-prodDone
		if p.err != nil {
			t.Fatal(p.err)
		}
		t.Logf("prod layout: %d units planned against a fresh emulator in %s", p.units, p.took.Round(100*time.Millisecond))
	})

	// A failover sets the state outside Terraform; the next apply must not
	// undo it (lifecycle ignore_changes), so the plan stays empty.
	flipped := regions[0]
	if _, err := clients[flipped].ssm.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(outputs.Regions[flipped].RegionStateParameter), Value: aws.String("PASSIVE"),
		Type: "String", Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing may change but the attributes moto does not store (listed in
	// motoDrift, each a no-op on AWS).
	planLog := filepath.Join(work, "second-plan.log")
	if err := run(ctx, t, root, env, planLog, filepath.Join(root, "infra", "scripts", "tf-env.sh"),
		filepath.Join(root, "bin", "terragrunt"), "run", "--all", "plan", "--non-interactive", "--log-format", "bare", "--no-color",
		"--working-dir", liveLocal, "--download-dir", cache); err != nil {
		t.Fatal(err)
	}
	planText, err := os.ReadFile(planLog)
	if err != nil {
		t.Fatal(err)
	}
	if changes := unexpectedChanges(string(planText)); len(changes) > 0 {
		t.Fatalf("second plan is not a no-op: %v (plan in %s)", changes, planLog)
	}

	if err := terragrunt("run", "--all", "destroy", "--non-interactive", "--log-format", "bare", "--no-color",
		"--working-dir", liveLocal, "--download-dir", cache); err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		checkGone(ctx, t, r, clients[r], outputs.Regions[r])
		checkComputeGone(ctx, t, r, newComputeClients(t, moto, r))
	}
	select {
	case p := <-prodDone: // not read above when a check stopped the test early
		if p.err != nil {
			t.Error(p.err)
		}
	default:
	}
}

// readState returns an applied unit's state document from its bucket.
func readState(ctx context.Context, t *testing.T, c *s3.Client, root, envDir, region, unit string) []byte {
	t.Helper()
	key, err := StateKey(root, filepath.Join(envDir, region, unit))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(StateBucket(region)), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("state of %s/%s: %v", region, unit, err)
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("state of %s/%s: %v", region, unit, err)
	}
	return b
}

// stateOutput reads one output of an applied unit.
func stateOutput[T any](ctx context.Context, t *testing.T, c *s3.Client, root, envDir, region, unit, name string) T {
	t.Helper()
	outputs, err := StateOutputs(bytes.NewReader(readState(ctx, t, c, root, envDir, region, unit)))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(outputs[name], &v); err != nil {
		t.Fatalf("output %s of %s/%s: %v", name, region, unit, err)
	}
	return v
}

type awsClients struct {
	ddb *dynamodb.Client
	sqs *sqs.Client
	sns *sns.Client
	s3  *s3.Client
	ssm *ssm.Client
}

func queueARN(ctx context.Context, t *testing.T, c *sqs.Client, url string) string {
	t.Helper()
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue %s: %v", url, err)
	}
	return out.Attributes["QueueArn"]
}

func checkRegion(ctx context.Context, t *testing.T, region string, regions []string, c awsClients, o RegionOutputs, queueARNs map[string]string) {
	// Event store: streams on, the designed key, encrypted, PITR, TTL.
	tbl, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.EventTable)})
	if err != nil {
		t.Fatal(err)
	}
	td := tbl.Table
	if td.StreamSpecification == nil || !aws.ToBool(td.StreamSpecification.StreamEnabled) {
		t.Errorf("event table stream not enabled: %+v", td.StreamSpecification)
	} else if td.StreamSpecification.StreamViewType != ddbtypes.StreamViewTypeNewAndOldImages {
		t.Errorf("stream view type = %s", td.StreamSpecification.StreamViewType)
	}
	if aws.ToString(td.LatestStreamArn) != o.EventStreamARN {
		t.Errorf("outputs stream ARN %s, table's %s", o.EventStreamARN, aws.ToString(td.LatestStreamArn))
	}
	if got := keySchema(td.KeySchema); got != "sale_id:HASH,position:RANGE" {
		t.Errorf("event table keys = %s", got)
	}
	if td.BillingModeSummary == nil || td.BillingModeSummary.BillingMode != ddbtypes.BillingModePayPerRequest {
		t.Errorf("event table billing = %+v", td.BillingModeSummary)
	}
	if td.SSEDescription == nil || td.SSEDescription.Status != ddbtypes.SSEStatusEnabled {
		t.Errorf("event table encryption = %+v", td.SSEDescription)
	}
	checkTTLAndPITR(ctx, t, c.ddb, o.EventTable)

	idem, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.IdempotencyTable)})
	if err != nil {
		t.Fatal(err)
	}
	if got := keySchema(idem.Table.KeySchema); got != "id:HASH" {
		t.Errorf("idempotency table keys = %s", got)
	}
	checkTTLAndPITR(ctx, t, c.ddb, o.IdempotencyTable)

	// Processing queue: redrive to its DLQ, visibility from the budget,
	// encrypted, and only the regions' topics may send.
	q, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(o.ProcessingQueueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(o.ProcessingDLQURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(q.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("redrive policy %q: %v", q.Attributes["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != dlq.Attributes["QueueArn"] || fmt.Sprint(redrive.MaxReceiveCount) != "10" {
		t.Errorf("redrive policy = %+v, want DLQ %s after 10 receives", redrive, dlq.Attributes["QueueArn"])
	}
	if q.Attributes["VisibilityTimeout"] != "60" {
		t.Errorf("visibility timeout = %s, want 60 (twice the 30 s budget)", q.Attributes["VisibilityTimeout"])
	}
	if q.Attributes["KmsMasterKeyId"] == "" || dlq.Attributes["KmsMasterKeyId"] == "" {
		t.Errorf("queues not encrypted with the messaging key: %q, %q", q.Attributes["KmsMasterKeyId"], dlq.Attributes["KmsMasterKeyId"])
	}
	if dlq.Attributes["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("DLQ retention = %s, want 14 days", dlq.Attributes["MessageRetentionPeriod"])
	}
	for _, r := range regions {
		topic := strings.Replace(o.TopicARN, ":"+region+":", ":"+r+":", 1)
		if !strings.Contains(q.Attributes["Policy"], topic) {
			t.Errorf("queue policy does not admit %s's topic %s:\n%s", r, topic, q.Attributes["Policy"])
		}
	}

	// The topic subscribes every region's queue (its own from the region's
	// unit, the others from the global layer with this region's provider),
	// raw, filtered on event_type.
	subs, err := c.sns.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(o.TopicARN)})
	if err != nil {
		t.Fatal(err)
	}
	byEndpoint := map[string]snstypes.Subscription{}
	for _, s := range subs.Subscriptions {
		byEndpoint[aws.ToString(s.Endpoint)] = s
	}
	for _, r := range regions {
		s, ok := byEndpoint[queueARNs[r]]
		if !ok {
			t.Errorf("topic %s has no subscription of %s's queue %s (subscriptions: %v)", o.TopicARN, r, queueARNs[r], byEndpoint)
			continue
		}
		attrs, err := c.sns.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: s.SubscriptionArn})
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Attributes["RawMessageDelivery"] != "true" {
			t.Errorf("subscription %s -> %s: raw delivery = %q", region, r, attrs.Attributes["RawMessageDelivery"])
		}
		var filter map[string][]string
		if err := json.Unmarshal([]byte(attrs.Attributes["FilterPolicy"]), &filter); err != nil {
			t.Errorf("subscription %s -> %s: filter policy %q: %v", region, r, attrs.Attributes["FilterPolicy"], err)
		} else if got := strings.Join(filter["event_type"], ","); got != "SaleCreated,SaleCancelled" || len(filter) != 1 {
			t.Errorf("subscription %s -> %s: filter policy = %v", region, r, filter)
		}
	}

	// Lake: KMS encryption, everything public blocked, versioned, owner
	// enforced, TLS only, lifecycle.
	enc, err := c.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(o.LakeBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if rules := enc.ServerSideEncryptionConfiguration.Rules; len(rules) != 1 ||
		rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "aws:kms" ||
		aws.ToString(rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) == "" {
		t.Errorf("lake encryption = %+v", rules)
	}
	pab, err := c.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(o.LakeBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if p := pab.PublicAccessBlockConfiguration; !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.BlockPublicPolicy) ||
		!aws.ToBool(p.IgnorePublicAcls) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Errorf("lake public access block = %+v", p)
	}
	ver, err := c.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(o.LakeBucket)})
	if err != nil || ver.Status != "Enabled" {
		t.Errorf("lake versioning = %v, %v", ver, err)
	}
	own, err := c.s3.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String(o.LakeBucket)})
	if err != nil || len(own.OwnershipControls.Rules) != 1 || own.OwnershipControls.Rules[0].ObjectOwnership != "BucketOwnerEnforced" {
		t.Errorf("lake ownership controls = %+v, %v", own, err)
	}
	// No TLS-only bucket policy in local (env.hcl tls_only = false): moto
	// enforces aws:SecureTransport against its own plain-HTTP endpoint and
	// would refuse every object. Prod's policy is checked by plan/validate.
	if _, err := c.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(o.LakeBucket)}); err == nil {
		t.Errorf("lake %s has a bucket policy in the local environment: moto would refuse plain-HTTP writes", o.LakeBucket)
	}
	lc, err := c.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(o.LakeBucket)})
	if err != nil || len(lc.Rules) == 0 {
		t.Errorf("lake lifecycle = %+v, %v", lc, err)
	}

	// Region state starts ACTIVE.
	p, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(o.RegionStateParameter)})
	if err != nil || aws.ToString(p.Parameter.Value) != "ACTIVE" {
		t.Errorf("region state = %v, %v", p, err)
	}
}

func keySchema(ks []ddbtypes.KeySchemaElement) string {
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(parts, ",")
}

func checkTTLAndPITR(ctx context.Context, t *testing.T, c *dynamodb.Client, table string) {
	t.Helper()
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != ddbtypes.TimeToLiveStatusEnabled ||
		aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expires_at" {
		t.Errorf("%s TTL = %+v, %v", table, ttl, err)
	}
	pitr, err := c.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil || pitr.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != ddbtypes.PointInTimeRecoveryStatusEnabled {
		t.Errorf("%s point-in-time recovery = %+v, %v", table, pitr, err)
	}
}

// checkFanout publishes through each region's topic and expects every
// region's processing queue to get the SaleCreated event raw (body as
// published, attributes kept) and never the SaleProcessed one.
func checkFanout(ctx context.Context, t *testing.T, regions []string, clients map[string]awsClients, outputs Outputs) {
	for _, from := range regions {
		marker := fmt.Sprintf("fanout-%s-%d", from, time.Now().UnixNano())
		for _, eventType := range []string{"SaleProcessed", "SaleCreated"} {
			if _, err := clients[from].sns.Publish(ctx, &sns.PublishInput{
				TopicArn: aws.String(outputs.Regions[from].TopicARN),
				Message:  aws.String(fmt.Sprintf(`{"event_type":%q,"marker":%q}`, eventType, marker)),
				MessageAttributes: map[string]snstypes.MessageAttributeValue{
					"event_type": {DataType: aws.String("String"), StringValue: aws.String(eventType)},
				},
			}); err != nil {
				t.Fatal(err)
			}
		}
		for _, to := range regions {
			bodies := drain(ctx, t, clients[to].sqs, outputs.Regions[to].ProcessingQueueURL, marker)
			want := []string{fmt.Sprintf(`{"event_type":"SaleCreated","marker":%q}`, marker)}
			if !slices.Equal(bodies, want) {
				t.Errorf("%s topic -> %s queue delivered %q, want exactly %q", from, to, bodies, want)
			}
		}
	}
}

// drain receives (and deletes) the queue's messages carrying marker until
// one arrived and a further receive came back empty.
func drain(ctx context.Context, t *testing.T, c *sqs.Client, url, marker string) []string {
	t.Helper()
	var bodies []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if strings.Contains(aws.ToString(m.Body), marker) {
				bodies = append(bodies, aws.ToString(m.Body))
				if v := m.MessageAttributes["event_type"]; aws.ToString(v.StringValue) == "" {
					t.Errorf("raw delivery lost the event_type attribute: %+v", m.MessageAttributes)
				}
			}
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		if len(out.Messages) == 0 && len(bodies) > 0 {
			break
		}
	}
	return bodies
}

func checkGone(ctx context.Context, t *testing.T, region string, c awsClients, o RegionOutputs) {
	t.Helper()
	for _, table := range []string{o.EventTable, o.IdempotencyTable} {
		_, err := c.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var nf *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("%s table %s after destroy: %v", region, table, err)
		}
	}
	for _, url := range []string{o.ProcessingQueueURL, o.ProcessingDLQURL, o.PublisherFailureQueueURL} {
		name := url[strings.LastIndex(url, "/")+1:]
		if _, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
			t.Errorf("%s queue %s still exists after destroy", region, name)
		}
	}
	topics, err := c.sns.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics.Topics {
		if aws.ToString(tp.TopicArn) == o.TopicARN {
			t.Errorf("%s topic %s still exists after destroy", region, o.TopicARN)
		}
	}
	if _, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(o.LakeBucket)}); err == nil {
		t.Errorf("%s lake %s still exists after destroy", region, o.LakeBucket)
	}
	if _, err := c.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(o.RegionStateParameter)}); err == nil {
		t.Errorf("%s parameter %s still exists after destroy", region, o.RegionStateParameter)
	}
}
