// Package awsfixtures creates the AWS resources tests need, in the emulator,
// with the same shapes as the Terraform modules (infra/modules). The local
// stack itself creates its resources through Terragrunt, not through here.
package awsfixtures

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// EventStoreTable creates an event-store table (sale_id, position) with a
// NEW_IMAGE stream, waits until it is active and returns its stream ARN.
func EventStoreTable(t testing.TB, client *ddb.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	out, err := client.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:   &name,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("sale_id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("position"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("sale_id"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("position"), KeyType: types.KeyTypeRange},
		},
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	waitTable(t, client, name)
	return aws.ToString(out.TableDescription.LatestStreamArn)
}

// IdempotencyTable creates the worker's idempotency table (id) with TTL on
// expires_at.
func IdempotencyTable(t testing.TB, client *ddb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := client.CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            &name,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	waitTable(t, client, name)
	if _, err := client.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{
		TableName:               &name,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)},
	}); err != nil {
		t.Fatalf("ttl on %s: %v", name, err)
	}
}

func waitTable(t testing.TB, client *ddb.Client, name string) {
	t.Helper()
	w := ddb.NewTableExistsWaiter(client, func(o *ddb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := w.Wait(context.Background(), &ddb.DescribeTableInput{TableName: &name}, 30*time.Second); err != nil {
		t.Fatalf("table %s not active: %v", name, err)
	}
}

// RegionState writes the region-state parameter.
func RegionState(t testing.TB, client *ssm.Client, name, value string) {
	t.Helper()
	if _, err := client.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: &name, Value: &value, Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatalf("put parameter %s: %v", name, err)
	}
}
