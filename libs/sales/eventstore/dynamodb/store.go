// Package dynamodb is the production event store: one item per event in a
// DynamoDB table keyed by (sale_id, position), written with conditional puts
// and read with one strongly consistent Query per sale.
package dynamodb

import (
	"context"
	"errors"
	"fmt"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/eventstore"
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	Query(ctx context.Context, in *ddb.QueryInput, opts ...func(*ddb.Options)) (*ddb.QueryOutput, error)
}

// Store implements eventstore.Store on one table.
type Store struct {
	client API
	table  string
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on table.
func New(client API, table string) *Store { return &Store{client: client, table: table} }

// Table is the table's name.
func (s *Store) Table() string { return s.table }

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

// Append implements eventstore.Store with one conditional PutItem.
//
// A put whose answer was lost is retried by the SDK, and the retry then
// fails its condition because the first attempt succeeded. The store asks
// for the item that is there (ALL_OLD) and treats its own event id as
// success.
func (s *Store) Append(ctx context.Context, e domain.Envelope) error {
	in, err := s.PutInput(e)
	if err != nil {
		return err
	}
	_, err = s.client.PutItem(ctx, in)
	if err == nil {
		return nil
	}
	return ConflictOrError(err, e)
}

// ConflictOrError turns a failed conditional append of e into nil (the item
// there is e itself), a *eventstore.ConflictError, or the wrapped error.
func ConflictOrError(err error, e domain.Envelope) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("append %s to sale %s: %w", e.EventType, e.SaleID, err)
	}
	return conflict(ccf.Item, e)
}

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
	names["#c"] = AttrCorrelationID
	if old[AttrCorrelationID] == nil {
		cond += " AND attribute_not_exists(#c)"
	} else {
		values[":c"] = old[AttrCorrelationID]
		cond += " AND #c = :c"
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
