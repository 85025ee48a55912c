package streams_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/libs/sales/streams"
)

const arn = "arn:aws:dynamodb:sa-east-1:123456789012:table/sales-events/stream/2026-11-27T00:00:00.000"

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func record(label string) types.Record {
	return types.Record{
		EventID:   aws.String("ev-" + label),
		EventName: types.OperationTypeInsert,
		Dynamodb: &types.StreamRecord{
			Keys:           map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: label}},
			NewImage:       map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: label}},
			StreamViewType: types.StreamViewTypeNewImage,
		},
	}
}

// collector is a handler that remembers every record it saw, in order,
// and can be told to fail.
type collector struct {
	mu      sync.Mutex
	seen    []string // labels, in handling order
	batches [][]string
	// decide, when set, answers each call; it sees the call number and the
	// batch's labels and sequence numbers.
	decide func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error)
	calls  int
}

func (c *collector) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var labels, seqs []string
	for _, r := range ev.Records {
		labels = append(labels, r.Change.Keys["k"].String())
		seqs = append(seqs, r.Change.SequenceNumber)
	}
	c.mu.Lock()
	call := c.calls
	c.calls++
	decide := c.decide
	c.mu.Unlock()
	resp, err := events.DynamoDBEventResponse{}, error(nil)
	if decide != nil {
		resp, err = decide(call, labels, seqs)
	}
	accepted := labels
	if err != nil {
		accepted = nil
	} else if len(resp.BatchItemFailures) > 0 {
		first := len(labels)
		for _, f := range resp.BatchItemFailures {
			if i := slices.Index(seqs, f.ItemIdentifier); i >= 0 {
				first = min(first, i)
			} else {
				first = 0
			}
		}
		accepted = labels[:first]
	}
	c.mu.Lock()
	c.seen = append(c.seen, accepted...)
	c.batches = append(c.batches, labels)
	c.mu.Unlock()
	return resp, err
}

func (c *collector) accepted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

func (c *collector) allBatches() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.batches)
}

// run starts a reader and returns a stop function that cancels it and
// waits for Run to return.
func run(t *testing.T, api streams.API, cfg streams.Config, h streams.Handler) (stop func() error) {
	t.Helper()
	cfg.StreamARN = arn
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
		cfg.MaxBackoff = 5 * time.Millisecond
	}
	if cfg.DiscoverInterval == 0 {
		cfg.DiscoverInterval = 20 * time.Millisecond
	}
	r, err := streams.New(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, h) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(10 * time.Second):
				runErr = errors.New("reader did not stop within 10 s")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func labels(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

func put(f *streams.FakeStream, shard string, ls []string) {
	for _, l := range ls {
		f.Put(shard, record(l))
	}
}

func TestReadsEveryShardParentsBeforeChildren(t *testing.T) {
	f := &streams.FakeStream{ARN: arn, PageSize: 2}
	f.AddShard("shard-a", "")
	f.AddShard("shard-b", "shard-a")
	f.AddShard("shard-c", "shard-a")
	f.AddShard("shard-c1", "shard-c")
	f.AddShard("shard-d", "")
	put(f, "shard-a", labels("a", 7))
	f.CloseShard("shard-a")
	put(f, "shard-b", labels("b", 3))
	put(f, "shard-c", labels("c", 4))
	f.CloseShard("shard-c")
	put(f, "shard-c1", labels("x", 2))
	put(f, "shard-d", labels("d", 5))

	cp := &streams.MemoryCheckpoint{}
	c := &collector{}
	stop := run(t, f, streams.Config{BatchSize: 3, Checkpoint: cp}, c.handle)
	waitFor(t, "all 21 records", func() bool { return len(c.accepted()) == 21 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := c.accepted()
	pos := map[string]int{}
	for i, l := range seen {
		if _, dup := pos[l]; dup {
			t.Fatalf("record %s handled twice: %v", l, seen)
		}
		pos[l] = i
	}
	for _, child := range []string{"b00", "c00"} {
		if pos[child] < pos["a06"] {
			t.Errorf("child record %s handled before the parent's last record a06: %v", child, seen)
		}
	}
	if pos["x00"] < pos["c03"] {
		t.Errorf("grandchild before its parent: %v", seen)
	}
	for _, b := range c.allBatches() {
		if len(b) > 3 {
			t.Errorf("batch of %d exceeds the batch size 3", len(b))
		}
	}
	states, _ := cp.Load(context.Background(), arn)
	if !states["shard-a"].Finished || !states["shard-c"].Finished || states["shard-b"].Finished || states["shard-d"].Sequence == "" {
		t.Fatalf("checkpoint states %+v", states)
	}
}

func TestPartialBatchResponseRewindsToTheFailedRecord(t *testing.T) {
	cases := []struct {
		name   string
		decide func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error)
		// wantBatches is the sequence of batches the handler must see.
		wantBatches [][]string
	}{
		{
			name: "item failure rewinds to it",
			decide: func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failures(seqs[2]), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			// The retry is the unacknowledged rest of the batch.
			wantBatches: [][]string{{"r00", "r01", "r02", "r03"}, {"r02", "r03"}, {"r04", "r05"}},
		},
		{
			name: "earliest of several failures wins",
			decide: func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failures(seqs[3], seqs[1]), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantBatches: [][]string{{"r00", "r01", "r02", "r03"}, {"r01", "r02", "r03"}, {"r04", "r05"}},
		},
		{
			name: "handler error retries the whole batch",
			decide: func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
				if call < 2 {
					return events.DynamoDBEventResponse{}, errors.New("boom")
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantBatches: [][]string{{"r00", "r01", "r02", "r03"}, {"r00", "r01", "r02", "r03"}, {"r00", "r01", "r02", "r03"}, {"r04", "r05"}},
		},
		{
			name: "unknown item identifier fails the whole batch",
			decide: func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failures("not-a-sequence-number"), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantBatches: [][]string{{"r00", "r01", "r02", "r03"}, {"r00", "r01", "r02", "r03"}, {"r04", "r05"}},
		},
		{
			name: "failure of the first record makes no progress",
			decide: func(call int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
				if call == 0 {
					return failures(seqs[0]), nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			wantBatches: [][]string{{"r00", "r01", "r02", "r03"}, {"r00", "r01", "r02", "r03"}, {"r04", "r05"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &streams.FakeStream{ARN: arn}
			f.AddShard("s", "")
			put(f, "s", labels("r", 6))
			f.CloseShard("s")
			c := &collector{decide: tc.decide}
			cp := &streams.MemoryCheckpoint{}
			stop := run(t, f, streams.Config{BatchSize: 4, Checkpoint: cp}, c.handle)
			waitFor(t, "shard finished", func() bool {
				s, _ := cp.Load(context.Background(), arn)
				return s["s"].Finished
			})
			_ = stop()
			got := c.allBatches()
			if fmt.Sprint(got) != fmt.Sprint(tc.wantBatches) {
				t.Fatalf("batches %v, want %v", got, tc.wantBatches)
			}
			if acc := c.accepted(); fmt.Sprint(acc) != fmt.Sprint(labels("r", 6)) {
				t.Fatalf("accepted %v", acc)
			}
		})
	}
}

func failures(seqs ...string) events.DynamoDBEventResponse {
	var r events.DynamoDBEventResponse
	for _, s := range seqs {
		r.BatchItemFailures = append(r.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: s})
	}
	return r
}

func TestBatchWindowGathersRecords(t *testing.T) {
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("s", "")
	put(f, "s", labels("a", 3))
	c := &collector{}
	stop := run(t, f, streams.Config{BatchSize: 100, BatchWindow: time.Second}, c.handle)
	time.Sleep(50 * time.Millisecond)
	put(f, "s", labels("b", 2))
	waitFor(t, "5 records", func() bool { return len(c.accepted()) == 5 })
	_ = stop()
	if b := c.allBatches(); len(b) != 1 {
		t.Fatalf("batches %v, want one batch gathered within the window", b)
	}
}

func TestWithoutWindowEachReadIsABatchUpToTheSize(t *testing.T) {
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("s", "")
	put(f, "s", labels("r", 25))
	c := &collector{}
	stop := run(t, f, streams.Config{BatchSize: 10}, c.handle)
	waitFor(t, "25 records", func() bool { return len(c.accepted()) == 25 })
	_ = stop()
	var sizes []int
	for _, b := range c.allBatches() {
		sizes = append(sizes, len(b))
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("batch sizes %v, want [10 10 5]", sizes)
	}
}

func TestRestartResumesFromTheFileCheckpoint(t *testing.T) {
	dir := t.TempDir()
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("s", "")
	put(f, "s", labels("a", 5))
	first := &collector{}
	stop := run(t, f, streams.Config{Checkpoint: &streams.FileCheckpoint{Dir: dir}}, first.handle)
	waitFor(t, "first 5", func() bool { return len(first.accepted()) == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	put(f, "s", labels("b", 3))
	second := &collector{}
	stop = run(t, f, streams.Config{Checkpoint: &streams.FileCheckpoint{Dir: dir}, Start: streams.Position{Type: streams.Latest}}, second.handle)
	waitFor(t, "next 3", func() bool { return len(second.accepted()) == 3 })
	_ = stop()
	if got := second.accepted(); fmt.Sprint(got) != fmt.Sprint(labels("b", 3)) {
		t.Fatalf("after restart handled %v, want only the new records", got)
	}
}

func TestStopFinishesTheBatchInFlightAndCheckpointsIt(t *testing.T) {
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("s", "")
	put(f, "s", labels("r", 4))
	cp := &streams.MemoryCheckpoint{}
	entered := make(chan struct{})
	release := make(chan struct{})
	var handlerCtxErr atomic.Value
	h := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		close(entered)
		<-release
		handlerCtxErr.Store(fmt.Sprint(ctx.Err()))
		return events.DynamoDBEventResponse{}, nil
	}
	stop := run(t, f, streams.Config{Checkpoint: cp}, h)
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(20 * time.Millisecond) // the stop is under way while the handler works
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got := handlerCtxErr.Load(); got != "<nil>" {
		t.Fatalf("handler context was cancelled by the stop: %v", got)
	}
	states, _ := cp.Load(context.Background(), arn)
	if states["s"].Sequence == "" {
		t.Fatal("batch in flight at stop was not checkpointed")
	}
}

// clock is a settable clock for iterator expiry.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestIteratorsAreRenewedBeforeTheyExpire(t *testing.T) {
	cases := []struct {
		name        string
		refresh     time.Duration
		wantExpired bool
	}{
		{name: "renewed ahead of expiry", refresh: 10 * time.Minute},
		{name: "expired iterator is replaced", refresh: time.Hour, wantExpired: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{}
			f := &streams.FakeStream{ARN: arn, Now: clk.now}
			var expired atomic.Int64
			inner := f
			f.AddShard("s", "")
			put(f, "s", labels("r", 6))
			c := &collector{decide: func(int, []string, []string) (events.DynamoDBEventResponse, error) {
				clk.advance(16 * time.Minute) // a slow batch: the iterator in hand is now stale
				return events.DynamoDBEventResponse{}, nil
			}}
			api := &countingExpired{FakeStream: inner, expired: &expired}
			stop := run(t, api, streams.Config{BatchSize: 2, IteratorRefresh: tc.refresh, Now: clk.now}, c.handle)
			waitFor(t, "6 records", func() bool { return len(c.accepted()) == 6 })
			_ = stop()
			if got := c.accepted(); fmt.Sprint(got) != fmt.Sprint(labels("r", 6)) {
				t.Fatalf("handled %v", got)
			}
			if (expired.Load() > 0) != tc.wantExpired {
				t.Fatalf("expired iterator errors: %d, want some: %t", expired.Load(), tc.wantExpired)
			}
			if n := f.Calls("GetShardIterator"); n < 3 {
				t.Fatalf("GetShardIterator called %d times, want a renewal after each slow batch", n)
			}
		})
	}
}

type countingExpired struct {
	*streams.FakeStream
	expired *atomic.Int64
}

func (c *countingExpired) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	out, err := c.FakeStream.GetRecords(ctx, in, opts...)
	var e *types.ExpiredIteratorException
	if errors.As(err, &e) {
		c.expired.Add(1)
	}
	return out, err
}

func TestStartPositions(t *testing.T) {
	t.Run("latest skips what is already there", func(t *testing.T) {
		f := &streams.FakeStream{ARN: arn}
		f.AddShard("s", "")
		put(f, "s", labels("old", 3))
		c := &collector{}
		r, _ := streams.New(f, streams.Config{StreamARN: arn, Start: streams.Position{Type: streams.Latest}, PollInterval: 5 * time.Millisecond, Logger: quiet})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, c.handle) }()
		waitFor(t, "reader ready", r.Ready)
		put(f, "s", labels("new", 2))
		waitFor(t, "2 new records", func() bool { return len(c.accepted()) == 2 })
		cancel()
		<-done
		if got := c.accepted(); fmt.Sprint(got) != "[new00 new01]" {
			t.Fatalf("handled %v", got)
		}
	})
	t.Run("at timestamp skips older records", func(t *testing.T) {
		clk := &clock{}
		f := &streams.FakeStream{ARN: arn, Now: clk.now}
		f.AddShard("s", "")
		put(f, "s", labels("old", 3))
		clk.advance(time.Minute)
		from := clk.now()
		put(f, "s", labels("new", 2))
		cp := &streams.MemoryCheckpoint{}
		c := &collector{}
		stop := run(t, f, streams.Config{Start: streams.Position{Type: streams.AtTimestamp, Timestamp: from}, Checkpoint: cp}, c.handle)
		waitFor(t, "2 new records", func() bool { return len(c.accepted()) == 2 })
		_ = stop()
		if got := c.accepted(); fmt.Sprint(got) != "[new00 new01]" {
			t.Fatalf("handled %v", got)
		}
	})
	t.Run("checkpoint behind the trim horizon restarts at it", func(t *testing.T) {
		f := &streams.FakeStream{ARN: arn}
		f.AddShard("s", "")
		seqs := []string{}
		for _, l := range labels("r", 6) {
			seqs = append(seqs, f.Put("s", record(l)))
		}
		f.Trim("s", 4)
		cp := &streams.MemoryCheckpoint{}
		_ = cp.Save(context.Background(), arn, "s", streams.ShardState{Sequence: seqs[1]})
		c := &collector{}
		stop := run(t, f, streams.Config{Checkpoint: cp}, c.handle)
		waitFor(t, "2 records", func() bool { return len(c.accepted()) == 2 })
		_ = stop()
		if got := c.accepted(); fmt.Sprint(got) != "[r04 r05]" {
			t.Fatalf("handled %v", got)
		}
	})
	t.Run("parse", func(t *testing.T) {
		for in, want := range map[string]streams.PositionType{"": streams.TrimHorizon, "trim-horizon": streams.TrimHorizon, "LATEST": streams.Latest, "2026-11-27T10:00:00Z": streams.AtTimestamp} {
			p, err := streams.ParsePosition(in)
			if err != nil || p.Type != want {
				t.Errorf("ParsePosition(%q) = %v, %v; want %s", in, p, err, want)
			}
		}
		if _, err := streams.ParsePosition("yesterday"); err == nil {
			t.Error("ParsePosition(yesterday) accepted")
		}
	})
}

func TestRetryLimitDiscardsTheBatchAndMovesOn(t *testing.T) {
	f := &streams.FakeStream{ARN: arn}
	f.AddShard("s", "")
	put(f, "s", labels("r", 5))
	var mu sync.Mutex
	var discarded []streams.Discarded
	c := &collector{decide: func(_ int, labels, seqs []string) (events.DynamoDBEventResponse, error) {
		if labels[0] == "r00" {
			return events.DynamoDBEventResponse{}, errors.New("poison")
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	stop := run(t, f, streams.Config{BatchSize: 2, MaxRetries: 2, OnDiscard: func(_ context.Context, d streams.Discarded) {
		mu.Lock()
		discarded = append(discarded, d)
		mu.Unlock()
	}}, c.handle)
	waitFor(t, "the rest handled", func() bool { return len(c.accepted()) == 3 })
	_ = stop()
	mu.Lock()
	defer mu.Unlock()
	if len(discarded) != 1 || discarded[0].Count != 2 || discarded[0].Attempts != 3 || discarded[0].ShardID != "s" {
		t.Fatalf("discarded %+v, want one batch of 2 after 3 attempts", discarded)
	}
	if got := c.accepted(); fmt.Sprint(got) != "[r02 r03 r04]" {
		t.Fatalf("handled %v", got)
	}
}

func TestReadErrorsAreRetried(t *testing.T) {
	f := &streams.FakeStream{ARN: arn, FailGetRecords: func(call int) error {
		if call%2 == 0 {
			return errors.New("throttled")
		}
		return nil
	}}
	f.AddShard("s", "")
	put(f, "s", labels("r", 5))
	c := &collector{}
	stop := run(t, f, streams.Config{BatchSize: 2}, c.handle)
	waitFor(t, "5 records", func() bool { return len(c.accepted()) == 5 })
	_ = stop()
	if got := c.accepted(); fmt.Sprint(got) != fmt.Sprint(labels("r", 5)) {
		t.Fatalf("handled %v", got)
	}
}

func TestUnknownStreamStopsTheReader(t *testing.T) {
	f := &streams.FakeStream{ARN: "arn:aws:dynamodb:us-east-1:1:table/other/stream/x"}
	r, _ := streams.New(f, streams.Config{StreamARN: arn, Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var nf *types.ResourceNotFoundException
	if err := r.Run(ctx, (&collector{}).handle); !errors.As(err, &nf) {
		t.Fatalf("Run on a missing stream: %v, want ResourceNotFoundException", err)
	}
}

func TestFileCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cp := &streams.FileCheckpoint{Dir: filepath.Join(dir, "nested")}
	if s, err := cp.Load(ctx, arn); err != nil || len(s) != 0 {
		t.Fatalf("empty checkpoint: %v %v", s, err)
	}
	if err := cp.Save(ctx, arn, "a", streams.ShardState{Sequence: "100"}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Save(ctx, arn, "b", streams.ShardState{Finished: true}); err != nil {
		t.Fatal(err)
	}
	reopened := &streams.FileCheckpoint{Dir: filepath.Join(dir, "nested")}
	s, err := reopened.Load(ctx, arn)
	if err != nil || s["a"].Sequence != "100" || !s["b"].Finished {
		t.Fatalf("reloaded %+v, %v", s, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "nested"))
	if len(entries) != 1 || strings.Contains(entries[0].Name(), "tmp") {
		t.Fatalf("checkpoint dir holds %v, want exactly the checkpoint file", entries)
	}
	if err := os.WriteFile(cp.Path(arn), []byte("{torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&streams.FileCheckpoint{Dir: cp.Dir}).Load(ctx, arn); err == nil {
		t.Fatal("a corrupt checkpoint loaded without error")
	}
	other := arn + "9"
	if cp.Path(other) == cp.Path(arn) {
		t.Fatal("two streams share a checkpoint file")
	}
}

type fakeTables struct {
	out *ddb.DescribeTableOutput
	err error
}

func (f fakeTables) DescribeTable(context.Context, *ddb.DescribeTableInput, ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error) {
	return f.out, f.err
}

func TestStreamARN(t *testing.T) {
	enabled := &ddb.DescribeTableOutput{Table: &ddbtypes.TableDescription{
		LatestStreamArn:     aws.String(arn),
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true)},
	}}
	got, err := streams.StreamARN(context.Background(), fakeTables{out: enabled}, "sales-events")
	if err != nil || got != arn {
		t.Fatalf("StreamARN = %q, %v", got, err)
	}
	disabled := &ddb.DescribeTableOutput{Table: &ddbtypes.TableDescription{}}
	if _, err := streams.StreamARN(context.Background(), fakeTables{out: disabled}, "t"); !errors.Is(err, streams.ErrNoStream) {
		t.Fatalf("table without stream: %v", err)
	}
	if streams.RegionOf(arn) != "sa-east-1" || streams.RegionOf("nope") != "" {
		t.Fatal("RegionOf")
	}
}
