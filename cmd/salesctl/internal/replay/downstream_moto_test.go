package replay_test

// Downstream tests: the real worker binary consumes what the CLI publishes
// or redrives, against the emulator.

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/testing/awsfixtures"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

// startWorker runs the sales-worker binary on the stack.
func startWorker(t *testing.T, s *testStack) *proc {
	t.Helper()
	port, err := motoserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := append(s.Moto.Env(),
		"AWS_REGION="+s.Region, "SQS_SALES_QUEUE="+s.Queue, "SQS_SALES_DLQ="+s.DLQ, "SSM_PARAMETER_STORE_STATE="+s.Param,
		"DYNAMO_SALES_TABLE="+s.Table, "DYNAMO_SALES_IDEMPOTENCY_TABLE="+s.Claims, "S3_SALES_BUCKET="+s.Bucket,
		"HTTP_HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "CONSUMER_THREADS=2",
		"VISIBILITY_TIMEOUT=2s", "IDEMPOTENCY_LEASE=3s", "RECEIVE_WAIT_TIME=1s", "REGION_STATE_TTL=200ms",
		"RETRY_BACKOFF_BASE=0s", "RETRY_BACKOFF_MAX=1s", "STOP_TIMEOUT=4s", "TAKEOVER_DELAY=1h",
	)
	p := start(t, binary(t, "github.com/salesplatform/services/sales-worker"), env)
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	return p
}

// drained waits until the processing queue has been empty for a while.
func (s *testStack) drained(t *testing.T, w *proc) {
	t.Helper()
	var emptySince time.Time
	eventually(t, 120*time.Second, func() (bool, string) {
		select {
		case <-w.done:
			t.Fatalf("worker exited: %v\n%s", w.err, w.stderr.String())
		default:
		}
		n := s.depth(t, s.Queue)
		if n > 0 {
			emptySince = time.Time{}
			return false, itoa(n) + " messages queued"
		}
		if emptySince.IsZero() {
			emptySince = time.Now()
		}
		return time.Since(emptySince) > 3*time.Second, "queue empty for less than 3 s"
	})
}

func (s *testStack) objectBody(t *testing.T, key string) string {
	t.Helper()
	out, err := s.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

func TestReplayAndReprocessLeaveTheLakeAsItWas(t *testing.T) {
	s := newStack(t, stackOptions{processing: true})
	awsfixtures.Bucket(t, s.S3, s.Region, s.Bucket)
	var events []domain.Envelope
	at := time.Now().Add(-30 * time.Minute)
	for i := range 24 {
		events = append(events, sale(t, home, at.Add(time.Duration(i)*time.Second), i < 12)...)
	}
	s.seed(t, events)
	w := startWorker(t, s)
	run := func(a ...string) map[string]string {
		t.Helper()
		code, out, errOut := runCLI(t, context.Background(), args(s, append(a, "--region", home, "--output", "json", "--progress", "none")...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", a, code, out, errOut)
		}
		return result(t, out).Notes
	}

	// Normal processing, with the store replay standing in for the
	// stream publisher.
	run("replay", "store", "--since", "1h")
	s.drained(t, w)
	before := s.lake(t)
	items := s.items(t)
	// 36 events + one SaleProcessed each. The emulator does not make two
	// concurrent conditional writes of one item atomic (AWS does): the
	// SaleProcessed of a sale's creation and of its cancellation, processed
	// at once, can land on one position, so fewer may show. What matters
	// here is that nothing below changes these numbers.
	if len(before) != 36 || items < 60 || items > 72 || s.depth(t, s.DLQ) != 0 {
		t.Fatalf("after processing: %d lake objects (want 36), %d events (want 36 + up to 36 SaleProcessed); %d dead letters; worker log:\n%s",
			len(before), items, s.depth(t, s.DLQ), tail(w.stderr.String(), 40))
	}

	// Replays of everything, SaleProcessed included (the subscription
	// filter keeps it from the queue): the duplicates change nothing.
	run("replay", "store", "--since", "1h", "--origin", "any")
	run("replay", "stream", "--from", "trim-horizon")
	s.drained(t, w)
	if after := s.lake(t); !equalObjects(before, after) {
		t.Fatalf("the lake changed after the replays:\nbefore %v\nafter  %v", before, after)
	}
	// No event is recorded processed twice. (A replay may fill in a
	// SaleProcessed the emulator lost to a write race, never add a second.)
	if twice := s.processedTwice(t); len(twice) > 0 {
		t.Fatalf("events with more than one SaleProcessed after the replays: %v", twice)
	}
	items = s.items(t)

	// A reprocessing generation writes beside the current objects and
	// appends nothing.
	notes := run("reprocess", "--since", "1h")
	if notes["generation"] != "1" {
		t.Fatalf("generation %q, want 1 (the first)", notes["generation"])
	}
	s.drained(t, w)
	after := s.lake(t)
	var current, gen []lakeObject
	for _, o := range after {
		if strings.HasPrefix(o.Key, lake.PrefixReprocess+"/g1/") {
			gen = append(gen, o)
		} else {
			current = append(current, o)
		}
	}
	if !equalObjects(before, current) || len(gen) != 36 {
		t.Fatalf("after reprocessing: current objects changed %t, %d generation objects (want 36)", !equalObjects(before, current), len(gen))
	}
	for _, o := range gen {
		normal := strings.TrimPrefix(o.Key, lake.PrefixReprocess+"/g1/")
		if a, b := s.objectBody(t, o.Key), s.objectBody(t, normal); a != b {
			t.Fatalf("%s differs from %s:\n%s\n%s", o.Key, normal, a, b)
		}
	}
	if n := s.items(t); n != items {
		t.Fatalf("%d events after reprocessing, want %d: reprocessing appended to the store", n, items)
	}
	if notes := run("reprocess", "--sale-id", events[0].SaleID.String(), "--dry-run"); notes["generation"] != "2" {
		t.Fatalf("next generation %q, want 2", notes["generation"])
	}
}

func equalObjects(a, b []lakeObject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRedrivenDeadLettersAreProcessedOnce(t *testing.T) {
	s := newStack(t, stackOptions{processing: true, maxReceiveCount: 2})
	var events []domain.Envelope
	for i := range 10 {
		events = append(events, sale(t, home, time.Now().Add(-time.Duration(i)*time.Minute), false)...)
	}
	s.seed(t, events)
	// The lake bucket is missing: every lake write fails, and SQS moves
	// the messages to the dead-letter queue after two receives.
	w := startWorker(t, s)
	code, out, errOut := runCLI(t, context.Background(), args(s, "replay", "store", "--region", home, "--since", "1h", "--progress", "none")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	eventually(t, 90*time.Second, func() (bool, string) {
		n := s.depth(t, s.DLQ)
		return n == 10, itoa(n) + " dead letters"
	})
	// One more copy of a dead letter, as a redelivery would leave.
	body, _ := messaging.Body(events[0])
	if _, err := s.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &s.DLQ, MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{messaging.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String("SaleCreated")}}}); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runCLI(t, context.Background(), args(s, "dlq", "inspect", "--region", home, "--output", "json")...)
	if code != 0 {
		t.Fatalf("inspect exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"SaleCreated": 11`) || !strings.Contains(out, `"max-receives-exceeded": 11`) {
		t.Fatalf("inspection:\n%s", out)
	}
	if n := s.depth(t, s.DLQ); n != 11 {
		t.Fatalf("inspect left %d messages visible or in flight, want 11", n)
	}

	// Fixed: the bucket exists now.
	awsfixtures.Bucket(t, s.S3, s.Region, s.Bucket)
	code, out, errOut = runCLI(t, context.Background(), args(s, "dlq", "redrive", "--region", home, "--output", "json", "--progress", "none", "--checkpoint", filepath.Join(t.TempDir(), "r"))...)
	if code != 0 {
		t.Fatalf("redrive exit %d\n%s\n%s", code, out, errOut)
	}
	res := result(t, out)
	if res.Counts.Published != 11 || res.Notes["method"] != "copy" || s.depth(t, s.DLQ) != 0 {
		t.Fatalf("redrive summary %+v", res)
	}
	s.drained(t, w)
	objects := s.lake(t)
	if len(objects) != 10 {
		t.Fatalf("%d lake objects, want 10", len(objects))
	}
	if n := s.items(t); n != 20 {
		t.Fatalf("%d events, want 10 + 10 SaleProcessed (each processed once)", n)
	}
	if n := s.depth(t, s.DLQ); n != 0 {
		t.Fatalf("%d dead letters after the redrive", n)
	}
}

func TestCrashDuringRedriveLosesNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	target, _ := awsfixtures.Queue(t, s.SQS, motoserver.UniqueName(t, "target"), awsfixtures.QueueOptions{})
	var want []domain.Envelope
	for i := range 150 {
		e := sale(t, home, time.Now().Add(-time.Duration(i)*time.Second), false)[0]
		want = append(want, e)
		body, _ := messaging.Body(e)
		if _, err := s.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &s.DLQ, MessageBody: aws.String(string(body))}); err != nil {
			t.Fatal(err)
		}
	}
	bin := binary(t, "github.com/salesplatform/cmd/salesctl")
	ckpt := filepath.Join(t.TempDir(), "redrive.ckpt")
	base := args(s, "dlq", "redrive", "--region", home, "--method", "copy", "--to", target, "--checkpoint", ckpt,
		"--visibility", "3s", "--progress", "lines", "--progress-every", "1s")
	victim := start(t, bin, s.Moto.Env(), append(base, "--rate", "40")...)
	eventually(t, 60*time.Second, func() (bool, string) {
		n := s.depth(t, target)
		return n >= 40, itoa(n) + " messages moved"
	})
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	_ = victim.wait(t, 10*time.Second)
	movedBefore := s.depth(t, target)
	if movedBefore >= 150 {
		t.Fatalf("the redrive finished before the kill (%d moved)", movedBefore)
	}

	survivor := start(t, bin, s.Moto.Env(), append(base, "--output", "json")...)
	if err := survivor.wait(t, 120*time.Second); err != nil {
		t.Fatalf("resumed redrive: %v\n%s\n%s", err, survivor.stdout.String(), survivor.stderr.String())
	}
	res := result(t, survivor.stdout.String())
	if !res.Complete || res.Runs != 2 {
		t.Fatalf("resumed summary %+v", res)
	}
	if n := s.depth(t, s.DLQ); n != 0 {
		t.Fatalf("%d messages left in the dead-letter queue", n)
	}
	msgs := s.collect(t, target).settle(t, 150, 90*time.Second, 2*time.Second)
	n, missing := distinct(t, msgs, want)
	if n != 150 || len(missing) > 0 {
		t.Fatalf("%d distinct messages reached the target, %d lost", n, len(missing))
	}
	if extra := int64(len(msgs) - 150); extra > res.Counts.Duplicates+int64(res.AWSRequests["SQS.SendMessageBatch"]-res.AWSOperations["SQS.SendMessageBatch"])*10 {
		t.Fatalf("%d duplicates reached the target, the summary reports %d", extra, res.Counts.Duplicates)
	}
	t.Logf("moved %d before the kill; %d duplicates arrived, %d reported", movedBefore, len(msgs)-150, res.Counts.Duplicates)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// processedTwice lists source events with more than one SaleProcessed.
func (s *testStack) processedTwice(t *testing.T) []string {
	t.Helper()
	count := map[string]int{}
	in := &ddb.ScanInput{TableName: &s.Table}
	for {
		out, err := s.DDB.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			e, err := store.DecodeItem(item)
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := e.Data.(domain.SaleProcessed); ok {
				count[p.SourceEventID.String()]++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	var twice []string
	for id, n := range count {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	return twice
}
