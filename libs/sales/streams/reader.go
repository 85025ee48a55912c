// Package streams reads a DynamoDB table's stream through the DynamoDB
// Streams API and drives a Lambda-style handler with it, the way an event
// source mapping does: every shard, parents before children, batches by
// size and window, the handler's partial batch response honoured by
// rewinding, and a checkpoint per shard so that a restart loses nothing.
//
// It exists because a local emulator cannot run Lambda, and because an
// operator replaying a stream wants the same machinery. Delivery is at
// least once: after a crash the records handled since the last checkpoint
// are handled again.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// API is the part of the DynamoDB Streams client the reader uses.
type API interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// TableAPI is the part of the DynamoDB client that finds a table's stream.
type TableAPI interface {
	DescribeTable(ctx context.Context, in *ddb.DescribeTableInput, opts ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error)
}

// ErrNoStream is a table without an enabled stream.
var ErrNoStream = errors.New("table has no stream")

// StreamARN returns the table's latest stream ARN (one DescribeTable).
func StreamARN(ctx context.Context, client TableAPI, table string) (string, error) {
	out, err := client.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: &table})
	if err != nil {
		return "", fmt.Errorf("describe table %s: %w", table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" || out.Table.StreamSpecification == nil || !aws.ToBool(out.Table.StreamSpecification.StreamEnabled) {
		return "", fmt.Errorf("%w: %s", ErrNoStream, table)
	}
	return arn, nil
}

// Handler is the Lambda handler signature for DynamoDB stream events with
// ReportBatchItemFailures.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Position is where a shard without a checkpoint starts.
type Position struct {
	Type PositionType
	// Timestamp is the first creation time handed to the handler when Type
	// is AtTimestamp.
	Timestamp time.Time
}

// PositionType names a starting position.
type PositionType string

const (
	// TrimHorizon starts at the oldest record still in the stream (24 h).
	TrimHorizon PositionType = "trim-horizon"
	// Latest starts after the newest record at the time the reader starts.
	Latest PositionType = "latest"
	// AtTimestamp starts at the first record created at or after
	// Timestamp. DynamoDB Streams has no such iterator (Kinesis does), so
	// the reader starts at the trim horizon and skips, without calling the
	// handler, records older than Timestamp. Creation times are
	// approximate (to the second on AWS).
	AtTimestamp PositionType = "at-timestamp"
)

// ParsePosition reads "trim-horizon", "latest" or an RFC 3339 time.
func ParsePosition(s string) (Position, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(TrimHorizon), "trim_horizon":
		return Position{Type: TrimHorizon}, nil
	case string(Latest):
		return Position{Type: Latest}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return Position{}, fmt.Errorf("stream position %q: want trim-horizon, latest or an RFC 3339 time", s)
	}
	return Position{Type: AtTimestamp, Timestamp: t}, nil
}

// Discarded describes records given up after MaxRetries, the way Lambda
// describes them to an on-failure destination: by position, not content.
type Discarded struct {
	StreamARN     string
	ShardID       string
	FirstSequence string
	LastSequence  string
	Count         int
	Attempts      int
	Err           error
}

// Config tunes a Reader. Zero values take the defaults of an event source
// mapping where one exists.
type Config struct {
	StreamARN string
	// Start is where shards that have no checkpoint and exist when the
	// reader starts begin. Shards that appear later (children of a split)
	// always start at their trim horizon, so nothing between parent and
	// child is skipped.
	Start Position
	// BatchSize is the most records per handler call (default 100, the
	// mapping's default; at most 1,000 per GetRecords).
	BatchSize int
	// BatchWindow is how long to keep gathering records for a batch that
	// is not full (default 0: call the handler with what one read got).
	BatchWindow time.Duration
	// PollInterval is the wait after a read that returned nothing (default
	// 500 ms; Lambda polls each shard about 4 times a second, and every
	// read on the local emulator leaves an iterator in its memory).
	PollInterval time.Duration
	// DiscoverInterval is how often DescribeStream looks for new shards
	// (default 10 s).
	DiscoverInterval time.Duration
	// IteratorRefresh renews a shard iterator older than this before using
	// it (default 10 min; iterators expire after 15).
	IteratorRefresh time.Duration
	// HandlerTimeout bounds one handler call (default 5 min). A handler
	// call is not cancelled when Run's context is: the batch in flight is
	// finished and checkpointed before Run returns.
	HandlerTimeout time.Duration
	// MaxRetries of a failing batch before its records are given up to
	// OnDiscard (default -1: retry until the handler succeeds, as a
	// mapping does with maximum retry attempts -1).
	MaxRetries int
	// RetryBackoff is the first wait before retrying a failed batch or read
	// (default 200 ms), doubled up to MaxBackoff (default 10 s), jittered.
	RetryBackoff, MaxBackoff time.Duration
	// OnDiscard receives batches given up after MaxRetries. With none set
	// they are logged at error level.
	OnDiscard func(ctx context.Context, d Discarded)
	// Checkpoint stores progress (default: in memory only).
	Checkpoint Checkpoint
	Logger     *slog.Logger
	Metrics    *Metrics
	// Now is the clock (tests).
	Now func() time.Time
}

func (c *Config) defaults() error {
	if c.StreamARN == "" {
		return errors.New("streams: StreamARN is required")
	}
	if c.Start.Type == "" {
		c.Start.Type = TrimHorizon
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.BatchSize > 1000 {
		return fmt.Errorf("streams: batch size %d exceeds 1000", c.BatchSize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollInterval, 500*time.Millisecond)
	def(&c.DiscoverInterval, 10*time.Second)
	def(&c.IteratorRefresh, 10*time.Minute)
	def(&c.HandlerTimeout, 5*time.Minute)
	def(&c.RetryBackoff, 200*time.Millisecond)
	def(&c.MaxBackoff, 10*time.Second)
	if c.MaxRetries == 0 {
		c.MaxRetries = -1
	}
	if c.Checkpoint == nil {
		c.Checkpoint = &MemoryCheckpoint{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Reader reads one stream. Create it with New and call Run once.
type Reader struct {
	api   API
	cfg   Config
	log   *slog.Logger
	ready atomic.Bool
}

// New returns a reader of cfg.StreamARN.
func New(api API, cfg Config) (*Reader, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Reader{api: api, cfg: cfg, log: cfg.Logger.With("stream_arn", cfg.StreamARN)}, nil
}

// Ready reports whether the reader has described the stream and read
// from it at least once (for a readiness probe).
func (r *Reader) Ready() bool { return r.ready.Load() }

type shardInfo struct {
	id, parent string
}

type shardDone struct {
	id  string
	err error
}

// Run reads until ctx is cancelled, then lets every shard finish the batch
// it is handling, saves the checkpoints and returns nil. It returns an
// error only when the stream cannot be read at all (deleted, no access) or
// the checkpoint cannot be loaded.
func (r *Reader) Run(ctx context.Context, h Handler) error {
	states, err := r.cfg.Checkpoint.Load(ctx, r.cfg.StreamARN)
	if err != nil {
		return fmt.Errorf("load checkpoint: %w", err)
	}
	finished := map[string]bool{}
	for id, s := range states {
		if s.Finished {
			finished[id] = true
		}
	}
	known := map[string]shardInfo{}
	running := map[string]bool{}
	initial := true
	startedFromInitial := map[string]bool{}
	done := make(chan shardDone)
	var wg sync.WaitGroup
	defer wg.Wait()

	workerCtx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()

	discover := func() error {
		shards, err := r.describe(ctx)
		if err != nil {
			return err
		}
		for _, s := range shards {
			if _, ok := known[s.id]; !ok {
				known[s.id] = s
				if initial {
					startedFromInitial[s.id] = true
				}
			}
		}
		initial = false
		return nil
	}
	schedule := func() {
		for id, s := range known {
			if running[id] || finished[id] {
				continue
			}
			if p, ok := known[s.parent]; ok && !finished[p.id] {
				continue // parent first
			}
			pos := Position{Type: TrimHorizon}
			if startedFromInitial[id] {
				pos = r.cfg.Start
			}
			w := &shardWorker{r: r, shardID: id, start: pos, state: states[id], handler: h}
			running[id] = true
			r.cfg.Metrics.shards(len(running))
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := w.run(workerCtx)
				done <- shardDone{id: id, err: err}
			}()
		}
	}

	backoff := r.cfg.RetryBackoff
	for {
		err := discover()
		if err == nil {
			break
		}
		if isFatal(err) {
			return err
		}
		r.log.Warn("describe stream failed; retrying", "error", err)
		if !sleep(ctx, jitter(backoff)) {
			return nil
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
	schedule()

	// stop lets every running shard finish its batch and returns err.
	stop := func(err error) error {
		stopWorkers()
		for len(running) > 0 {
			d := <-done
			delete(running, d.id)
		}
		r.cfg.Metrics.shards(0)
		return err
	}
	ticker := time.NewTicker(r.cfg.DiscoverInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return stop(nil)
		case d := <-done:
			delete(running, d.id)
			r.cfg.Metrics.shards(len(running))
			if d.err != nil {
				if isFatal(d.err) {
					return stop(d.err)
				}
				r.log.Error("shard reader stopped; restarting it", "shard_id", d.id, "error", d.err)
				continue // rescheduled on the next tick from its checkpoint
			}
			finished[d.id] = true
			if err := discover(); err != nil {
				r.log.Warn("describe stream failed", "error", err)
			}
			schedule()
		case <-ticker.C:
			if err := discover(); err != nil {
				if isFatal(err) {
					return stop(err)
				}
				r.log.Warn("describe stream failed", "error", err)
			}
			// A shard whose worker failed restarts from its saved state.
			if latest, err := r.cfg.Checkpoint.Load(ctx, r.cfg.StreamARN); err == nil {
				for id, s := range latest {
					if !running[id] {
						states[id] = s
					}
				}
			}
			schedule()
		}
	}
}

// describe lists every shard of the stream (paginated).
func (r *Reader) describe(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: &r.cfg.StreamARN}
	for range 1000 {
		page, err := r.api.DescribeStream(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe stream: %w", err)
		}
		if page.StreamDescription == nil {
			return nil, errors.New("describe stream: empty answer")
		}
		if st := page.StreamDescription.StreamStatus; st == types.StreamStatusDisabled || st == types.StreamStatusDisabling {
			return nil, fmt.Errorf("%w: %s is %s", ErrNoStream, r.cfg.StreamARN, st)
		}
		for _, s := range page.StreamDescription.Shards {
			out = append(out, shardInfo{id: aws.ToString(s.ShardId), parent: aws.ToString(s.ParentShardId)})
		}
		last := page.StreamDescription.LastEvaluatedShardId
		if last == nil {
			return out, nil
		}
		in.ExclusiveStartShardId = last
	}
	return nil, errors.New("describe stream: too many pages")
}

func isFatal(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf) || errors.Is(err, ErrNoStream)
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}
