package dynamodb_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
)

// FuzzDecodeStreamImage feeds stream images, in the JSON form Lambda
// delivers them, to the one stream decoder. Properties:
//   - it never panics, and every failure is a domain error;
//   - whatever it accepts is a valid envelope that EncodeItem can store and
//     that decodes again to the same envelope;
//   - DecodeItem (the same item read through the DynamoDB API) agrees with
//     it on acceptance and result.
//
// The seed corpus runs in every `go test`; explore with
// go test -run '^$' -fuzz FuzzDecodeStreamImage ./libs/sales/eventstore/dynamodb/
func FuzzDecodeStreamImage(f *testing.F) {
	for _, e := range sampleEnvelopes(f) {
		item, err := store.EncodeItem(e)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(toStreamImage(f, item))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const valid = `{"sale_id":{"S":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},"position":{"S":"0000000001#us-east-1"},` +
		`"event_id":{"S":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"},"event_type":{"S":"SaleCreated"},"schema_version":{"N":"1"},` +
		`"aggregate_version":{"N":"1"},"origin_region":{"S":"us-east-1"},"occurred_at":{"S":"2026-11-27T10:00:00Z"},`
	for _, data := range []string{
		`"data":{"M":{"product":{"S":"book"},"amount":{"N":"14.00"}}}}`,
		`"data":{"M":{"product":{"S":"book"},"amount":{"N":"1e400"}}}}`,
		`"data":{"M":{"product":{"S":"book"},"amount":{"N":"-0"}}}}`,
		`"data":{"M":{"product":{"S":"book"},"amount":{"S":"14"}}}}`,
		`"data":{"M":{"product":{"NULL":true},"amount":{"N":"1"}}}}`,
		`"data":{"M":{"product":{"SS":["a","b"]},"amount":{"NS":["1","2"]}}}}`,
		`"data":{"M":{"product":{"S":"book"},"amount":{"N":"1"},"x":{"BS":["AAE="]},"y":{"B":"` + base64.StdEncoding.EncodeToString([]byte("bin")) + `"}}}}`,
		`"data":{"M":{"product":{"S":"book"},"amount":{"N":"1"},"l":{"L":[{"L":[{"M":{"a":{"BOOL":false}}}]}]}}}}`,
		`"data":{"L":[]}}`,
		`"data":{"NULL":true}}`,
		`"data":{"M":{}}}`,
	} {
		f.Add([]byte(valid + data))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema_version":{"N":"99999999999999999999"}}`))
	f.Add([]byte(`{"a":{"BS":[1]}}`)) // aws-lambda-go's own unmarshaller panics on this

	f.Fuzz(func(t *testing.T, raw []byte) {
		image, ok := parseImage(raw)
		if !ok {
			return
		}
		got, err := store.DecodeStreamImage(image)
		item, convertible := toItem(image)
		if err != nil {
			if !errors.Is(err, domain.ErrMalformedEnvelope) && !errors.Is(err, domain.ErrUnknownEventType) && !isDomainValidation(err) {
				t.Fatalf("failure is not a domain error: %v", err)
			}
			if convertible {
				if _, ierr := store.DecodeItem(item); ierr == nil {
					t.Fatalf("DecodeItem accepts what DecodeStreamImage rejects (%v)", err)
				}
			}
			return
		}
		if verr := got.Validate(); verr != nil {
			t.Fatalf("accepted an invalid envelope: %v", verr)
		}
		reencoded, err := store.EncodeItem(got)
		if err != nil {
			t.Fatalf("accepted envelope cannot be stored: %v", err)
		}
		again, err := store.DecodeStreamImage(toStreamImage(t, reencoded))
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		assertSameEnvelope(t, again, got)
		if convertible {
			fromItem, ierr := store.DecodeItem(item)
			if ierr != nil {
				t.Fatalf("DecodeItem rejects what DecodeStreamImage accepts: %v", ierr)
			}
			assertSameEnvelope(t, fromItem, got)
		}
	})
}

// parseImage reads Lambda's JSON form of an image. aws-lambda-go panics on
// some malformed JSON (a non-string in a binary set); Lambda would fail
// such an event before our handler, so it is not an input of ours.
func parseImage(raw []byte) (image map[string]events.DynamoDBAttributeValue, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if err := json.Unmarshal(raw, &image); err != nil {
		return nil, false
	}
	return image, true
}

// toItem converts a stream image to the DynamoDB API's form, so the two
// decoders can be compared on the same input.
func toItem(image map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, bool) {
	out := make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		av, ok := toAttributeValue(v, 0)
		if !ok {
			return nil, false
		}
		out[k] = av
	}
	return out, true
}

func toAttributeValue(v events.DynamoDBAttributeValue, depth int) (types.AttributeValue, bool) {
	if depth > 64 {
		return nil, false
	}
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, true
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, true
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, true
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, true
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, true
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, true
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, true
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, true
	case events.DataTypeList:
		l := make([]types.AttributeValue, len(v.List()))
		for i, e := range v.List() {
			av, ok := toAttributeValue(e, depth+1)
			if !ok {
				return nil, false
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, true
	case events.DataTypeMap:
		m := make(map[string]types.AttributeValue, len(v.Map()))
		for k, e := range v.Map() {
			av, ok := toAttributeValue(e, depth+1)
			if !ok {
				return nil, false
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, true
	}
	return nil, false
}
