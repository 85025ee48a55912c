package dynamodb_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// toStreamImage renders a stored item the way a stream record carries it
// to Lambda, going through Lambda's own JSON form as the runtime does.
func toStreamImage(t testing.TB, item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	img := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		img[k] = toStreamValue(t, v)
	}
	b, err := json.Marshal(img)
	if err != nil {
		t.Fatalf("marshal image: %v", err)
	}
	var back map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal image: %v\n%s", err, b)
	}
	return back
}

func toStreamValue(t testing.TB, v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = toStreamValue(t, e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		m := make(map[string]events.DynamoDBAttributeValue, len(x.Value))
		for k, e := range x.Value {
			m[k] = toStreamValue(t, e)
		}
		return events.NewMapAttribute(m)
	}
	t.Fatalf("unexpected attribute value %T", v)
	return events.DynamoDBAttributeValue{}
}

func sampleEnvelopes(t testing.TB) []domain.Envelope {
	t.Helper()
	at := time.Date(2026, 11, 27, 10, 11, 12, 123456789, time.UTC)
	saleID := uuid.Must(uuid.NewV7())
	mk := func(version int, region string, ev domain.Event) domain.Envelope {
		e, err := domain.NewEnvelope(saleID, version, region, "corr", at, ev)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	created, err := domain.NewSaleCreated("O Pequeno Principe", 1400)
	if err != nil {
		t.Fatal(err)
	}
	cents, err := domain.NewSaleCreated("Ação — 日本語 \"quoted\"", 1)
	if err != nil {
		t.Fatal(err)
	}
	noCorrelation := mk(1, "sa-east-1", cents)
	noCorrelation.CorrelationID = ""
	return []domain.Envelope{
		mk(1, "us-east-1", created),
		noCorrelation,
		mk(2, "sa-east-1", domain.SaleCancelled{Reason: "customer asked"}),
		mk(3, "us-east-1", domain.SaleCancelled{}),
		mk(4, "us-east-1", domain.SaleProcessed{LakeKey: "sales/dt=2026-11-27/region=us-east-1/x.json", ProcessedRegion: "sa-east-1", SourceEventID: uuid.New(), SourceEventType: domain.EventSaleCreated}),
	}
}

func TestStreamImageRoundTripsEncodeItem(t *testing.T) {
	for _, want := range sampleEnvelopes(t) {
		t.Run(fmt.Sprintf("%s_v%d", want.EventType, want.AggregateVersion), func(t *testing.T) {
			item, err := store.EncodeItem(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := store.DecodeStreamImage(toStreamImage(t, item))
			if err != nil {
				t.Fatalf("decode stream image: %v", err)
			}
			assertSameEnvelope(t, got, want)
			fromItem, err := store.DecodeItem(item)
			if err != nil {
				t.Fatalf("decode item: %v", err)
			}
			assertSameEnvelope(t, fromItem, want)
		})
	}
}

func assertSameEnvelope(t testing.TB, got, want domain.Envelope) {
	t.Helper()
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) || !got.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("round trip changed the envelope:\n got %s\nwant %s", gb, wb)
	}
}

func TestDecodeStreamImageEdgeCases(t *testing.T) {
	base := sampleEnvelopes(t)[0]
	item, err := store.EncodeItem(base)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(m map[string]events.DynamoDBAttributeValue)) map[string]events.DynamoDBAttributeValue {
		img := toStreamImage(t, item)
		change(img)
		return img
	}
	data := func(m map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
		return m[store.AttrData].Map()
	}
	cases := []struct {
		name    string
		image   map[string]events.DynamoDBAttributeValue
		wantErr bool
		check   func(t *testing.T, e domain.Envelope)
	}{
		{name: "amount with trailing zeros", image: with(func(m map[string]events.DynamoDBAttributeValue) {
			data(m)["amount"] = events.NewNumberAttribute("14.00")
		}), check: func(t *testing.T, e domain.Envelope) {
			if e.Data.(domain.SaleCreated).Amount != 1400 {
				t.Fatalf("amount %v", e.Data)
			}
		}},
		{name: "amount in exponent form", image: with(func(m map[string]events.DynamoDBAttributeValue) {
			data(m)["amount"] = events.NewNumberAttribute("1.4E1")
		}), check: func(t *testing.T, e domain.Envelope) {
			if e.Data.(domain.SaleCreated).Amount != 1400 {
				t.Fatalf("amount %v", e.Data)
			}
		}},
		{name: "unknown payload fields of every type are tolerated", image: with(func(m map[string]events.DynamoDBAttributeValue) {
			d := data(m)
			d["note"] = events.NewNullAttribute()
			d["tags"] = events.NewStringSetAttribute([]string{"a", "b"})
			d["sizes"] = events.NewNumberSetAttribute([]string{"1", "2.5"})
			d["blob"] = events.NewBinaryAttribute([]byte{0, 1})
			d["blobs"] = events.NewBinarySetAttribute([][]byte{{2}})
			d["nested"] = events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"x": events.NewBooleanAttribute(true)})})
			m["ttl"] = events.NewNumberAttribute("1790000000")
		}), check: func(t *testing.T, e domain.Envelope) {
			if e.EventID != base.EventID {
				t.Fatal("event id changed")
			}
		}},
		{name: "schema version is not an integer", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrSchemaVersion] = events.NewNumberAttribute("1.5")
		})},
		{name: "schema version as a string", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrSchemaVersion] = events.NewStringAttribute("1")
		})},
		{name: "number that is not a number", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			data(m)["amount"] = events.NewNumberAttribute("NaN")
		})},
		{name: "amount as null", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			data(m)["amount"] = events.NewNullAttribute()
		})},
		{name: "data is a list", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrData] = events.NewListAttribute(nil)
		})},
		{name: "data missing", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			delete(m, store.AttrData)
		})},
		{name: "unknown event type", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrEventType] = events.NewStringAttribute("SaleExploded")
		})},
		{name: "position disagrees with version", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrPosition] = events.NewStringAttribute("0000000002#us-east-1")
		})},
		{name: "position names another operation", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrPosition] = events.NewStringAttribute("SaleCancelled")
		})},
		{name: "legacy event whose region disagrees with its position", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrEventID] = events.NewStringAttribute("0190a0b0-0000-7000-8000-000000000001")
			m[store.AttrPosition] = events.NewStringAttribute("0000000001#us-east-1")
			m[store.AttrOriginRegion] = events.NewStringAttribute("sa-east-1")
		})},
		{name: "bad event id", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrEventID] = events.NewStringAttribute("not-a-uuid")
		})},
		{name: "bad time", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			m[store.AttrOccurredAt] = events.NewStringAttribute("yesterday")
		})},
		{name: "empty image", wantErr: true, image: map[string]events.DynamoDBAttributeValue{}},
		{name: "nil image", wantErr: true, image: nil},
		{name: "zero value attribute", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			data(m)["product"] = events.DynamoDBAttributeValue{}
		})},
		{name: "too deep", wantErr: true, image: with(func(m map[string]events.DynamoDBAttributeValue) {
			v := events.NewNullAttribute()
			for range 40 {
				v = events.NewListAttribute([]events.DynamoDBAttributeValue{v})
			}
			data(m)["deep"] = v
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := store.DecodeStreamImage(tc.image)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", e)
				}
				if !errors.Is(err, domain.ErrMalformedEnvelope) && !errors.Is(err, domain.ErrUnknownEventType) && !isDomainValidation(err) {
					t.Fatalf("error %v is not a malformed-envelope error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, e)
		})
	}
}

// isDomainValidation accepts the payload validation errors of the domain
// (amount, product), which the decoder passes through.
func isDomainValidation(err error) bool {
	for _, target := range []error{domain.ErrAmountNotNumber, domain.ErrAmountNotPositive, domain.ErrAmountTooLarge, domain.ErrAmountPrecision} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
