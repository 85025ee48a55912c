package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableKind says how a table's items change, which decides how a change is
// applied at the destination.
type TableKind string

const (
	// AppendOnly tables (the event store) never change an item once it is
	// written: a copy is a conditional put that never overwrites.
	AppendOnly TableKind = "append-only"
	// Mutable tables (idempotency claims) change items in place: a copy
	// overwrites, last writer wins, as global tables do.
	Mutable TableKind = "mutable"
)

// Table is one replicated table: the same logical table in every region.
type Table struct {
	// Name labels the table in metrics and status ("events").
	Name string
	Kind TableKind
	// ByRegion maps a region to the table's name there.
	ByRegion map[string]string
	// LakeObject, when set, recognises items that announce a new lake
	// object (the worker's COMPLETED claims name the object they wrote and
	// the region that wrote it): the stand-in copies that object at once
	// instead of waiting for the next bucket listing, which is the most
	// expensive call against the emulator.
	LakeObject func(item map[string]types.AttributeValue) (region, key string, ok bool)
}

// ItemAPI is the part of the DynamoDB client used to apply changes.
type ItemAPI interface {
	GetItem(ctx context.Context, in *ddb.GetItemInput, opts ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, opts ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
}

// Outcomes of one change at one destination (metric label values).
const (
	OutcomeApplied        = "applied"
	OutcomeSkippedEcho    = "skipped_echo"
	OutcomeSkippedEqual   = "skipped_equal"
	OutcomeSkippedPresent = "skipped_present"
	OutcomeFailed         = "failed"
)

// echoes remembers the writes the stand-in made, so that when they come
// back on the destination's stream they are not replicated again. Each
// write is expected back exactly once; entries that never come back are
// dropped after an hour.
type echoes struct {
	mu sync.Mutex
	m  map[string][]time.Time
}

func echoKey(region, table, key, content string) string {
	return region + "|" + table + "|" + key + "|" + content
}

func (e *echoes) add(k string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string][]time.Time{}
	}
	e.m[k] = append(e.m[k], now)
	if len(e.m) > 100_000 {
		for key, ts := range e.m {
			if now.Sub(ts[len(ts)-1]) > time.Hour {
				delete(e.m, key)
			}
		}
	}
}

// consume reports whether k was written by the stand-in and forgets one
// such write.
func (e *echoes) consume(k string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts, ok := e.m[k]
	if !ok {
		return false
	}
	if len(ts) == 1 {
		delete(e.m, k)
	} else {
		e.m[k] = ts[1:]
	}
	return true
}

// change is one stream record, decoded.
type change struct {
	remove   bool
	keys     map[string]types.AttributeValue
	image    map[string]types.AttributeValue
	created  time.Time
	sequence string
}

func decodeRecord(r events.DynamoDBEventRecord) (change, error) {
	c := change{remove: r.EventName == "REMOVE", sequence: r.Change.SequenceNumber, created: r.Change.ApproximateCreationDateTime.Time}
	var err error
	if c.keys, err = fromEventImage(r.Change.Keys); err != nil {
		return c, err
	}
	if !c.remove {
		if c.image, err = fromEventImage(r.Change.NewImage); err != nil {
			return c, err
		}
	}
	if len(c.keys) == 0 {
		return c, errors.New("stream record without keys")
	}
	return c, nil
}

// tableLink applies the changes of one region's table to the other regions.
type tableLink struct {
	s      *StandIn
	table  Table
	source string
}

// handle is a Lambda-style stream handler: it applies the batch in order
// and, at the first change it cannot apply, reports that record as the
// batch's first failure so the reader rewinds to it.
func (l *tableLink) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	received := l.s.now()
	for _, rec := range ev.Records {
		if err := l.apply(ctx, rec, received); err != nil {
			l.s.log.Warn("replication: change not applied; will retry", "table", l.table.Name, "from", l.source, "sequence", rec.Change.SequenceNumber, "error", err)
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}, nil
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func (l *tableLink) apply(ctx context.Context, rec events.DynamoDBEventRecord, received time.Time) error {
	c, err := decodeRecord(rec)
	if err != nil {
		return err
	}
	srcTable := l.table.ByRegion[l.source]
	if !c.remove && len(c.image) == 0 {
		// A stream without images (KEYS_ONLY): read the item as it is now.
		out, err := l.s.clients[l.source].ddb.GetItem(ctx, &ddb.GetItemInput{TableName: &srcTable, Key: c.keys, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("read %s in %s: %w", srcTable, l.source, err)
		}
		if len(out.Item) == 0 {
			return nil // deleted since; the REMOVE record follows
		}
		c.image = out.Item
	}
	keyFP := keyFingerprint(c.keys)
	content := "REMOVE"
	if !c.remove {
		content = fingerprint(c.image)
	}
	if l.table.LakeObject != nil && !c.remove {
		if region, key, ok := l.table.LakeObject(c.image); ok {
			l.s.announceObject(region, key, c.created)
		}
	}
	if l.s.echo.consume(echoKey(l.source, l.table.Name, keyFP, content)) {
		for _, dst := range l.s.otherRegions(l.source) {
			l.s.metrics.records.WithLabelValues(l.table.Name, l.source, dst, OutcomeSkippedEcho).Inc()
		}
		return nil
	}
	if err := l.s.waitDue(ctx, c.created, received); err != nil {
		return err
	}
	for _, dst := range l.s.otherRegions(l.source) {
		outcome, err := l.applyTo(ctx, dst, c, keyFP, content)
		l.s.metrics.records.WithLabelValues(l.table.Name, l.source, dst, outcome).Inc()
		if err != nil {
			return err
		}
		if outcome == OutcomeApplied {
			l.s.applied(l.table.Name, l.source, dst, c.created)
		}
	}
	return nil
}

func (l *tableLink) applyTo(ctx context.Context, dst string, c change, keyFP, content string) (string, error) {
	table, ok := l.table.ByRegion[dst]
	if !ok {
		return OutcomeSkippedPresent, nil
	}
	client := l.s.clients[dst].ddb
	now := l.s.now
	switch {
	case c.remove:
		out, err := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: c.keys, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return OutcomeFailed, fmt.Errorf("read %s in %s: %w", table, dst, err)
		}
		if len(out.Item) == 0 {
			return OutcomeSkippedEqual, nil
		}
		l.s.echo.add(echoKey(dst, l.table.Name, keyFP, content), now())
		if _, err := client.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: &table, Key: c.keys}); err != nil {
			l.s.echo.consume(echoKey(dst, l.table.Name, keyFP, content))
			return OutcomeFailed, fmt.Errorf("delete from %s in %s: %w", table, dst, err)
		}
		return OutcomeApplied, nil

	case l.table.Kind == AppendOnly:
		// Never overwrite: a failed condition writes nothing and emits no
		// stream record, so an item that is already there ends the loop.
		names := map[string]string{}
		cond := ""
		i := 0
		for k := range c.keys {
			alias := fmt.Sprintf("#k%d", i)
			names[alias] = k
			if cond != "" {
				cond += " AND "
			}
			cond += "attribute_not_exists(" + alias + ")"
			i++
		}
		l.s.echo.add(echoKey(dst, l.table.Name, keyFP, content), now())
		_, err := client.PutItem(ctx, &ddb.PutItemInput{
			TableName: &table, Item: c.image,
			ConditionExpression: &cond, ExpressionAttributeNames: names,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			l.s.echo.consume(echoKey(dst, l.table.Name, keyFP, content))
			return OutcomeSkippedPresent, nil
		}
		if err != nil {
			l.s.echo.consume(echoKey(dst, l.table.Name, keyFP, content))
			return OutcomeFailed, fmt.Errorf("put into %s in %s: %w", table, dst, err)
		}
		return OutcomeApplied, nil

	default:
		out, err := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: c.keys, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return OutcomeFailed, fmt.Errorf("read %s in %s: %w", table, dst, err)
		}
		if len(out.Item) > 0 && fingerprint(out.Item) == content {
			return OutcomeSkippedEqual, nil
		}
		l.s.echo.add(echoKey(dst, l.table.Name, keyFP, content), now())
		if _, err := client.PutItem(ctx, &ddb.PutItemInput{TableName: &table, Item: c.image}); err != nil {
			l.s.echo.consume(echoKey(dst, l.table.Name, keyFP, content))
			return OutcomeFailed, fmt.Errorf("put into %s in %s: %w", table, dst, err)
		}
		return OutcomeApplied, nil
	}
}

// CompletedClaim is Table.LakeObject for the worker's idempotency table: a
// COMPLETED claim's result is the lake key its region wrote.
func CompletedClaim(item map[string]types.AttributeValue) (region, key string, ok bool) {
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	if str("status") != "COMPLETED" || str("region") == "" || str("result") == "" {
		return "", "", false
	}
	return str("region"), str("result"), true
}
