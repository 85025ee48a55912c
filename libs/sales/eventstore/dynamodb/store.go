// Package dynamodb is the production event store: one item per event in a
// DynamoDB table keyed by (sale_id, position), written with conditional puts
// and read with one strongly consistent Query per sale.
package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, opts ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
	Query(ctx context.Context, in *ddb.QueryInput, opts ...func(*ddb.Options)) (*ddb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *ddb.TransactWriteItemsInput, opts ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error)
}

// Store implements eventstore.Store on one table.
type Store struct {
	client API
	table  string
	// gate, when set, is the region whose write gate every Append checks.
	gate string
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on table.
func New(client API, table string) *Store { return &Store{client: client, table: table} }

// Gated returns the store with every Append checked against region's
// write gate in the same transaction (gate.go): one TransactWriteItems
// instead of one PutItem, still one request per append. A closed gate is
// eventstore.ErrWritesClosed.
func (s *Store) Gated(region string) *Store {
	g := *s
	g.gate = region
	return &g
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// GateRegion is the region whose write gate the store's appends check
// ("" when not Gated).
func (s *Store) GateRegion() string { return s.gate }

// appendCondition makes a put fail when the position is taken.
const appendCondition = "attribute_not_exists(" + AttrSaleID + ")"

// PutInput is the conditional put of one event. It is exported so a caller
// can put the same write into a transaction (the worker appends
// SaleProcessed together with completing its idempotency claim).
func (s *Store) PutInput(e domain.Envelope) (*ddb.PutItemInput, error) {
	item, err := EncodeItem(e)
	if err != nil {
		return nil, err
	}
	return &ddb.PutItemInput{
		TableName:                           &s.table,
		Item:                                item,
		ConditionExpression:                 ptr(appendCondition),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// Append implements eventstore.Store with one conditional PutItem (one
// TransactWriteItems with the write gate's check when Gated).
//
// A put whose answer was lost is retried by the SDK, and the retry then
// fails its condition because the first attempt succeeded. The store asks
// for the item that is there (ALL_OLD) and treats its own version as
// success. A void at the position (Void) is deleted, conditionally, and the
// put made again: the operation may still happen, only the abandoned
// attempt may not.
func (s *Store) Append(ctx context.Context, e domain.Envelope) error {
	in, err := s.PutInput(e)
	if err != nil {
		return err
	}
	for range maxMergeAttempts {
		err = s.put(ctx, in)
		if err == nil {
			return nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return fmt.Errorf("append %s to sale %s: %w", e.EventType, e.SaleID, err)
		}
		if !isVoid(ccf.Item) {
			return conflict(ccf.Item, e)
		}
		if err := s.deleteVoid(ctx, ccf.Item); err != nil {
			return err
		}
	}
	return fmt.Errorf("append %s to sale %s: the position kept changing (%d attempts)", e.EventType, e.SaleID, maxMergeAttempts)
}

// put makes one conditional put, through the write gate when there is one.
// A failed condition on the put is a *types.ConditionalCheckFailedException
// carrying the item there, whichever way the put was made.
func (s *Store) put(ctx context.Context, in *ddb.PutItemInput) error {
	if s.gate == "" {
		_, err := s.client.PutItem(ctx, in)
		return err
	}
	_, err := s.client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: in.TableName, Item: in.Item, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		GateCheck(s.table, s.gate),
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 {
		return err
	}
	put, gate := tce.CancellationReasons[0], tce.CancellationReasons[1]
	switch {
	case aws.ToString(gate.Code) == codeConditionFailed:
		return eventstore.ErrWritesClosed
	case aws.ToString(put.Code) == codeConditionFailed:
		return &types.ConditionalCheckFailedException{Message: put.Message, Item: put.Item}
	}
	return err
}

// codeConditionFailed is a transaction's cancellation reason for a failed
// condition (DynamoDB API reference, TransactWriteItems).
const codeConditionFailed = "ConditionalCheckFailed"

func conflict(item map[string]types.AttributeValue, e domain.Envelope) error {
	cerr := &eventstore.ConflictError{Position: e.Position()}
	if len(item) == 0 {
		return cerr
	}
	existing, derr := DecodeItem(item)
	if derr != nil {
		return cerr
	}
	if domain.SameVersion(existing, e) {
		return nil
	}
	cerr.Existing = &existing
	return cerr
}

// maxMergeAttempts bounds Merge's compare-and-swap loop: each round means
// another version was written at the position meanwhile, and there are at
// most as many versions as regions.
const maxMergeAttempts = 5

// Merge implements eventstore.Store: a conditional put of e; when another
// version holds the position and e is earlier, a put of e conditioned on
// that version still being there (compare-and-swap on the attributes that
// tell versions apart), repeated if a third write came in between. Without
// a conflict it costs what Append costs; a replacement costs one more put.
func (s *Store) Merge(ctx context.Context, e domain.Envelope) (domain.Envelope, error) {
	in, err := s.PutInput(e)
	if err != nil {
		return domain.Envelope{}, err
	}
	for range maxMergeAttempts {
		_, err := s.client.PutItem(ctx, in)
		if err == nil {
			return e, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return domain.Envelope{}, fmt.Errorf("merge %s into sale %s: %w", e.EventType, e.SaleID, err)
		}
		if len(ccf.Item) == 0 {
			// Deleted meanwhile (a test's cleanup): put it again.
			in, _ = s.PutInput(e)
			continue
		}
		if isVoid(ccf.Item) {
			in = s.replaceInput(in.Item, ccf.Item)
			continue
		}
		stored, derr := DecodeItem(ccf.Item)
		if derr != nil {
			return domain.Envelope{}, fmt.Errorf("merge %s into sale %s: stored item: %w", e.EventType, e.SaleID, derr)
		}
		if domain.SameVersion(stored, e) || !domain.Earlier(e, stored) {
			return stored, nil
		}
		in = s.replaceInput(in.Item, ccf.Item)
	}
	return domain.Envelope{}, fmt.Errorf("merge %s into sale %s: the position kept changing (%d attempts)", e.EventType, e.SaleID, maxMergeAttempts)
}

// versionAttrs are the attributes in which two versions of one operation
// can differ: a replacement is conditioned on all of them.
var versionAttrs = []string{AttrEventID, AttrOccurredAt, AttrOriginRegion, AttrAggregateVersion, AttrData}

// replaceInput puts item over exactly the stored version old.
func (s *Store) replaceInput(item, old map[string]types.AttributeValue) *ddb.PutItemInput {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	cond := ""
	for i, a := range versionAttrs {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n] = a
		if cond != "" {
			cond += " AND "
		}
		if old[a] == nil {
			cond += "attribute_not_exists(" + n + ")"
			continue
		}
		values[v] = old[a]
		cond += n + " = " + v
	}
	for i, a := range []string{AttrCorrelationID, AttrPrincipal} {
		n, v := fmt.Sprintf("#o%d", i), fmt.Sprintf(":o%d", i)
		names[n] = a
		if old[a] == nil {
			cond += " AND attribute_not_exists(" + n + ")"
			continue
		}
		values[v] = old[a]
		cond += " AND " + n + " = " + v
	}
	return &ddb.PutItemInput{
		TableName:                           &s.table,
		Item:                                item,
		ConditionExpression:                 &cond,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// Load implements eventstore.Store: one strongly consistent Query (more
// pages only for a sale with more than 1 MB of events, which never happens
// in practice).
func (s *Store) Load(ctx context.Context, saleID uuid.UUID) ([]domain.Envelope, error) {
	in := &ddb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    ptr("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#id": AttrSaleID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: saleID.String()}},
		ConsistentRead:            ptr(true),
	}
	var out []domain.Envelope
	for {
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("load sale %s: %w", saleID, err)
		}
		for _, item := range page.Items {
			if isVoid(item) {
				continue
			}
			e, err := DecodeItem(item)
			if err != nil {
				return nil, fmt.Errorf("load sale %s: %w", saleID, err)
			}
			out = append(out, e)
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	domain.SortEvents(out)
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// Void implements eventstore.Store: one conditional PutItem of a void item
// at e's position (never through the write gate: a fence must always be
// writable).
func (s *Store) Void(ctx context.Context, e domain.Envelope) error {
	item := voidItem(e)
	_, err := s.client.PutItem(ctx, &ddb.PutItemInput{
		TableName:                           &s.table,
		Item:                                item,
		ConditionExpression:                 ptr(appendCondition),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ccf):
		return fmt.Errorf("void %s of sale %s: %w", e.EventType, e.SaleID, err)
	case isVoid(ccf.Item):
		return nil
	}
	cerr := &eventstore.ConflictError{Position: e.Position()}
	if existing, derr := DecodeItem(ccf.Item); derr == nil {
		cerr.Existing = &existing
	}
	return cerr
}

// deleteVoid removes a void so the operation can be written, only if that
// very void is still there.
func (s *Store) deleteVoid(ctx context.Context, void map[string]types.AttributeValue) error {
	_, err := s.client.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName:                 &s.table,
		Key:                       map[string]types.AttributeValue{AttrSaleID: void[AttrSaleID], AttrPosition: void[AttrPosition]},
		ConditionExpression:       ptr("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#v": AttrVoidID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": void[AttrVoidID]},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("clear the void at %v: %w", void[AttrPosition], err)
	}
	return nil // deleted, or someone else replaced it: the next put decides
}
