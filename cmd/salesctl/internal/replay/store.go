package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// Filter selects the events a run publishes. The zero value selects all.
type Filter struct {
	// Since and Until bound occurred_at: Since <= t < Until (zero: open).
	Since, Until time.Time
	// EventTypes, when not empty, are the only types published.
	EventTypes []domain.EventType
	// Origin, when set, is the only origin_region published.
	Origin string
	// SinceLabel and UntilLabel, when set, stand for the bounds in the
	// canonical form: bounds computed from "now" (an age such as 6h, a
	// defaulted end) are named as the operator gave them, and their values
	// pinned in the checkpoint, so a resume matches its selection.
	SinceLabel, UntilLabel string
}

// Decide returns why e is not selected, or "".
func (f Filter) Decide(e domain.Envelope) string {
	if (!f.Since.IsZero() && e.OccurredAt.Before(f.Since)) || (!f.Until.IsZero() && !e.OccurredAt.Before(f.Until)) {
		return SkipOutOfRange
	}
	if len(f.EventTypes) > 0 {
		ok := false
		for _, t := range f.EventTypes {
			ok = ok || t == e.EventType
		}
		if !ok {
			return SkipEventType
		}
	}
	if f.Origin != "" && e.OriginRegion != f.Origin {
		return SkipOtherOrigin
	}
	return ""
}

// String is the filter's canonical form (checkpoint selection, summary).
func (f Filter) String() string {
	var parts []string
	switch {
	case f.SinceLabel != "":
		parts = append(parts, "since="+f.SinceLabel)
	case !f.Since.IsZero():
		parts = append(parts, "since="+f.Since.UTC().Format(time.RFC3339Nano))
	}
	switch {
	case f.UntilLabel != "":
		parts = append(parts, "until="+f.UntilLabel)
	case !f.Until.IsZero():
		parts = append(parts, "until="+f.Until.UTC().Format(time.RFC3339Nano))
	}
	if len(f.EventTypes) > 0 {
		ts := make([]string, len(f.EventTypes))
		for i, t := range f.EventTypes {
			ts[i] = string(t)
		}
		sort.Strings(ts)
		parts = append(parts, "event_types="+strings.Join(ts, ","))
	}
	if f.Origin != "" {
		parts = append(parts, "origin="+f.Origin)
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// StoreAPI is the part of the DynamoDB client the store sources use.
type StoreAPI interface {
	Scan(ctx context.Context, in *ddb.ScanInput, opts ...func(*ddb.Options)) (*ddb.ScanOutput, error)
	Query(ctx context.Context, in *ddb.QueryInput, opts ...func(*ddb.Options)) (*ddb.QueryOutput, error)
	DescribeTable(ctx context.Context, in *ddb.DescribeTableInput, opts ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error)
}

// StoreScan reads the event table with a parallel segmented Scan, the
// time window applied by DynamoDB as a filter (see docs/adr/0050). Each
// segment is a lane whose cursor is the Scan's LastEvaluatedKey.
type StoreScan struct {
	API    StoreAPI
	Table  string
	Filter Filter
	// Segments is the number of parallel Scan segments (default 4).
	Segments int
	// PageSize is the Scan's Limit: items evaluated per call (default 500).
	PageSize int32
}

func (s *StoreScan) defaults() {
	if s.Segments <= 0 {
		s.Segments = 4
	}
	if s.PageSize <= 0 {
		s.PageSize = 500
	}
}

// Selection is the scan's canonical description.
func (s *StoreScan) Selection() string {
	s.defaults()
	return fmt.Sprintf("table=%s segments=%d %s", s.Table, s.Segments, s.Filter)
}

// Run scans every segment not finished yet and hands each page to r. It
// reports whether every segment was read to its end.
func (s *StoreScan) Run(ctx context.Context, r *Runner) (bool, error) {
	s.defaults()
	if out, err := s.API.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: &s.Table}); err != nil {
		return false, fmt.Errorf("describe table %s: %w", s.Table, err)
	} else if out.Table != nil && out.Table.ItemCount != nil {
		// DynamoDB refreshes ItemCount about every six hours: an estimate.
		r.SetTotal(*out.Table.ItemCount)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, s.Segments)
	for seg := range s.Segments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.segment(ctx, r, seg); err != nil {
				errs[seg] = err
				cancel() // one failing segment stops the run; the others keep their place
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return false, err
		}
	}
	return ctx.Err() == nil, nil
}

// keyCursor is a LastEvaluatedKey of the event table (two string keys).
type keyCursor map[string]string

func (s *StoreScan) segment(ctx context.Context, r *Runner, seg int) error {
	lane := fmt.Sprintf("segment-%d-of-%d", seg, s.Segments)
	st := r.Lane(lane)
	if st.Finished {
		return nil
	}
	in := &ddb.ScanInput{
		TableName:     &s.Table,
		Segment:       aws.Int32(int32(seg)),        //nolint:gosec // G115: below Segments
		TotalSegments: aws.Int32(int32(s.Segments)), //nolint:gosec // G115: the CLI bounds it to 1..64
		Limit:         aws.Int32(s.PageSize),
	}
	s.timeFilter(in)
	if len(st.Cursor) > 0 {
		var c keyCursor
		if err := json.Unmarshal(st.Cursor, &c); err != nil {
			return fmt.Errorf("checkpoint cursor of %s: %w", lane, err)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{}
		for k, v := range c {
			in.ExclusiveStartKey[k] = &types.AttributeValueMemberS{Value: v}
		}
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		page, err := s.API.Scan(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("scan %s segment %d: %w", s.Table, seg, err)
		}
		r.Progressed(int64(page.ScannedCount))
		items := make([]Item, 0, len(page.Items))
		for _, raw := range page.Items {
			items = append(items, s.item(raw))
		}
		if err := r.Handle(ctx, lane, items); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var cursor json.RawMessage
		if len(page.LastEvaluatedKey) > 0 {
			c := keyCursor{}
			for k, v := range page.LastEvaluatedKey {
				sv, ok := v.(*types.AttributeValueMemberS)
				if !ok {
					return fmt.Errorf("scan %s: key attribute %s is not a string", s.Table, k)
				}
				c[k] = sv.Value
			}
			cursor, _ = json.Marshal(c)
		}
		if err := r.Advance(lane, cursor, len(page.LastEvaluatedKey) == 0); err != nil {
			return err
		}
		if len(page.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// timeFilter lets DynamoDB drop items outside the window. occurred_at is
// stored as RFC 3339 in UTC with trimmed fractions, which does not sort as
// a string at the fraction ("...:00Z" sorts after "...:00.5Z"); so the
// filter compares whole-second prefixes, one second wide on each side,
// and Filter.Decide applies the exact bounds.
func (s *StoreScan) timeFilter(in *ddb.ScanInput) {
	var conds []string
	values := map[string]types.AttributeValue{}
	if !s.Filter.Since.IsZero() {
		conds = append(conds, "#t >= :lo")
		values[":lo"] = &types.AttributeValueMemberS{Value: s.Filter.Since.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05")}
	}
	if !s.Filter.Until.IsZero() {
		conds = append(conds, "#t < :hi")
		values[":hi"] = &types.AttributeValueMemberS{Value: s.Filter.Until.UTC().Truncate(time.Second).Add(time.Second).Format("2006-01-02T15:04:05")}
	}
	if len(conds) == 0 {
		return
	}
	in.FilterExpression = aws.String(strings.Join(conds, " AND "))
	in.ExpressionAttributeNames = map[string]string{"#t": store.AttrOccurredAt}
	in.ExpressionAttributeValues = values
}

func (s *StoreScan) item(raw map[string]types.AttributeValue) Item {
	e, err := store.DecodeItem(raw)
	if err != nil {
		return Item{ID: itemKey(raw), Err: fmt.Errorf("undecodable item %s: %w", itemKey(raw), err)}
	}
	return Item{ID: e.EventID.String(), Env: e, Skip: s.Filter.Decide(e)}
}

// itemKey names an item by its table key, for items without a usable
// event id.
func itemKey(raw map[string]types.AttributeValue) string {
	var id, pos string
	if v, ok := raw[store.AttrSaleID].(*types.AttributeValueMemberS); ok {
		id = v.Value
	}
	if v, ok := raw[store.AttrPosition].(*types.AttributeValueMemberS); ok {
		pos = v.Value
	}
	return "item:" + id + "/" + pos
}

// StoreSales reads the events of the given sales, one strongly consistent
// Query per sale, in the order given. Its one lane's cursor is the index
// of the next sale.
type StoreSales struct {
	API     StoreAPI
	Table   string
	SaleIDs []uuid.UUID
	Filter  Filter
}

// Selection is the canonical description.
func (s *StoreSales) Selection() string {
	ids := make([]string, len(s.SaleIDs))
	for i, id := range s.SaleIDs {
		ids[i] = id.String()
	}
	return fmt.Sprintf("table=%s sale_ids=%s %s", s.Table, strings.Join(ids, ","), s.Filter)
}

// Run reads the sales from the cursor on.
func (s *StoreSales) Run(ctx context.Context, r *Runner) (bool, error) {
	const lane = "sales"
	st := r.Lane(lane)
	if st.Finished {
		return true, nil
	}
	next := 0
	if len(st.Cursor) > 0 {
		if err := json.Unmarshal(st.Cursor, &next); err != nil {
			return false, fmt.Errorf("checkpoint cursor of %s: %w", lane, err)
		}
	}
	r.SetTotal(int64(len(s.SaleIDs) - next))
	ev := store.New(readOnly{s.API}, s.Table)
	for i := next; i < len(s.SaleIDs); i++ {
		if ctx.Err() != nil {
			return false, nil
		}
		events, err := ev.Load(ctx, s.SaleIDs[i])
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		if len(events) == 0 {
			if err := r.Skip("sale-not-found", 1); err != nil {
				return false, err
			}
		}
		items := make([]Item, len(events))
		for j, e := range events {
			items[j] = Item{ID: e.EventID.String(), Env: e, Skip: s.Filter.Decide(e)}
		}
		if err := r.Handle(ctx, lane, items); err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		r.Progressed(1)
		cursor, _ := json.Marshal(i + 1)
		if err := r.Advance(lane, cursor, i+1 == len(s.SaleIDs)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// readOnly lets the event store's Load (one Query, upcasting, ordering)
// run on a client that replay never writes with.
type readOnly struct{ StoreAPI }

func (readOnly) PutItem(context.Context, *ddb.PutItemInput, ...func(*ddb.Options)) (*ddb.PutItemOutput, error) {
	return nil, errReadOnly
}

func (readOnly) DeleteItem(context.Context, *ddb.DeleteItemInput, ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error) {
	return nil, errReadOnly
}

func (readOnly) TransactWriteItems(context.Context, *ddb.TransactWriteItemsInput, ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error) {
	return nil, errReadOnly
}

var errReadOnly = errors.New("replay never writes to the event store")
