package streams

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// ToEventRecord converts a record read from the DynamoDB Streams API into
// the record Lambda delivers, so one handler serves both. awsRegion and
// eventSourceARN are filled from the stream ARN, the way Lambda fills them
// (the local emulator writes us-east-1 into every record's awsRegion).
func ToEventRecord(streamARN string, r types.Record) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion:      RegionOf(streamARN),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if out.AWSRegion == "" {
		out.AWSRegion = aws.ToString(r.AwsRegion)
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
	}
	if c := r.Dynamodb; c != nil {
		var err error
		out.Change = events.DynamoDBStreamRecord{
			SequenceNumber: aws.ToString(c.SequenceNumber),
			SizeBytes:      aws.ToInt64(c.SizeBytes),
			StreamViewType: string(c.StreamViewType),
		}
		if c.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *c.ApproximateCreationDateTime}
		}
		if out.Change.Keys, err = ToEventImage(c.Keys); err != nil {
			return out, fmt.Errorf("record %s keys: %w", out.Change.SequenceNumber, err)
		}
		if out.Change.NewImage, err = ToEventImage(c.NewImage); err != nil {
			return out, fmt.Errorf("record %s new image: %w", out.Change.SequenceNumber, err)
		}
		if out.Change.OldImage, err = ToEventImage(c.OldImage); err != nil {
			return out, fmt.Errorf("record %s old image: %w", out.Change.SequenceNumber, err)
		}
	}
	return out, nil
}

// ToEventImage converts an image (keys, new or old) attribute by attribute.
func ToEventImage(in map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(in))
	for k, v := range in {
		av, err := ToEventAttribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// ToEventAttribute converts one attribute value, recursively.
func ToEventAttribute(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(orEmpty(x.Value)), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value), nil
	case *types.AttributeValueMemberBS:
		bs := make([][]byte, len(x.Value))
		for i, b := range x.Value {
			bs[i] = orEmpty(b)
		}
		return events.NewBinarySetAttribute(bs), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			av, err := ToEventAttribute(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			l[i] = av
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := ToEventImage(x.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}

// orEmpty keeps a nil binary a non-nil empty slice: aws-lambda-go's
// accessors type-assert the value and a nil interface would panic.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// RegionOf is the region field of an ARN ("" if it is not an ARN).
func RegionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// recordTime is a record's approximate creation time (zero if absent).
func recordTime(r types.Record) time.Time {
	if r.Dynamodb == nil || r.Dynamodb.ApproximateCreationDateTime == nil {
		return time.Time{}
	}
	return *r.Dynamodb.ApproximateCreationDateTime
}

func sequenceOf(r types.Record) string {
	if r.Dynamodb == nil {
		return ""
	}
	return aws.ToString(r.Dynamodb.SequenceNumber)
}
