package awsfixtures

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Topic creates an SNS topic and returns its ARN.
func Topic(t testing.TB, client *sns.Client, name string) string {
	t.Helper()
	out, err := client.CreateTopic(context.Background(), &sns.CreateTopicInput{Name: &name})
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return aws.ToString(out.TopicArn)
}

// QueueOptions shape a queue.
type QueueOptions struct {
	// VisibilityTimeout in seconds (default 30).
	VisibilityTimeout int
	// DeadLetterARN and MaxReceiveCount set a redrive policy.
	DeadLetterARN   string
	MaxReceiveCount int
}

// Queue creates an SQS queue and returns its URL and ARN.
func Queue(t testing.TB, client *sqs.Client, name string, o QueueOptions) (url, arn string) {
	t.Helper()
	ctx := context.Background()
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 30
	}
	attrs := map[string]string{
		string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(o.VisibilityTimeout),
	}
	if o.DeadLetterARN != "" {
		if o.MaxReceiveCount == 0 {
			o.MaxReceiveCount = 5
		}
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": o.DeadLetterARN, "maxReceiveCount": o.MaxReceiveCount})
		attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue %s attributes: %v", name, err)
	}
	return aws.ToString(out.QueueUrl), got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// Subscribe subscribes a queue to a topic with raw message delivery and,
// when filter is non-empty, a filter policy on message attributes. Create
// it with the topic's region client: SNS requires that for cross-region
// subscriptions, as the Terraform modules do.
func Subscribe(t testing.TB, client *sns.Client, topicARN, queueARN string, filter map[string][]string) string {
	t.Helper()
	attrs := map[string]string{"RawMessageDelivery": "true"}
	if len(filter) > 0 {
		b, _ := json.Marshal(filter)
		attrs["FilterPolicy"] = string(b)
	}
	out, err := client.Subscribe(context.Background(), &sns.SubscribeInput{
		TopicArn: &topicARN, Protocol: aws.String("sqs"), Endpoint: &queueARN, Attributes: attrs,
	})
	if err != nil {
		t.Fatalf("subscribe %s to %s: %v", queueARN, topicARN, err)
	}
	return aws.ToString(out.SubscriptionArn)
}

// ProcessingFilter is the processing queues' filter policy: the events a
// worker acts on. SaleProcessed is published but never reaches them.
var ProcessingFilter = map[string][]string{"event_type": {"SaleCreated", "SaleCancelled"}}

// Bucket creates a versioned S3 bucket in the client's region.
func Bucket(t testing.TB, client *s3.Client, region, name string) {
	t.Helper()
	ctx := context.Background()
	in := &s3.CreateBucketInput{Bucket: &name}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := client.CreateBucket(ctx, in); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  &name,
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatalf("versioning on %s: %v", name, err)
	}
}
