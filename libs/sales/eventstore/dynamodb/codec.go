package dynamodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
)

// Attribute names of an event item. The key is (sale_id, position).
const (
	AttrSaleID           = "sale_id"
	AttrPosition         = "position"
	AttrEventID          = "event_id"
	AttrEventType        = "event_type"
	AttrSchemaVersion    = "schema_version"
	AttrAggregateVersion = "aggregate_version"
	AttrOriginRegion     = "origin_region"
	AttrOccurredAt       = "occurred_at"
	AttrCorrelationID    = "correlation_id"
	AttrPrincipal        = "principal"
	AttrData             = "data"
	// AttrVoidID marks a void item (eventstore.Store.Void): it holds the id
	// of the abandoned write it fences; the item holds no event.
	AttrVoidID = "void_id"
)

// isVoid reports whether an item is a void.
func isVoid(item map[string]types.AttributeValue) bool { return item[AttrVoidID] != nil }

// IsVoidImage reports whether a stream image is a void: stream readers skip
// it (it is no event, and it has no origin region).
func IsVoidImage(image map[string]events.DynamoDBAttributeValue) bool {
	_, ok := image[AttrVoidID]
	return ok
}

// voidItem is the void fencing e's position.
func voidItem(e domain.Envelope) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrSaleID:     &types.AttributeValueMemberS{Value: e.SaleID.String()},
		AttrPosition:   &types.AttributeValueMemberS{Value: e.Position()},
		AttrVoidID:     &types.AttributeValueMemberS{Value: uuid.NewString()},
		AttrEventID:    &types.AttributeValueMemberS{Value: e.EventID.String()},
		AttrOccurredAt: &types.AttributeValueMemberS{Value: e.OccurredAt.UTC().Format(time.RFC3339Nano)},
	}
}

// maxDepth bounds nesting in decoded values: events are shallow, and a
// hostile or corrupt image must not recurse without limit.
const maxDepth = 32

// EncodeItem renders an envelope as a DynamoDB item. The payload is stored
// as a native map so the console, PartiQL and scans can read it.
func EncodeItem(e domain.Envelope) (map[string]types.AttributeValue, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventType, err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventType, err)
	}
	data, err := toAttributeValue(tree, 0)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventType, err)
	}
	item := map[string]types.AttributeValue{
		AttrSaleID:           &types.AttributeValueMemberS{Value: e.SaleID.String()},
		AttrPosition:         &types.AttributeValueMemberS{Value: e.Position()},
		AttrEventID:          &types.AttributeValueMemberS{Value: e.EventID.String()},
		AttrEventType:        &types.AttributeValueMemberS{Value: string(e.EventType)},
		AttrSchemaVersion:    &types.AttributeValueMemberN{Value: strconv.Itoa(e.SchemaVersion)},
		AttrAggregateVersion: &types.AttributeValueMemberN{Value: strconv.Itoa(e.AggregateVersion)},
		AttrOriginRegion:     &types.AttributeValueMemberS{Value: e.OriginRegion},
		AttrOccurredAt:       &types.AttributeValueMemberS{Value: e.OccurredAt.UTC().Format(time.RFC3339Nano)},
		AttrData:             data,
	}
	if e.CorrelationID != "" {
		item[AttrCorrelationID] = &types.AttributeValueMemberS{Value: e.CorrelationID}
	}
	if e.Principal != "" {
		item[AttrPrincipal] = &types.AttributeValueMemberS{Value: e.Principal}
	}
	return item, nil
}

// DecodeItem reads an event item (from GetItem, Query, Scan or a condition
// failure's ALL_OLD) back into an envelope, upcasting old schemas.
func DecodeItem(item map[string]types.AttributeValue) (domain.Envelope, error) {
	tree := make(map[string]any, len(item))
	for k, v := range item {
		x, err := fromAttributeValue(v, 0)
		if err != nil {
			return domain.Envelope{}, fmt.Errorf("%w: attribute %s: %v", domain.ErrMalformedEnvelope, k, err)
		}
		tree[k] = x
	}
	return decodeTree(tree)
}

// DecodeStreamImage reads a DynamoDB Streams image as delivered to Lambda
// (aws-lambda-go's events.DynamoDBAttributeValue) into an envelope. It is the
// only decoder of stream records: the Lambda and every local or replay
// reader of the stream go through it.
func DecodeStreamImage(image map[string]events.DynamoDBAttributeValue) (e domain.Envelope, err error) {
	// aws-lambda-go's accessors panic on a value whose content does not
	// match its type (the zero DynamoDBAttributeValue claims to be binary
	// and holds nothing). Such an image is malformed, not a crash.
	defer func() {
		if r := recover(); r != nil {
			var incompatible events.IncompatibleDynamoDBTypeError
			var assertion *runtime.TypeAssertionError
			if rerr, ok := r.(error); !ok || (!errors.As(rerr, &incompatible) && !errors.As(rerr, &assertion)) {
				panic(r)
			}
			e, err = domain.Envelope{}, fmt.Errorf("%w: invalid attribute value: %v", domain.ErrMalformedEnvelope, r)
		}
	}()
	tree := make(map[string]any, len(image))
	for k, v := range image {
		x, err := fromStreamValue(v, 0)
		if err != nil {
			return domain.Envelope{}, fmt.Errorf("%w: attribute %s: %v", domain.ErrMalformedEnvelope, k, err)
		}
		tree[k] = x
	}
	return decodeTree(tree)
}

// decodeTree maps the neutral form (map[string]any, []any, string,
// json.Number, bool, nil, []byte) of an item onto the envelope.
func decodeTree(m map[string]any) (domain.Envelope, error) {
	var raw domain.RawEnvelope
	var err error
	field := func(name string) string {
		s, _ := m[name].(string)
		return s
	}
	number := func(name string) int {
		if err != nil {
			return 0
		}
		n, ok := m[name].(json.Number)
		if !ok {
			err = fmt.Errorf("%w: %s must be a number", domain.ErrMalformedEnvelope, name)
			return 0
		}
		i, perr := strconv.Atoi(n.String())
		if perr != nil {
			err = fmt.Errorf("%w: %s %q is not an integer", domain.ErrMalformedEnvelope, name, n)
		}
		return i
	}
	ids := func(name string) uuid.UUID {
		if err != nil {
			return uuid.Nil
		}
		id, perr := uuid.Parse(field(name))
		if perr != nil {
			err = fmt.Errorf("%w: %s: %v", domain.ErrMalformedEnvelope, name, perr)
		}
		return id
	}
	raw.EventID = ids(AttrEventID)
	raw.SaleID = ids(AttrSaleID)
	raw.EventType = domain.EventType(field(AttrEventType))
	raw.SchemaVersion = number(AttrSchemaVersion)
	raw.AggregateVersion = number(AttrAggregateVersion)
	raw.OriginRegion = field(AttrOriginRegion)
	raw.CorrelationID = field(AttrCorrelationID)
	raw.Principal = field(AttrPrincipal)
	if err != nil {
		return domain.Envelope{}, err
	}
	if raw.OccurredAt, err = time.Parse(time.RFC3339Nano, field(AttrOccurredAt)); err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: occurred_at: %v", domain.ErrMalformedEnvelope, err)
	}
	if _, ok := m[AttrData].(map[string]any); !ok {
		return domain.Envelope{}, fmt.Errorf("%w: data must be a map", domain.ErrMalformedEnvelope)
	}
	if raw.Data, err = json.Marshal(m[AttrData]); err != nil {
		return domain.Envelope{}, fmt.Errorf("%w: data: %v", domain.ErrMalformedEnvelope, err)
	}
	e, err := raw.Decode(nil)
	if err != nil {
		return domain.Envelope{}, err
	}
	if pos, ok := m[AttrPosition].(string); ok && pos != e.Position() {
		return domain.Envelope{}, fmt.Errorf("%w: position %q does not match version %d and region %s", domain.ErrMalformedEnvelope, pos, e.AggregateVersion, e.OriginRegion)
	}
	return e, nil
}

var errTooDeep = errors.New("value nested too deeply")

func toAttributeValue(v any, depth int) (types.AttributeValue, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case json.Number:
		return &types.AttributeValueMemberN{Value: x.String()}, nil
	case []any:
		l := make([]types.AttributeValue, len(x))
		for i, e := range x {
			av, err := toAttributeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case map[string]any:
		m := make(map[string]types.AttributeValue, len(x))
		for k, e := range x {
			av, err := toAttributeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("cannot store %T", v)
}

func fromAttributeValue(v types.AttributeValue, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberBOOL:
		return x.Value, nil
	case *types.AttributeValueMemberS:
		return x.Value, nil
	case *types.AttributeValueMemberN:
		return number(x.Value)
	case *types.AttributeValueMemberB:
		return x.Value, nil
	case *types.AttributeValueMemberSS:
		return stringsToAny(x.Value), nil
	case *types.AttributeValueMemberNS:
		return numbersToAny(x.Value)
	case *types.AttributeValueMemberBS:
		return bytesToAny(x.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for i, e := range x.Value {
			a, err := fromAttributeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = a
		}
		return l, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(x.Value))
		for k, e := range x.Value {
			a, err := fromAttributeValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = a
		}
		return m, nil
	}
	return nil, fmt.Errorf("unsupported attribute value %T", v)
}

func fromStreamValue(v events.DynamoDBAttributeValue, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch v.DataType() {
	case events.DataTypeNull:
		return nil, nil
	case events.DataTypeBoolean:
		return v.Boolean(), nil
	case events.DataTypeString:
		return v.String(), nil
	case events.DataTypeNumber:
		return number(v.Number())
	case events.DataTypeBinary:
		return v.Binary(), nil
	case events.DataTypeStringSet:
		return stringsToAny(v.StringSet()), nil
	case events.DataTypeNumberSet:
		return numbersToAny(v.NumberSet())
	case events.DataTypeBinarySet:
		return bytesToAny(v.BinarySet()), nil
	case events.DataTypeList:
		l := make([]any, len(v.List()))
		for i, e := range v.List() {
			a, err := fromStreamValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = a
		}
		return l, nil
	case events.DataTypeMap:
		m := make(map[string]any, len(v.Map()))
		for k, e := range v.Map() {
			a, err := fromStreamValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = a
		}
		return m, nil
	}
	return nil, fmt.Errorf("unsupported stream attribute type %d", v.DataType())
}

// number checks a DynamoDB number literal; DynamoDB sends numbers as text.
func number(s string) (json.Number, error) {
	if !json.Valid([]byte(s)) || len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return "", fmt.Errorf("invalid number %q", s)
	}
	return json.Number(s), nil
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func numbersToAny(ns []string) ([]any, error) {
	out := make([]any, len(ns))
	for i, s := range ns {
		n, err := number(s)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func bytesToAny(bs [][]byte) []any {
	out := make([]any, len(bs))
	for i, b := range bs {
		out[i] = b
	}
	return out
}
