package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// childEnv makes the test binary act as the runner, so the crash test can
// SIGKILL a real process without building another binary.
const childEnv = "STREAM_RUNNER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	motoserver.Main(m)
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"no table":        {map[string]string{"AWS_REGION": "us-east-1", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:1:t"}, "DYNAMO_SALES_TABLE is required"},
		"no topic":        {map[string]string{"AWS_REGION": "us-east-1", "DYNAMO_SALES_TABLE": "t"}, "SNS_SALES_PROCESSING_TOPIC is required"},
		"bad start":       {map[string]string{"AWS_REGION": "us-east-1", "DYNAMO_SALES_TABLE": "t", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:1:t", "STREAM_START": "soon"}, "STREAM_START"},
		"bad batch size":  {map[string]string{"AWS_REGION": "us-east-1", "DYNAMO_SALES_TABLE": "t", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:1:t", "STREAM_BATCH_SIZE": "5000"}, "STREAM_BATCH_SIZE"},
		"zero retries":    {map[string]string{"AWS_REGION": "us-east-1", "DYNAMO_SALES_TABLE": "t", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:1:t", "STREAM_MAX_RETRIES": "0"}, "STREAM_MAX_RETRIES"},
		"bad poll period": {map[string]string{"AWS_REGION": "us-east-1", "DYNAMO_SALES_TABLE": "t", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:us-east-1:1:t", "STREAM_POLL_INTERVAL": "fast"}, "STREAM_POLL_INTERVAL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line naming %s", err, tc.want)
			}
		})
	}
	c, err := loadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{"AWS_REGION": "sa-east-1", "DYNAMO_SALES_TABLE": "sales-events", "SNS_SALES_PROCESSING_TOPIC": "arn:aws:sns:sa-east-1:1:sales-events"}[k]
		return v, ok
	})
	if err != nil || c.CheckpointDir != filepath.Join(".local", "checkpoints", "sa-east-1") || c.MetricsAddr != "127.0.0.1:9102" || c.BatchSize != 100 || c.MaxRetries != -1 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

// region is one region's slice of the local stack.
type region struct {
	name     string
	ddb      *ddb.Client
	sns      *sns.Client
	sqs      *sqs.Client
	table    string
	topicARN string
	queueURL string
	queueARN string
	store    *store.Store
}

func newRegion(t testing.TB, moto *motoserver.Server, name string) *region {
	t.Helper()
	cfg := moto.TestConfig(t, name, awsconfig.Options{})
	r := &region{name: name, ddb: ddb.NewFromConfig(cfg), sns: sns.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	r.table = motoserver.UniqueName(t, "sales-events-"+name)
	awsfixtures.EventStoreTable(t, r.ddb, r.table)
	r.topicARN = awsfixtures.Topic(t, r.sns, motoserver.UniqueName(t, "sales-events"))
	r.queueURL, r.queueARN = awsfixtures.Queue(t, r.sqs, motoserver.UniqueName(t, "sales-processing"), awsfixtures.QueueOptions{})
	r.store = store.New(r.ddb, r.table)
	return r
}

func runnerEnv(moto *motoserver.Server, r *region, checkpoints string, extra ...string) map[string]string {
	env := map[string]string{
		"AWS_REGION":                 r.name,
		"DYNAMO_SALES_TABLE":         r.table,
		"SNS_SALES_PROCESSING_TOPIC": r.topicARN,
		"CHECKPOINT_DIR":             checkpoints,
		"METRICS_PORT":               "0",
		"STREAM_POLL_INTERVAL":       "50ms",
	}
	for _, kv := range moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// syncBuffer collects a runner's log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// metricsAddr waits for the runner's "metrics listening" log line.
func metricsAddr(t *testing.T, logs func() string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs()))
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "metrics listening" {
				return line.Addr
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("runner never listened; logs:\n%s", logs())
	return ""
}

// startInProcess runs the runner in this process until the test ends.
func startInProcess(t testing.TB, env map[string]string) (logs *syncBuffer, stop func()) {
	t.Helper()
	// The SDK reads the endpoint and credentials from the process
	// environment, not from the runner's lookup.
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(k, env[k])
	}
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logs) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("runner: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("runner did not stop within 20 s")
			}
		})
	}
	t.Cleanup(stop)
	return logs, stop
}

type received struct {
	env   domain.Envelope
	attrs map[string]sqstypes.MessageAttributeValue
}

// drain receives (and deletes) messages until want distinct events have
// arrived and the queue then stays empty for quiet, or the deadline passes.
func drain(t *testing.T, client *sqs.Client, url string, want int, quiet time.Duration, into map[uuid.UUID][]received) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	var quietSince time.Time
	for time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			e, err := messaging.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatalf("message does not decode: %v", err)
			}
			into[e.EventID] = append(into[e.EventID], received{env: e, attrs: m.MessageAttributes})
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
		if len(out.Messages) > 0 {
			quietSince = time.Time{}
			continue
		}
		if len(into) >= want {
			if quietSince.IsZero() {
				quietSince = time.Now()
			} else if time.Since(quietSince) >= quiet {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(into) < want {
		t.Fatalf("queue %s: %d distinct events within 60 s, want %d", url, len(into), want)
	}
}

func newSale(t testing.TB, r *region, product string) domain.Envelope {
	t.Helper()
	ev, err := domain.NewSaleCreated(product, 1400)
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.NewEnvelope(uuid.Must(uuid.NewV7()), 1, r.name, "test", time.Now(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func next(t *testing.T, prev domain.Envelope, ev domain.Event) domain.Envelope {
	t.Helper()
	e, err := domain.NewEnvelope(prev.SaleID, prev.AggregateVersion+1, prev.OriginRegion, "test", time.Now(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// replicate copies an event's item into another region's table, as a
// global table would (the emulator cannot).
func replicate(t *testing.T, e domain.Envelope, to *region) {
	t.Helper()
	item, err := store.EncodeItem(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := to.ddb.PutItem(context.Background(), &ddb.PutItemInput{TableName: &to.table, Item: item}); err != nil {
		t.Fatalf("replicate into %s: %v", to.name, err)
	}
}

// TestEndToEndBothRegions runs both regions' runners against their own
// tables, each holding its own events (appended through the real store)
// and the other region's (replicated in). Each region's processing queue
// is subscribed to both topics (the cross-region subscription created with
// the topic region's client). Every event must reach each queue exactly
// once, with its attributes; SaleProcessed must be published but kept out
// of the processing queues by the filter policy.
func TestEndToEndBothRegions(t *testing.T) {
	moto := motoserver.Shared(t)
	us, sa := newRegion(t, moto, "us-east-1"), newRegion(t, moto, "sa-east-1")
	for _, topic := range []*region{us, sa} {
		for _, queue := range []*region{us, sa} {
			awsfixtures.Subscribe(t, topic.sns, topic.topicARN, queue.queueARN, awsfixtures.ProcessingFilter)
		}
	}
	// An unfiltered queue shows what the us-east-1 topic really carries.
	allURL, allARN := awsfixtures.Queue(t, us.sqs, motoserver.UniqueName(t, "all"), awsfixtures.QueueOptions{})
	awsfixtures.Subscribe(t, us.sns, us.topicARN, allARN, nil)

	ctx := context.Background()
	var processing []domain.Envelope // events the processing queues must get
	var usPublished []domain.Envelope
	appendTo := func(r, other *region, e domain.Envelope) {
		if err := r.store.Append(ctx, e); err != nil {
			t.Fatalf("append in %s: %v", r.name, err)
		}
		replicate(t, e, other)
		if e.EventType != domain.EventSaleProcessed {
			processing = append(processing, e)
		}
		if r == us {
			usPublished = append(usPublished, e)
		}
	}
	for i := range 3 {
		c := newSale(t, us, fmt.Sprintf("us book %d", i))
		appendTo(us, sa, c)
		if i == 0 {
			appendTo(us, sa, next(t, c, domain.SaleCancelled{Reason: "changed mind"}))
		}
		if i == 1 {
			appendTo(us, sa, next(t, c, domain.SaleProcessed{LakeKey: "sales/x.json", ProcessedRegion: "us-east-1", SourceEventID: c.EventID, SourceEventType: domain.EventSaleCreated}))
		}
	}
	for i := range 2 {
		appendTo(sa, us, newSale(t, sa, fmt.Sprintf("sa book %d", i)))
	}
	// An identical rewrite of a stored event: the emulator streams it as a
	// MODIFY, which must not be published again.
	replicate(t, processing[0], us)

	usLogs, stopUS := startInProcess(t, runnerEnv(moto, us, t.TempDir()))
	saLogs, stopSA := startInProcess(t, runnerEnv(moto, sa, t.TempDir()))
	// moto loses about one answer in 1,000 after doing the work; the SDK
	// then retries PublishBatch and SNS delivers those entries twice (as
	// AWS may after a timeout). Such retries are counted by the runners'
	// request counters and excused; nothing else may duplicate.
	retriedSNS := func() int {
		return snsRetries(t, metricsAddr(t, usLogs.String)) + snsRetries(t, metricsAddr(t, saLogs.String))
	}

	for _, q := range []struct {
		name   string
		client *sqs.Client
		url    string
	}{{"us-east-1 processing", us.sqs, us.queueURL}, {"sa-east-1 processing", sa.sqs, sa.queueURL}} {
		got := map[uuid.UUID][]received{}
		drain(t, q.client, q.url, len(processing), 1500*time.Millisecond, got)
		if len(got) != len(processing) {
			t.Errorf("%s: %d distinct events, want %d", q.name, len(got), len(processing))
		}
		extra := 0
		for _, e := range processing {
			extra += max(0, len(got[e.EventID])-1)
		}
		if extra > 0 {
			if r := retriedSNS(); r == 0 || extra > r*messaging.MaxBatchEntries {
				t.Errorf("%s: %d duplicate deliveries with %d retried PublishBatch requests", q.name, extra, r)
			} else {
				t.Logf("%s: %d duplicates explained by %d retried PublishBatch requests", q.name, extra, r)
			}
		}
		for _, e := range processing {
			msgs := got[e.EventID]
			if len(msgs) == 0 {
				t.Errorf("%s: %s %s never arrived", q.name, e.EventType, e.EventID)
				continue
			}
			want := map[string][2]string{
				"event_type": {"String", string(e.EventType)}, "origin_region": {"String", e.OriginRegion},
				"sale_id": {"String", e.SaleID.String()}, "schema_version": {"Number", "1"},
			}
			for name, w := range want {
				a := msgs[0].attrs[name]
				if aws.ToString(a.DataType) != w[0] || aws.ToString(a.StringValue) != w[1] {
					t.Errorf("%s: attribute %s = %s/%s, want %s/%s", q.name, name, aws.ToString(a.DataType), aws.ToString(a.StringValue), w[0], w[1])
				}
			}
		}
		for id, msgs := range got {
			if msgs[0].env.EventType == domain.EventSaleProcessed {
				t.Errorf("%s: SaleProcessed %s passed the filter policy", q.name, id)
			}
		}
	}
	all := map[uuid.UUID][]received{}
	drain(t, us.sqs, allURL, len(usPublished), time.Second, all)
	if len(all) != len(usPublished) {
		t.Errorf("us-east-1 topic carried %d events, want its own %d (replicated sa-east-1 events must not be published here)", len(all), len(usPublished))
	}
	allExtra := 0
	for _, e := range usPublished {
		if len(all[e.EventID]) == 0 {
			t.Errorf("us-east-1 topic: %s %s not published", e.EventType, e.EventID)
		}
		allExtra += max(0, len(all[e.EventID])-1)
	}
	if r := retriedSNS(); allExtra > r*messaging.MaxBatchEntries {
		t.Errorf("us-east-1 topic: %d duplicate deliveries with %d retried PublishBatch requests", allExtra, r)
	}

	addr := metricsAddr(t, usLogs.String)
	resp, err := http.Get("http://" + addr + "/readiness")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readiness: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`publisher_records_total{outcome="published"} %d`, len(usPublished)),
		`publisher_records_total{outcome="skipped_replicated"} 2`,
		`publisher_records_total{outcome="skipped_not_insert"} 1`,
		`publisher_records_total{outcome="failed"} 0`,
		`aws_operations_total{operation="PublishBatch",service="SNS"}`,
		`stream_records_read_total 8`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	stopUS()
	stopSA()
	if !strings.Contains(usLogs.String(), "stopped; checkpoints saved") {
		t.Errorf("runner did not report a clean stop:\n%s", usLogs.String())
	}
}

// child starts the test binary as a runner process.
func child(t *testing.T, env map[string]string, logPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestKillAndRestartLosesNothing SIGKILLs the runner mid-stream and starts
// it again on the same checkpoint directory: every event arrives at least
// once, and the duplicates (records published after the last checkpoint
// before the kill) stay within one batch. A final SIGTERM must stop the
// runner cleanly with its checkpoint saved.
func TestKillAndRestartLosesNothing(t *testing.T) {
	moto := motoserver.Shared(t)
	us := newRegion(t, moto, "us-east-1")
	awsfixtures.Subscribe(t, us.sns, us.topicARN, us.queueARN, awsfixtures.ProcessingFilter)
	ctx := context.Background()
	const batchSize = 2
	var all []domain.Envelope
	appendN := func(n int) {
		for i := range n {
			e := newSale(t, us, fmt.Sprintf("book %d", len(all)+i))
			if err := us.store.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
	}
	appendN(40)
	checkpoints := t.TempDir()
	env := runnerEnv(moto, us, checkpoints, "STREAM_BATCH_SIZE", fmt.Sprint(batchSize), "PUBLISH_CONCURRENCY", "1", "STREAM_POLL_INTERVAL", "20ms")
	logDir := t.TempDir()
	logPath := filepath.Join(logDir, "first.log")
	fileLogs := func(path string) func() string {
		return func() string { b, _ := os.ReadFile(path); return string(b) }
	}

	first := child(t, env, logPath)
	got := map[uuid.UUID][]received{}
	// Kill once part of the stream has arrived.
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < 8 {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("only %d events before the kill deadline; runner log:\n%s", len(got), b)
		}
		out, err := us.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &us.queueURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			e, err := messaging.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			got[e.EventID] = append(got[e.EventID], received{env: e})
			_, _ = us.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &us.queueURL, ReceiptHandle: m.ReceiptHandle})
		}
	}
	retried := snsRetries(t, metricsAddr(t, fileLogs(logPath)))
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killedAt := len(got)

	appendN(10)
	logPath = filepath.Join(logDir, "second.log")
	second := child(t, env, logPath)
	drain(t, us.sqs, us.queueURL, len(all), 1500*time.Millisecond, got)
	retried += snsRetries(t, metricsAddr(t, fileLogs(logPath)))

	duplicates := 0
	for _, e := range all {
		n := len(got[e.EventID])
		if n == 0 {
			t.Errorf("event %s lost across the kill", e.EventID)
		}
		duplicates += max(0, n-1)
	}
	t.Logf("killed after %d of %d events had arrived; %d duplicate deliveries after restart (%d PublishBatch requests retried by the SDK)", killedAt, len(all), duplicates, retried)
	// Checkpoints are saved after every batch, so at most the batch in
	// flight at the kill comes again, plus the entries of any PublishBatch
	// the SDK retried after a lost answer.
	if bound := batchSize * (1 + retried); duplicates > bound {
		t.Errorf("%d duplicates, want at most one batch plus SDK retries (%d)", duplicates, bound)
	}

	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- second.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("runner exited with %v after SIGTERM; log:\n%s", err, b)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runner did not exit within 20 s of SIGTERM")
	}
	files, _ := filepath.Glob(filepath.Join(checkpoints, "*.json"))
	if len(files) != 1 {
		t.Fatalf("checkpoint files %v, want one", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), `"sequence"`) {
		t.Fatalf("checkpoint holds no position: %s", b)
	}
}

// snsRetries reads a runner's /metrics: PublishBatch HTTP requests minus
// PublishBatch operations, i.e. attempts the SDK retried.
func snsRetries(t testing.TB, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	value := func(name string) int {
		prefix := name + `{operation="PublishBatch",service="SNS"} `
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				var n float64
				fmt.Sscan(v, &n)
				return int(n)
			}
		}
		return 0
	}
	return value("aws_requests_total") - value("aws_operations_total")
}
