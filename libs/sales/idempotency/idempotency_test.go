package idempotency_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/idempotency"
)

func TestKeyByGeneration(t *testing.T) {
	id := uuid.MustParse("0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c")
	cases := []struct {
		gen  int
		want string
	}{
		{0, "0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c"},
		{-1, "0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c"},
		{1, "0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c#g1"},
		{12, "0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c#g12"},
	}
	for _, c := range cases {
		if got := idempotency.Key(id, c.gen); got != c.want {
			t.Errorf("Key(gen %d) = %q, want %q", c.gen, got, c.want)
		}
	}
}

func TestHashPayloadIsSHA256Hex(t *testing.T) {
	if got, want := idempotency.HashPayload([]byte("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("HashPayload(abc) = %s, want %s", got, want)
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	req := idempotency.Request{Key: "k", PayloadHash: "h"}
	rec := func(st idempotency.Status, hash, owner string, lease, expires time.Duration) *idempotency.Record {
		return &idempotency.Record{Key: "k", Status: st, PayloadHash: hash, Owner: owner, LeaseUntil: now.Add(lease), ExpiresAt: now.Add(expires)}
	}
	cases := []struct {
		name     string
		existing *idempotency.Record
		want     idempotency.Outcome
		takeOver bool
	}{
		{"absent", nil, idempotency.Claimed, true},
		{"expired record, other payload", rec(idempotency.StatusCompleted, "x", "o", 0, -2*time.Second), idempotency.Claimed, true},
		{"completed", rec(idempotency.StatusCompleted, "h", "o", 0, time.Hour), idempotency.Duplicate, false},
		{"completed, other payload", rec(idempotency.StatusCompleted, "x", "o", 0, time.Hour), idempotency.Mismatch, false},
		{"live lease", rec(idempotency.StatusInProgress, "h", "o", time.Second, time.Hour), idempotency.InProgress, false},
		{"lease ends this millisecond", rec(idempotency.StatusInProgress, "h", "o", 0, time.Hour), idempotency.InProgress, false},
		{"expired lease", rec(idempotency.StatusInProgress, "h", "o", -time.Millisecond, time.Hour), idempotency.Claimed, true},
		{"live lease, other payload", rec(idempotency.StatusInProgress, "x", "o", time.Second, time.Hour), idempotency.InProgress, false},
		{"expired lease, other payload", rec(idempotency.StatusInProgress, "x", "o", -time.Second, time.Hour), idempotency.Claimed, true},
		{"own claim seen again", rec(idempotency.StatusInProgress, "h", "me", time.Second, time.Hour), idempotency.Claimed, false},
		{"unknown status", rec("WEIRD", "h", "o", -time.Second, time.Hour), idempotency.InProgress, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, takeOver := idempotency.Decide(c.existing, req, "me", now)
			if got != c.want || takeOver != c.takeOver {
				t.Fatalf("Decide = %s, takeOver %v; want %s, %v", got, takeOver, c.want, c.takeOver)
			}
		})
	}
}
