// Package dynamodb is the production idempotency store: one item per key in
// a DynamoDB table keyed by "id" with TTL on "expires_at".
//
// Every state change is one conditional write: Claim is a PutItem that
// succeeds only on an absent key, an expired record or an expired lease for
// the same payload; Complete, Extend and Release are conditional on the
// claim still being INPROGRESS under the caller's owner token. A failed
// condition returns the stored item (ALL_OLD), so no second read is needed
// to tell a duplicate from a live claim, and a retried write whose first
// answer was lost recognises its own owner token as success.
//
// As a global table: conditions are evaluated in the region that writes,
// and replication is last-writer-wins, so two regions can each claim the
// same key within the replication lag (typically under a second). The
// worker makes that harmless and rare rather than impossible: a region
// takes over the other region's events only after a takeover delay, lake
// writes are conditional with deterministic content, and SaleProcessed sits
// at a per-region position (docs/adr/0030).
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/salesplatform/libs/sales/idempotency"
)

// Attribute names.
const (
	AttrID          = "id"
	AttrStatus      = "status"
	AttrPayloadHash = "payload_hash"
	// AttrLease is the in-progress expiry, Unix milliseconds (Powertools'
	// in_progress_expiry_attr).
	AttrLease = "in_progress_expiry"
	// AttrExpiresAt is the TTL attribute, Unix seconds.
	AttrExpiresAt = "expires_at"
	AttrRegion    = "region"
	AttrOwner     = "owner"
	AttrResult    = "result"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	GetItem(ctx context.Context, in *ddb.GetItemInput, opts ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *ddb.UpdateItemInput, opts ...func(*ddb.Options)) (*ddb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, opts ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
	BatchGetItem(ctx context.Context, in *ddb.BatchGetItemInput, opts ...func(*ddb.Options)) (*ddb.BatchGetItemOutput, error)
}

// Store implements idempotency.Store on one table.
type Store struct {
	client API
	table  string
	opts   idempotency.Options
}

var (
	_ idempotency.Store  = (*Store)(nil)
	_ idempotency.Stager = (*Store)(nil)
)

// New returns a store on table.
func New(client API, table string, o idempotency.Options) *Store {
	return &Store{client: client, table: table, opts: o.Defaults()}
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// claimCondition is Powertools' condition: a free key, an expired record,
// or an expired lease (whatever payload it held: two versions of one event
// are not poison, see idempotency.Mismatch).
const claimCondition = "attribute_not_exists(#id) OR #exp < :now OR (#st = :inprogress AND #lease < :now_ms)"

// maxClaimAttempts bounds the loop when a record changes between a failed
// condition and its reading (it was released or expired meanwhile).
const maxClaimAttempts = 3

// Claim implements idempotency.Store with one conditional PutItem (more only
// when the record changes under it).
func (s *Store) Claim(ctx context.Context, r idempotency.Request) (idempotency.Claim, error) {
	owner := s.opts.NewOwner()
	for attempt := 1; ; attempt++ {
		now := s.opts.Now()
		c := idempotency.Claim{
			Key: r.Key, PayloadHash: r.PayloadHash, Owner: owner, Region: s.opts.Region,
			LeaseUntil: time.UnixMilli(now.Add(s.opts.Lease).UnixMilli()), Outcome: idempotency.Claimed,
		}
		rec := idempotency.Record{
			Key: r.Key, Status: idempotency.StatusInProgress, PayloadHash: r.PayloadHash,
			LeaseUntil: c.LeaseUntil, ExpiresAt: now.Add(s.opts.TTL), Region: s.opts.Region, Owner: owner,
		}
		out, err := s.client.PutItem(ctx, &ddb.PutItemInput{
			TableName: &s.table,
			Item:      encode(rec),
			// The replaced record, when the claim took one over: free on a
			// successful put, and worth a log line.
			ReturnValues:        types.ReturnValueAllOld,
			ConditionExpression: aws.String(claimCondition),
			ExpressionAttributeNames: map[string]string{
				"#id": AttrID, "#exp": AttrExpiresAt, "#st": AttrStatus, "#lease": AttrLease,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now":        num(now.Unix()),
				":now_ms":     num(now.UnixMilli()),
				":inprogress": str(string(idempotency.StatusInProgress)),
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			if len(out.Attributes) > 0 {
				if old, derr := decode(out.Attributes); derr == nil {
					c.TookOver, c.Existing = true, &old
				}
			}
			return c, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return idempotency.Claim{}, fmt.Errorf("claim %s: %w", r.Key, err)
		}
		item := ccf.Item
		if len(item) == 0 {
			if item, err = s.get(ctx, r.Key); err != nil {
				return idempotency.Claim{}, err
			}
		}
		var existing *idempotency.Record
		if len(item) > 0 {
			e, derr := decode(item)
			if derr != nil {
				return idempotency.Claim{}, fmt.Errorf("claim %s: %w", r.Key, derr)
			}
			existing = &e
		}
		outcome, takeOver := idempotency.Decide(existing, r, owner, now)
		if !takeOver {
			c.Outcome, c.Existing = outcome, existing
			if outcome == idempotency.Claimed && existing != nil {
				c.LeaseUntil = existing.LeaseUntil
			}
			return c, nil
		}
		if attempt >= maxClaimAttempts {
			return idempotency.Claim{}, fmt.Errorf("claim %s: record kept changing under %d attempts", r.Key, attempt)
		}
	}
}

// heldCondition guards every write of a held claim.
const heldCondition = "#st = :inprogress AND #owner = :owner"

func heldNames(extra map[string]string) map[string]string {
	m := map[string]string{"#st": AttrStatus, "#owner": AttrOwner}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func heldValues(c idempotency.Claim, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		":inprogress": str(string(idempotency.StatusInProgress)),
		":owner":      str(c.Owner),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// CompleteUpdate is the conditional update that completes c, for a caller
// that puts it into a transaction (the worker completes the claim and
// appends SaleProcessed atomically). ResolveCompletion interprets its
// failure.
func (s *Store) CompleteUpdate(c idempotency.Claim, result string) (*types.Update, error) {
	if c.Outcome != idempotency.Claimed {
		return nil, idempotency.ErrNotClaimed
	}
	now := s.opts.Now()
	return &types.Update{
		TableName:           &s.table,
		Key:                 key(c.Key),
		UpdateExpression:    aws.String("SET #st = :completed, #exp = :exp, #res = :res"),
		ConditionExpression: aws.String(heldCondition),
		ExpressionAttributeNames: heldNames(map[string]string{
			"#exp": AttrExpiresAt, "#res": AttrResult,
		}),
		ExpressionAttributeValues: heldValues(c, map[string]types.AttributeValue{
			":completed": str(string(idempotency.StatusCompleted)),
			":exp":       num(now.Add(s.opts.TTL).Unix()),
			":res":       str(result),
		}),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// Complete implements idempotency.Store with one conditional UpdateItem.
func (s *Store) Complete(ctx context.Context, c idempotency.Claim, result string) error {
	u, err := s.CompleteUpdate(c, result)
	if err != nil {
		return err
	}
	_, err = s.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
		ConditionExpression: u.ConditionExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
		ExpressionAttributeValues:           u.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return s.ResolveCompletion(ctx, c, ccf.Item)
	}
	return fmt.Errorf("complete %s: %w", c.Key, err)
}

// ResolveCompletion explains a failed completion of c from the item the
// failed condition returned (read again when it is empty): nil when the
// record is already COMPLETED under c's owner (a retry whose first answer
// was lost), ErrClaimLost otherwise.
func (s *Store) ResolveCompletion(ctx context.Context, c idempotency.Claim, item map[string]types.AttributeValue) error {
	if len(item) == 0 {
		var err error
		if item, err = s.get(ctx, c.Key); err != nil {
			return err
		}
	}
	if len(item) > 0 {
		rec, err := decode(item)
		if err == nil && rec.Status == idempotency.StatusCompleted && rec.Owner == c.Owner {
			return nil
		}
	}
	return fmt.Errorf("complete %s: %w", c.Key, idempotency.ErrClaimLost)
}

// Extend implements idempotency.Store with one conditional UpdateItem.
func (s *Store) Extend(ctx context.Context, c idempotency.Claim) (idempotency.Claim, error) {
	if c.Outcome != idempotency.Claimed {
		return c, idempotency.ErrNotClaimed
	}
	lease := time.UnixMilli(s.opts.Now().Add(s.opts.Lease).UnixMilli())
	_, err := s.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(c.Key),
		UpdateExpression:          aws.String("SET #lease = :lease"),
		ConditionExpression:       aws.String(heldCondition),
		ExpressionAttributeNames:  heldNames(map[string]string{"#lease": AttrLease}),
		ExpressionAttributeValues: heldValues(c, map[string]types.AttributeValue{":lease": num(lease.UnixMilli())}),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return c, fmt.Errorf("extend %s: %w", c.Key, idempotency.ErrClaimLost)
	case err != nil:
		return c, fmt.Errorf("extend %s: %w", c.Key, err)
	}
	c.LeaseUntil = lease
	return c, nil
}

// Release implements idempotency.Store with one conditional DeleteItem.
func (s *Store) Release(ctx context.Context, c idempotency.Claim) error {
	if c.Outcome != idempotency.Claimed {
		return idempotency.ErrNotClaimed
	}
	_, err := s.client.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName:                 &s.table,
		Key:                       key(c.Key),
		ConditionExpression:       aws.String(heldCondition),
		ExpressionAttributeNames:  heldNames(nil),
		ExpressionAttributeValues: heldValues(c, nil),
	})
	var ccf *types.ConditionalCheckFailedException
	if err == nil || errors.As(err, &ccf) {
		return nil
	}
	return fmt.Errorf("release %s: %w", c.Key, err)
}

// maxBatchGet is BatchGetItem's limit on keys per call.
const maxBatchGet = 100

// maxUnprocessedRounds bounds the retries of keys DynamoDB left
// unprocessed (throttling).
const maxUnprocessedRounds = 4

// Lookup implements idempotency.Store with strongly consistent
// BatchGetItem calls (one per 100 distinct keys, more if throttled).
func (s *Store) Lookup(ctx context.Context, keys []string) (map[string]idempotency.Record, error) {
	now := s.opts.Now()
	out := make(map[string]idempotency.Record, len(keys))
	seen := make(map[string]bool, len(keys))
	var unique []string
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	for start := 0; start < len(unique); start += maxBatchGet {
		chunk := unique[start:min(start+maxBatchGet, len(unique))]
		req := make([]map[string]types.AttributeValue, len(chunk))
		for i, k := range chunk {
			req[i] = key(k)
		}
		pending := map[string]types.KeysAndAttributes{s.table: {Keys: req, ConsistentRead: aws.Bool(true)}}
		for round := 0; len(pending) > 0; round++ {
			if round >= maxUnprocessedRounds {
				return nil, fmt.Errorf("lookup: %d keys still unprocessed after %d rounds", len(pending[s.table].Keys), round)
			}
			if round > 0 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(50<<round) * time.Millisecond):
				}
			}
			res, err := s.client.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("lookup %d keys: %w", len(chunk), err)
			}
			for _, item := range res.Responses[s.table] {
				rec, err := decode(item)
				if err != nil {
					return nil, fmt.Errorf("lookup: %w", err)
				}
				if !rec.Expired(now) {
					out[rec.Key] = rec
				}
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

// Put implements idempotency.Stager with an unconditional PutItem.
func (s *Store) Put(ctx context.Context, r idempotency.Record) error {
	if _, err := s.client.PutItem(ctx, &ddb.PutItemInput{TableName: &s.table, Item: encode(r)}); err != nil {
		return fmt.Errorf("put %s: %w", r.Key, err)
	}
	return nil
}

// Get reads one record, strongly consistent. found is false for an absent
// key (an expired record is returned: callers can see its expiry).
func (s *Store) Get(ctx context.Context, k string) (rec idempotency.Record, found bool, err error) {
	item, err := s.get(ctx, k)
	if err != nil || len(item) == 0 {
		return idempotency.Record{}, false, err
	}
	rec, err = decode(item)
	return rec, err == nil, err
}

func (s *Store) get(ctx context.Context, k string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &ddb.GetItemInput{TableName: &s.table, Key: key(k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	return out.Item, nil
}

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrID: str(k)}
}

func encode(r idempotency.Record) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrID:          str(r.Key),
		AttrStatus:      str(string(r.Status)),
		AttrPayloadHash: str(r.PayloadHash),
		AttrLease:       num(r.LeaseUntil.UnixMilli()),
		AttrExpiresAt:   num(r.ExpiresAt.Unix()),
		AttrRegion:      str(r.Region),
		AttrOwner:       str(r.Owner),
	}
	if r.Result != "" {
		item[AttrResult] = str(r.Result)
	}
	return item
}

// decode reads an item. Missing optional attributes stay zero; a record
// written by another tool (Powertools itself writes "expiration" and
// "data") still decodes its key and status.
func decode(item map[string]types.AttributeValue) (idempotency.Record, error) {
	var r idempotency.Record
	var err error
	s := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	n := func(name string) int64 {
		v, ok := item[name].(*types.AttributeValueMemberN)
		if !ok || err != nil {
			return 0
		}
		i, perr := strconv.ParseInt(v.Value, 10, 64)
		if perr != nil {
			err = fmt.Errorf("idempotency record: %s %q is not an integer", name, v.Value)
		}
		return i
	}
	r.Key = s(AttrID)
	if r.Key == "" {
		return r, errors.New("idempotency record without id")
	}
	r.Status = idempotency.Status(s(AttrStatus))
	r.PayloadHash = s(AttrPayloadHash)
	r.Region = s(AttrRegion)
	r.Owner = s(AttrOwner)
	r.Result = s(AttrResult)
	if ms := n(AttrLease); ms > 0 {
		r.LeaseUntil = time.UnixMilli(ms)
	}
	if sec := n(AttrExpiresAt); sec > 0 {
		r.ExpiresAt = time.Unix(sec, 0)
	}
	return r, err
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
