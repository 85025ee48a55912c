package failover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	sttypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamAPI is the part of the DynamoDB Streams client used here.
type StreamAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// ItemAPI is the part of the DynamoDB client used here.
type ItemAPI interface {
	DescribeTable(ctx context.Context, in *ddb.DescribeTableInput, opts ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error)
	BatchGetItem(ctx context.Context, in *ddb.BatchGetItemInput, opts ...func(*ddb.Options)) (*ddb.BatchGetItemOutput, error)
}

// ReplicatedTable is one global table.
type ReplicatedTable struct {
	// Name labels it in reports ("events").
	Name string
	// OriginAttr names the attribute that holds the region that wrote an
	// item (origin_region for events, region for claims): only the leaving
	// region's own writes are checked.
	OriginAttr string
	// CompareContent requires an equal item at the destination (items
	// that change in place), not only a present one.
	CompareContent bool
	// ByRegion maps a region to the table's name there.
	ByRegion map[string]string
}

// RegionClients are one region's DynamoDB and Streams clients.
type RegionClients struct {
	Items   ItemAPI
	Streams StreamAPI
}

// TableConvergence checks that the arriving region's tables hold the
// leaving region's latest writes: it reads the newest records of the
// leaving table's stream (its open shards) and looks their items up in the
// arriving table until every one is there. It works the same against AWS
// (global tables) and the local stack (the replication stand-in).
type TableConvergence struct {
	Tables  []ReplicatedTable
	Clients map[string]RegionClients
	// Sample is how many of the newest items per table are checked
	// (default 200).
	Sample int
	// Poll is the wait between lookups (default 250 ms).
	Poll time.Duration
	// MaxRecords bounds the stream read per table (default 200,000).
	MaxRecords int
}

type sampled struct {
	key     map[string]ddbtypes.AttributeValue
	image   map[string]ddbtypes.AttributeValue
	created time.Time
	order   int
}

// Wait implements Convergence.
func (c TableConvergence) Wait(ctx context.Context, from, to string, since time.Time) (string, error) {
	if c.Sample <= 0 {
		c.Sample = 200
	}
	if c.Poll <= 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.MaxRecords <= 0 {
		c.MaxRecords = 200_000
	}
	start := time.Now()
	var parts []string
	for _, t := range c.Tables {
		items, newest, err := c.latest(ctx, t, from)
		if err != nil {
			return "", err
		}
		if len(items) == 0 {
			parts = append(parts, fmt.Sprintf("%s: nothing written by %s", t.Name, from))
			continue
		}
		missing, err := c.waitPresent(ctx, t, from, to, items)
		if err != nil {
			return "", fmt.Errorf("%s: %d of the %d newest items of %s not yet in %s: %w", t.Name, missing, len(items), from, to, err)
		}
		age := ""
		if !newest.IsZero() {
			age = ", newest written " + newest.UTC().Format("15:04:05")
		}
		parts = append(parts, fmt.Sprintf("%s: newest %d of %s in %s%s", t.Name, len(items), from, to, age))
	}
	return fmt.Sprintf("%s→%s after %s (%s)", from, to, time.Since(start).Round(time.Millisecond), strings.Join(parts, "; ")), nil
}

// latest reads the leaving table's stream and keeps the newest image per
// key of items the leaving region wrote itself.
func (c TableConvergence) latest(ctx context.Context, t ReplicatedTable, region string) ([]sampled, time.Time, error) {
	rc, ok := c.Clients[region]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("no clients for region %s", region)
	}
	table := t.ByRegion[region]
	d, err := rc.Items.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: &table})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("describe %s in %s: %w", table, region, err)
	}
	arn := aws.ToString(d.Table.LatestStreamArn)
	if arn == "" {
		return nil, time.Time{}, fmt.Errorf("%s in %s has no stream", table, region)
	}
	byKey := map[string]*sampled{}
	order, read := 0, 0
	var shards []sttypes.Shard
	var last *string
	for range 1000 {
		out, err := rc.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn, ExclusiveStartShardId: last})
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("describe stream of %s in %s: %w", table, region, err)
		}
		shards = append(shards, out.StreamDescription.Shards...)
		last = out.StreamDescription.LastEvaluatedShardId
		if last == nil {
			break
		}
	}
	for _, sh := range shards {
		// Closed shards older than the newest ones hold older records; the
		// open ones (no ending sequence number) hold the latest writes.
		if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil && len(shards) > 1 {
			continue
		}
		it, err := rc.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: sh.ShardId, ShardIteratorType: sttypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("iterator of %s: %w", aws.ToString(sh.ShardId), err)
		}
		iter := it.ShardIterator
		for empty := 0; iter != nil && empty < 2 && read < c.MaxRecords; {
			out, err := rc.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				return nil, time.Time{}, fmt.Errorf("read the stream of %s in %s: %w", table, region, err)
			}
			if len(out.Records) == 0 {
				empty++
			}
			for _, rec := range out.Records {
				read++
				if rec.Dynamodb == nil {
					continue
				}
				key := fromStream(rec.Dynamodb.Keys)
				k := canonical(key)
				if rec.EventName == sttypes.OperationTypeRemove {
					delete(byKey, k)
					continue
				}
				img := fromStream(rec.Dynamodb.NewImage)
				if origin, ok := img[t.OriginAttr].(*ddbtypes.AttributeValueMemberS); !ok || origin.Value != region {
					delete(byKey, k) // last written by someone else: not ours to check
					continue
				}
				order++
				s := &sampled{key: key, image: img, order: order}
				if rec.Dynamodb.ApproximateCreationDateTime != nil {
					s.created = *rec.Dynamodb.ApproximateCreationDateTime
				}
				byKey[k] = s
			}
			iter = out.NextShardIterator
		}
	}
	all := make([]sampled, 0, len(byKey))
	for _, s := range byKey {
		all = append(all, *s)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.After(all[j].created)
		}
		return all[i].order > all[j].order
	})
	if len(all) > c.Sample {
		all = all[:c.Sample]
	}
	var newest time.Time
	if len(all) > 0 {
		newest = all[0].created
	}
	return all, newest, nil
}

// waitPresent looks the items up in the arriving table until every one is
// there and, when the table's items change in place, equal to the item as
// it is now in the leaving region (it may have changed since the stream
// record that sampled it).
func (c TableConvergence) waitPresent(ctx context.Context, t ReplicatedTable, from, region string, items []sampled) (int, error) {
	rc, ok := c.Clients[region]
	if !ok {
		return len(items), fmt.Errorf("no clients for region %s", region)
	}
	src := c.Clients[from]
	table := t.ByRegion[region]
	pending := items
	for {
		var still []sampled
		for i := 0; i < len(pending); i += 100 {
			batch := pending[i:min(i+100, len(pending))]
			found, err := c.batchGet(ctx, rc.Items, table, batch)
			if err != nil {
				return len(pending), err
			}
			var current map[string]map[string]ddbtypes.AttributeValue
			if t.CompareContent {
				if current, err = c.batchGet(ctx, src.Items, t.ByRegion[from], batch); err != nil {
					return len(pending), err
				}
			}
			for _, s := range batch {
				got, ok := found[canonical(s.key)]
				if !ok {
					still = append(still, s)
					continue
				}
				if t.CompareContent {
					want, there := current[canonical(s.key)]
					if there && canonical(got) != canonical(want) {
						still = append(still, s)
					}
				}
			}
		}
		if len(still) == 0 {
			return 0, nil
		}
		pending = still
		select {
		case <-ctx.Done():
			return len(pending), errors.New("replication did not converge in time")
		case <-time.After(c.Poll):
		}
	}
}

func (c TableConvergence) batchGet(ctx context.Context, client ItemAPI, table string, batch []sampled) (map[string]map[string]ddbtypes.AttributeValue, error) {
	keys := make([]map[string]ddbtypes.AttributeValue, len(batch))
	for i, s := range batch {
		keys[i] = s.key
	}
	found := map[string]map[string]ddbtypes.AttributeValue{}
	req := map[string]ddbtypes.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	for attempt := 0; len(req) > 0 && attempt < 20; attempt++ {
		out, err := client.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("batch get from %s: %w", table, err)
		}
		for _, item := range out.Responses[table] {
			key := map[string]ddbtypes.AttributeValue{}
			for k := range batch[0].key {
				key[k] = item[k]
			}
			found[canonical(key)] = item
		}
		req = out.UnprocessedKeys
	}
	return found, nil
}

// fromStream converts stream attribute values to table attribute values.
func fromStream(in map[string]sttypes.AttributeValue) map[string]ddbtypes.AttributeValue {
	out := make(map[string]ddbtypes.AttributeValue, len(in))
	for k, v := range in {
		out[k] = fromStreamValue(v)
	}
	return out
}

func fromStreamValue(v sttypes.AttributeValue) ddbtypes.AttributeValue {
	switch x := v.(type) {
	case *sttypes.AttributeValueMemberS:
		return &ddbtypes.AttributeValueMemberS{Value: x.Value}
	case *sttypes.AttributeValueMemberN:
		return &ddbtypes.AttributeValueMemberN{Value: x.Value}
	case *sttypes.AttributeValueMemberB:
		return &ddbtypes.AttributeValueMemberB{Value: x.Value}
	case *sttypes.AttributeValueMemberBOOL:
		return &ddbtypes.AttributeValueMemberBOOL{Value: x.Value}
	case *sttypes.AttributeValueMemberNULL:
		return &ddbtypes.AttributeValueMemberNULL{Value: x.Value}
	case *sttypes.AttributeValueMemberSS:
		return &ddbtypes.AttributeValueMemberSS{Value: x.Value}
	case *sttypes.AttributeValueMemberNS:
		return &ddbtypes.AttributeValueMemberNS{Value: x.Value}
	case *sttypes.AttributeValueMemberBS:
		return &ddbtypes.AttributeValueMemberBS{Value: x.Value}
	case *sttypes.AttributeValueMemberL:
		l := make([]ddbtypes.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = fromStreamValue(e)
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	case *sttypes.AttributeValueMemberM:
		return &ddbtypes.AttributeValueMemberM{Value: fromStream(x.Value)}
	}
	return &ddbtypes.AttributeValueMemberNULL{Value: true}
}

// canonical renders an item with sorted keys and set members, so equal
// items compare equal whatever order their maps and sets came in.
func canonical(item map[string]ddbtypes.AttributeValue) string {
	var b strings.Builder
	writeCanonical(&b, &ddbtypes.AttributeValueMemberM{Value: item})
	return b.String()
}

func writeCanonical(b *strings.Builder, v ddbtypes.AttributeValue) {
	str := func(tag, s string) {
		b.WriteString(tag)
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	set := func(tag string, xs []string) {
		s := append([]string(nil), xs...)
		sort.Strings(s)
		b.WriteString(tag + strconv.Itoa(len(s)))
		for _, x := range s {
			str("", x)
		}
	}
	switch x := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		str("S", x.Value)
	case *ddbtypes.AttributeValueMemberN:
		str("N", x.Value)
	case *ddbtypes.AttributeValueMemberB:
		str("B", string(x.Value))
	case *ddbtypes.AttributeValueMemberBOOL:
		b.WriteString(strconv.FormatBool(x.Value))
	case *ddbtypes.AttributeValueMemberNULL:
		b.WriteString("null")
	case *ddbtypes.AttributeValueMemberSS:
		set("SS", x.Value)
	case *ddbtypes.AttributeValueMemberNS:
		set("NS", x.Value)
	case *ddbtypes.AttributeValueMemberBS:
		bs := make([]string, len(x.Value))
		for i, e := range x.Value {
			bs[i] = string(e)
		}
		set("BS", bs)
	case *ddbtypes.AttributeValueMemberL:
		b.WriteString("L" + strconv.Itoa(len(x.Value)) + "[")
		for _, e := range x.Value {
			writeCanonical(b, e)
		}
		b.WriteByte(']')
	case *ddbtypes.AttributeValueMemberM:
		keys := make([]string, 0, len(x.Value))
		for k := range x.Value {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("M" + strconv.Itoa(len(keys)) + "{")
		for _, k := range keys {
			str("", k)
			writeCanonical(b, x.Value[k])
		}
		b.WriteByte('}')
	}
}
