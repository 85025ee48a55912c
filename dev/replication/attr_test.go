package replication

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	st "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/libs/sales/streams"
)

func sampleItems() []map[string]types.AttributeValue {
	return []map[string]types.AttributeValue{
		{"sale_id": &types.AttributeValueMemberS{Value: "0192"}, "position": &types.AttributeValueMemberS{Value: "0000000001#us-east-1"}},
		{
			"id":     &types.AttributeValueMemberS{Value: "k"},
			"n":      &types.AttributeValueMemberN{Value: "12.50"},
			"b":      &types.AttributeValueMemberB{Value: []byte{0, 1, 2}},
			"empty":  &types.AttributeValueMemberB{Value: []byte{}},
			"t":      &types.AttributeValueMemberBOOL{Value: true},
			"f":      &types.AttributeValueMemberBOOL{Value: false},
			"null":   &types.AttributeValueMemberNULL{Value: true},
			"ss":     &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
			"ns":     &types.AttributeValueMemberNS{Value: []string{"2", "1"}},
			"bs":     &types.AttributeValueMemberBS{Value: [][]byte{{9}, {8}}},
			"list":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"}}},
			"map":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": &types.AttributeValueMemberS{Value: "y"}}},
			"emptyM": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		},
	}
}

func TestStreamImageRoundTrip(t *testing.T) {
	for i, item := range sampleItems() {
		ev, err := streams.ToEventImage(toStreamImage(item))
		if err != nil {
			t.Fatalf("item %d: to event: %v", i, err)
		}
		back, err := fromEventImage(ev)
		if err != nil {
			t.Fatalf("item %d: from event: %v", i, err)
		}
		if fingerprint(back) != fingerprint(item) {
			t.Errorf("item %d changed in the round trip", i)
		}
	}
}

func TestFingerprint(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	tests := []struct {
		name  string
		a, b  map[string]types.AttributeValue
		equal bool
	}{
		{"same", map[string]types.AttributeValue{"a": s("1")}, map[string]types.AttributeValue{"a": s("1")}, true},
		{"set order", map[string]types.AttributeValue{"a": &types.AttributeValueMemberSS{Value: []string{"x", "y"}}},
			map[string]types.AttributeValue{"a": &types.AttributeValueMemberSS{Value: []string{"y", "x"}}}, true},
		{"value differs", map[string]types.AttributeValue{"a": s("1")}, map[string]types.AttributeValue{"a": s("2")}, false},
		{"type differs", map[string]types.AttributeValue{"a": s("1")}, map[string]types.AttributeValue{"a": &types.AttributeValueMemberN{Value: "1"}}, false},
		{"extra attribute", map[string]types.AttributeValue{"a": s("1")}, map[string]types.AttributeValue{"a": s("1"), "b": s("")}, false},
		{"no ambiguity across boundaries", map[string]types.AttributeValue{"ab": s("c")}, map[string]types.AttributeValue{"a": s("bc")}, false},
		{"list order matters", map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("1"), s("2")}}},
			map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("2"), s("1")}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fingerprint(tc.a) == fingerprint(tc.b); got != tc.equal {
				t.Errorf("equal = %v, want %v", got, tc.equal)
			}
		})
	}
}

// FuzzRoundTrip: any string content survives stream conversion both ways
// and fingerprints alike.
func FuzzRoundTrip(f *testing.F) {
	f.Add("sale", "12.5", []byte{1}, true)
	f.Add("", "0", []byte{}, false)
	f.Add("ünïcode\x00", "-1e10", []byte(nil), true)
	f.Fuzz(func(t *testing.T, s, n string, b []byte, flag bool) {
		item := map[string]types.AttributeValue{
			"s": &types.AttributeValueMemberS{Value: s},
			"n": &types.AttributeValueMemberN{Value: n},
			"b": &types.AttributeValueMemberB{Value: append([]byte{}, b...)},
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberBOOL{Value: flag}, &types.AttributeValueMemberSS{Value: []string{s, n}}}},
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{s: &types.AttributeValueMemberS{Value: n}}},
		}
		ev, err := streams.ToEventImage(toStreamImage(item))
		if err != nil {
			t.Fatal(err)
		}
		back, err := fromEventImage(ev)
		if err != nil {
			t.Fatal(err)
		}
		if fingerprint(back) != fingerprint(item) {
			t.Fatalf("round trip changed %v", item)
		}
	})
}

// toStreamImage converts table attribute values into stream attribute
// values (the same shapes in another package), to feed the reader's
// converter.
func toStreamImage(in map[string]types.AttributeValue) map[string]st.AttributeValue {
	out := make(map[string]st.AttributeValue, len(in))
	for k, v := range in {
		out[k] = toStreamValue(v)
	}
	return out
}

func toStreamValue(v types.AttributeValue) st.AttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return &st.AttributeValueMemberS{Value: x.Value}
	case *types.AttributeValueMemberN:
		return &st.AttributeValueMemberN{Value: x.Value}
	case *types.AttributeValueMemberB:
		return &st.AttributeValueMemberB{Value: x.Value}
	case *types.AttributeValueMemberBOOL:
		return &st.AttributeValueMemberBOOL{Value: x.Value}
	case *types.AttributeValueMemberNULL:
		return &st.AttributeValueMemberNULL{Value: x.Value}
	case *types.AttributeValueMemberSS:
		return &st.AttributeValueMemberSS{Value: x.Value}
	case *types.AttributeValueMemberNS:
		return &st.AttributeValueMemberNS{Value: x.Value}
	case *types.AttributeValueMemberBS:
		return &st.AttributeValueMemberBS{Value: x.Value}
	case *types.AttributeValueMemberL:
		l := make([]st.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = toStreamValue(e)
		}
		return &st.AttributeValueMemberL{Value: l}
	case *types.AttributeValueMemberM:
		return &st.AttributeValueMemberM{Value: toStreamImage(x.Value)}
	}
	panic("unexpected type")
}
