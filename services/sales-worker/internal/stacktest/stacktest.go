// Package stacktest builds the worker's AWS resources in the emulator and
// inspects them, for the worker's integration tests (in process and as a
// subprocess) and its load driver. It is test support: nothing in the
// worker imports it.
package stacktest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency"
	idemddb "github.com/salesplatform/libs/sales/idempotency/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"

	"github.com/salesplatform/services/sales-worker/internal/config"
	"github.com/salesplatform/services/sales-worker/internal/processing"
)

// Options shape a stack.
type Options struct {
	// Visibility is the queue's default visibility timeout in seconds
	// (the worker asks for its own on every receive).
	Visibility int
	// MaxReceiveCount of the redrive policy (default 5).
	MaxReceiveCount int
	// State is the region state to start with (default ACTIVE).
	State string
	// Moto is the emulator to use (default: the package's shared one).
	Moto *motoserver.Server
	// NoStream creates the event table without its stream. Only the load
	// driver uses it: moto deep-copies every table a TransactWriteItems
	// touches, stream records included, so with a stream each commit
	// costs time and memory in proportion to everything written so far.
	NoStream bool
}

// Stack is one region's worker resources.
type Stack struct {
	Region string
	Moto   *motoserver.Server
	AWS    aws.Config
	SQS    *sqs.Client
	DDB    *dynamodb.Client
	S3     *s3.Client
	SSM    *ssm.Client

	QueueURL, DLQURL         string
	EventsTable, ClaimsTable string
	Bucket, Parameter        string
	Events                   *esddb.Store
}

// New creates the resources in the package's shared emulator.
func New(t testing.TB, region string, o Options) *Stack {
	t.Helper()
	moto := o.Moto
	if moto == nil {
		moto = motoserver.Shared(t)
	}
	cfg := moto.TestConfig(t, region, awsconfig.Options{})
	s := &Stack{
		Region: region, Moto: moto, AWS: cfg,
		SQS: sqs.NewFromConfig(cfg), DDB: dynamodb.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg), func(o *s3.Options) {
			// The tests compare lake bodies byte for byte; the SDK's
			// response checksum check only adds log noise against moto.
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}),
		SSM:         ssm.NewFromConfig(cfg),
		EventsTable: motoserver.UniqueName(t, "sales-events"),
		ClaimsTable: motoserver.UniqueName(t, "sales-idempotency"),
		Bucket:      strings.ToLower(motoserver.UniqueName(t, "sales-lake")),
		Parameter:   "/" + motoserver.UniqueName(t, "sales") + "/region-state",
	}
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = 5
	}
	if o.State == "" {
		o.State = "ACTIVE"
	}
	if o.NoStream {
		eventTableWithoutStream(t, s.DDB, s.EventsTable)
	} else {
		awsfixtures.EventStoreTable(t, s.DDB, s.EventsTable)
	}
	awsfixtures.IdempotencyTable(t, s.DDB, s.ClaimsTable)
	awsfixtures.Bucket(t, s.S3, region, s.Bucket)
	var dlqARN string
	s.DLQURL, dlqARN = awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "sales-processing-dlq"), awsfixtures.QueueOptions{})
	s.QueueURL, _ = awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "sales-processing"), awsfixtures.QueueOptions{
		VisibilityTimeout: o.Visibility, DeadLetterARN: dlqARN, MaxReceiveCount: o.MaxReceiveCount,
	})
	s.SetState(t, o.State)
	s.Events = esddb.New(s.DDB, s.EventsTable)
	return s
}

// SetState writes the region-state parameter.
func (s *Stack) SetState(t testing.TB, state string) {
	t.Helper()
	awsfixtures.RegionState(t, s.SSM, s.Parameter, state)
}

// Config is a worker configuration for this stack with test timings:
// short visibility, lease, takeover delay and state TTL.
func (s *Stack) Config() config.Config {
	return config.Config{
		Region: s.Region, QueueURL: s.QueueURL, StateParameter: s.Parameter,
		EventsTable: s.EventsTable, IdempotencyTable: s.ClaimsTable, Bucket: s.Bucket,
		HTTPHost: "127.0.0.1", Port: 8080, Consumers: 2,
		VisibilityTimeout: 3 * time.Second, Lease: 4500 * time.Millisecond, IdempotencyTTL: time.Hour,
		TakeoverDelay: 3 * time.Second, RegionStateTTL: 200 * time.Millisecond,
		StopTimeout: 4 * time.Second, ReceiveWait: time.Second,
		PassiveVisibility: 30 * time.Second, BackoffBase: 0, BackoffMax: time.Second,
	}
}

// Env is the environment of a worker subprocess running c against this
// stack's emulator.
func (s *Stack) Env(c config.Config) []string {
	d := func(x time.Duration) string { return x.String() }
	env := append(os.Environ(), s.Moto.Env()...)
	return append(env,
		"AWS_REGION="+c.Region, "SQS_SALES_QUEUE="+c.QueueURL, "SSM_PARAMETER_STORE_STATE="+c.StateParameter,
		"DYNAMO_SALES_TABLE="+c.EventsTable, "DYNAMO_SALES_IDEMPOTENCY_TABLE="+c.IdempotencyTable,
		"S3_SALES_BUCKET="+c.Bucket, "HTTP_HOST="+c.HTTPHost, "PORT="+strconv.Itoa(c.Port),
		"CONSUMER_THREADS="+strconv.Itoa(c.Consumers), "VISIBILITY_TIMEOUT="+d(c.VisibilityTimeout),
		"IDEMPOTENCY_LEASE="+d(c.Lease), "IDEMPOTENCY_TTL="+d(c.IdempotencyTTL), "TAKEOVER_DELAY="+d(c.TakeoverDelay),
		"REGION_STATE_TTL="+d(c.RegionStateTTL), "STOP_TIMEOUT="+d(c.StopTimeout), "RECEIVE_WAIT_TIME="+d(c.ReceiveWait),
		"PASSIVE_VISIBILITY="+d(c.PassiveVisibility), "RETRY_BACKOFF_BASE="+d(c.BackoffBase), "RETRY_BACKOFF_MAX="+d(c.BackoffMax),
	)
}

// Claims is an idempotency store on this stack's table.
func (s *Stack) Claims() *idemddb.Store {
	return idemddb.New(s.DDB, s.ClaimsTable, idempotency.Options{Region: s.Region, Instance: "test"})
}

// Sale appends a SaleCreated that occurred at `at` in region, as the API
// would, and returns it.
func (s *Stack) Sale(t testing.TB, region string, at time.Time) domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, region, "req-"+uuid.NewString()[:8], at, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Events.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// Message is one message to send.
type Message struct {
	Body  string
	Attrs map[string]string
}

// EventMessage is the message SNS delivers (raw) for e.
func EventMessage(t testing.TB, e domain.Envelope) Message {
	t.Helper()
	body, err := messaging.Body(e)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Body: string(body), Attrs: messaging.Attributes(e)}
}

// Send sends messages in batches of ten.
func (s *Stack) Send(t testing.TB, msgs ...Message) {
	t.Helper()
	for start := 0; start < len(msgs); start += 10 {
		chunk := msgs[start:min(start+10, len(msgs))]
		entries := make([]sqstypes.SendMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			attrs := map[string]sqstypes.MessageAttributeValue{}
			for k, v := range m.Attrs {
				attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
			}
			entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(m.Body), MessageAttributes: attrs}
		}
		out, err := s.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("send: %d entries failed: %s", len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
	}
}

// Depth is the queue's (visible, in flight) message counts.
func (s *Stack) Depth(t testing.TB, url string) (visible, inFlight int) {
	t.Helper()
	out, err := s.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight
}

// Total is visible plus in-flight messages of url.
func (s *Stack) Total(t testing.TB, url string) int {
	v, f := s.Depth(t, url)
	return v + f
}

// DrainDLQ receives (and deletes) what the DLQ holds, up to max messages.
func (s *Stack) DrainDLQ(t testing.TB, max int) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	for empty := 0; len(out) < max && empty < 2; {
		res, err := s.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &s.DLQURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive from DLQ: %v", err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range res.Messages {
			out = append(out, m)
			if _, err := s.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &s.DLQURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// Object is a lake object version.
type Object struct {
	Key      string
	Versions int
	Body     []byte
}

// Lake lists the bucket: every key with its number of versions and the
// latest body.
func (s *Stack) Lake(t testing.TB) map[string]Object {
	t.Helper()
	ctx := context.Background()
	out := map[string]Object{}
	in := &s3.ListObjectVersionsInput{Bucket: &s.Bucket}
	for {
		page, err := s.S3.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatalf("list lake: %v", err)
		}
		for _, v := range page.Versions {
			k := aws.ToString(v.Key)
			o := out[k]
			o.Key = k
			o.Versions++
			out[k] = o
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	for k, o := range out {
		res, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &k})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		o.Body, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = o
	}
	return out
}

// Processed returns the sale's SaleProcessed events.
func (s *Stack) Processed(t testing.TB, sale uuid.UUID) []domain.Envelope {
	t.Helper()
	events, err := s.Events.Load(context.Background(), sale)
	if err != nil {
		t.Fatalf("load %s: %v", sale, err)
	}
	var out []domain.Envelope
	for _, e := range events {
		if e.EventType == domain.EventSaleProcessed {
			out = append(out, e)
		}
	}
	return out
}

// ClaimRecords scans the idempotency table.
func (s *Stack) ClaimRecords(t testing.TB) map[string]idempotency.Record {
	t.Helper()
	out := map[string]idempotency.Record{}
	claims := s.Claims()
	in := &dynamodb.ScanInput{TableName: &s.ClaimsTable, ConsistentRead: aws.Bool(true)}
	for {
		page, err := s.DDB.Scan(context.Background(), in)
		if err != nil {
			t.Fatalf("scan claims: %v", err)
		}
		for _, item := range page.Items {
			id, ok := item[idemddb.AttrID].(*ddbtypes.AttributeValueMemberS)
			if !ok {
				continue
			}
			rec, found, err := claims.Get(context.Background(), id.Value)
			if err != nil || !found {
				t.Fatalf("read claim %s: %v", id.Value, err)
			}
			out[rec.Key] = rec
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out
}

// CompleteElsewhere stages the COMPLETED claim another region's worker
// would have replicated in for e.
func (s *Stack) CompleteElsewhere(t testing.TB, e domain.Envelope, region string) {
	t.Helper()
	w, err := processing.Derive(processing.Message{Body: []byte(EventMessage(t, e).Body)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Claims().Put(context.Background(), idempotency.Record{
		Key: w.ClaimKey, Status: idempotency.StatusCompleted, PayloadHash: w.PayloadHash,
		ExpiresAt: time.Now().Add(time.Hour), Region: region, Owner: region + "-worker/1", Result: w.LakeKey,
	}); err != nil {
		t.Fatal(err)
	}
}

// Eventually polls cond every 100 ms until it holds or timeout passes;
// then it fails the test with cond's last explanation.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Keys returns a map's keys sorted, for messages.
func Keys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprint(keys)
}

func eventTableWithoutStream(t testing.TB, client *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("sale_id"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("position"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("sale_id"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("position"), KeyType: ddbtypes.KeyTypeRange},
		},
	}); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &name}, 30*time.Second); err != nil {
		t.Fatalf("table %s: %v", name, err)
	}
}
