// Package idempotency ports the semantics of AWS Lambda Powertools'
// idempotency utility to Go, for consumers of at-least-once queues.
//
// One conditional write claims a key: the record is created (or taken over)
// with status INPROGRESS, a lease (in_progress_expiry) that outlives the
// queue's visibility timeout, the payload's hash, the claiming region and a
// per-claim owner token, and an expiry (expires_at, the table's TTL). A
// second delivery then finds one of:
//
//   - COMPLETED with the same payload hash: a duplicate, nothing to do;
//   - a live INPROGRESS of another owner: someone is working on it, leave it;
//   - an expired lease or an expired record: the holder died, take it over
//     (whatever payload it held: see Mismatch);
//   - COMPLETED with a different payload hash: the key's work was done for
//     another payload (Mismatch), and the caller decides what that means.
//
// Completing, extending and releasing a claim are conditional on the claim
// still being INPROGRESS and held by the same owner token, so a consumer
// whose lease was taken over can never overwrite the taker's result.
//
// Adapters: dynamodb (production; a global table, see its package doc) and
// memory (unit tests). idempotencytest is the acceptance suite both pass.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Status of a record.
type Status string

const (
	// StatusInProgress marks a claimed key whose work is not finished.
	StatusInProgress Status = "INPROGRESS"
	// StatusCompleted marks a key whose work is durable.
	StatusCompleted Status = "COMPLETED"
)

// Key derives the idempotency key of an event for a processing generation.
// Generation 0 is normal processing; a generation N > 0 is an operator's
// deliberate reprocessing, which must not be stopped by generation 0's
// COMPLETED record, so it gets its own key. Every producer and consumer of
// keys (worker, operator CLI) derives them here.
func Key(eventID uuid.UUID, generation int) string {
	if generation <= 0 {
		return eventID.String()
	}
	return fmt.Sprintf("%s#g%d", eventID, generation)
}

// HashPayload is the payload hash stored with a claim: SHA-256 of the
// payload's canonical bytes, hex encoded.
func HashPayload(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Record is a stored idempotency record.
type Record struct {
	Key         string
	Status      Status
	PayloadHash string
	// LeaseUntil is the in-progress expiry: after it an INPROGRESS record
	// may be taken over.
	LeaseUntil time.Time
	// ExpiresAt is the record's expiry (the table's TTL attribute). An
	// expired record counts as absent even before the TTL sweeper removes
	// it, which can take days.
	ExpiresAt time.Time
	// Region claimed the key (global tables replicate the record).
	Region string
	// Owner is the claim's owner token, unique per claim.
	Owner string
	// Result is what the completed work produced (the worker stores the
	// lake key), opaque to this package.
	Result string
}

// Expired reports whether the record counts as absent at now. Expiry has
// the TTL attribute's resolution (seconds), so an adapter's conditional
// write and this check agree on the boundary.
func (r Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && r.ExpiresAt.Unix() < now.Unix()
}

// LeaseLive reports whether an INPROGRESS record's lease still holds at now,
// at the stored resolution (milliseconds).
func (r Record) LeaseLive(now time.Time) bool {
	return r.Status == StatusInProgress && r.LeaseUntil.UnixMilli() >= now.UnixMilli()
}

// Outcome of a claim attempt.
type Outcome int

const (
	// Claimed: the caller holds the key and must complete or release it.
	Claimed Outcome = iota + 1
	// Duplicate: the key is COMPLETED with the same payload.
	Duplicate
	// InProgress: another owner holds a live lease (Existing.LeaseUntil).
	InProgress
	// Mismatch: the key is COMPLETED for a different payload. For the
	// worker, whose key is an event id, that is another version of the same
	// operation (written by the other region within the replication lag),
	// which it merges; it is not poison. A live claim for another payload
	// is InProgress, an expired one is taken over like any other.
	Mismatch
)

func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Duplicate:
		return "duplicate"
	case InProgress:
		return "in-progress"
	case Mismatch:
		return "payload-mismatch"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Request asks to claim Key for a payload.
type Request struct {
	Key         string
	PayloadHash string
}

// Claim is the answer to a claim attempt. When Outcome is Claimed, it is
// the handle that Complete, Extend and Release take.
type Claim struct {
	Key         string
	PayloadHash string
	Owner       string
	Region      string
	LeaseUntil  time.Time
	Outcome     Outcome
	// TookOver is set when a Claimed claim replaced an expired lease or an
	// expired record.
	TookOver bool
	// Existing is the record that decided a Duplicate, InProgress or
	// Mismatch outcome (or the one taken over, when the store could read
	// it).
	Existing *Record
}

var (
	// ErrClaimLost says the claim is no longer INPROGRESS under its owner
	// token: its lease expired and someone took over, or it was completed
	// or released.
	ErrClaimLost = errors.New("idempotency claim lost")
	// ErrNotClaimed is returned when a handle whose Outcome is not Claimed
	// is passed to Complete, Extend or Release.
	ErrNotClaimed = errors.New("idempotency: not a held claim")
)

// Store is the port.
type Store interface {
	// Claim tries to claim r.Key with one conditional write.
	Claim(ctx context.Context, r Request) (Claim, error)
	// Complete marks a held claim COMPLETED with a result and a fresh
	// expiry. ErrClaimLost when it is no longer held.
	Complete(ctx context.Context, c Claim, result string) error
	// Extend renews a held claim's lease from now and returns the claim
	// with its new lease. ErrClaimLost when it is no longer held.
	Extend(ctx context.Context, c Claim) (Claim, error)
	// Release deletes a held INPROGRESS claim so the next delivery can
	// claim at once instead of waiting for the lease. Releasing a claim
	// that is no longer held is not an error: there is nothing to undo.
	Release(ctx context.Context, c Claim) error
	// Lookup reads the records of keys (strongly consistent); absent and
	// expired keys are missing from the map.
	Lookup(ctx context.Context, keys []string) (map[string]Record, error)
}

// Stager writes a record as is. Tests use it to stage what another region,
// or a consumer that crashed, left behind; production code never does.
type Stager interface {
	Put(ctx context.Context, r Record) error
}

// Options shared by the adapters.
type Options struct {
	// Region is the claiming region, stored in every claim.
	Region string
	// Instance names this process (host, task); owner tokens start with it.
	Instance string
	// Lease is how long an INPROGRESS claim holds (default 60 s). It must
	// outlive the queue's visibility timeout, or a redelivered message
	// would take over work that is still running.
	Lease time.Duration
	// TTL is how long a record lives (default 14 days: SQS keeps a message
	// at most 14 days, so no redelivery can outlive its record).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults fills zero fields.
func (o Options) Defaults() Options {
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.TTL <= 0 {
		o.TTL = 14 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Instance == "" {
		o.Instance = "anonymous"
	}
	return o
}

// NewOwner returns a fresh owner token: the instance plus a random suffix,
// so two claims by one process are two owners.
func (o Options) NewOwner() string { return o.Instance + "/" + uuid.NewString() }

// Decide classifies the record found under r.Key at now, for the owner
// token of the claim being attempted. Adapters use it so the rules live in
// one place. takeOver says the caller may write its claim over the record
// (absent, expired, or an expired lease for the same payload); when it is
// false, the outcome is final (Claimed then means the record already is
// this owner's claim: a retried write whose first answer was lost).
func Decide(existing *Record, r Request, owner string, now time.Time) (o Outcome, takeOver bool) {
	if existing == nil || existing.Expired(now) {
		return Claimed, true
	}
	switch existing.Status {
	case StatusCompleted:
		if existing.PayloadHash != r.PayloadHash {
			return Mismatch, false
		}
		return Duplicate, false
	case StatusInProgress:
		if existing.Owner == owner {
			return Claimed, false
		}
		if existing.LeaseLive(now) {
			return InProgress, false
		}
		return Claimed, true
	}
	// An unknown status is a record this code does not understand; treat
	// it as someone else's live work rather than overwrite it.
	return InProgress, false
}
