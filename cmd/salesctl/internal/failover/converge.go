package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"
)

// ItemAPI is the part of the DynamoDB client used here.
type ItemAPI interface {
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	GetItem(ctx context.Context, in *ddb.GetItemInput, opts ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, opts ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
}

// ReplicatedTable is one global table.
type ReplicatedTable struct {
	// Name labels it in reports ("events").
	Name string
	// Fence builds the fence item written into this table: it must be
	// ignored by everything that reads the table (see EventFence and
	// ClaimFence).
	Fence func(id string, at time.Time, from string) (key, item map[string]ddbtypes.AttributeValue)
	// ByRegion maps a region to the table's name there.
	ByRegion map[string]string
}

// FenceConvergence proves replication caught up by writing a fence item
// into each of the leaving region's tables after its writes stopped, and
// waiting until the arriving region has every fence: replication applies a
// table's changes in stream order (the local stand-in strictly; global
// tables in practice, per item), so the fence arrives after every write
// made before it. The fences are deleted afterwards in both regions.
//
// Reading the leaving region's streams instead was tried and measured: on
// the emulator one GetRecords of 1,000 claim records took minutes.
type FenceConvergence struct {
	Tables []ReplicatedTable
	// Clients maps a region to its DynamoDB client.
	Clients map[string]ItemAPI
	// Poll is the wait between lookups (default 100 ms).
	Poll time.Duration
	Now  func() time.Time
}

// FenceOrigin is the origin_region of an event-store fence: no publisher
// publishes it (each publishes only its own region's events, decided
// before decoding) and no region is called that.
const FenceOrigin = "failover-fence"

// EventFence is the event store's fence: sale id "failover-fence" (not a
// UUID, so the API never reads it), origin FenceOrigin.
func EventFence(id string, at time.Time, from string) (key, item map[string]ddbtypes.AttributeValue) {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	key = map[string]ddbtypes.AttributeValue{"sale_id": s(FenceOrigin), "position": s(at.UTC().Format(time.RFC3339Nano) + "#" + id)}
	item = map[string]ddbtypes.AttributeValue{
		"sale_id": key["sale_id"], "position": key["position"],
		"origin_region": s(FenceOrigin), "event_type": s("FailoverFence"), "fence_from": s(from),
	}
	return key, item
}

// ClaimFence is the idempotency table's fence: a key no event id has and a
// status no worker acts on, expiring within the hour if a delete fails.
func ClaimFence(id string, at time.Time, from string) (key, item map[string]ddbtypes.AttributeValue) {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	key = map[string]ddbtypes.AttributeValue{"id": s(FenceOrigin + "#" + id)}
	item = map[string]ddbtypes.AttributeValue{
		"id": key["id"], "status": s("FENCE"), "region": s(from),
		"expires_at": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(at.Add(time.Hour).Unix(), 10)},
	}
	return key, item
}

// Wait implements Convergence.
func (c FenceConvergence) Wait(ctx context.Context, from, to string, _ time.Time) (string, error) {
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	src, ok := c.Clients[from]
	if !ok {
		return "", fmt.Errorf("no clients for region %s", from)
	}
	dst, ok := c.Clients[to]
	if !ok {
		return "", fmt.Errorf("no clients for region %s", to)
	}
	start := c.Now()
	id := uuid.NewString()
	type fence struct {
		t   ReplicatedTable
		key map[string]ddbtypes.AttributeValue
	}
	var fences []fence
	defer func() {
		// Clean up in both regions, whatever happened (best effort: the
		// claim fence also expires by TTL).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, f := range fences {
			for region, client := range map[string]ItemAPI{from: src, to: dst} {
				_, _ = client.DeleteItem(cctx, &ddb.DeleteItemInput{TableName: aws.String(f.t.ByRegion[region]), Key: f.key})
			}
		}
	}()
	for _, t := range c.Tables {
		key, item := t.Fence(id, c.Now(), from)
		if _, err := src.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(t.ByRegion[from]), Item: item}); err != nil {
			return "", fmt.Errorf("write the %s fence in %s: %w", t.Name, from, err)
		}
		fences = append(fences, fence{t, key})
	}
	var parts []string
	for _, f := range fences {
		for {
			out, err := dst.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(f.t.ByRegion[to]), Key: f.key, ConsistentRead: aws.Bool(true)})
			if err != nil && ctx.Err() == nil {
				return "", fmt.Errorf("read the %s fence in %s: %w", f.t.Name, to, err)
			}
			if err == nil && len(out.Item) > 0 {
				parts = append(parts, fmt.Sprintf("%s after %s", f.t.Name, c.Now().Sub(start).Round(time.Millisecond)))
				break
			}
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("%s: %w", f.t.Name, errors.New("the fence written in "+from+" did not reach "+to+" in time: replication is behind or stopped"))
			case <-time.After(c.Poll):
			}
		}
	}
	return fmt.Sprintf("%s→%s: fences replicated (%s)", from, to, strings.Join(parts, ", ")), nil
}
