package dynamodb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The write gate of a region is one item of the event store: sale id
// GateSaleID (not a UUID, so no sale reads it), position the region. Every
// append of the region's API and every completion of its worker checks it
// in the same transaction as the write, so once a failover has closed it
// (and its PutItem returned), no write commits in that region: not an
// in-flight request, not an SDK retry, not a service whose cached state
// still says ACTIVE. A missing gate is open: a new deployment takes writes
// as soon as its region state is ACTIVE.
const (
	GateSaleID    = "write-gate"
	AttrGateState = "state"
	GateOpen      = "OPEN"
	GateClosed    = "CLOSED"
)

// GateKey is the key of region's write gate.
func GateKey(region string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrSaleID:   &types.AttributeValueMemberS{Value: GateSaleID},
		AttrPosition: &types.AttributeValueMemberS{Value: region},
	}
}

// gateCheck is the condition check of region's gate inside a transaction.
func gateCheck(table, region string) *types.ConditionCheck {
	return &types.ConditionCheck{
		TableName:                 &table,
		Key:                       GateKey(region),
		ConditionExpression:       aws.String("attribute_not_exists(#st) OR #st = :open"),
		ExpressionAttributeNames:  map[string]string{"#st": AttrGateState},
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": &types.AttributeValueMemberS{Value: GateOpen}},
	}
}

// GateCheck is the transaction item that makes a write commit only while
// region's gate is open, for writers that build their own transaction
// (the worker's completion). Its cancellation reason is
// ConditionalCheckFailed when the gate is closed.
func GateCheck(table, region string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: gateCheck(table, region)}
}

// GateAPI is what opening and closing a gate needs.
type GateAPI interface {
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	GetItem(ctx context.Context, in *ddb.GetItemInput, opts ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
}

// SetGate opens or closes region's write gate in table (the region's own
// replica: a gate fences the writes of the region whose table holds it).
// When it returns nil the gate is in that state for every write that
// commits after it.
func SetGate(ctx context.Context, client GateAPI, table, region, state, by string, at time.Time) error {
	if state != GateOpen && state != GateClosed {
		return fmt.Errorf("write gate state must be %s or %s, got %q", GateOpen, GateClosed, state)
	}
	item := GateKey(region)
	item[AttrGateState] = &types.AttributeValueMemberS{Value: state}
	// An origin no region has: stream readers skip it as another region's
	// record before decoding (it is no event).
	item[AttrOriginRegion] = &types.AttributeValueMemberS{Value: GateSaleID}
	item["changed_at"] = &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)}
	item["changed_by"] = &types.AttributeValueMemberS{Value: by}
	if _, err := client.PutItem(ctx, &ddb.PutItemInput{TableName: &table, Item: item}); err != nil {
		return fmt.Errorf("set the write gate of %s to %s in %s: %w", region, state, table, err)
	}
	return nil
}

// Gate reads region's write gate (strongly consistent): OPEN when absent.
func Gate(ctx context.Context, client GateAPI, table, region string) (string, error) {
	out, err := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: GateKey(region), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read the write gate of %s in %s: %w", region, table, err)
	}
	if v, ok := out.Item[AttrGateState].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return GateOpen, nil
}
