package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

// TestLambdaAgainstEmulator runs the Lambda's own init and handler (as the
// runtime would call them) against moto: the event is delivered in
// Lambda's JSON form, the messages reach a queue, and the EMF line counts
// the invocation, including its SNS requests.
func TestLambdaAgainstEmulator(t *testing.T) {
	moto := motoserver.Shared(t)
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := moto.TestConfig(t, "us-east-1", awsconfig.Options{})
	topic := awsfixtures.Topic(t, sns.NewFromConfig(cfg), motoserver.UniqueName(t, "sales-events"))
	sqsClient := sqs.NewFromConfig(cfg)
	url, queueARN := awsfixtures.Queue(t, sqsClient, motoserver.UniqueName(t, "q"), awsfixtures.QueueOptions{})
	awsfixtures.Subscribe(t, sns.NewFromConfig(cfg), topic, queueARN, nil)

	var out bytes.Buffer
	h, err := initHandler(context.Background(), lookup(map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": topic}), &out)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	for i := range 3 {
		region := "us-east-1"
		if i == 2 {
			region = "sa-east-1" // replicated: skipped
		}
		created, _ := domain.NewSaleCreated(fmt.Sprintf("book %d", i), 1000)
		e, _ := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, region, "c", time.Now(), created)
		item, err := store.EncodeItem(e)
		if err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, events.DynamoDBEventRecord{
			EventName: "INSERT", EventSource: "aws:dynamodb", AWSRegion: "us-east-1",
			Change: events.DynamoDBStreamRecord{SequenceNumber: fmt.Sprint(100 + i), NewImage: image(item), StreamViewType: "NEW_IMAGE"},
		})
	}
	// Through Lambda's wire form, as the runtime delivers it.
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var delivered events.DynamoDBEvent
	if err := json.Unmarshal(raw, &delivered); err != nil {
		t.Fatal(err)
	}
	resp, err := h.Handle(context.Background(), delivered)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("handle: %v %v", resp, err)
	}

	var emf map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["_aws"] != nil {
			emf = line
		}
	}
	if emf == nil {
		t.Fatalf("no EMF line in the output:\n%s", out.String())
	}
	if emf["Published"] != 2.0 || emf["SkippedReplicated"] != 1.0 || emf["PublishCalls"] != 1.0 || emf["SNSRequests"].(float64) < 1 {
		t.Fatalf("EMF line %v", emf)
	}

	got := 0
	deadline := time.Now().Add(20 * time.Second)
	for got < 2 && time.Now().Before(deadline) {
		msgs, err := sqsClient.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		got += len(msgs.Messages)
	}
	if got != 2 {
		t.Fatalf("queue received %d messages, want 2", got)
	}
}

func image(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := map[string]events.DynamoDBAttributeValue{}
	for k, v := range item {
		out[k] = value(v)
	}
	return out
}

func value(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(image(x.Value))
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	}
	panic(fmt.Sprintf("unexpected %T", v))
}
