package replay_test

// Throughput of the replay paths against the emulator, for
// docs/benchmarks/replay.md (task bench:replay). Each iteration uses fresh
// resources; seeding is not timed.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	store "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/testing/motoserver"
)

func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

func seedOwn(b *testing.B, s *testStack, n int, at time.Time) {
	var envs []domain.Envelope
	for i := range n {
		envs = append(envs, sale(b, home, at.Add(time.Duration(i)*time.Millisecond), false)...)
	}
	s.seed(b, envs)
}

func benchReplay(b *testing.B, cmd ...string) {
	n := benchEvents()
	var total time.Duration
	var published, calls int64
	for range b.N {
		b.StopTimer()
		s := newStack(b, stackOptions{})
		seedOwn(b, s, n, time.Now().Add(-10*time.Minute))
		// Consumers drain the subscribers, as the workers do: the
		// emulator's queues slow down with depth (AWS's do not), hence
		// also the sixteen shallow observer queues of newStack.
		c := s.observe(b)
		b.StartTimer()
		started := time.Now()
		code, out, errOut := runCLI(b, context.Background(), args(s, append(cmd, "--region", home, "--output", "json", "--progress", "none")...)...)
		total += time.Since(started)
		b.StopTimer()
		c.close()
		b.StartTimer()
		if code != 0 {
			b.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		res := result(b, out)
		published += res.Counts.Published
		calls += res.AWSOperations["SNS.PublishBatch"]
	}
	if published < int64(n*b.N) {
		b.Fatalf("published %d of %d", published, n*b.N)
	}
	b.ReportMetric(float64(published)/total.Seconds(), "events/s")
	b.ReportMetric(float64(calls)/float64(published), "publish-calls/event")
}

func BenchmarkReplayStore(b *testing.B) {
	for _, segments := range []int{1, 4} {
		b.Run(fmt.Sprintf("segments=%d", segments), func(b *testing.B) {
			benchReplay(b, "replay", "store", "--since", "1h", "--segments", strconv.Itoa(segments))
		})
	}
}

func BenchmarkReplayStream(b *testing.B) {
	benchReplay(b, "replay", "stream", "--from", "trim-horizon")
}

// BenchmarkAccessPath compares the two ways to find an hour of events in
// a table holding ten: the Scan replay uses (cost grows with the table)
// and a Query on a GSI keyed by the hour (cost grows with the window; the
// event table has no such index, see docs/adr/0050). Reported: items read
// per selected event, and selected events per second.
func BenchmarkAccessPath(b *testing.B) {
	n := benchEvents()
	m := useMoto(b)
	cfg := m.TestConfig(b, home, awsconfig.Options{})
	client := ddb.NewFromConfig(cfg)
	table := motoserver.UniqueName(b, "access-path")
	if _, err := client.CreateTable(context.Background(), &ddb.CreateTableInput{
		TableName: &table, BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("sale_id"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("position"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("hour"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("occurred_at"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("sale_id"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("position"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String("by-hour"),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("hour"), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String("occurred_at"), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
	}); err != nil {
		b.Fatal(err)
	}
	base := time.Now().Add(-10 * time.Hour).UTC().Truncate(time.Hour)
	for start := 0; start < n; start += 25 {
		var reqs []ddbtypes.WriteRequest
		for i := start; i < min(start+25, n); i++ {
			at := base.Add(time.Duration(i) * 10 * time.Hour / time.Duration(n))
			item, err := store.EncodeItem(sale(b, home, at, false)[0])
			if err != nil {
				b.Fatal(err)
			}
			item["hour"] = &ddbtypes.AttributeValueMemberS{Value: at.Format("2006-01-02T15")}
			reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
		if _, err := client.BatchWriteItem(context.Background(), &ddb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{table: reqs}}); err != nil {
			b.Fatal(err)
		}
	}
	window := base.Add(5 * time.Hour)
	b.Run("scan-filter", func(b *testing.B) {
		var selected, read int64
		var took time.Duration
		for range b.N {
			r, err := replay.Open(replay.Options{Command: "bench", DryRun: true})
			if err != nil {
				b.Fatal(err)
			}
			src := &replay.StoreScan{API: client, Table: table, Segments: 4, Filter: replay.Filter{Since: window, Until: window.Add(time.Hour)}}
			started := time.Now()
			if _, err := src.Run(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			took += time.Since(started)
			s := r.Snapshot()
			selected += s.Counts.Published
			read += s.Progress
		}
		b.ReportMetric(float64(read)/float64(selected), "items-read/event")
		b.ReportMetric(float64(selected)/took.Seconds(), "events/s")
	})
	b.Run("gsi-query", func(b *testing.B) {
		var selected, read int64
		var took time.Duration
		for range b.N {
			started := time.Now()
			in := &ddb.QueryInput{TableName: &table, IndexName: aws.String("by-hour"), KeyConditionExpression: aws.String("#h = :h"),
				ExpressionAttributeNames:  map[string]string{"#h": "hour"},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":h": &ddbtypes.AttributeValueMemberS{Value: window.Format("2006-01-02T15")}}}
			for {
				out, err := client.Query(context.Background(), in)
				if err != nil {
					b.Fatal(err)
				}
				for _, item := range out.Items {
					if _, err := store.DecodeItem(item); err != nil {
						b.Fatal(err)
					}
				}
				selected += int64(out.Count)
				read += int64(out.ScannedCount)
				if len(out.LastEvaluatedKey) == 0 {
					break
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
			took += time.Since(started)
		}
		b.ReportMetric(float64(read)/float64(selected), "items-read/event")
		b.ReportMetric(float64(selected)/took.Seconds(), "events/s")
	})
}
