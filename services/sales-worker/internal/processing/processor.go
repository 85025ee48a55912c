package processing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/idempotency"
	"github.com/salesplatform/libs/sales/lake"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/regionstate"

	"github.com/salesplatform/services/sales-worker/internal/fault"
)

// Lake writes events into this region's lake (*lake.Writer).
type Lake interface {
	// Merge writes e's record at its key so that the key holds the earliest
	// version of the operation (lake.Writer.Merge).
	Merge(ctx context.Context, e domain.Envelope, generation int) (lake.Merged, error)
	// RecordConflict writes the record of two versions of one operation.
	RecordConflict(ctx context.Context, a, b domain.Envelope) (key string, err error)
}

// StateReader is the cached region state (*regionstate.Watcher).
type StateReader interface {
	State() regionstate.State
}

// Kind of action on a message.
type Kind int

const (
	// Delete the message: its effect is durable, or there is none to make.
	Delete Kind = iota + 1
	// DeadLetter sends the message to the DLQ, then deletes it.
	DeadLetter
	// Defer hides the message for Delay: it is someone else's to do for
	// now, or it must wait (takeover delay, passive region).
	Defer
	// Retry hides the message for Delay after a failure (backoff); after
	// maxReceiveCount deliveries SQS moves it to the DLQ.
	Retry
	// Release gives the message back at once (drain): its claim, if any,
	// has been released.
	Release
)

func (k Kind) String() string {
	switch k {
	case Delete:
		return "delete"
	case DeadLetter:
		return "dead-letter"
	case Defer:
		return "defer"
	case Retry:
		return "retry"
	case Release:
		return "release"
	}
	return "unknown"
}

// Outcomes and reasons recorded in Action.Reason.
const (
	OutcomeProcessed          = "processed"
	OutcomeDuplicate          = "duplicate"
	OutcomeCompletedElsewhere = "completed-elsewhere"
	// OutcomeVersionMerged: the claim was COMPLETED for another version of
	// the operation (the other region wrote one within the replication
	// lag); this version was merged into the lake and the store.
	OutcomeVersionMerged = "version-merged"
	DeferTakeover        = "takeover-delay"
	DeferInProgress      = "in-progress"
	DeferPassive         = "passive"
	DeferClaimLost       = "claim-lost"
	StageClaim           = "claim"
	StageLake            = "lake"
	StageCommit          = "commit"
	StageLookup          = "lookup"
	StageDrain           = "drain"
)

// Action is what to do with one message.
type Action struct {
	Kind   Kind
	Delay  time.Duration
	Reason string
	// Park marks a Defer of a passive region: the consumer remembers the
	// message and gives it back at once when the region turns ACTIVE.
	Park bool
	// Err explains a Retry, Release or DeadLetter.
	Err error
	// Work is set once the message decoded.
	Work *Work
	// Conflict is the kind of version conflict found (lake.ConflictRetry,
	// lake.ConflictPayload), "" when none.
	Conflict string
	// Elapsed is the time the message spent in processing.
	Elapsed time.Duration
}

// Inflight tracks the claim a message holds while it is processed, so a
// heartbeat can extend its lease.
type Inflight struct {
	mu    sync.Mutex
	claim *idempotency.Claim
}

// Claim returns the held claim, if any.
func (f *Inflight) Claim() (idempotency.Claim, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claim == nil {
		return idempotency.Claim{}, false
	}
	return *f.claim, true
}

// Renewed records a claim whose lease the heartbeat extended.
func (f *Inflight) Renewed(c idempotency.Claim) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claim != nil && f.claim.Owner == c.Owner {
		f.claim = &c
	}
}

func (f *Inflight) set(c *idempotency.Claim) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claim = c
}

// Options tune a Processor.
type Options struct {
	// Region is the worker's region.
	Region string
	// TakeoverDelay: another region's events wait this long after they
	// occurred before this region processes them.
	TakeoverDelay time.Duration
	// PassiveVisibility: how long a message is parked while the region is
	// not ACTIVE (doubled per receive, capped at max(15 min, itself)).
	PassiveVisibility time.Duration
	// BackoffBase and BackoffMax shape Retry delays.
	BackoffBase, BackoffMax time.Duration
	// ReleaseTimeout bounds a claim release after the processing context
	// ended (default 3 s).
	ReleaseTimeout time.Duration
	Now            func() time.Time
	// Jitter returns a uniform float in [0, 1) (default math/rand/v2).
	Jitter func() float64
	// Fault is the fault-injection hook (default fault.Point).
	Fault  func(ctx context.Context, point string) error
	Logger *slog.Logger
}

// Processor decides and performs the processing of batches.
type Processor struct {
	o        Options
	claims   idempotency.Store
	lake     Lake
	finisher *Finisher
	state    StateReader
}

// New returns a processor.
func New(claims idempotency.Store, l Lake, f *Finisher, state StateReader, o Options) *Processor {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Fault == nil {
		o.Fault = fault.Point
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReleaseTimeout <= 0 {
		o.ReleaseTimeout = 3 * time.Second
	}
	if o.PassiveVisibility <= 0 {
		o.PassiveVisibility = 2 * time.Minute
	}
	return &Processor{o: o, claims: claims, lake: l, finisher: f, state: state}
}

// HandleBatch decides every message of a received batch. inflight, when
// not nil, has one entry per message. Decodable messages of an ACTIVE
// region are processed concurrently; in any other state only their claims
// are read, in one lookup for the batch.
func (p *Processor) HandleBatch(ctx context.Context, msgs []Message, inflight []*Inflight) []Action {
	start := p.o.Now()
	actions := make([]Action, len(msgs))
	works := make([]*Work, len(msgs))
	for i, m := range msgs {
		w, err := Derive(m)
		if err != nil {
			actions[i] = Action{Kind: DeadLetter, Reason: poisonReason(err), Err: err}
			continue
		}
		works[i] = &w
	}
	if st := p.state.State(); st != regionstate.Active {
		p.sweep(ctx, msgs, works, actions)
	} else {
		var wg sync.WaitGroup
		for i := range msgs {
			if works[i] == nil {
				continue
			}
			var f *Inflight
			if inflight != nil {
				f = inflight[i]
			}
			wg.Go(func() { actions[i] = p.process(ctx, msgs[i], *works[i], f) })
		}
		wg.Wait()
	}
	for i := range actions {
		actions[i].Work = works[i]
		if actions[i].Elapsed == 0 {
			actions[i].Elapsed = p.o.Now().Sub(start)
		}
	}
	return actions
}

// sweep handles a batch while the region is PASSIVE or UNKNOWN: it
// processes nothing, and parks for a failover every message whose claim is
// not COMPLETED. A message completed by the other region is written into
// this region's lake (every region writes its own lake from its own copy
// of the event: ADR 0071) and then deleted.
func (p *Processor) sweep(ctx context.Context, msgs []Message, works []*Work, actions []Action) {
	var keys []string
	young := make([]bool, len(works))
	for i, w := range works {
		if w == nil {
			continue
		}
		// A young event is in the hands of the region that owns it (the
		// ACTIVE one, or its own region's, whose takeover delay has not run
		// out either): look again once it had that time to complete it,
		// rather than park it for PassiveVisibility. So the passive
		// region's lake follows the active one's by about TakeoverDelay.
		if age := p.o.Now().Sub(w.Event.OccurredAt); w.Generation == 0 && age < p.o.TakeoverDelay {
			actions[i] = Action{Kind: Defer, Reason: DeferTakeover, Delay: p.o.TakeoverDelay - age + p.jitter(time.Second)}
			young[i] = true
			continue
		}
		keys = append(keys, w.ClaimKey)
	}
	if len(keys) == 0 {
		return
	}
	records, err := p.claims.Lookup(ctx, keys)
	if err != nil {
		p.o.Logger.Warn("passive sweep could not read claims; parking the batch", "err", err)
	}
	for i, w := range works {
		if w == nil || young[i] {
			continue
		}
		if rec, ok := records[w.ClaimKey]; ok && rec.Status == idempotency.StatusCompleted {
			actions[i] = p.settle(ctx, msgs[i], *w, OutcomeCompletedElsewhere)
			continue
		}
		actions[i] = Action{Kind: Defer, Reason: DeferPassive, Park: true, Delay: p.parkDelay(msgs[i].ReceiveCount)}
	}
}

// process runs one message through claim → lake → commit.
func (p *Processor) process(ctx context.Context, m Message, w Work, f *Inflight) Action {
	start := p.o.Now()
	a := p.processTimed(ctx, m, w, f)
	a.Elapsed = p.o.Now().Sub(start)
	return a
}

func (p *Processor) processTimed(ctx context.Context, m Message, w Work, f *Inflight) Action {
	log := p.o.Logger.With("message_id", m.ID, "event_id", w.Event.EventID, "sale_id", w.Event.SaleID, "event_type", w.Event.EventType)
	if w.Generation == 0 && w.Event.OriginRegion != p.o.Region {
		// Another region's event: its own region processes it at once;
		// this one only takes over when that has not happened in time
		// (the claim, below, finds COMPLETED when it has).
		if age := p.o.Now().Sub(w.Event.OccurredAt); age < p.o.TakeoverDelay {
			return Action{Kind: Defer, Reason: DeferTakeover, Delay: p.o.TakeoverDelay - age + p.jitter(time.Second)}
		}
	}
	c, err := p.claims.Claim(ctx, idempotency.Request{Key: w.ClaimKey, PayloadHash: w.PayloadHash})
	if err != nil {
		return p.failed(ctx, m, StageClaim, err, log)
	}
	switch c.Outcome {
	case idempotency.Duplicate:
		return p.settle(ctx, m, w, OutcomeDuplicate)
	case idempotency.Mismatch:
		// COMPLETED for another version of this operation: that one was
		// processed; this one only merges into the lake and the store.
		return p.settle(ctx, m, w, OutcomeVersionMerged)
	case idempotency.InProgress:
		wait := time.Second
		if c.Existing != nil {
			wait = max(wait, c.Existing.LeaseUntil.Sub(p.o.Now()))
		}
		return Action{Kind: Defer, Reason: DeferInProgress, Delay: wait + p.jitter(time.Second)}
	}
	if c.TookOver && c.Existing != nil {
		log.Info("took over an abandoned claim", "previous_owner", c.Existing.Owner, "previous_region", c.Existing.Region)
	}
	f.set(&c)
	defer f.set(nil)

	if err := p.o.Fault(ctx, fault.Claimed); err != nil {
		return p.abandon(ctx, m, c, StageClaim, err, log)
	}
	conflict, err := p.writeLake(ctx, w, log)
	if err != nil {
		return p.abandon(ctx, m, c, StageLake, err, log)
	}
	if err := p.o.Fault(ctx, fault.LakeWritten); err != nil {
		return p.abandon(ctx, m, c, StageLake, err, log)
	}
	if err := p.finisher.Finish(ctx, c, w); err != nil {
		if errors.Is(err, idempotency.ErrClaimLost) {
			// Our lease ran out and another consumer took over; its
			// completion is the one that counts. The message comes back
			// and then finds COMPLETED (or the taker's live claim).
			log.Warn("claim lost before completion; leaving the message", "err", err)
			return Action{Kind: Defer, Reason: DeferClaimLost, Delay: time.Second + p.jitter(time.Second), Err: err}
		}
		return p.abandon(ctx, m, c, StageCommit, err, log)
	}
	// Completed: deleting is right even if the drain deadline passes here.
	_ = p.o.Fault(ctx, fault.Completed)
	return Action{Kind: Delete, Reason: OutcomeProcessed, Conflict: conflict}
}

// settle handles a message whose operation is COMPLETED (here, elsewhere,
// or for another version): it makes sure this region's lake holds the
// operation, merging versions, then deletes the message. Nothing is
// deleted before the lake holds it.
func (p *Processor) settle(ctx context.Context, m Message, w Work, outcome string) Action {
	log := p.o.Logger.With("message_id", m.ID, "event_id", w.Event.EventID, "sale_id", w.Event.SaleID, "event_type", w.Event.EventType)
	conflict, err := p.writeLake(ctx, w, log)
	if err != nil {
		return p.failed(ctx, m, StageLake, err, log)
	}
	return Action{Kind: Delete, Reason: outcome, Conflict: conflict}
}

// writeLake merges w's event into the lake. When the key held another
// version of the operation (two regions each accepted it within the
// replication lag), the store's item is merged to the same earliest
// version, the conflict is recorded for operators, and its kind returned.
func (p *Processor) writeLake(ctx context.Context, w Work, log *slog.Logger) (string, error) {
	merged, err := p.lake.Merge(ctx, w.Event, w.Generation)
	if err != nil || !merged.Conflict() {
		return "", err
	}
	other := *merged.Other
	kept := w.Event
	if merged.Outcome == lake.KeptOther {
		kept = other
	}
	if _, err := p.finisher.Events.Merge(ctx, kept); err != nil {
		return "", fmt.Errorf("merge the kept version into the store: %w", err)
	}
	key, err := p.lake.RecordConflict(ctx, w.Event, other)
	if err != nil {
		return "", fmt.Errorf("record the conflict: %w", err)
	}
	kind := lake.ConflictKind(w.Event, other)
	log.Warn("two regions wrote two versions of one operation; kept the earliest",
		"kind", kind, "kept_region", kept.OriginRegion, "kept_at", kept.OccurredAt,
		"this_hash", w.PayloadHash, "other_hash", payloadHash(other), "record", key)
	return kind, nil
}

// payloadHash is the claim hash of an event (as Derive computes it).
func payloadHash(e domain.Envelope) string {
	b, err := messaging.Body(e)
	if err != nil {
		return ""
	}
	return idempotency.HashPayload(b)
}

// abandon releases a held claim after a failure, so the next delivery can
// claim at once, and returns a Retry (or a Release while draining).
func (p *Processor) abandon(ctx context.Context, m Message, c idempotency.Claim, stage string, err error, log *slog.Logger) Action {
	p.release(ctx, c, log)
	return p.failed(ctx, m, stage, err, log)
}

func (p *Processor) release(ctx context.Context, c idempotency.Claim, log *slog.Logger) {
	// The processing context may be the one that ended (drain deadline):
	// release on a context of its own so no claim is left half done.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.ReleaseTimeout)
	defer cancel()
	if err := p.claims.Release(rctx, c); err != nil {
		log.Warn("claim release failed; it expires with its lease", "err", err, "lease_until", c.LeaseUntil)
	}
}

func (p *Processor) failed(ctx context.Context, m Message, stage string, err error, log *slog.Logger) Action {
	if ctx.Err() != nil {
		return Action{Kind: Release, Reason: StageDrain, Err: err}
	}
	delay := p.Backoff(m.ReceiveCount)
	log.Warn("processing failed; retrying later", "stage", stage, "err", err, "receive_count", m.ReceiveCount, "retry_in", delay.String())
	return Action{Kind: Retry, Reason: stage, Delay: delay, Err: err}
}

// Backoff is the retry delay after the receiveCount-th delivery failed:
// BackoffBase × 2^(receiveCount-1), capped at BackoffMax, with jitter over
// its upper half so retries of a burst spread out.
func (p *Processor) Backoff(receiveCount int) time.Duration {
	d := exp(p.o.BackoffBase, receiveCount, p.o.BackoffMax)
	return d/2 + time.Duration(p.o.Jitter()*float64(d/2))
}

func (p *Processor) parkDelay(receiveCount int) time.Duration {
	return exp(p.o.PassiveVisibility, receiveCount, max(15*time.Minute, p.o.PassiveVisibility))
}

func exp(base time.Duration, n int, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

func (p *Processor) jitter(upTo time.Duration) time.Duration {
	return time.Duration(p.o.Jitter() * float64(upTo))
}

// EventType of an action's message, for metrics ("" when undecodable).
func (a Action) EventType() domain.EventType {
	if a.Work == nil {
		return ""
	}
	return a.Work.Event.EventType
}
