package streams

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// FakeStream is an in-memory DynamoDB Streams API with what the emulator
// lacks: several shards with parents, closing shards, expiring iterators,
// trimming, paginated DescribeStream and injected failures. Tests of the
// reader use it; the emulator covers the real wire.
type FakeStream struct {
	ARN string
	// IteratorTTL is an iterator's life (default 15 min, as on AWS).
	IteratorTTL time.Duration
	// PageSize bounds shards per DescribeStream page (default 100).
	PageSize int
	// FailGetRecords, when set, is asked before each GetRecords call
	// (numbered from 0); a non-nil error is returned instead of records.
	FailGetRecords func(call int) error
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu        sync.Mutex
	shards    []*fakeShard
	byID      map[string]*fakeShard
	seq       int64
	iterators map[string]fakeIterator
	nextIter  int
	calls     map[string]int
}

type fakeShard struct {
	id, parent string
	records    []types.Record
	trimmed    int // records before this index are gone
	closed     bool
}

type fakeIterator struct {
	shard  *fakeShard
	pos    int
	issued time.Time
}

var _ API = (*FakeStream)(nil)

func (f *FakeStream) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *FakeStream) init() {
	if f.byID == nil {
		f.byID = map[string]*fakeShard{}
		f.iterators = map[string]fakeIterator{}
		f.calls = map[string]int{}
	}
}

// AddShard adds an open shard whose parent is parent ("" for none).
func (f *FakeStream) AddShard(id, parent string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	s := &fakeShard{id: id, parent: parent}
	f.shards = append(f.shards, s)
	f.byID[id] = s
}

// CloseShard closes a shard: readers reach its end and stop.
func (f *FakeStream) CloseShard(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[id].closed = true
}

// Trim drops a shard's first n records, as the 24 h retention does.
func (f *FakeStream) Trim(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[id].trimmed = n
}

// Put appends a record to a shard, numbering it, and returns its sequence
// number. A record without a creation time gets the clock's.
func (f *FakeStream) Put(shardID string, r types.Record) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byID[shardID]
	if s.closed {
		panic("fake stream: put into closed shard " + shardID)
	}
	f.seq++
	seq := fmt.Sprintf("%021d", 1000+f.seq)
	if r.Dynamodb == nil {
		r.Dynamodb = &types.StreamRecord{}
	}
	d := *r.Dynamodb
	d.SequenceNumber = aws.String(seq)
	if d.ApproximateCreationDateTime == nil {
		d.ApproximateCreationDateTime = aws.Time(f.now())
	}
	r.Dynamodb = &d
	s.records = append(s.records, r)
	return seq
}

// Calls is how often each operation was called.
func (f *FakeStream) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// DescribeStream implements API.
func (f *FakeStream) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.calls["DescribeStream"]++
	if aws.ToString(in.StreamArn) != f.ARN {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no stream " + aws.ToString(in.StreamArn))}
	}
	page := f.PageSize
	if page <= 0 {
		page = 100
	}
	start := 0
	if in.ExclusiveStartShardId != nil {
		for i, s := range f.shards {
			if s.id == *in.ExclusiveStartShardId {
				start = i + 1
			}
		}
	}
	desc := &types.StreamDescription{StreamArn: in.StreamArn, StreamStatus: types.StreamStatusEnabled}
	end := min(start+page, len(f.shards))
	for _, s := range f.shards[start:end] {
		sh := types.Shard{ShardId: aws.String(s.id), SequenceNumberRange: &types.SequenceNumberRange{}}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		desc.Shards = append(desc.Shards, sh)
	}
	if end < len(f.shards) {
		desc.LastEvaluatedShardId = aws.String(f.shards[end-1].id)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: desc}, nil
}

// GetShardIterator implements API.
func (f *FakeStream) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.init()
	f.calls["GetShardIterator"]++
	s, ok := f.byID[aws.ToString(in.ShardId)]
	if !ok || aws.ToString(in.StreamArn) != f.ARN {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + aws.ToString(in.ShardId))}
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
		pos = s.trimmed
	case types.ShardIteratorTypeLatest:
		pos = len(s.records)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		want, ok := new(big.Int).SetString(aws.ToString(in.SequenceNumber), 10)
		if !ok {
			return nil, fmt.Errorf("fake stream: bad sequence number %q", aws.ToString(in.SequenceNumber))
		}
		pos = len(s.records)
		for i, r := range s.records {
			have, _ := new(big.Int).SetString(aws.ToString(r.Dynamodb.SequenceNumber), 10)
			if c := have.Cmp(want); c > 0 || (c == 0 && in.ShardIteratorType == types.ShardIteratorTypeAtSequenceNumber) {
				pos = i
				break
			}
		}
		if pos < s.trimmed {
			return nil, &types.TrimmedDataAccessException{Message: aws.String("sequence number is beyond the trim horizon")}
		}
	default:
		return nil, fmt.Errorf("fake stream: iterator type %q", in.ShardIteratorType)
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(f.newIterator(s, pos))}, nil
}

func (f *FakeStream) newIterator(s *fakeShard, pos int) string {
	f.nextIter++
	id := fmt.Sprintf("iterator-%d", f.nextIter)
	f.iterators[id] = fakeIterator{shard: s, pos: pos, issued: f.now()}
	return id
}

// GetRecords implements API.
func (f *FakeStream) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	call := f.calls["GetRecords"]
	f.calls["GetRecords"]++
	fail := f.FailGetRecords
	f.mu.Unlock()
	if fail != nil {
		if err := fail(call); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.iterators[aws.ToString(in.ShardIterator)]
	if !ok {
		return nil, fmt.Errorf("fake stream: unknown iterator %q", aws.ToString(in.ShardIterator))
	}
	ttl := f.IteratorTTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	if f.now().Sub(it.issued) >= ttl {
		return nil, &types.ExpiredIteratorException{Message: aws.String("iterator expired")}
	}
	if it.pos < it.shard.trimmed {
		return nil, &types.TrimmedDataAccessException{Message: aws.String("records trimmed")}
	}
	limit := 1000
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	end := min(it.pos+limit, len(it.shard.records))
	out := &dynamodbstreams.GetRecordsOutput{Records: append([]types.Record(nil), it.shard.records[it.pos:end]...)}
	if !(it.shard.closed && end == len(it.shard.records)) {
		out.NextShardIterator = aws.String(f.newIterator(it.shard, end))
	}
	return out, nil
}
