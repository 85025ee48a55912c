package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// shardWorker reads one shard from its checkpoint (or start position) to
// its end, one batch at a time.
type shardWorker struct {
	r       *Reader
	shardID string
	start   Position
	state   ShardState
	handler Handler

	iterator   *string
	iteratorAt time.Time
	// lastRead is the sequence number of the newest record buffered: a
	// renewed iterator continues after it.
	lastRead string
	buf      []types.Record
	bufSince time.Time
	ended    bool
	attempts int
	backoff  time.Duration
	// skipping is true while an at-timestamp start passes over older
	// records.
	skipping bool
	// empties counts reads in a row that returned nothing.
	empties int
}

// renewAfterEmpties renews an idle shard's iterator (from lastRead) after
// this many empty reads in a row. The local emulator was seen to leave an
// iterator chain stuck — empty answers while records kept arriving behind
// it, which a fresh iterator from the same position returned at once. On
// AWS this costs one GetShardIterator per idle shard every few seconds.
const renewAfterEmpties = 20

func (w *shardWorker) log() []any { return []any{"shard_id", w.shardID} }

func (w *shardWorker) run(ctx context.Context) error {
	cfg := &w.r.cfg
	w.backoff = cfg.RetryBackoff
	w.lastRead = w.state.Sequence
	w.skipping = w.start.Type == AtTimestamp && w.state.Sequence == ""
	for {
		if ctx.Err() != nil {
			return nil // buffered records are not acknowledged: the next run reads them again
		}
		if w.shouldRead() {
			n, err := w.read(ctx)
			if err != nil {
				var gone *types.ResourceNotFoundException
				if errors.As(err, &gone) && ctx.Err() == nil {
					// The shard aged out of the stream (24 h) while
					// waiting; the stream itself is checked by Run.
					w.r.log.Warn("shard no longer exists; treating it as finished", append(w.log(), "error", err)...)
					w.state.Finished = true
					w.save(ctx)
					return nil
				}
				if isFatal(err) || ctx.Err() != nil {
					return errOrNil(ctx, err)
				}
				cfg.Metrics.readError()
				w.r.log.Warn("get records failed; backing off", append(w.log(), "error", err)...)
				if !sleep(ctx, w.nextBackoff()) {
					return nil
				}
				continue
			}
			w.r.ready.Store(true)
			if n == 0 && !w.ended {
				wait := cfg.PollInterval
				if len(w.buf) > 0 {
					wait = min(wait, time.Until(w.bufSince.Add(cfg.BatchWindow)))
				}
				if !sleep(ctx, wait) {
					return nil
				}
			}
			continue
		}
		if len(w.buf) > 0 {
			if !w.invoke(ctx) {
				if !sleep(ctx, w.nextBackoff()) {
					return nil
				}
			}
			continue
		}
		if w.ended {
			w.state.Finished = true
			w.save(ctx)
			w.r.log.Info("shard finished", w.log()...)
			return nil
		}
	}
}

func errOrNil(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// shouldRead decides between reading more and calling the handler, the
// way a mapping batches: a full batch goes at once, a partial one once the
// window has passed since its first record.
func (w *shardWorker) shouldRead() bool {
	cfg := &w.r.cfg
	switch {
	case w.ended:
		return false
	case len(w.buf) >= cfg.BatchSize:
		return false
	case len(w.buf) == 0:
		return true
	case w.attempts > 0:
		return false // retrying what is buffered
	}
	return cfg.Now().Before(w.bufSince.Add(cfg.BatchWindow))
}

func (w *shardWorker) nextBackoff() time.Duration {
	d := jitter(w.backoff)
	w.backoff = min(2*w.backoff, w.r.cfg.MaxBackoff)
	return d
}

// iteratorInput is where a fresh iterator must point: after the newest
// record read, or at the start position.
func (w *shardWorker) iteratorInput() *dynamodbstreams.GetShardIteratorInput {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &w.r.cfg.StreamARN, ShardId: &w.shardID}
	switch {
	case w.lastRead != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(w.lastRead)
	case w.start.Type == Latest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	default:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	}
	return in
}

func (w *shardWorker) renewIterator(ctx context.Context) error {
	in := w.iteratorInput()
	out, err := w.r.api.GetShardIterator(ctx, in)
	var trimmed *types.TrimmedDataAccessException
	if errors.As(err, &trimmed) && in.ShardIteratorType == types.ShardIteratorTypeAfterSequenceNumber {
		// The stream kept records for 24 h and the checkpoint is older:
		// what lay between is gone. Say so loudly and go on from the
		// oldest record left.
		w.r.log.Error("checkpoint is behind the trim horizon; records were lost", append(w.log(), "sequence", w.lastRead)...)
		w.r.cfg.Metrics.trimmed()
		w.lastRead = ""
		w.start = Position{Type: TrimHorizon}
		in = w.iteratorInput()
		out, err = w.r.api.GetShardIterator(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("get %s iterator for shard %s: %w", in.ShardIteratorType, w.shardID, err)
	}
	w.iterator = out.ShardIterator
	w.iteratorAt = w.r.cfg.Now()
	if w.iterator == nil {
		w.ended = true // a closed shard with nothing after the position
	}
	return nil
}

// read appends up to the missing batch size of records to the buffer.
func (w *shardWorker) read(ctx context.Context) (int, error) {
	cfg := &w.r.cfg
	if w.iterator == nil || cfg.Now().Sub(w.iteratorAt) >= cfg.IteratorRefresh {
		if err := w.renewIterator(ctx); err != nil {
			return 0, err
		}
		if w.ended {
			return 0, nil
		}
	}
	limit := int32(cfg.BatchSize - len(w.buf)) //nolint:gosec // BatchSize is validated to 1..1000
	out, err := w.r.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: w.iterator, Limit: &limit})
	cfg.Metrics.getRecords()
	if err != nil {
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &expired) || errors.As(err, &trimmed) {
			w.iterator = nil // renewed from lastRead on the next read
		}
		return 0, err
	}
	w.backoff = cfg.RetryBackoff
	w.iterator = out.NextShardIterator
	w.iteratorAt = cfg.Now()
	if w.iterator == nil {
		w.ended = true
	}
	if len(out.Records) == 0 {
		w.empties++
		// A LATEST start with nothing read yet keeps its iterator: renewing
		// it would skip what arrived in between.
		if w.empties >= renewAfterEmpties && w.iterator != nil && (w.lastRead != "" || w.start.Type != Latest) {
			w.iterator, w.empties = nil, 0 // renewed from lastRead on the next read
		}
	} else {
		w.empties = 0
	}
	n, skipped := 0, false
	for _, rec := range out.Records {
		seq := sequenceOf(rec)
		w.lastRead = seq
		if w.skipping {
			if recordTime(rec).Before(w.start.Timestamp) {
				// Before the requested time: acknowledged without a
				// handler call (nothing is buffered while skipping).
				w.state.Sequence = seq
				skipped = true
				cfg.Metrics.skippedBeforeStart()
				continue
			}
			w.skipping = false
		}
		if len(w.buf) == 0 {
			w.bufSince = cfg.Now()
		}
		w.buf = append(w.buf, rec)
		n++
	}
	if skipped {
		w.save(ctx)
	}
	cfg.Metrics.recordsRead(len(out.Records))
	return n, nil
}

// invoke calls the handler with the head of the buffer and applies its
// answer. It reports whether the batch fully succeeded.
func (w *shardWorker) invoke(ctx context.Context) bool {
	cfg := &w.r.cfg
	n := min(len(w.buf), cfg.BatchSize)
	batch := w.buf[:n]
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, n)}
	for _, rec := range batch {
		er, err := ToEventRecord(cfg.StreamARN, rec)
		if err != nil {
			// Cannot happen with records from the API; if it does, the
			// handler sees the record as far as it converted and decides.
			w.r.log.Error("record conversion failed", append(w.log(), "error", err)...)
		}
		ev.Records = append(ev.Records, er)
	}
	// The batch in flight finishes even when the reader is stopping: its
	// effects and its checkpoint then agree.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HandlerTimeout)
	started := cfg.Now()
	resp, err := w.handler(hctx, ev)
	cancel()
	cfg.Metrics.batch(n, cfg.Now().Sub(started))

	done := 0 // records acknowledged, from the head of the batch
	switch {
	case err != nil:
		w.r.log.Warn("handler failed the batch", append(w.log(), "records", n, "error", err)...)
	case len(resp.BatchItemFailures) == 0:
		done = n
	default:
		done = w.firstFailure(batch, resp.BatchItemFailures)
		err = fmt.Errorf("handler reported %d failed item(s); rewinding to record %d of %d", len(resp.BatchItemFailures), done+1, n)
	}
	if done > 0 {
		w.ack(ctx, batch[done-1])
		w.buf = w.buf[done:]
		if len(w.buf) > 0 {
			w.bufSince = cfg.Now()
		}
		w.attempts = 0
	}
	if done == n {
		cfg.Metrics.outcome("success")
		w.attempts = 0
		w.backoff = cfg.RetryBackoff
		return true
	}
	cfg.Metrics.outcome("retry")
	w.attempts++
	if cfg.MaxRetries >= 0 && w.attempts > cfg.MaxRetries {
		w.discard(ctx, err)
		return true
	}
	return false
}

// firstFailure is the index of the earliest reported failure in the batch.
// An identifier that is empty or not in the batch fails the whole batch,
// as Lambda does.
func (w *shardWorker) firstFailure(batch []types.Record, failures []events.DynamoDBBatchItemFailure) int {
	index := make(map[string]int, len(batch))
	for i, rec := range batch {
		index[sequenceOf(rec)] = i
	}
	first := len(batch)
	for _, f := range failures {
		i, ok := index[f.ItemIdentifier]
		if !ok || f.ItemIdentifier == "" {
			w.r.log.Warn("handler reported an item that is not in the batch; retrying the whole batch", append(w.log(), "item", f.ItemIdentifier)...)
			return 0
		}
		first = min(first, i)
	}
	return first
}

// discard gives up the unacknowledged head of the buffer (up to a batch).
func (w *shardWorker) discard(ctx context.Context, err error) {
	cfg := &w.r.cfg
	n := min(len(w.buf), cfg.BatchSize)
	batch := w.buf[:n]
	d := Discarded{
		StreamARN: cfg.StreamARN, ShardID: w.shardID,
		FirstSequence: sequenceOf(batch[0]), LastSequence: sequenceOf(batch[n-1]),
		Count: n, Attempts: w.attempts, Err: err,
	}
	if cfg.OnDiscard != nil {
		cfg.OnDiscard(context.WithoutCancel(ctx), d)
	} else {
		w.r.log.Error("batch given up after retries", append(w.log(), "first_sequence", d.FirstSequence, "last_sequence", d.LastSequence, "records", n, "attempts", w.attempts, "error", err)...)
	}
	cfg.Metrics.outcome("discarded")
	w.ack(ctx, batch[n-1])
	w.buf = w.buf[n:]
	w.attempts = 0
	w.backoff = cfg.RetryBackoff
}

func (w *shardWorker) ack(ctx context.Context, last types.Record) {
	w.state.Sequence = sequenceOf(last)
	w.r.cfg.Metrics.acked(w.r.cfg.Now().Sub(recordTime(last)), recordTime(last).IsZero())
	w.save(ctx)
}

func (w *shardWorker) save(ctx context.Context) {
	if err := w.r.cfg.Checkpoint.Save(context.WithoutCancel(ctx), w.r.cfg.StreamARN, w.shardID, w.state); err != nil {
		// Not fatal: a later save carries the newer position, and a
		// restart before it only handles some records again.
		w.r.cfg.Metrics.checkpointError()
		w.r.log.Error("checkpoint save failed", append(w.log(), "error", err)...)
	}
}
