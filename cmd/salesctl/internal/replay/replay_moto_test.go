package replay_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// thousand seeds 1,000 events: 800 of home inside the window (500 sales,
// 300 of them cancelled), 100 of home two days before it, 100 of the other
// region inside it. It returns the window and the 800.
func thousand(t *testing.T, s *testStack) (since, until time.Time, want []domain.Envelope) {
	t.Helper()
	since = time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	until = since.Add(time.Hour)
	var all []domain.Envelope
	for i := range 500 {
		evs := sale(t, home, since.Add(time.Duration(i)*time.Second), i < 300)
		want = append(want, evs...)
	}
	all = append(all, want...)
	for i := range 100 {
		all = append(all, sale(t, home, since.Add(-48*time.Hour+time.Duration(i)*time.Second), false)...)
		all = append(all, sale(t, other, since.Add(time.Duration(i)*time.Second), false)...)
	}
	if len(all) != 1000 {
		t.Fatalf("seeded %d", len(all))
	}
	s.seed(t, all)
	return since, until, want
}

func TestReplayStorePublishesExactlyTheSelectedEvents(t *testing.T) {
	s := newStack(t, stackOptions{})
	t0 := time.Now()
	since, until, want := thousand(t, s)
	t.Logf("seeded in %s", time.Since(t0))
	c := s.observe(t)

	t0 = time.Now()
	code, out, errOut := runCLI(t, context.Background(), args(s, "replay", "store", "--region", home,
		"--since", ts(since), "--until", ts(until), "--output", "json", "--progress", "none", "--rate", "150")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("replayed in %s", time.Since(t0))
	res := result(t, out)
	if res.Counts.Read != 900 || res.Counts.Published != 800 || res.Counts.Skipped["other-origin"] != 100 ||
		res.Counts.Failed != 0 || res.Counts.Duplicates != 0 || !res.Complete {
		t.Fatalf("summary %+v", res)
	}
	if n := res.AWSOperations["SNS.PublishBatch"]; n < 80 || n > 100 {
		t.Errorf("aws calls %v, want 80 to 100 PublishBatch for 800 events (10 per call, pages end partial batches)", res.AWSOperations)
	}
	checkMessages(t, c.settle(t, 800, 120*time.Second, 2*time.Second), want, nil, tolerated(res))
}

func TestReplayStoreBySaleAndEventType(t *testing.T) {
	s := newStack(t, stackOptions{})
	at := time.Now().Add(-time.Hour)
	a, b, foreign := sale(t, home, at, true), sale(t, home, at, true), sale(t, other, at, true)
	s.seed(t, append(append(append([]domain.Envelope{}, a...), b...), foreign...))
	c := s.observe(t)
	code, out, errOut := runCLI(t, context.Background(), args(s, "replay", "store", "--region", home, "--output", "json", "--progress", "none",
		"--sale-id", a[0].SaleID.String()+","+foreign[0].SaleID.String(), "--sale-id", uuidNobody, "--event-type", "SaleCancelled")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	res := result(t, out)
	if res.Counts.Published != 2 || res.Counts.Skipped["event-type"] != 2 || res.Counts.Skipped["sale-not-found"] != 1 {
		t.Fatalf("summary %+v", res.Counts)
	}
	// --sale-id takes every origin: the operator named the sales.
	checkMessages(t, c.settle(t, 2, 30*time.Second, time.Second), []domain.Envelope{a[1], foreign[1]}, nil)
}

const uuidNobody = "0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c"

func TestReplayStreamPublishesOwnInsertsOnly(t *testing.T) {
	s := newStack(t, stackOptions{})
	now := time.Now().Add(-time.Minute)
	var want, all []domain.Envelope
	for i := range 450 {
		evs := sale(t, home, now.Add(time.Duration(i)*time.Millisecond), true)
		want = append(want, evs...)
	}
	all = append(all, want...)
	for i := range 100 {
		all = append(all, sale(t, other, now.Add(time.Duration(i)*time.Millisecond), false)...)
	}
	s.seed(t, all)
	// An identical put is a MODIFY record on the emulator: never published.
	s.seed(t, want[:20])
	c := s.observe(t)

	code, out, errOut := runCLI(t, context.Background(), args(s, "replay", "stream", "--region", home, "--from", "trim-horizon",
		"--output", "json", "--progress", "none", "--rate", "150")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	res := result(t, out)
	if res.Counts.Read != 1020 || res.Counts.Published != 900 || res.Counts.Skipped["other-origin"] != 100 ||
		res.Counts.Skipped["not-insert"] != 20 || res.Counts.Failed != 0 || !res.Complete {
		t.Fatalf("summary %+v", res)
	}
	checkMessages(t, c.settle(t, 900, 120*time.Second, 2*time.Second), want, nil, tolerated(res))
}

func TestReplayStreamFromASequenceOrATime(t *testing.T) {
	s := newStack(t, stackOptions{})
	first := sale(t, home, time.Now(), false)
	s.seed(t, first)
	time.Sleep(1100 * time.Millisecond) // creation times are whole seconds
	mid := time.Now()
	second := sale(t, home, time.Now(), false)
	s.seed(t, second)

	out, err := (streamsClient(t, s)).records(t)
	if err != nil || len(out) != 2 {
		t.Fatalf("stream records %d, %v", len(out), err)
	}
	for _, from := range []string{out[1], mid.UTC().Format(time.RFC3339Nano)} {
		t.Run(from, func(t *testing.T) {
			c := s.observe(t)
			code, stdout, errOut := runCLI(t, context.Background(), args(s, "replay", "stream", "--region", home, "--from", from, "--output", "json", "--progress", "none")...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
			}
			res := result(t, stdout)
			if res.Counts.Published != 1 || res.Counts.Skipped["before-start"] != 1 {
				t.Fatalf("summary %+v", res.Counts)
			}
			checkMessages(t, c.settle(t, 1, 20*time.Second, time.Second), second, nil)
			c.close()
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	since, until, _ := thousand(t, s)
	// Dead letters to (not) redrive.
	for i := range 5 {
		body := `{"not":"an event ` + string(rune('a'+i)) + `"}`
		if _, err := s.SQS.SendMessage(context.Background(), sqsSend(s.DLQ, body)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	cases := [][]string{
		{"replay", "store", "--since", ts(since), "--until", ts(until)},
		{"replay", "store", "--sale-id", uuidNobody},
		{"replay", "stream", "--from", "trim-horizon"},
		{"reprocess", "--since", ts(since), "--until", ts(until), "--generation", "2"},
		{"dlq", "redrive"},
		{"dlq", "redrive", "--method", "move-task"},
	}
	for i, a := range cases {
		t.Run(a[0]+" "+a[1], func(t *testing.T) {
			ckpt := filepath.Join(dir, "ckpt-"+string(rune('a'+i)))
			full := append(append([]string{}, a...), "--region", home, "--dry-run", "--output", "json", "--progress", "none", "--checkpoint", ckpt)
			code, out, errOut := runCLI(t, context.Background(), args(s, full...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			res := result(t, out)
			if !res.DryRun {
				t.Fatal("summary does not say dry run")
			}
			for op, n := range res.AWSOperations {
				switch op {
				case "SNS.Publish", "SNS.PublishBatch", "SQS.SendMessage", "SQS.SendMessageBatch", "SQS.DeleteMessage",
					"SQS.DeleteMessageBatch", "SQS.StartMessageMoveTask", "SQS.ReceiveMessage", "DynamoDB.PutItem":
					t.Errorf("dry run made %d %s calls", n, op)
				}
			}
			if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
				t.Errorf("dry run wrote its checkpoint (%v)", err)
			}
			switch {
			case len(a) > 2 && a[2] == "--sale-id":
				if res.Counts.Skipped["sale-not-found"] != 1 {
					t.Errorf("counts %+v", res.Counts)
				}
			case a[0] == "replay" || a[0] == "reprocess":
				if res.Counts.Published == 0 {
					t.Errorf("dry run counted nothing to publish: %+v", res.Counts)
				}
			case a[0] == "dlq":
				if res.Counts.Published != 5 {
					t.Errorf("dry run would move %d, want 5", res.Counts.Published)
				}
			}
		})
	}
	if n := s.observedDepth(t); n != 0 {
		t.Fatalf("%d messages were published by dry runs", n)
	}
	if n := s.depth(t, s.DLQ); n != 5 {
		t.Fatalf("dead-letter queue holds %d, want the 5 untouched", n)
	}
}

func TestKilledReplayResumesWithoutSkipping(t *testing.T) {
	s := newStack(t, stackOptions{})
	since, until, want := thousand(t, s)
	c := s.observe(t)
	bin := binary(t, "github.com/salesplatform/cmd/salesctl")
	ckpt := filepath.Join(t.TempDir(), "replay.ckpt")
	base := args(s, "replay", "store", "--region", home, "--since", ts(since), "--until", ts(until),
		"--checkpoint", ckpt, "--progress", "lines", "--progress-every", "1s", "--segments", "2", "--page-size", "100")

	victim := start(t, bin, s.Moto.Env(), append(base, "--rate", "150")...)
	eventually(t, 60*time.Second, func() (bool, string) {
		n := checkpointPublished(t, ckpt)
		return n >= 300, "checkpoint shows " + itoa(n) + " published"
	})
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	_ = victim.wait(t, 10*time.Second)
	before := checkpointPublished(t, ckpt)
	if before >= 800 {
		t.Fatalf("the replay finished before the kill (%d published)", before)
	}

	survivor := start(t, bin, s.Moto.Env(), append(base, "--output", "json", "--rate", "150")...)
	if err := survivor.wait(t, 120*time.Second); err != nil {
		t.Fatalf("resumed run: %v\n%s\n%s", err, survivor.stdout.String(), survivor.stderr.String())
	}
	res := result(t, survivor.stdout.String())
	if !res.Complete || res.Runs != 2 || res.Counts.Failed != 0 {
		t.Fatalf("resumed summary %+v", res)
	}
	msgs := c.settle(t, 800, 60*time.Second, 2*time.Second)
	n, missing := distinct(t, msgs, want)
	if len(missing) > 0 || n != 800 {
		t.Fatalf("%d distinct events arrived, %d missing (skipped by the resume)", n, len(missing))
	}
	extra := int64(len(msgs) - 800)
	if int64(tolerated(res)) < extra || res.Counts.Published != 800 {
		t.Fatalf("%d duplicates arrived; the summary reports %d duplicates and %d published", extra, res.Counts.Duplicates, res.Counts.Published)
	}
	t.Logf("killed after %d published; %d duplicates arrived, %d reported", before, extra, res.Counts.Duplicates)
}

func TestCancelledStreamReplayResumes(t *testing.T) {
	s := newStack(t, stackOptions{})
	var want []domain.Envelope
	for i := range 300 {
		want = append(want, sale(t, home, time.Now().Add(time.Duration(i)*time.Millisecond), false)...)
	}
	s.seed(t, want)
	c := s.observe(t)
	ckpt := filepath.Join(t.TempDir(), "stream.ckpt")
	base := args(s, "replay", "stream", "--region", home, "--from", "trim-horizon", "--checkpoint", ckpt,
		"--output", "json", "--progress", "none", "--batch-size", "50")

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for checkpointPublished(t, ckpt) < 100 {
			time.Sleep(20 * time.Millisecond)
		}
		cancel() // Ctrl-C
	}()
	code, out, errOut := runCLI(t, ctx, append(base, "--rate", "100")...)
	cancel()
	if code != 1 {
		t.Fatalf("interrupted run exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	first := result(t, out)
	if first.Complete || first.Counts.Published < 100 || first.Counts.Published >= 300 {
		t.Fatalf("interrupted summary %+v", first)
	}
	code, out, errOut = runCLI(t, context.Background(), base...)
	if code != 0 {
		t.Fatalf("resumed exit %d\n%s\n%s", code, out, errOut)
	}
	res := result(t, out)
	msgs := c.settle(t, 300, 60*time.Second, 2*time.Second)
	n, missing := distinct(t, msgs, want)
	if n != 300 || len(missing) > 0 {
		t.Fatalf("%d distinct events, %d missing", n, len(missing))
	}
	if extra := int64(len(msgs) - 300); int64(tolerated(res)+10*sdkRetries(first)) < extra || res.Counts.Published != 300 || res.Runs != 2 {
		t.Fatalf("%d duplicates arrived; summary %+v", extra, res.Counts)
	}
}

func TestArgumentsAreCheckedBeforeAnything(t *testing.T) {
	s := newStack(t, stackOptions{})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"replay", "store", "--since", "1h"}, "--region is required"},
		{[]string{"replay", "store", "--region", "eu-west-9", "--since", "1h"}, "unknown region"},
		{[]string{"replay", "store", "--region", home}, "--since"},
		{[]string{"replay", "store", "--region", home, "--since", "yesterday"}, "RFC 3339"},
		{[]string{"replay", "store", "--region", home, "--since", "1h", "--until", "2h"}, "must be before"},
		{[]string{"replay", "store", "--region", home, "--sale-id", "nope"}, "not a UUID"},
		{[]string{"replay", "store", "--region", home, "--sale-id", uuidNobody, "--since", "1h"}, "cannot be combined"},
		{[]string{"replay", "store", "--region", home, "--since", "1h", "--rate", "-1"}, "--rate"},
		{[]string{"replay", "store", "--region", home, "--since", "1h", "--rate", "fast"}, "invalid argument"},
		{[]string{"replay", "store", "--region", home, "--since", "1h", "--event-type", "SaleDeleted"}, "--event-type"},
		{[]string{"replay", "stream", "--region", home}, "--from is required"},
		{[]string{"replay", "stream", "--region", home, "--from", "yesterday"}, "--from"},
		{[]string{"replay", "stream", "--region", home, "--from", "latest", "extra"}, "unexpected argument"},
		{[]string{"reprocess", "--region", home, "--since", "1h", "--generation", "-3"}, "--generation"},
		{[]string{"reprocess", "--region", home, "--since", "1h", "--event-type", "SaleProcessed"}, "lake holds only"},
		{[]string{"dlq", "redrive", "--region", home, "--method", "teleport"}, "--method"},
		{[]string{"dlq", "redrive", "--region", home, "--method", "move-task", "--max", "3"}, "--max needs --method copy"},
		{[]string{"dlq", "redrive", "--region", home, "--queue", "publisher"}, "stream positions"},
		{[]string{"dlq", "inspect", "--region", home, "--max", "0"}, "--max"},
		{[]string{"dlq", "frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			code, out, errOut := runCLI(t, context.Background(), args(s, c.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errOut)
			}
			if !contains(errOut, c.want) || !contains(errOut, "--help") {
				t.Fatalf("stderr lacks %q:\n%s", c.want, errOut)
			}
			if c.args[0] != "dlq" || c.args[1] != "frobnicate" {
				if !contains(errOut, "Usage:") {
					t.Errorf("stderr lacks the command's usage:\n%s", errOut)
				}
			}
		})
	}
}

func TestCheckpointOfAnotherSelectionIsRefused(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.seed(t, sale(t, home, time.Now().Add(-time.Minute), false))
	ckpt := filepath.Join(t.TempDir(), "c")
	code, out, errOut := runCLI(t, context.Background(), args(s, "replay", "store", "--region", home, "--since", "1h", "--until", ts(time.Now()), "--checkpoint", ckpt, "--progress", "none")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, context.Background(), args(s, "replay", "store", "--region", home, "--since", "3h", "--checkpoint", ckpt, "--progress", "none")...)
	if code != 1 || !contains(errOut, "belongs to another run") {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
}

func TestPublishFailureStopsWithExitOneAndResumes(t *testing.T) {
	s := newStack(t, stackOptions{})
	envs := sale(t, home, time.Now().Add(-time.Minute), true)
	s.seed(t, envs)
	// The same stack with a topic that does not exist: every publish fails.
	broken := *s
	broken.StackFile = filepath.Join(t.TempDir(), "broken.json")
	b, _ := os.ReadFile(s.StackFile)
	if err := os.WriteFile(broken.StackFile, []byte(strings.ReplaceAll(string(b), s.Topic, s.Topic+"-gone")), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "c")
	window := []string{"replay", "store", "--region", home, "--since", "1h", "--until", ts(time.Now().Add(time.Minute)),
		"--checkpoint", ckpt, "--progress", "none", "--output", "json"}
	code, out, errOut := runCLI(t, context.Background(), args(&broken, window...)...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	if res := result(t, out); res.Complete || res.Error == "" || res.Counts.Published != 0 {
		t.Fatalf("summary %+v", res)
	}
	// Fixed: the same command with the checkpoint publishes everything.
	c := s.observe(t)
	code, out, errOut = runCLI(t, context.Background(), args(s, window...)...)
	if code != 0 {
		t.Fatalf("resumed exit %d\n%s\n%s", code, out, errOut)
	}
	res := result(t, out)
	if res.Runs != 2 || res.Counts.Published != 2 {
		t.Fatalf("summary %+v", res)
	}
	checkMessages(t, c.settle(t, 2, 20*time.Second, time.Second), envs, nil)
}

func streamsClient(t *testing.T, s *testStack) streamReader { return streamReader{s} }

type streamReader struct{ s *testStack }

// records lists the sequence numbers of the stream's records, oldest
// first (one shard on the emulator).
func (r streamReader) records(t *testing.T) ([]string, error) {
	t.Helper()
	api := dynamodbstreamsClient(t, r.s)
	desc, err := api.DescribeStream(context.Background(), describeInput(r.s.StreamARN))
	if err != nil {
		return nil, err
	}
	var seqs []string
	for _, sh := range desc.StreamDescription.Shards {
		it, err := api.GetShardIterator(context.Background(), iteratorInput(r.s.StreamARN, aws.ToString(sh.ShardId)))
		if err != nil {
			return nil, err
		}
		out, err := api.GetRecords(context.Background(), recordsInput(it.ShardIterator))
		if err != nil {
			return nil, err
		}
		for _, rec := range out.Records {
			seqs = append(seqs, aws.ToString(rec.Dynamodb.SequenceNumber))
		}
	}
	return seqs, nil
}

var (
	_ = ddb.ScanInput{}
	_ = store.AttrSaleID
)
