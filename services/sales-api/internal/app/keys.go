package app

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/google/uuid"
)

// Caller is who makes a request: the principal the gateway authenticated
// ("" where the API runs without authorization) and whether it may read and
// cancel every sale (an operator) or only its own.
type Caller struct {
	Principal string
	Operator  bool
}

// Anyone is the caller of an API without authorization: every sale is its.
var Anyone = Caller{Operator: true}

// mayAccess reports whether c may read or cancel sale's of principal.
func (c Caller) mayAccess(principal string) bool {
	return c.Operator || (c.Principal != "" && c.Principal == principal)
}

// Keys derives sale ids from Idempotency-Keys. With a secret (the same in
// every region, so a keyed create retried in the other region lands on the
// same sale) the id is an HMAC-SHA256 of the caller and the key, formatted
// as a UUIDv8: one caller's key never meets another's, and nobody can
// compute a sale's id from a key without the secret. Without a secret (an
// API without authorization, as the original) it is UUIDv5 of the key.
type Keys struct{ Secret []byte }

// legacyKeyNamespace scopes the UUIDv5 ids of keys without a secret.
var legacyKeyNamespace = uuid.MustParse("6f1b5a62-8d53-4f0e-9a4c-3f6f0f8a2d11")

// SaleID is the sale id of principal's key.
func (k Keys) SaleID(principal, key string) uuid.UUID {
	if len(k.Secret) == 0 {
		return uuid.NewSHA1(legacyKeyNamespace, []byte(key))
	}
	m := hmac.New(sha256.New, k.Secret)
	m.Write([]byte("sales-idempotency-key/v1\x00"))
	m.Write([]byte(principal))
	m.Write([]byte{0})
	m.Write([]byte(key))
	var id uuid.UUID
	copy(id[:], m.Sum(nil))
	id[6] = (id[6] & 0x0f) | 0x80 // version 8
	id[8] = (id[8] & 0x3f) | 0x80 // RFC 9562 variant
	return id
}
