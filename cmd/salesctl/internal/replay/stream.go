package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/streams"
)

// StreamStart is where a stream replay begins in shards it has no
// checkpoint for.
type StreamStart struct {
	// Position is trim-horizon, latest or at-timestamp (streams' own
	// positions).
	Position streams.Position
	// Sequence, when set, starts at the first record whose sequence number
	// is at least this one (read from the trim horizon, the records before
	// it passed over). Sequence numbers of a stream grow with time across
	// its shards.
	Sequence string
}

// ParseStreamStart reads --from: trim-horizon, latest, a sequence number
// (digits) or an RFC 3339 time.
func ParseStreamStart(s string) (StreamStart, error) {
	v := strings.TrimSpace(s)
	if v != "" && strings.Trim(v, "0123456789") == "" {
		return StreamStart{Position: streams.Position{Type: streams.TrimHorizon}, Sequence: v}, nil
	}
	p, err := streams.ParsePosition(v)
	if err != nil || v == "" {
		return StreamStart{}, fmt.Errorf("--from %q: want trim-horizon, latest, a sequence number or an RFC 3339 time", s)
	}
	return StreamStart{Position: p}, nil
}

// String is the canonical form.
func (s StreamStart) String() string {
	switch {
	case s.Sequence != "":
		return "sequence:" + s.Sequence
	case s.Position.Type == streams.AtTimestamp:
		return "time:" + s.Position.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	return string(s.Position.Type)
}

// StreamReplay republishes the event table's stream through the same
// reader the local stream publisher uses (libs/sales/streams: every shard,
// parents first, checkpoints per shard) and the same publisher. It selects
// records the way the stream publisher's handler does (INSERTs only, the
// origin decided before decoding, one decoder), with the origin and event
// types configurable.
//
// Without Follow it stops once it has caught up: every shard either
// closed and read to its end, or read past Until, or answering IdlePolls
// empty reads in a row.
type StreamReplay struct {
	API       streams.API
	StreamARN string
	Start     StreamStart
	// Until ends the replay at records created at or after it (zero: no
	// end; set it to the start of the first run).
	Until  time.Time
	Filter Filter
	// Follow keeps reading new records until the context ends.
	Follow bool
	// IdlePolls is how many empty reads in a row mean a shard is caught
	// up (default 3), PollInterval the wait after one (default 250 ms).
	IdlePolls    int
	PollInterval time.Duration
	// BatchSize is records per handler call (default 500).
	BatchSize int
}

// Selection is the canonical description.
func (s *StreamReplay) Selection() string {
	return fmt.Sprintf("stream=%s from=%s follow=%t %s", s.StreamARN, s.Start, s.Follow, s.Filter)
}

// Run reads the stream and publishes what it selects. It reports whether
// it caught up (false when the context ended first).
func (s *StreamReplay) Run(ctx context.Context, r *Runner) (bool, error) {
	if s.IdlePolls <= 0 {
		s.IdlePolls = 3
	}
	if s.PollInterval <= 0 {
		s.PollInterval = 250 * time.Millisecond
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 500
	}
	w := &watchedStream{API: s.API, iterShard: map[string]string{}, seqShard: map[string]string{}, idle: map[string]int{}, caughtUp: map[string]bool{}}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var fatal error
	var fatalOnce sync.Once
	h := &streamHandler{s: s, r: r, w: w, fail: func(err error) {
		fatalOnce.Do(func() { fatal = err; stopReading() })
	}}
	// The reader starts at the trim horizon for a time or a sequence: the
	// handler passes over the older records itself, so they are counted.
	start := streams.Position{Type: streams.TrimHorizon}
	if s.Start.Position.Type == streams.Latest {
		start = s.Start.Position
	}
	reader, err := streams.New(w, streams.Config{
		StreamARN:        s.StreamARN,
		Start:            start,
		BatchSize:        s.BatchSize,
		PollInterval:     s.PollInterval,
		DiscoverInterval: 2 * time.Second,
		Checkpoint:       laneCheckpoint{r},
		Logger:           r.o.Logger,
	})
	if err != nil {
		return false, err
	}
	caughtUp := make(chan struct{})
	if !s.Follow || !s.Until.IsZero() {
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-readCtx.Done():
					return
				case <-t.C:
					if s.Follow && time.Now().Before(s.Until) {
						continue
					}
					if w.allCaughtUp(r, s.IdlePolls) {
						close(caughtUp)
						stopReading()
						return
					}
				}
			}
		}()
	}
	if err := reader.Run(readCtx, h.handle); err != nil {
		return false, fmt.Errorf("read stream %s: %w", s.StreamARN, err)
	}
	if fatal != nil {
		return false, fatal
	}
	select {
	case <-caughtUp:
		return true, nil
	default:
		return false, nil
	}
}

// laneCheckpoint stores the reader's shard states as runner lanes, so the
// one checkpoint file holds both the stream positions and the counts.
type laneCheckpoint struct{ r *Runner }

const shardLanePrefix = "shard:"

func (c laneCheckpoint) Load(_ context.Context, _ string) (map[string]streams.ShardState, error) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	out := map[string]streams.ShardState{}
	for name, l := range c.r.state.Lanes {
		id, ok := strings.CutPrefix(name, shardLanePrefix)
		if !ok {
			continue
		}
		var st streams.ShardState
		if len(l.Cursor) > 0 {
			if err := json.Unmarshal(l.Cursor, &st); err != nil {
				return nil, fmt.Errorf("checkpoint of shard %s: %w", id, err)
			}
		}
		st.Finished = st.Finished || l.Finished
		out[id] = st
	}
	return out, nil
}

func (c laneCheckpoint) Save(_ context.Context, _ string, shardID string, st streams.ShardState) error {
	b, _ := json.Marshal(st)
	return c.r.Advance(shardLanePrefix+shardID, b, st.Finished)
}

// streamHandler is the Lambda-style handler the reader drives.
type streamHandler struct {
	s    *StreamReplay
	r    *Runner
	w    *watchedStream
	fail func(error)
}

func (h *streamHandler) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	if len(ev.Records) == 0 {
		return events.DynamoDBEventResponse{}, nil
	}
	shard := h.w.shardOf(ev.Records[0].Change.SequenceNumber)
	for _, rec := range ev.Records[1:] {
		h.w.shardOf(rec.Change.SequenceNumber)
	}
	items := make([]Item, len(ev.Records))
	after := false
	for i, rec := range ev.Records {
		items[i] = h.item(rec)
		after = after || items[i].Skip == SkipAfterEnd
	}
	h.r.Progressed(int64(len(items)))
	if err := h.r.Handle(ctx, shardLanePrefix+shard, items); err != nil {
		h.fail(err)
		// Nothing of the batch is acknowledged: a resume reads it again
		// and passes over what was published (the lane's Done list).
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[0].Change.SequenceNumber}}}, nil
	}
	if after {
		h.w.markCaughtUp(shard)
	}
	return events.DynamoDBEventResponse{}, nil
}

// item decides one record, in the stream publisher's order: INSERTs only,
// the origin read before decoding (a malformed record of another region
// never counts against this one), then the one stream decoder.
func (h *streamHandler) item(rec events.DynamoDBEventRecord) Item {
	seq := rec.Change.SequenceNumber
	it := Item{ID: "seq:" + seq}
	created := rec.Change.ApproximateCreationDateTime.Time
	switch {
	case !h.s.Until.IsZero() && !created.IsZero() && !created.Before(h.s.Until):
		it.Skip = SkipAfterEnd
		return it
	case h.s.Start.Sequence != "" && compareSequence(seq, h.s.Start.Sequence) < 0,
		h.s.Start.Position.Type == streams.AtTimestamp && !created.IsZero() && created.Before(h.s.Start.Position.Timestamp):
		it.Skip = SkipBeforeStart
		return it
	case rec.EventName != string(events.DynamoDBOperationTypeInsert), store.IsVoidImage(rec.Change.NewImage):
		it.Skip = SkipNotInsert
		return it
	}
	if v, ok := rec.Change.NewImage[store.AttrOriginRegion]; ok && v.DataType() == events.DataTypeString && h.s.Filter.Origin != "" && v.String() != h.s.Filter.Origin {
		it.Skip = SkipOtherOrigin
		return it
	}
	e, err := store.DecodeStreamImage(rec.Change.NewImage)
	if err != nil {
		it.Err = fmt.Errorf("undecodable stream record %s: %w", seq, err)
		return it
	}
	it.Env = e
	it.Skip = h.s.Filter.Decide(e)
	return it
}

// compareSequence compares two decimal sequence numbers.
func compareSequence(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// watchedStream wraps the Streams API to see what the reader cannot tell
// its handler: which shard a record came from, and which shards have
// nothing more to read.
type watchedStream struct {
	streams.API
	mu            sync.Mutex
	described     []string
	describedOnce bool
	iterShard     map[string]string
	seqShard      map[string]string
	idle          map[string]int
	caughtUp      map[string]bool
}

func (w *watchedStream) DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	out, err := w.API.DescribeStream(ctx, in, opts...)
	if err == nil && out.StreamDescription != nil {
		w.mu.Lock()
		if in.ExclusiveStartShardId == nil {
			w.described = w.described[:0]
		}
		w.describedOnce = true
		for _, sh := range out.StreamDescription.Shards {
			w.described = append(w.described, aws.ToString(sh.ShardId))
		}
		w.mu.Unlock()
	}
	return out, err
}

func (w *watchedStream) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	out, err := w.API.GetShardIterator(ctx, in, opts...)
	if err == nil && out.ShardIterator != nil {
		w.mu.Lock()
		w.iterShard[*out.ShardIterator] = aws.ToString(in.ShardId)
		w.mu.Unlock()
	}
	return out, err
}

func (w *watchedStream) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	out, err := w.API.GetRecords(ctx, in, opts...)
	if err != nil {
		return out, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	it := aws.ToString(in.ShardIterator)
	shard := w.iterShard[it]
	delete(w.iterShard, it)
	if out.NextShardIterator != nil {
		w.iterShard[*out.NextShardIterator] = shard
	}
	if len(out.Records) == 0 {
		w.idle[shard]++
	} else {
		w.idle[shard] = 0
	}
	for _, rec := range out.Records {
		if rec.Dynamodb != nil {
			w.seqShard[aws.ToString(rec.Dynamodb.SequenceNumber)] = shard
		}
	}
	return out, nil
}

// shardOf returns the shard a record was read from (and forgets it).
func (w *watchedStream) shardOf(seq string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.seqShard[seq]
	delete(w.seqShard, seq)
	if !ok {
		return "unknown"
	}
	return s
}

func (w *watchedStream) markCaughtUp(shard string) {
	w.mu.Lock()
	w.caughtUp[shard] = true
	w.mu.Unlock()
}

// allCaughtUp reports whether every described shard is finished, past the
// end, or idle. A shard that reads empty has handled its buffer already
// (the reader reads only with an empty buffer), so stopping then loses
// nothing.
func (w *watchedStream) allCaughtUp(r *Runner, idlePolls int) bool {
	w.mu.Lock()
	shards := append([]string(nil), w.described...)
	once := w.describedOnce
	w.mu.Unlock()
	if len(shards) == 0 {
		return once // a stream without shards has nothing to read
	}
	for _, id := range shards {
		if r.Lane(shardLanePrefix + id).Finished {
			continue
		}
		w.mu.Lock()
		ok := w.caughtUp[id] || w.idle[id] >= idlePolls
		w.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}
