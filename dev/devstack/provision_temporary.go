package devstack

// TEMPORARY — delete this file once `task infra:local:apply` (issue 6)
// exists: the local stack's resources must come from the Terragrunt local
// environment only. Until then it creates the same names and shapes the
// infrastructure modules define, so the rest of the stack can be built and
// tested.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

type temporaryFixtures struct{}

func (temporaryFixtures) Name() string {
	return "TEMPORARY fixtures (until task infra:local:apply exists)"
}

func (temporaryFixtures) Provision(ctx context.Context, req ProvisionRequest) (Outputs, error) {
	out := Outputs{Regions: map[string]RegionOutputs{}}
	type queueRef struct{ url, arn string }
	queues := map[string]queueRef{}
	cfgs := map[string]aws.Config{}
	for _, region := range req.Regions {
		cfg, err := awsconfig.Load(ctx, region, awsconfig.Options{ConfigOptions: []func(*config.LoadOptions) error{
			config.WithCredentialsProvider(motoserver.Credentials), config.WithBaseEndpoint(req.Endpoint),
		}})
		if err != nil {
			return out, err
		}
		cfgs[region] = cfg
		d := ddb.NewFromConfig(cfg)
		ro := RegionOutputs{EventTable: "sales-events", IdempotencyTable: "sales-idempotency", LakeBucket: "sales-lake-local-" + region, RegionStateParameter: "/sales/region-state"}
		ev, err := d.CreateTable(ctx, &ddb.CreateTableInput{
			TableName: &ro.EventTable, BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("sale_id"), AttributeType: ddbtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("position"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("sale_id"), KeyType: ddbtypes.KeyTypeHash}, {AttributeName: aws.String("position"), KeyType: ddbtypes.KeyTypeRange}},
			StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage},
		})
		if err != nil {
			return out, fmt.Errorf("event table in %s: %w", region, err)
		}
		ro.EventStreamARN = aws.ToString(ev.TableDescription.LatestStreamArn)
		if _, err := d.CreateTable(ctx, &ddb.CreateTableInput{
			TableName: &ro.IdempotencyTable, BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
			StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
		}); err != nil {
			return out, fmt.Errorf("idempotency table in %s: %w", region, err)
		}
		s3c := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
		in := &s3.CreateBucketInput{Bucket: &ro.LakeBucket}
		if region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
		}
		if _, err := s3c.CreateBucket(ctx, in); err != nil {
			return out, fmt.Errorf("bucket in %s: %w", region, err)
		}
		if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &ro.LakeBucket, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return out, err
		}
		if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: &ro.RegionStateParameter, Value: aws.String("ACTIVE"), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)}); err != nil {
			return out, err
		}
		t, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("sales-events")})
		if err != nil {
			return out, err
		}
		ro.TopicARN = aws.ToString(t.TopicArn)
		q := sqs.NewFromConfig(cfg)
		mk := func(name string, attrs map[string]string) (queueRef, error) {
			c, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
			if err != nil {
				return queueRef{}, fmt.Errorf("queue %s in %s: %w", name, region, err)
			}
			a, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: c.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			if err != nil {
				return queueRef{}, err
			}
			return queueRef{aws.ToString(c.QueueUrl), a.Attributes["QueueArn"]}, nil
		}
		dlq, err := mk("sales-processing-dlq", nil)
		if err != nil {
			return out, err
		}
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 5})
		proc, err := mk("sales-processing", map[string]string{"VisibilityTimeout": strconv.Itoa(30), "RedrivePolicy": string(policy)})
		if err != nil {
			return out, err
		}
		pub, err := mk("sales-stream-publisher-dlq", nil)
		if err != nil {
			return out, err
		}
		queues[region] = proc
		ro.ProcessingQueueURL, ro.ProcessingDLQURL, ro.PublisherFailureQueueURL = proc.url, dlq.url, pub.url
		out.Regions[region] = ro
	}
	// Every topic fans out to every region's processing queue, created
	// with the topic's region client as SNS requires.
	filter, _ := json.Marshal(map[string][]string{"event_type": {"SaleCreated", "SaleCancelled"}})
	for _, src := range req.Regions {
		client := sns.NewFromConfig(cfgs[src])
		for _, dst := range req.Regions {
			if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
				TopicArn: aws.String(out.Regions[src].TopicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(queues[dst].arn),
				Attributes: map[string]string{"RawMessageDelivery": "true", "FilterPolicy": string(filter)},
			}); err != nil {
				return out, fmt.Errorf("subscribe %s queue to %s topic: %w", dst, src, err)
			}
		}
	}
	for _, region := range req.Regions {
		w := ddb.NewTableExistsWaiter(ddb.NewFromConfig(cfgs[region]))
		for _, t := range []string{"sales-events", "sales-idempotency"} {
			if err := w.Wait(ctx, &ddb.DescribeTableInput{TableName: aws.String(t)}, 30*time.Second); err != nil {
				return out, err
			}
		}
	}
	return out, out.Save(req.OutputsPath)
}
