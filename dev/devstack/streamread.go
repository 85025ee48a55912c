package devstack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/salesplatform/libs/sales/streams"
)

// EventStreamRecords reads every record of region's event store stream
// from its start, shard after shard in order: what the suites check the
// stream publishers and the write gates against.
func (c *Clients) EventStreamRecords(ctx context.Context, region string) ([]streamtypes.Record, error) {
	st := dynamodbstreams.NewFromConfig(c.Config[region])
	arn, err := streams.StreamARN(ctx, c.DDB[region], c.Outputs.Regions[region].EventTable)
	if err != nil {
		return nil, err
	}
	desc, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &arn})
	if err != nil {
		return nil, fmt.Errorf("describe the stream of %s: %w", region, err)
	}
	var out []streamtypes.Record
	for _, sh := range desc.StreamDescription.Shards {
		it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			return nil, fmt.Errorf("iterator of %s: %w", region, err)
		}
		for iter := it.ShardIterator; iter != nil; {
			page, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				return nil, fmt.Errorf("records of %s: %w", region, err)
			}
			out = append(out, page.Records...)
			if len(page.Records) == 0 {
				break
			}
			iter = page.NextShardIterator
		}
	}
	return out, nil
}

// StreamString is a string attribute of a stream image ("" if absent).
func StreamString(img map[string]streamtypes.AttributeValue, name string) string {
	if v, ok := img[name].(*streamtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
