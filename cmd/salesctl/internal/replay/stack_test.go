package replay_test

// Integration tests of salesctl's replay, reprocess and dlq commands
// against the emulator: resources from awsfixtures, the CLI run in process
// (cli.Execute) or as a built binary that a test can SIGKILL, and the real
// worker binary for the downstream checks.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"

	"github.com/salesplatform/cmd/salesctl/internal/cli"
	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/stack"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func TestMain(m *testing.M) { motoserver.Main(m) }

const (
	home  = "us-east-1"
	other = "sa-east-1"
)

var envOnce sync.Once

// useMoto points this process's AWS SDK (the in-process CLI) at the
// package's emulator.
func useMoto(t testing.TB) *motoserver.Server {
	t.Helper()
	m := motoserver.Shared(t)
	envOnce.Do(func() {
		for _, kv := range m.Env() {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	})
	return m
}

// testStack is one region's resources, named uniquely for the test.
type testStack struct {
	Region string
	Moto   *motoserver.Server
	DDB    *ddb.Client
	SQS    *sqs.Client
	SNS    *sns.Client
	S3     *s3.Client
	SSM    *ssm.Client

	Table, StreamARN, Topic, Claims, Bucket, Param string
	// Queue and DLQ are the processing queue (filtered subscription, only
	// with stackOptions.processing); Observers get every message published.
	Queue, DLQ string
	Observers  []string
	StackFile  string
}

type stackOptions struct {
	processing      bool
	maxReceiveCount int
	// plain subscribes one unfiltered observer instead of sixteen split
	// ones (benchmarks: the topology of production, one queue per
	// subscriber).
	plain bool
}

func newStack(t testing.TB, o stackOptions) *testStack {
	t.Helper()
	m := useMoto(t)
	cfg := m.TestConfig(t, home, awsconfig.Options{})
	s := &testStack{
		Region: home, Moto: m,
		DDB: ddb.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg),
		S3: s3.NewFromConfig(cfg, awsconfig.S3Options(cfg), func(o *s3.Options) {
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}),
		Table:  motoserver.UniqueName(t, "sales-events"),
		Claims: motoserver.UniqueName(t, "sales-idempotency"),
		Bucket: strings.ToLower(motoserver.UniqueName(t, "sales-lake")),
		Param:  "/" + motoserver.UniqueName(t, "sales") + "/region-state",
	}
	s.StreamARN = awsfixtures.EventStoreTable(t, s.DDB, s.Table)
	s.Topic = awsfixtures.Topic(t, s.SNS, motoserver.UniqueName(t, "sales-events"))
	// Sixteen observer queues, split by the sale id's last hex digit: each
	// stays shallow, and the emulator's receive slows with a queue's depth.
	split := "0123456789abcdef"
	if o.plain {
		url, arn := awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "observer"), awsfixtures.QueueOptions{})
		awsfixtures.Subscribe(t, s.SNS, s.Topic, arn, nil)
		s.Observers, split = []string{url}, ""
	}
	for _, d := range split {
		url, arn := awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "observer"), awsfixtures.QueueOptions{})
		if _, err := s.SNS.Subscribe(context.Background(), &sns.SubscribeInput{
			TopicArn: &s.Topic, Protocol: aws.String("sqs"), Endpoint: &arn, Attributes: map[string]string{
				"RawMessageDelivery": "true", "FilterPolicy": `{"sale_id":[{"suffix":"` + string(d) + `"}]}`,
			},
		}); err != nil {
			t.Fatal(err)
		}
		s.Observers = append(s.Observers, url)
	}
	var dlqARN string
	s.DLQ, dlqARN = awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "sales-processing-dlq"), awsfixtures.QueueOptions{})
	var qARN string
	s.Queue, qARN = awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "sales-processing"), awsfixtures.QueueOptions{
		VisibilityTimeout: 2, DeadLetterARN: dlqARN, MaxReceiveCount: cmp.Or(o.maxReceiveCount, 10),
	})
	if o.processing {
		awsfixtures.Subscribe(t, s.SNS, s.Topic, qARN, awsfixtures.ProcessingFilter)
		awsfixtures.IdempotencyTable(t, s.DDB, s.Claims)
		awsfixtures.RegionState(t, s.SSM, s.Param, "ACTIVE")
	}
	s.StackFile = filepath.Join(t.TempDir(), "outputs.json")
	b, _ := json.Marshal(stack.Stack{Regions: map[string]stack.Region{home: {
		EventTable: s.Table, EventStreamARN: s.StreamARN, IdempotencyTable: s.Claims, TopicARN: s.Topic,
		ProcessingQueueURL: s.Queue, ProcessingDLQURL: s.DLQ, LakeBucket: s.Bucket, RegionStateParameter: s.Param,
	}}})
	if err := os.WriteFile(s.StackFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// sale builds a SaleCreated of origin at `at`, and optionally its
// cancellation a minute later.
func sale(t testing.TB, origin string, at time.Time, cancel bool) []domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.Must(uuid.NewV7())
	e, err := domain.NewEnvelope(id, 1, origin, "req-"+id.String()[:8], at, ev)
	if err != nil {
		t.Fatal(err)
	}
	out := []domain.Envelope{e}
	if cancel {
		c, err := domain.NewEnvelope(id, 2, origin, "req-"+id.String()[:8], at.Add(time.Minute), domain.SaleCancelled{Reason: "changed my mind"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// seed writes events to the table, 25 per BatchWriteItem.
func (s *testStack) seed(t testing.TB, envs []domain.Envelope) {
	t.Helper()
	for start := 0; start < len(envs); start += 25 {
		var reqs []ddbtypes.WriteRequest
		for _, e := range envs[start:min(start+25, len(envs))] {
			item, err := store.EncodeItem(e)
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
		for range 10 {
			out, err := s.DDB.BatchWriteItem(context.Background(), &ddb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{s.Table: reqs}})
			if err != nil {
				t.Fatal(err)
			}
			if reqs = out.UnprocessedItems[s.Table]; len(reqs) == 0 {
				break
			}
		}
	}
}

// received is one message a collector took from a queue.
type received struct {
	Body  string
	Attrs map[string]string
}

// collector drains a queue while a test runs, so the emulator's receive
// stays fast (it slows with depth). Tests that count many messages publish
// at a --rate the collector keeps up with. One receiver: the emulator's
// ReceiveMessage takes no lock, and two concurrent receives can both get
// the same message.
type collector struct {
	sqs  *sqs.Client
	urls []string
	mu   sync.Mutex
	msgs []received
	seen map[string]bool
	stop chan struct{}
	done chan struct{}
}

// observe collects what the observers receive.
func (s *testStack) observe(t testing.TB) *collector { return s.collect(t, s.Observers...) }

func (s *testStack) collect(t testing.TB, urls ...string) *collector {
	c := &collector{stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]bool{}, sqs: s.SQS, urls: urls}
	var wg sync.WaitGroup
	for _, url := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				// A long visibility and the message id: a delete lost under
				// load must not count as a second delivery.
				out, err := s.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
					QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
					VisibilityTimeout: 900,
				})
				if err != nil || len(out.Messages) == 0 {
					continue
				}
				var del []sqstypes.DeleteMessageBatchRequestEntry
				c.mu.Lock()
				for i, m := range out.Messages {
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
					if c.seen[aws.ToString(m.MessageId)] {
						continue
					}
					c.seen[aws.ToString(m.MessageId)] = true
					r := received{Body: aws.ToString(m.Body), Attrs: map[string]string{}}
					for k, v := range m.MessageAttributes {
						r.Attrs[k] = aws.ToString(v.StringValue)
					}
					c.msgs = append(c.msgs, r)
				}
				c.mu.Unlock()
				_, _ = s.SQS.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
			}
		}()
	}
	go func() { wg.Wait(); close(c.done) }()
	t.Cleanup(c.close)
	return c
}

func (c *collector) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// settle waits until at least n messages arrived and the queue shows no
// visible message for two seconds, and returns what arrived.
func (c *collector) settle(t testing.TB, n int, timeout, quiet time.Duration) []received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var emptySince time.Time
	for {
		c.mu.Lock()
		got := len(c.msgs)
		c.mu.Unlock()
		visible := int64(0)
		var err error
		for _, url := range c.urls {
			var d replay.QueueDepth
			if d, err = replay.Depth(context.Background(), c.sqs, url); err != nil {
				break
			}
			visible += d.Visible
		}
		if err == nil && visible == 0 && got >= n {
			if emptySince.IsZero() {
				emptySince = time.Now()
			}
			if time.Since(emptySince) >= quiet {
				break
			}
		} else {
			emptySince = time.Time{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages arrived within %s, want %d", got, timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.msgs...)
}

// runCLI runs salesctl in process.
func runCLI(t testing.TB, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// result parses a --output json summary.
func result(t testing.TB, stdout string) replay.Result {
	t.Helper()
	var r replay.Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	return r
}

// sdkRetries is how many publish calls the SDK sent again: each may have
// been delivered twice (the emulator loses about one answer in 1,000
// after doing the work, as AWS can after a timeout).
func sdkRetries(res replay.Result) int {
	return int(res.AWSRequests["SNS.PublishBatch"] - res.AWSOperations["SNS.PublishBatch"])
}

// tolerated is how many duplicate deliveries a run may explain: the ones
// it reported (its own retries after an unanswered call) and ten per SDK
// retry of a PublishBatch.
func tolerated(res replay.Result) int { return int(res.Counts.Duplicates) + 10*sdkRetries(res) }

// checkMessages asserts that msgs are exactly the envelopes want, each
// once (up to tolerated duplicates), with the contract's attributes (and
// extra ones).
func checkMessages(t testing.TB, msgs []received, want []domain.Envelope, extra map[string]string, tolerated ...int) {
	t.Helper()
	byID := map[uuid.UUID]domain.Envelope{}
	for _, e := range want {
		byID[e.EventID] = e
	}
	seen := map[uuid.UUID]int{}
	for _, m := range msgs {
		e, err := messaging.Decode([]byte(m.Body))
		if err != nil {
			t.Fatalf("message body does not decode: %v", err)
		}
		w, ok := byID[e.EventID]
		if !ok {
			t.Fatalf("unexpected event %s (%s, origin %s) published", e.EventID, e.EventType, e.OriginRegion)
		}
		seen[e.EventID]++
		attrs := messaging.Attributes(w)
		for k, v := range extra {
			attrs[k] = v
		}
		if len(m.Attrs) != len(attrs) {
			t.Fatalf("event %s attributes %v, want %v", e.EventID, m.Attrs, attrs)
		}
		for k, v := range attrs {
			if m.Attrs[k] != v {
				t.Fatalf("event %s attribute %s = %q, want %q", e.EventID, k, m.Attrs[k], v)
			}
		}
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	allowed := 0
	for _, n := range tolerated {
		allowed += n
	}
	if dups > allowed {
		t.Errorf("%d duplicate deliveries, %d explained by SDK retries of a lost answer", dups, allowed)
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct events arrived, want %d", len(seen), len(want))
	}
}

// distinct counts the distinct event ids among msgs and reports ids of
// want that are missing.
func distinct(t testing.TB, msgs []received, want []domain.Envelope) (int, []uuid.UUID) {
	t.Helper()
	seen := map[uuid.UUID]bool{}
	for _, m := range msgs {
		e, err := messaging.Decode([]byte(m.Body))
		if err != nil {
			t.Fatalf("message body does not decode: %v", err)
		}
		seen[e.EventID] = true
	}
	var missing []uuid.UUID
	for _, e := range want {
		if !seen[e.EventID] {
			missing = append(missing, e.EventID)
		}
	}
	return len(seen), missing
}

var (
	buildMu  sync.Mutex
	binaries = map[string]string{}
)

// binary builds a main package of the workspace once per test process.
func binary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := binaries[pkg]; ok {
		return b
	}
	dir, err := os.MkdirTemp("", "salesctl-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	binaries[pkg] = out
	return out
}

// proc is a subprocess whose output is kept.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s\nstdout:\n%s\nstderr:\n%s", p.cmd.Path, timeout, p.stdout.String(), p.stderr.String())
		return nil
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkpointPublished reads a checkpoint file's published count (committed
// plus every lane's Done), 0 while it does not exist.
func checkpointPublished(t testing.TB, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st replay.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("checkpoint %s: %v", path, err)
	}
	n := st.Counts.Published
	for _, l := range st.Lanes {
		if l.DoneCounts != nil {
			n += l.DoneCounts.Published
		}
	}
	return n
}

// depth is a queue's visible + in-flight count.
func (s *testStack) depth(t testing.TB, url string) int64 {
	t.Helper()
	d, err := replay.Depth(context.Background(), s.SQS, url)
	if err != nil {
		t.Fatal(err)
	}
	return d.Visible + d.InFlight
}

// lakeObject is an object version in the lake.
type lakeObject struct {
	Key, VersionID, ETag string
}

// lake lists every object version in the bucket, sorted.
func (s *testStack) lake(t testing.TB) []lakeObject {
	t.Helper()
	var out []lakeObject
	in := &s3.ListObjectVersionsInput{Bucket: &s.Bucket}
	for {
		page, err := s.S3.ListObjectVersions(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			out = append(out, lakeObject{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), ETag: aws.ToString(v.ETag)})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// items counts the event table's items.
func (s *testStack) items(t testing.TB) int {
	t.Helper()
	n := 0
	in := &ddb.ScanInput{TableName: &s.Table, Select: ddbtypes.SelectCount}
	for {
		out, err := s.DDB.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		n += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return n
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func args(s *testStack, a ...string) []string {
	return append([]string{"--stack", s.StackFile}, a...)
}

// observedDepth is the messages waiting in the observers.
func (s *testStack) observedDepth(t testing.TB) int64 {
	var n int64
	for _, url := range s.Observers {
		n += s.depth(t, url)
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func sqsSend(url, body string) *sqs.SendMessageInput {
	return &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}
}

func dynamodbstreamsClient(t testing.TB, s *testStack) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(s.Moto.TestConfig(t, s.Region, awsconfig.Options{}))
}

func describeInput(arn string) *dynamodbstreams.DescribeStreamInput {
	return &dynamodbstreams.DescribeStreamInput{StreamArn: &arn}
}

func iteratorInput(arn, shard string) *dynamodbstreams.GetShardIteratorInput {
	return &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: &shard, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon}
}

func recordsInput(it *string) *dynamodbstreams.GetRecordsInput {
	return &dynamodbstreams.GetRecordsInput{ShardIterator: it}
}

var _ = fmt.Sprintf
