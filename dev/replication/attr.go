package replication

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// fromEventImage converts a stream image, as the streams reader hands it to
// a Lambda-style handler, back into DynamoDB attribute values.
func fromEventImage(in map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(in))
	for k, v := range in {
		av, err := fromEventAttribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func fromEventAttribute(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		src := v.List()
		l := make([]types.AttributeValue, len(src))
		for i, e := range src {
			av, err := fromEventAttribute(e)
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		m, err := fromEventImage(v.Map())
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]types.AttributeValue{}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported stream attribute type %v", v.DataType())
}

// fingerprint is a canonical hash of an item (map keys and set members
// sorted), so two equal items hash alike whatever order they came in.
func fingerprint(item map[string]types.AttributeValue) string {
	var b bytes.Buffer
	writeMap(&b, item)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// keyFingerprint hashes only the key attributes of an item.
func keyFingerprint(keys map[string]types.AttributeValue) string { return fingerprint(keys) }

func writeMap(b *bytes.Buffer, m map[string]types.AttributeValue) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for _, k := range keys {
		writeString(b, k)
		writeValue(b, m[k])
	}
	b.WriteByte('}')
}

func writeString(b *bytes.Buffer, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}

func writeSorted(b *bytes.Buffer, tag byte, items []string) {
	s := append([]string(nil), items...)
	sort.Strings(s)
	b.WriteByte(tag)
	b.WriteString(strconv.Itoa(len(s)))
	for _, x := range s {
		writeString(b, x)
	}
}

func writeValue(b *bytes.Buffer, v types.AttributeValue) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		b.WriteByte('S')
		writeString(b, x.Value)
	case *types.AttributeValueMemberN:
		b.WriteByte('N')
		writeString(b, x.Value)
	case *types.AttributeValueMemberB:
		b.WriteByte('B')
		writeString(b, string(x.Value))
	case *types.AttributeValueMemberBOOL:
		if x.Value {
			b.WriteString("T")
		} else {
			b.WriteString("F")
		}
	case *types.AttributeValueMemberNULL:
		b.WriteByte('0')
	case *types.AttributeValueMemberSS:
		writeSorted(b, 's', x.Value)
	case *types.AttributeValueMemberNS:
		writeSorted(b, 'n', x.Value)
	case *types.AttributeValueMemberBS:
		s := make([]string, len(x.Value))
		for i, e := range x.Value {
			s[i] = string(e)
		}
		writeSorted(b, 'b', s)
	case *types.AttributeValueMemberL:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(len(x.Value)))
		for _, e := range x.Value {
			writeValue(b, e)
		}
		b.WriteByte(']')
	case *types.AttributeValueMemberM:
		writeMap(b, x.Value)
	default:
		fmt.Fprintf(b, "?%T", v)
	}
}
