// Package replay is the machinery behind salesctl's replay, reprocess and
// dlq commands: sources that read events (the event store, its stream, a
// dead-letter queue), one Runner that publishes them through the same SNS
// publisher as the stream publisher, at a limited rate, with a checkpoint
// file that makes every run resumable after Ctrl-C or a crash, progress on
// the terminal, and a summary.
//
// Delivery is at least once. Consumers are idempotent (the worker claims
// every event id), so a duplicate costs a little work and changes nothing;
// the runner counts the duplicates it may have caused so the operator
// sees them.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/salesplatform/libs/sales/atomicfile"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

// Publisher publishes envelopes; *messaging.Publisher is the one used
// outside tests.
type Publisher interface {
	Publish(ctx context.Context, envs []domain.Envelope) messaging.PublishResult
}

// Item is one thing a source read, with the decision about it.
type Item struct {
	// ID identifies the item across runs (event id, message id).
	ID  string
	Env domain.Envelope
	// Payload is what a custom sender sends (a dead letter).
	Payload any
	// Skip, when set, is why the item is not published (a filter).
	Skip string
	// Err, when set, is a permanent problem (an undecodable item): the
	// item is counted as failed and never retried by a resume.
	Err error
}

// Skip reasons shown in summaries.
const (
	SkipNotInsert    = "not-insert"
	SkipOtherOrigin  = "other-origin"
	SkipEventType    = "event-type"
	SkipOutOfRange   = "out-of-range"
	SkipBeforeStart  = "before-start"
	SkipAfterEnd     = "after-end"
	SkipAlreadySent  = "already-sent"
	SkipNotLakeEvent = "not-a-lake-event"
)

// Options configure a Runner.
type Options struct {
	// Command and Selection identify the run in the checkpoint file.
	Command   string
	Selection string
	// CheckpointPath is the checkpoint file ("" keeps state in memory).
	CheckpointPath string
	// DryRun publishes nothing and writes no checkpoint; it counts what
	// would be published.
	DryRun bool
	// Rate limits items per second (0: unlimited).
	Rate float64
	// Publisher is required unless DryRun (or a source sends by itself).
	Publisher Publisher
	// MaxAttempts per event for failures that may pass (default 5).
	MaxAttempts int
	// RetryBackoff is the first wait between attempts (default 200 ms).
	RetryBackoff time.Duration
	Logger       *slog.Logger
}

// Runner carries one run: state, checkpoint, rate limit, counts.
type Runner struct {
	o       Options
	limiter *rate.Limiter
	started time.Time

	mu    sync.Mutex
	state *State
	// done mirrors each lane's Done as a set.
	done map[string]map[string]bool
	// doneCounts are each lane's DoneCounts (persisted with the lane);
	// skipped are the filter decisions since the cursor (not
	// persisted: a resume reads those items again and decides again).
	doneCounts map[string]*Counts
	skipped    map[string]*Counts
	// resumeInflight are the ids a previous run may have published
	// without recording it.
	resumeInflight map[string]bool
	// runRead counts items read by this run only (for rates and ETAs).
	runRead  int64
	total    int64
	progress int64

	writeMu sync.Mutex
}

// Open starts a run, resuming from the checkpoint file when it exists.
func Open(o Options) (*Runner, error) {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		o:              o,
		started:        time.Now(),
		done:           map[string]map[string]bool{},
		doneCounts:     map[string]*Counts{},
		skipped:        map[string]*Counts{},
		resumeInflight: map[string]bool{},
	}
	if o.Rate > 0 {
		// A bucket of one chunk (a quarter second's worth): the limit
		// holds over any one-second window, not only on average, and a
		// wake-up the scheduler delays is made up instead of lost.
		r.limiter = rate.NewLimiter(rate.Limit(o.Rate), r.chunkSize())
	}
	var st *State
	if o.CheckpointPath != "" {
		var err error
		if st, err = loadState(o.CheckpointPath); err != nil {
			return nil, err
		}
	}
	if st == nil {
		st = &State{Version: checkpointVersion, Command: o.Command, Selection: o.Selection, StartedAt: time.Now().UTC(), Lanes: map[string]*Lane{}}
	} else if st.Command != o.Command || st.Selection != o.Selection {
		return nil, fmt.Errorf("%w: %s was written by %q for %s; this run is %q for %s (use another --checkpoint file, or delete it to start over)",
			ErrCheckpointMismatch, o.CheckpointPath, st.Command, st.Selection, o.Command, o.Selection)
	}
	st.Runs++
	r.state = st
	for name, l := range st.Lanes {
		if l.DoneCounts != nil {
			r.doneCounts[name] = l.DoneCounts
		}
		set := map[string]bool{}
		for _, id := range l.Done {
			set[id] = true
		}
		r.done[name] = set
		for _, id := range l.Inflight {
			r.resumeInflight[id] = true
		}
		if !o.DryRun {
			l.Inflight = nil
		}
	}
	if st.Extra == nil {
		st.Extra = map[string]string{}
	}
	return r, nil
}

// SetPublisher sets the publisher after Open (when it depends on facts
// kept in the checkpoint, such as a reprocessing generation).
func (r *Runner) SetPublisher(p Publisher) { r.o.Publisher = p }

// Runs is how many runs used the checkpoint, this one included.
func (r *Runner) Runs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.Runs
}

// Resumed reports whether an earlier run left a checkpoint.
func (r *Runner) Resumed() bool { return r.state.Runs > 1 }

// DryRun reports whether the run publishes nothing.
func (r *Runner) DryRun() bool { return r.o.DryRun }

// Extra returns a fact stored in the checkpoint by an earlier run.
func (r *Runner) Extra(key string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.state.Extra[key]
	return v, ok
}

// SetExtra stores a fact in the checkpoint.
func (r *Runner) SetExtra(key, value string) error {
	r.mu.Lock()
	r.state.Extra[key] = value
	r.mu.Unlock()
	return r.persist()
}

// Lane returns a copy of a lane's state (zero for a new lane).
func (r *Runner) Lane(name string) Lane {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lane(name)
	return Lane{Cursor: l.Cursor, Finished: l.Finished}
}

func (r *Runner) lane(name string) *Lane {
	l, ok := r.state.Lanes[name]
	if !ok {
		l = &Lane{}
		r.state.Lanes[name] = l
	}
	if r.done[name] == nil {
		r.done[name] = map[string]bool{}
	}
	if l.DoneCounts == nil {
		l.DoneCounts = &Counts{}
	}
	r.doneCounts[name] = l.DoneCounts
	if r.skipped[name] == nil {
		r.skipped[name] = &Counts{}
	}
	return l
}

// SetTotal sets the estimated units of work of this run (0: unknown), for
// the progress bar's ETA.
func (r *Runner) SetTotal(n int64) {
	r.mu.Lock()
	r.total = n
	r.mu.Unlock()
}

// Progressed adds n units of work done by this run (items scanned, sale
// ids looked up, messages moved), measured against SetTotal.
func (r *Runner) Progressed(n int64) {
	r.mu.Lock()
	r.progress += n
	r.mu.Unlock()
}

// Snapshot is the progress so far.
type Snapshot struct {
	Counts Counts
	// RunRead is what this run read (a resume excluded).
	RunRead int64
	// Progress is this run's units of work against Total (0: unknown);
	// without a total, progress is shown as items read.
	Progress, Total int64
	Elapsed         time.Duration
}

// Snapshot returns the totals (committed, plus every lane's progress).
func (r *Runner) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.state.Counts.clone()
	for _, dc := range r.doneCounts {
		c.add(*dc)
	}
	for _, sc := range r.skipped {
		c.add(*sc)
	}
	return Snapshot{Counts: c, RunRead: r.runRead, Progress: r.progress, Total: r.total, Elapsed: time.Since(r.started)}
}

// Skip counts items read and not published, outside any lane's pages (a
// filter decided before the runner saw them). Committed at once.
func (r *Runner) Skip(reason string, n int64) error {
	r.mu.Lock()
	r.state.Counts.add(Counts{Read: n, Skipped: map[string]int64{reason: n}})
	r.runRead += n
	r.mu.Unlock()
	return r.persist()
}

// ErrPublish is a publish that kept failing: the run stops where it is,
// and a resume starts again from the unpublished events.
var ErrPublish = errors.New("publish kept failing")

// Handle counts, filters and publishes one page of a lane: items whose id
// is in the lane's Done are passed over (a resume reading the page
// again), skipped and failed items are counted, the rest is published in
// chunks at the configured rate. It returns an error wrapping ErrPublish
// when events could not be published after the retries; everything
// published until then is recorded.
func (r *Runner) Handle(ctx context.Context, laneName string, items []Item) error {
	var pub []Item
	r.mu.Lock()
	l := r.lane(laneName)
	done := r.done[laneName]
	for _, it := range items {
		if done[it.ID] {
			continue
		}
		r.runRead++
		switch {
		case it.Err != nil:
			r.failLocked(laneName, l, it.ID, it.Err.Error())
		case it.Skip != "":
			r.skipped[laneName].add(Counts{Read: 1, Skipped: map[string]int64{it.Skip: 1}})
		default:
			pub = append(pub, it)
		}
	}
	r.mu.Unlock()
	for start := 0; start < len(pub); {
		n := min(r.chunkSize(), len(pub)-start)
		if _, err := r.sendChunk(ctx, laneName, pub[start:start+n], r.publish); err != nil {
			return err
		}
		start += n
	}
	return nil
}

// publish sends items through the SNS publisher.
func (r *Runner) publish(ctx context.Context, items []Item) []error {
	envs := make([]domain.Envelope, len(items))
	for i, it := range items {
		envs[i] = it.Env
	}
	return r.o.Publisher.Publish(ctx, envs).Errs
}

// SendFunc sends items somewhere and returns one error per item (nil:
// sent). Errors that are *RejectedError were refused cleanly (nothing was
// sent); any other error may hide a send that happened.
type SendFunc func(ctx context.Context, items []Item) []error

// RejectedError is an item the target refused: nothing was sent, and a
// retry may pass.
type RejectedError struct{ Err error }

func (e *RejectedError) Error() string { return e.Err.Error() }
func (e *RejectedError) Unwrap() error { return e.Err }

// Send is Handle for sources that send by themselves (a queue redrive):
// the same rate limit, in-flight record, retries and counts, with send in
// place of the SNS publisher. It returns the items sent by this call; an
// item already in the lane's Done list is neither sent nor returned.
func (r *Runner) Send(ctx context.Context, laneName string, items []Item, send SendFunc) ([]Item, error) {
	var fresh []Item
	r.mu.Lock()
	r.lane(laneName)
	for _, it := range items {
		if !r.done[laneName][it.ID] {
			r.runRead++
			fresh = append(fresh, it)
		}
	}
	r.mu.Unlock()
	var sent []Item
	for start := 0; start < len(fresh); {
		n := min(r.chunkSize(), len(fresh)-start)
		ok, err := r.sendChunk(ctx, laneName, fresh[start:start+n], send)
		sent = append(sent, ok...)
		if err != nil {
			return sent, err
		}
		start += n
	}
	return sent, nil
}

// IsDone reports whether id is in the lane's Done list (sent by this or an
// earlier run, not yet committed).
func (r *Runner) IsDone(laneName, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[laneName][id]
}

// Count commits counts that no lane page carries (a server-side move).
func (r *Runner) Count(c Counts) error {
	r.mu.Lock()
	r.state.Counts.add(c)
	r.runRead += c.Read
	r.mu.Unlock()
	return r.persist()
}

// chunkSize is how many events one publish call carries: ten per SNS
// batch and four batches in flight, or about a quarter second of the rate
// (events wait for their tokens one by one and leave together, so a chunk
// is the largest clump a window of the limit can see).
func (r *Runner) chunkSize() int {
	if r.o.Rate > 0 {
		return max(1, min(40, int(r.o.Rate/4)))
	}
	return 40
}

func (r *Runner) failLocked(laneName string, l *Lane, id, reason string) {
	r.doneCounts[laneName].add(Counts{Read: 1, Failed: 1})
	l.Done = append(l.Done, id)
	r.done[laneName][id] = true
	if len(r.state.Failures) < maxFailures {
		r.state.Failures = append(r.state.Failures, Failure{ID: id, Reason: reason})
	}
}

func (r *Runner) wait(ctx context.Context, n int) error {
	if r.limiter == nil {
		return nil
	}
	for range n {
		if err := r.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) sendChunk(ctx context.Context, laneName string, chunk []Item, send SendFunc) ([]Item, error) {
	if err := r.wait(ctx, len(chunk)); err != nil {
		return nil, err
	}
	ids := make([]string, len(chunk))
	for i, it := range chunk {
		ids[i] = it.ID
	}
	r.mu.Lock()
	l := r.lane(laneName)
	l.Inflight = ids
	r.mu.Unlock()
	if err := r.persist(); err != nil {
		return nil, err
	}

	var sent []Item
	pending := chunk
	var lastErr error
	uncertain := map[string]bool{} // may have been published by an earlier attempt
	for attempt := 1; len(pending) > 0; attempt++ {
		var errs []error
		if r.o.DryRun {
			errs = make([]error, len(pending))
		} else {
			errs = send(ctx, pending)
		}
		var retry []Item
		r.mu.Lock()
		for i, it := range pending {
			err := errs[i]
			switch {
			case err == nil:
				dup := r.resumeInflight[it.ID] || uncertain[it.ID]
				delete(r.resumeInflight, it.ID)
				c := Counts{Read: 1, Published: 1}
				if dup {
					c.Duplicates = 1
				}
				r.doneCounts[laneName].add(c)
				l.Done = append(l.Done, it.ID)
				r.done[laneName][it.ID] = true
				sent = append(sent, it)
			case permanent(err):
				r.o.Logger.Error("event cannot be published; counted as failed", "event_id", it.ID, "error", err)
				r.failLocked(laneName, l, it.ID, err.Error())
			default:
				if mayHavePublished(err) {
					uncertain[it.ID] = true
				}
				lastErr = err
				retry = append(retry, it)
			}
		}
		var still []string
		for _, it := range retry {
			if uncertain[it.ID] || r.resumeInflight[it.ID] {
				still = append(still, it.ID)
			}
		}
		l.Inflight = still
		r.mu.Unlock()
		pending = retry
		if len(pending) == 0 {
			break
		}
		if attempt >= r.o.MaxAttempts || ctx.Err() != nil {
			_ = r.persist()
			if ctx.Err() != nil {
				return sent, ctx.Err()
			}
			return sent, fmt.Errorf("%w: %d item(s) not sent after %d attempts: %v", ErrPublish, len(pending), attempt, lastErr)
		}
		r.o.Logger.Warn("publish failed; retrying", "events", len(pending), "attempt", attempt, "error", lastErr)
		backoff := r.o.RetryBackoff << min(attempt-1, 5)
		select {
		case <-ctx.Done():
			_ = r.persist()
			return sent, ctx.Err()
		case <-time.After(backoff):
		}
	}
	return sent, nil
}

// permanent tells failures no retry can fix (an event SNS refuses for
// what it is) from the ones that may pass.
func permanent(err error) bool {
	var rej *RejectedError
	if errors.As(err, &rej) {
		return false
	}
	var ee *messaging.EntryError
	if errors.As(err, &ee) {
		return ee.SenderFault
	}
	return errors.Is(err, messaging.ErrTooLarge)
}

// mayHavePublished tells failures after which SNS may still have the
// message (no answer, a lost connection) from clean rejections.
func mayHavePublished(err error) bool {
	var ee *messaging.EntryError
	var rej *RejectedError
	return !errors.As(err, &ee) && !errors.As(err, &rej)
}

// Advance commits a lane's page: the cursor moves past it, its counts join
// the totals and its Done list empties. finished marks the lane complete.
func (r *Runner) Advance(laneName string, cursor json.RawMessage, finished bool) error {
	r.mu.Lock()
	l := r.lane(laneName)
	r.state.Counts.add(*r.doneCounts[laneName])
	r.state.Counts.add(*r.skipped[laneName])
	*r.doneCounts[laneName] = Counts{}
	*r.skipped[laneName] = Counts{}
	l.Cursor = cursor
	l.Finished = l.Finished || finished
	l.Done = nil
	r.done[laneName] = map[string]bool{}
	r.mu.Unlock()
	return r.persist()
}

// persist writes the checkpoint file (not in a dry run).
func (r *Runner) persist() error {
	if r.o.DryRun || r.o.CheckpointPath == "" {
		return nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	r.state.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(r.state, "", " ")
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := atomicfile.Write(r.o.CheckpointPath, append(b, '\n')); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", r.o.CheckpointPath, err)
	}
	return nil
}

// Result is a finished run's account.
type Result struct {
	Command   string        `json:"command"`
	Selection string        `json:"selection"`
	DryRun    bool          `json:"dry_run"`
	Counts    Counts        `json:"counts"`
	Elapsed   time.Duration `json:"-"`
	// ElapsedSeconds is this run's duration; Runs how many runs the
	// checkpoint has seen (2 or more after a resume).
	ElapsedSeconds float64   `json:"elapsed_seconds"`
	Runs           int       `json:"runs"`
	Complete       bool      `json:"complete"`
	Failures       []Failure `json:"failures,omitempty"`
	// Error is why the run stopped early, if it did.
	Error string `json:"error,omitempty"`
	// AWSOperations are the AWS calls this run made ("SNS.PublishBatch"),
	// AWSRequests the HTTP attempts (SDK retries included: a retried
	// publish whose first answer was lost is a duplicate nobody can see).
	AWSOperations map[string]int64  `json:"aws_operations,omitempty"`
	AWSRequests   map[string]int64  `json:"aws_requests,omitempty"`
	Notes         map[string]string `json:"notes,omitempty"`
}

// OK reports whether nothing failed and the run completed.
func (res Result) OK() bool { return res.Complete && res.Counts.Failed == 0 && res.Error == "" }

// Finish writes the final checkpoint and returns the run's account.
// complete says whether the source was read to its end; runErr is why it
// stopped otherwise.
func (r *Runner) Finish(complete bool, runErr error) (Result, error) {
	perr := r.persist()
	snap := r.Snapshot()
	r.mu.Lock()
	res := Result{
		Command: r.o.Command, Selection: r.o.Selection, DryRun: r.o.DryRun,
		Counts: snap.Counts, Elapsed: snap.Elapsed, ElapsedSeconds: snap.Elapsed.Seconds(),
		Runs: r.state.Runs, Complete: complete && runErr == nil,
		Failures: append([]Failure(nil), r.state.Failures...),
	}
	r.mu.Unlock()
	if runErr != nil {
		res.Error = runErr.Error()
	}
	return res, perr
}

// ReadRate is this run's items read per second.
func (s Snapshot) ReadRate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.RunRead) / s.Elapsed.Seconds()
}

// ETA estimates the time left from this run's progress rate and the total.
func (s Snapshot) ETA() (time.Duration, bool) {
	if s.Total <= 0 || s.Progress <= 0 || s.Progress >= s.Total || s.Elapsed <= 0 {
		return 0, false
	}
	perUnit := s.Elapsed.Seconds() / float64(s.Progress)
	return time.Duration(float64(s.Total-s.Progress) * perUnit * float64(time.Second)), true
}
