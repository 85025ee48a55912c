// Package idempotencytest is the acceptance suite every idempotency.Store
// implementation must pass. Run it from the implementation's tests:
//
//	idempotencytest.Run(t, func(t *testing.T, o idempotency.Options) idempotency.Store { return memory.New(o) })
//
// The suite drives the store's clock through Options.Now, so lease and
// expiry behaviour is tested without sleeping.
package idempotencytest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/idempotency"
)

// Lease and TTL the suite configures.
const (
	Lease = 30 * time.Second
	TTL   = time.Hour
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the current instant.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the suite. newStore returns an empty store built with o.
func Run(t *testing.T, newStore func(t *testing.T, o idempotency.Options) idempotency.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"FirstClaimHoldsSecondSeesInProgress", firstClaimHolds},
		{"CompletedIsDuplicate", completedIsDuplicate},
		{"CompletedForAnotherPayloadIsMismatch", differentPayload},
		{"ExpiredLeaseIsTakenOver", expiredLease},
		{"ExpiredLeaseOfOtherPayloadIsTakenOver", expiredLeaseOtherPayload},
		{"ExpiredRecordIsTakenOver", expiredRecord},
		{"ReleaseFreesKeyAtOnce", releaseFrees},
		{"ReleaseOfLostClaimLeavesTakerAlone", releaseLost},
		{"ExtendRenewsLease", extendRenews},
		{"ExtendOfLostClaimFails", extendLost},
		{"CompleteIsRetrySafe", completeTwice},
		{"HandleThatIsNotAClaimIsRejected", notAClaim},
		{"ConcurrentClaimsOneWins", concurrentClaims},
		{"LookupSeesLiveRecordsOnly", lookup},
		{"RecordCarriesRegionOwnerAndResult", recordFields},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(time.Date(2026, 11, 27, 15, 4, 5, 0, time.UTC))
			o := idempotency.Options{Region: "us-east-1", Instance: "suite", Lease: Lease, TTL: TTL, Now: clock.Now}
			c.fn(t, &env{Store: newStore(t, o), clock: clock})
		})
	}
}

type env struct {
	idempotency.Store
	clock *Clock
}

var ctx = context.Background()

func newKey() string { return uuid.NewString() }

func (e *env) claim(t *testing.T, key, hash string, want idempotency.Outcome) idempotency.Claim {
	t.Helper()
	c, err := e.Claim(ctx, idempotency.Request{Key: key, PayloadHash: hash})
	if err != nil {
		t.Fatalf("Claim(%s): %v", key, err)
	}
	if c.Outcome != want {
		t.Fatalf("Claim(%s) = %s, want %s (existing %+v)", key, c.Outcome, want, c.Existing)
	}
	return c
}

func (e *env) complete(t *testing.T, c idempotency.Claim, result string) {
	t.Helper()
	if err := e.Complete(ctx, c, result); err != nil {
		t.Fatalf("Complete(%s): %v", c.Key, err)
	}
}

func firstClaimHolds(t *testing.T, e *env) {
	k := newKey()
	first := e.claim(t, k, "h1", idempotency.Claimed)
	if first.TookOver {
		t.Error("a fresh claim says it took over")
	}
	if want := e.clock.Now().Add(Lease); !first.LeaseUntil.Equal(want) {
		t.Errorf("lease until %v, want %v", first.LeaseUntil, want)
	}
	e.clock.Advance(Lease - time.Second)
	second := e.claim(t, k, "h1", idempotency.InProgress)
	if second.Existing == nil || second.Existing.Owner != first.Owner || !second.Existing.LeaseUntil.Equal(first.LeaseUntil) {
		t.Errorf("in-progress claim reports %+v, want the first claim's owner and lease", second.Existing)
	}
	if second.Owner == first.Owner {
		t.Error("two claims share an owner token")
	}
}

func completedIsDuplicate(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	e.complete(t, c, "lake/key.json")
	d := e.claim(t, k, "h1", idempotency.Duplicate)
	if d.Existing == nil || d.Existing.Result != "lake/key.json" || d.Existing.Status != idempotency.StatusCompleted {
		t.Errorf("duplicate reports %+v, want the completed record with its result", d.Existing)
	}
	// Still a duplicate long after the lease, while the record lives.
	e.clock.Advance(TTL - time.Minute)
	e.claim(t, k, "h1", idempotency.Duplicate)
}

func differentPayload(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	// Live work on another version: wait for it, as for any live claim.
	if m := e.claim(t, k, "h2", idempotency.InProgress); m.Existing == nil || m.Existing.PayloadHash != "h1" {
		t.Errorf("in-progress reports %+v, want the stored hash h1", m.Existing)
	}
	e.complete(t, c, "r")
	if m := e.claim(t, k, "h2", idempotency.Mismatch); m.Existing == nil || m.Existing.PayloadHash != "h1" || m.Existing.Result != "r" {
		t.Errorf("mismatch reports %+v, want the completed record of h1", m.Existing)
	}
}

func expiredLease(t *testing.T, e *env) {
	k := newKey()
	dead := e.claim(t, k, "h1", idempotency.Claimed)
	e.clock.Advance(Lease + time.Second)
	taker := e.claim(t, k, "h1", idempotency.Claimed)
	if !taker.TookOver {
		t.Error("takeover of an expired lease not reported")
	}
	if err := e.Complete(ctx, dead, "late"); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("completing a taken-over claim: %v, want ErrClaimLost", err)
	}
	e.complete(t, taker, "taker")
	if d := e.claim(t, k, "h1", idempotency.Duplicate); d.Existing.Result != "taker" {
		t.Errorf("result %q, want the taker's", d.Existing.Result)
	}
}

func expiredLeaseOtherPayload(t *testing.T, e *env) {
	k := newKey()
	e.claim(t, k, "h1", idempotency.Claimed)
	e.clock.Advance(Lease + time.Second)
	// The holder of one version died: another version's delivery takes the
	// work over (the lake and the store merge the versions).
	if c := e.claim(t, k, "h2", idempotency.Claimed); !c.TookOver || c.Existing == nil || c.Existing.PayloadHash != "h1" {
		t.Errorf("takeover of another payload's expired lease: %+v", c)
	}
}

func expiredRecord(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	e.complete(t, c, "r")
	e.clock.Advance(TTL + 2*time.Second)
	// An expired record counts as absent, whatever payload comes.
	again := e.claim(t, k, "h2", idempotency.Claimed)
	if !again.TookOver {
		t.Error("takeover of an expired record not reported")
	}
}

func releaseFrees(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	if err := e.Release(ctx, c); err != nil {
		t.Fatalf("Release: %v", err)
	}
	next := e.claim(t, k, "h1", idempotency.Claimed)
	if next.TookOver {
		t.Error("claim after release says it took over: the record should be gone")
	}
}

func releaseLost(t *testing.T, e *env) {
	k := newKey()
	dead := e.claim(t, k, "h1", idempotency.Claimed)
	e.clock.Advance(Lease + time.Second)
	taker := e.claim(t, k, "h1", idempotency.Claimed)
	if err := e.Release(ctx, dead); err != nil {
		t.Fatalf("Release of a lost claim: %v, want nil", err)
	}
	e.claim(t, k, "h1", idempotency.InProgress)
	e.complete(t, taker, "r")
}

func extendRenews(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	e.clock.Advance(Lease - time.Second)
	ext, err := e.Extend(ctx, c)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if want := e.clock.Now().Add(Lease); !ext.LeaseUntil.Equal(want) {
		t.Errorf("extended lease %v, want %v", ext.LeaseUntil, want)
	}
	e.clock.Advance(Lease - time.Second) // past the original lease
	e.claim(t, k, "h1", idempotency.InProgress)
	e.complete(t, ext, "r")
}

func extendLost(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	e.complete(t, c, "r")
	if _, err := e.Extend(ctx, c); !errors.Is(err, idempotency.ErrClaimLost) {
		t.Fatalf("Extend of a completed claim: %v, want ErrClaimLost", err)
	}
}

func completeTwice(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	e.complete(t, c, "r")
	// A retry of the same completion (its first answer lost) succeeds.
	e.complete(t, c, "r")
}

func notAClaim(t *testing.T, e *env) {
	k := newKey()
	e.claim(t, k, "h1", idempotency.Claimed)
	blocked := e.claim(t, k, "h1", idempotency.InProgress)
	if err := e.Complete(ctx, blocked, "r"); !errors.Is(err, idempotency.ErrNotClaimed) {
		t.Errorf("Complete of an in-progress answer: %v, want ErrNotClaimed", err)
	}
	if err := e.Release(ctx, blocked); !errors.Is(err, idempotency.ErrNotClaimed) {
		t.Errorf("Release of an in-progress answer: %v, want ErrNotClaimed", err)
	}
	if _, err := e.Extend(ctx, blocked); !errors.Is(err, idempotency.ErrNotClaimed) {
		t.Errorf("Extend of an in-progress answer: %v, want ErrNotClaimed", err)
	}
}

func concurrentClaims(t *testing.T, e *env) {
	k := newKey()
	const n = 12
	var wg sync.WaitGroup
	outcomes := make([]idempotency.Outcome, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := e.Claim(ctx, idempotency.Request{Key: k, PayloadHash: "h1"})
			outcomes[i], errs[i] = c.Outcome, err
		}()
	}
	wg.Wait()
	claimed := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		switch outcomes[i] {
		case idempotency.Claimed:
			claimed++
		case idempotency.InProgress:
		default:
			t.Errorf("claim %d: %s", i, outcomes[i])
		}
	}
	if claimed != 1 {
		t.Fatalf("%d of %d concurrent claims won, want exactly 1", claimed, n)
	}
}

func lookup(t *testing.T, e *env) {
	done, busy, expired, absent := newKey(), newKey(), newKey(), newKey()
	e.complete(t, e.claim(t, done, "h1", idempotency.Claimed), "r")
	e.complete(t, e.claim(t, expired, "h1", idempotency.Claimed), "r")
	e.clock.Advance(TTL / 2)
	e.claim(t, busy, "h1", idempotency.Claimed)
	e.clock.Advance(TTL/2 + 2*time.Second) // expired has expired; done too
	e.complete(t, e.claim(t, done, "h1", idempotency.Claimed), "again")
	got, err := e.Lookup(ctx, []string{done, busy, expired, absent, done})
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("Lookup returned %d records %v, want done and busy", len(got), got)
	}
	if got[done].Status != idempotency.StatusCompleted || got[done].Result != "again" {
		t.Errorf("done = %+v", got[done])
	}
	if got[busy].Status != idempotency.StatusInProgress {
		t.Errorf("busy = %+v", got[busy])
	}
	if empty, err := e.Lookup(ctx, nil); err != nil || len(empty) != 0 {
		t.Errorf("Lookup(nil) = %v, %v", empty, err)
	}
}

func recordFields(t *testing.T, e *env) {
	k := newKey()
	c := e.claim(t, k, "h1", idempotency.Claimed)
	got, err := e.Lookup(ctx, []string{k})
	if err != nil {
		t.Fatal(err)
	}
	r := got[k]
	if r.Region != "us-east-1" || r.Owner != c.Owner || r.PayloadHash != "h1" || r.Status != idempotency.StatusInProgress {
		t.Errorf("record %+v, want region us-east-1, owner %s, hash h1, INPROGRESS", r, c.Owner)
	}
	if want := e.clock.Now().Add(TTL); r.ExpiresAt.Unix() != want.Unix() {
		t.Errorf("expires at %v, want %v", r.ExpiresAt, want)
	}
	if !r.LeaseUntil.Equal(c.LeaseUntil) {
		t.Errorf("lease %v, want %v", r.LeaseUntil, c.LeaseUntil)
	}
}
