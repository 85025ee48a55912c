// Package transact is the DynamoDB side of completing processed work: one
// TransactWriteItems that marks the idempotency claim COMPLETED (only if it
// is still INPROGRESS under our owner token) and appends SaleProcessed to
// the event store (only if its position is free), while the region's write
// gate is open (when the event store is Gated). All or nothing: there is
// no moment where a sale shows processed while its claim could still be
// taken over, nor a COMPLETED claim without its SaleProcessed, nor a
// completion committed after a failover closed the region's writes.
package transact

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
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/idempotency"
	idemddb "github.com/salesplatform/libs/sales/idempotency/dynamodb"

	"github.com/salesplatform/services/sales-worker/internal/processing"
)

// API is the part of the DynamoDB client used here.
type API interface {
	TransactWriteItems(ctx context.Context, in *ddb.TransactWriteItemsInput, opts ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error)
}

// Committer implements processing.Committer.
type Committer struct {
	client API
	claims *idemddb.Store
	events *esddb.Store
}

var _ processing.Committer = (*Committer)(nil)

// New returns a committer over the two stores' tables.
func New(client API, claims *idemddb.Store, events *esddb.Store) *Committer {
	return &Committer{client: client, claims: claims, events: events}
}

// Cancellation reason codes (DynamoDB API reference, TransactWriteItems).
const (
	codeNone            = "None"
	codeConditionFailed = "ConditionalCheckFailed"
)

// CompleteAndAppend implements processing.Committer.
func (c *Committer) CompleteAndAppend(ctx context.Context, claim idempotency.Claim, result string, e domain.Envelope) error {
	update, err := c.claims.CompleteUpdate(claim, result)
	if err != nil {
		return err
	}
	put, err := c.events.PutInput(e)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Update: update},
		{Put: &types.Put{
			TableName:                           put.TableName,
			Item:                                put.Item,
			ConditionExpression:                 put.ConditionExpression,
			ExpressionAttributeNames:            put.ExpressionAttributeNames,
			ExpressionAttributeValues:           put.ExpressionAttributeValues,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
	}
	if region := c.events.GateRegion(); region != "" {
		items = append(items, esddb.GateCheck(c.events.Table(), region))
	}
	_, err = c.client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{
		// On AWS the token makes an SDK retry of a transaction whose answer
		// was lost return success; emulators ignore it, which the
		// cancellation handling below covers.
		ClientRequestToken: aws.String(uuid.NewString()),
		TransactItems:      items,
	})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != len(items) {
		return fmt.Errorf("commit %s for sale %s: %w", claim.Key, e.SaleID, err)
	}
	claimReason, eventReason := tce.CancellationReasons[0], tce.CancellationReasons[1]
	if len(items) == 3 && code(tce.CancellationReasons[2]) == codeConditionFailed {
		return fmt.Errorf("commit %s for sale %s: %w", claim.Key, e.SaleID, eventstore.ErrWritesClosed)
	}
	switch {
	case code(claimReason) == codeConditionFailed:
		// Either the claim was taken over (lost), or this is a retry of our
		// own transaction whose first answer was lost: then the claim is
		// COMPLETED under our owner token.
		return c.claims.ResolveCompletion(ctx, claim, claimReason.Item)
	case code(eventReason) == codeConditionFailed:
		cerr := &eventstore.ConflictError{Position: e.Position()}
		if len(eventReason.Item) > 0 {
			if existing, derr := esddb.DecodeItem(eventReason.Item); derr == nil {
				cerr.Existing = &existing
			}
		}
		return cerr
	}
	return fmt.Errorf("commit %s for sale %s: cancelled (%s, %s): %w", claim.Key, e.SaleID, code(claimReason), code(eventReason), err)
}

func code(r types.CancellationReason) string {
	if r.Code == nil {
		return codeNone
	}
	return *r.Code
}
