package replication

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/libs/sales/streams"
)

// Table is one replicated table: the same logical table in every region.
// Every change is replicated as a global table replicates it: an item
// written in two regions ends, everywhere, as the write with the later
// time (ties: the greater region name), last-writer-wins per item.
type Table struct {
	// Name labels the table in metrics and status ("events").
	Name string
	// ByRegion maps a region to the table's name there.
	ByRegion map[string]string
}

// ItemAPI is the part of the DynamoDB client used to apply changes.
type ItemAPI interface {
	GetItem(ctx context.Context, in *ddb.GetItemInput, opts ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	PutItem(ctx context.Context, in *ddb.PutItemInput, opts ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, opts ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
}

// Outcomes of one change at one destination (metric label values).
const (
	OutcomeApplied      = "applied"
	OutcomeSkippedEcho  = "skipped_echo"
	OutcomeSkippedEqual = "skipped_equal"
	// OutcomeSkippedNewer: the destination holds a later write of the
	// item, which wins (and travels the other way).
	OutcomeSkippedNewer = "skipped_newer"
	OutcomeFailed       = "failed"
)

// stamp orders the writes of one item as a global table does: the later
// write wins, the greater region name breaks a tie.
type stamp struct {
	at     time.Time
	region string
}

func (a stamp) after(b stamp) bool {
	if !a.at.Equal(b.at) {
		return a.at.After(b.at)
	}
	return a.region > b.region
}

// version is what the stand-in knows of an item in one region's table: the
// stamp of the write that put its current content there.
type version struct {
	stamp
	content string // fingerprint, or "REMOVE"
}

// versions remembers, per region, table and item key, the version each
// region holds, learned from the regions' streams (their own writes) and
// from the stand-in's writes (copies, which keep their source's stamp).
type versions struct {
	mu sync.Mutex
	m  map[string]version
}

func versionKey(region, table, keyFP string) string { return region + "|" + table + "|" + keyFP }

func (v *versions) get(k string) (version, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	x, ok := v.m[k]
	return x, ok
}

// set records x unless a later version is already known.
func (v *versions) set(k string, x version) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]version{}
	}
	if old, ok := v.m[k]; ok && old.after(x.stamp) {
		return
	}
	v.m[k] = x
}

// echoes remembers the writes the stand-in made, so that when they come
// back on the destination's stream they are not replicated again. Each
// write is expected back exactly once; entries that never come back are
// dropped after an hour.
type echoes struct {
	mu sync.Mutex
	m  map[string][]echo
}

type echo struct {
	added time.Time
	stamp stamp
}

func echoKey(region, table, key, content string) string {
	return region + "|" + table + "|" + key + "|" + content
}

func (e *echoes) add(k string, now time.Time, st stamp) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string][]echo{}
	}
	e.m[k] = append(e.m[k], echo{added: now, stamp: st})
	if len(e.m) > 100_000 {
		for key, es := range e.m {
			if now.Sub(es[len(es)-1].added) > time.Hour {
				delete(e.m, key)
			}
		}
	}
}

// consume reports whether k was written by the stand-in, with the stamp
// of that write, and forgets one such write.
func (e *echoes) consume(k string) (stamp, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	es, ok := e.m[k]
	if !ok {
		return stamp{}, false
	}
	if len(es) == 1 {
		delete(e.m, k)
	} else {
		e.m[k] = es[1:]
	}
	return es[0].stamp, true
}

// peek reports whether k is a pending echo, without consuming it.
func (e *echoes) peek(k string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m[k]) > 0
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

// handle is a Lambda-style stream handler: it first learns the versions
// the batch's own writes put in the source region (so that a link
// replicating the other way can compare against them), then applies the
// batch in order and, at the first change it cannot apply, reports that
// record as the batch's first failure so the reader rewinds to it.
func (l *tableLink) handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	received := l.s.now()
	for _, rec := range ev.Records {
		c, err := decodeRecord(rec)
		if err != nil || (!c.remove && len(c.image) == 0) {
			continue
		}
		keyFP, content := keyFingerprint(c.keys), contentOf(c)
		if l.s.echo.peek(echoKey(l.source, l.table.Name, keyFP, content)) {
			continue
		}
		l.s.versions.set(versionKey(l.source, l.table.Name, keyFP), version{stamp: stamp{at: c.created, region: l.source}, content: content})
	}
	for _, rec := range ev.Records {
		if err := l.apply(ctx, rec, received); err != nil {
			l.s.log.Warn("replication: change not applied; will retry", "table", l.table.Name, "from", l.source, "sequence", rec.Change.SequenceNumber, "error", err)
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}, nil
		}
	}
	return events.DynamoDBEventResponse{}, nil
}

func contentOf(c change) string {
	if c.remove {
		return "REMOVE"
	}
	return fingerprint(c.image)
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
	keyFP, content := keyFingerprint(c.keys), contentOf(c)
	if st, ok := l.s.echo.consume(echoKey(l.source, l.table.Name, keyFP, content)); ok {
		l.s.versions.set(versionKey(l.source, l.table.Name, keyFP), version{stamp: st, content: content})
		for _, dst := range l.s.otherRegions(l.source) {
			l.s.metrics.records.WithLabelValues(l.table.Name, l.source, dst, OutcomeSkippedEcho).Inc()
		}
		return nil
	}
	st := stamp{at: c.created, region: l.source}
	if err := l.s.waitDue(ctx, c.created, received); err != nil {
		return err
	}
	for _, dst := range l.s.otherRegions(l.source) {
		outcome, err := l.applyTo(ctx, dst, c, st, keyFP, content)
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

// applyTo applies one change at dst, last writer wins: dst's item is
// replaced (or deleted) only when it is absent or holds an older write,
// and the replacement is conditioned on dst's item not having changed.
func (l *tableLink) applyTo(ctx context.Context, dst string, c change, st stamp, keyFP, content string) (string, error) {
	table, ok := l.table.ByRegion[dst]
	if !ok {
		return OutcomeSkippedEqual, nil
	}
	client := l.s.clients[dst].ddb
	out, err := client.GetItem(ctx, &ddb.GetItemInput{TableName: &table, Key: c.keys, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return OutcomeFailed, fmt.Errorf("read %s in %s: %w", table, dst, err)
	}
	vk := versionKey(dst, l.table.Name, keyFP)
	current := "REMOVE"
	if len(out.Item) > 0 {
		current = fingerprint(out.Item)
	}
	if current == content {
		l.s.versions.set(vk, version{stamp: st, content: content})
		return OutcomeSkippedEqual, nil
	}
	if len(out.Item) > 0 {
		known, ok := l.s.versions.get(vk)
		if !ok || known.content != current {
			// A write made in dst that dst's own link has not read yet
			// (copies are recorded when made): look it up in dst's stream.
			if known, ok, err = l.s.learn(ctx, dst, l.table, c.keys, current); err != nil {
				return OutcomeFailed, err
			}
		}
		if ok && known.after(st) {
			return OutcomeSkippedNewer, nil
		}
	}
	cond, names, values := unchanged(out.Item, c.keys)
	l.s.echo.add(echoKey(dst, l.table.Name, keyFP, content), l.s.now(), st)
	if c.remove {
		_, err = client.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: &table, Key: c.keys,
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	} else {
		_, err = client.PutItem(ctx, &ddb.PutItemInput{TableName: &table, Item: c.image,
			ConditionExpression: &cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values})
	}
	if err != nil {
		l.s.echo.consume(echoKey(dst, l.table.Name, keyFP, content))
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return OutcomeFailed, fmt.Errorf("%s in %s changed while replicating; retrying", table, dst)
		}
		return OutcomeFailed, fmt.Errorf("write %s in %s: %w", table, dst, err)
	}
	l.s.versions.set(vk, version{stamp: st, content: content})
	return OutcomeApplied, nil
}

// learn finds the version of the item with keys in dst whose content is
// content: a write made in dst that dst's own link has not read yet (the
// stand-in records its copies when it makes them). It catches up with
// dst's stream, from where the last catch-up stopped, recording every
// write made there, as a global table knows every item's last write. ok is
// false when the stream no longer has it (trimmed): the destination's
// version then counts as older.
func (s *StandIn) learn(ctx context.Context, dst string, t Table, keys map[string]types.AttributeValue, content string) (version, bool, error) {
	if err := s.catchUp(ctx, dst, t); err != nil {
		return version{}, false, err
	}
	v, ok := s.versions.get(versionKey(dst, t.Name, keyFingerprint(keys)))
	return v, ok && v.content == content, nil
}

// scanned is how far catchUp has read each shard of a table's stream.
type scanned struct {
	mu   sync.Mutex
	last map[string]string // shard → sequence number
}

// catchUp reads dst's stream of t from where it stopped last time.
func (s *StandIn) catchUp(ctx context.Context, dst string, t Table) error {
	s.mu.Lock()
	sc := s.scans[dst+"|"+t.Name]
	if sc == nil {
		sc = &scanned{last: map[string]string{}}
		s.scans[dst+"|"+t.Name] = sc
	}
	s.mu.Unlock()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	c := s.clients[dst]
	arn, err := streams.StreamARN(ctx, c.tables, t.ByRegion[dst])
	if err != nil {
		return fmt.Errorf("read the stream of %s in %s: %w", t.Name, dst, err)
	}
	desc, err := c.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if err != nil {
		return fmt.Errorf("read the stream of %s in %s: %w", t.Name, dst, err)
	}
	for _, sh := range desc.StreamDescription.Shards {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon}
		if seq := sc.last[aws.ToString(sh.ShardId)]; seq != "" {
			in.ShardIteratorType, in.SequenceNumber = streamtypes.ShardIteratorTypeAfterSequenceNumber, &seq
		}
		it, err := c.streams.GetShardIterator(ctx, in)
		if err != nil {
			return fmt.Errorf("read the stream of %s in %s: %w", t.Name, dst, err)
		}
		for iter := it.ShardIterator; iter != nil; {
			page, err := c.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				return fmt.Errorf("read the stream of %s in %s: %w", t.Name, dst, err)
			}
			for _, r := range page.Records {
				sc.last[aws.ToString(sh.ShardId)] = aws.ToString(r.Dynamodb.SequenceNumber)
				rec, err := streams.ToEventRecord(arn, r)
				if err != nil {
					continue
				}
				ch, err := decodeRecord(rec)
				if err != nil {
					continue
				}
				vk, content := versionKey(dst, t.Name, keyFingerprint(ch.keys)), contentOf(ch)
				if known, ok := s.versions.get(vk); ok && known.content == content {
					continue // a copy the stand-in made (recorded then), or seen
				}
				s.versions.set(vk, version{stamp: stamp{at: ch.created, region: dst}, content: content})
			}
			if len(page.Records) == 0 {
				break
			}
			iter = page.NextShardIterator
		}
	}
	return nil
}

// unchanged is a condition that holds while the item is exactly item (or
// absent, for an absent item): every attribute equal.
func unchanged(item, keys map[string]types.AttributeValue) (string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	if len(item) == 0 {
		for k := range keys {
			return "attribute_not_exists(#k)", map[string]string{"#k": k}, nil
		}
	}
	attrs := make([]string, 0, len(item))
	for a := range item {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	cond := ""
	for i, a := range attrs {
		n, v := fmt.Sprintf("#a%d", i), fmt.Sprintf(":a%d", i)
		names[n], values[v] = a, item[a]
		if cond != "" {
			cond += " AND "
		}
		cond += n + " = " + v
	}
	return cond, names, values
}
