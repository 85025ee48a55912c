package streams_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/libs/sales/streams"
)

func TestToEventRecordKeepsEveryAttributeType(t *testing.T) {
	created := time.Date(2026, 11, 27, 10, 0, 1, 0, time.UTC)
	in := types.Record{
		EventID: aws.String("e1"), EventName: types.OperationTypeModify, EventSource: aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"), AwsRegion: aws.String("us-east-1"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			SequenceNumber:              aws.String("1100000000017454423009"),
			SizeBytes:                   aws.Int64(321),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
			Keys:                        map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "k"}},
			NewImage: map[string]types.AttributeValue{
				"s":     &types.AttributeValueMemberS{Value: "text"},
				"n":     &types.AttributeValueMemberN{Value: "14.00"},
				"b":     &types.AttributeValueMemberB{Value: []byte{1, 2}},
				"nilb":  &types.AttributeValueMemberB{},
				"t":     &types.AttributeValueMemberBOOL{Value: true},
				"null":  &types.AttributeValueMemberNULL{Value: true},
				"ss":    &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
				"ns":    &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
				"bs":    &types.AttributeValueMemberBS{Value: [][]byte{{9}, nil}},
				"l":     &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "-1"}, &types.AttributeValueMemberM{}}},
				"m":     &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deep": &types.AttributeValueMemberL{}}},
				"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			},
			OldImage: map[string]types.AttributeValue{"s": &types.AttributeValueMemberS{Value: "before"}},
		},
	}
	got, err := streams.ToEventRecord(arn, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.AWSRegion != "sa-east-1" || got.EventSourceArn != arn || got.EventName != "MODIFY" || got.EventID != "e1" ||
		got.EventVersion != "1.1" || got.EventSource != "aws:dynamodb" || got.UserIdentity.PrincipalID != "dynamodb.amazonaws.com" {
		t.Fatalf("record fields: %+v", got)
	}
	c := got.Change
	if c.SequenceNumber != "1100000000017454423009" || c.SizeBytes != 321 || c.StreamViewType != "NEW_AND_OLD_IMAGES" || !c.ApproximateCreationDateTime.Equal(created) {
		t.Fatalf("change fields: %+v", c)
	}
	// Lambda's own JSON of the converted record is the reference: it is
	// what the handler would receive from a real event source mapping.
	b, err := json.Marshal(c.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("converted image does not survive Lambda's JSON: %v\n%s", err, b)
	}
	checks := map[string]func(events.DynamoDBAttributeValue) bool{
		"s":    func(v events.DynamoDBAttributeValue) bool { return v.String() == "text" },
		"n":    func(v events.DynamoDBAttributeValue) bool { return v.Number() == "14.00" },
		"b":    func(v events.DynamoDBAttributeValue) bool { return string(v.Binary()) == "\x01\x02" },
		"nilb": func(v events.DynamoDBAttributeValue) bool { return len(v.Binary()) == 0 },
		"t":    func(v events.DynamoDBAttributeValue) bool { return v.Boolean() },
		"null": func(v events.DynamoDBAttributeValue) bool { return v.IsNull() },
		"ss":   func(v events.DynamoDBAttributeValue) bool { return len(v.StringSet()) == 2 },
		"ns":   func(v events.DynamoDBAttributeValue) bool { return v.NumberSet()[1] == "2.5" },
		"bs": func(v events.DynamoDBAttributeValue) bool {
			return len(v.BinarySet()) == 2 && len(v.BinarySet()[1]) == 0
		},
		"l": func(v events.DynamoDBAttributeValue) bool {
			return v.List()[0].Number() == "-1" && len(v.List()[1].Map()) == 0
		},
		"m":     func(v events.DynamoDBAttributeValue) bool { return len(v.Map()["deep"].List()) == 0 },
		"empty": func(v events.DynamoDBAttributeValue) bool { return v.DataType() == events.DataTypeMap },
	}
	for name, ok := range checks {
		for _, img := range []map[string]events.DynamoDBAttributeValue{c.NewImage, back} {
			if !ok(img[name]) {
				t.Errorf("attribute %s converted wrongly", name)
			}
		}
	}
	if c.OldImage["s"].String() != "before" || c.Keys["id"].String() != "k" {
		t.Fatal("old image or keys lost")
	}
}
