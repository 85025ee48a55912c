package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/messaging"
	"github.com/salesplatform/libs/sales/stack"
	"github.com/salesplatform/libs/sales/streams"
)

func init() { register(newReplayCommand) }

func newReplayCommand(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "replay",
		Short: "Republish events to a region's SNS topic, from the event store or from its stream",
		Long: `Republish events to a region's SNS topic through the stream publisher's own
publishing code (same body, same message attributes), so every subscriber
(the processing queues of both regions) receives them again. Consumers are
idempotent: an event already processed is acknowledged and changes nothing.

See docs/operations/replay.md.`,
	}
	c.AddCommand(newReplayStoreCommand(g), newReplayStreamCommand(g))
	return group(c)
}

// publisherFor builds the SNS publisher of a region (nil in a dry run).
func publisherFor(cfg aws.Config, r stack.Region, dryRun bool, concurrency int, extra map[string]string) (replay.Publisher, error) {
	if dryRun {
		return nil, nil
	}
	if r.TopicARN == "" {
		return nil, errors.New("the stack description has no topic_arn for this region")
	}
	return messaging.NewPublisher(sns.NewFromConfig(cfg), r.TopicARN, messaging.PublisherOptions{Concurrency: concurrency, ExtraAttributes: extra}), nil
}

// selectedSource is a source that describes its selection.
type selectedSource interface {
	source
	Selection() string
}

// storeSelection holds the flags that select events in the store.
type storeSelection struct {
	since, until string
	eventTypes   []string
	saleIDs      []string
	origin       string
	segments     int
	pageSize     int32
}

func (s *storeSelection) add(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&s.since, "since", "", "first occurred_at to select: RFC 3339, a date, or an age such as 36h or 7d")
	fl.StringVar(&s.until, "until", "", "end of the window (exclusive); default: when the first run started (kept on resume)")
	fl.StringSliceVar(&s.eventTypes, "event-type", nil, "only these event types (SaleCreated, SaleCancelled, SaleProcessed; repeat or comma-separate)")
	fl.StringSliceVar(&s.saleIDs, "sale-id", nil, "replay these sales instead of a time window (repeat or comma-separate)")
	fl.StringVar(&s.origin, "origin", "", "only events whose origin_region is this region, or any (default: --region for a time window, any for --sale-id)")
	fl.IntVar(&s.segments, "segments", 4, "parallel Scan segments for a time window (1-64)")
	fl.Int32Var(&s.pageSize, "page-size", 500, "items per Scan call (1-1000)")
}

// source builds the store source and the times to pin in its checkpoint.
func (s *storeSelection) source(client replay.StoreAPI, table, region string, now time.Time, lakeOnly bool) (selectedSource, pins, error) {
	types, err := parseEventTypes(s.eventTypes)
	if err != nil {
		return nil, nil, err
	}
	if lakeOnly {
		types, err = lakeTypes(types)
		if err != nil {
			return nil, nil, err
		}
	}
	ids, err := parseSaleIDs(s.saleIDs)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(ids) > 0 && (s.since != "" || s.until != ""):
		return nil, nil, errors.New("--sale-id selects sales; it cannot be combined with --since or --until")
	case len(ids) == 0 && s.since == "":
		return nil, nil, errors.New("say what to select: --since (with an optional --until) or --sale-id")
	case s.segments < 1 || s.segments > 64:
		return nil, nil, fmt.Errorf("--segments must be 1 to 64, got %d", s.segments)
	case s.pageSize < 1 || s.pageSize > 1000:
		return nil, nil, fmt.Errorf("--page-size must be 1 to 1000, got %d", s.pageSize)
	}
	if len(ids) > 0 {
		origin, err := originFilter(s.origin, "")
		if err != nil {
			return nil, nil, err
		}
		return &replay.StoreSales{API: client, Table: table, SaleIDs: ids, Filter: replay.Filter{EventTypes: types, Origin: origin}}, nil, nil
	}
	since, err := parseTime("--since", s.since, now)
	if err != nil {
		return nil, nil, err
	}
	until := now.UTC()
	if s.until != "" {
		if until, err = parseTime("--until", s.until, now); err != nil {
			return nil, nil, err
		}
		if !since.Before(until) {
			return nil, nil, fmt.Errorf("--since (%s) must be before --until (%s)", since.Format(time.RFC3339), until.Format(time.RFC3339))
		}
	} else if !since.Before(now) {
		return nil, nil, fmt.Errorf("--since (%s) is in the future", since.Format(time.RFC3339))
	}
	defOrigin := region
	if lakeOnly {
		defOrigin = "" // every region's lake holds every origin
	}
	origin, err := originFilter(s.origin, defOrigin)
	if err != nil {
		return nil, nil, err
	}
	src := &replay.StoreScan{API: client, Table: table, Segments: s.segments, PageSize: s.pageSize,
		Filter: replay.Filter{Since: since, Until: until, EventTypes: types, Origin: origin}}
	var p pins
	if relativeTime(s.since) {
		src.Filter.SinceLabel = s.since
		p.add("since", &src.Filter.Since)
	}
	switch {
	case s.until == "":
		src.Filter.UntilLabel = "first-run-start"
		p.add("until", &src.Filter.Until)
	case relativeTime(s.until):
		src.Filter.UntilLabel = s.until
		p.add("until", &src.Filter.Until)
	}
	return src, p, nil
}

func newReplayStoreCommand(g *Globals) *cobra.Command {
	var f runFlags
	var sel storeSelection
	var concurrency int
	c := &cobra.Command{
		Use:   "store --region R (--since T [--until T] | --sale-id ID...)",
		Short: "Republish events read from the event store, by time window or by sale",
		Example: `  salesctl replay store --region us-east-1 --since 2026-11-27T10:00:00Z --until 2026-11-27T11:00:00Z
  salesctl replay store --region us-east-1 --since 6h --event-type SaleCreated --rate 200 --checkpoint replay.ckpt
  salesctl replay store --region sa-east-1 --sale-id 0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c --dry-run`,
		RunE: func(c *cobra.Command, _ []string) error {
			now := time.Now()
			region, err := f.check(g)
			if err != nil {
				return usageOf(c, err)
			}
			if concurrency < 1 || concurrency > 32 {
				return usageOf(c, fmt.Errorf("--concurrency must be 1 to 32, got %d", concurrency))
			}
			cfg, counter, err := awsConfig(c.Context(), f.region)
			if err != nil {
				return err
			}
			src, pinned, err := sel.source(ddb.NewFromConfig(cfg), region.EventTable, f.region, now, false)
			if err != nil {
				return usageOf(c, err)
			}
			pub, err := publisherFor(cfg, region, f.dryRun, concurrency, nil)
			if err != nil {
				return err
			}
			x := &execution{g: g, f: &f, label: "replay store " + f.region, unit: "items", counter: counter,
				opts: replay.Options{Command: "replay store", Selection: src.Selection(), Publisher: pub}}
			x.prepare = pinned.apply
			return x.run(c.Context(), src)
		},
	}
	f.add(c, "events")
	sel.add(c)
	c.Flags().IntVar(&concurrency, "concurrency", 4, "SNS PublishBatch calls in flight per Scan segment (1-32)")
	return withUsageErrors(c)
}

func newReplayStreamCommand(g *Globals) *cobra.Command {
	var f runFlags
	var from, until, origin string
	var eventTypes []string
	var follow bool
	var batchSize, idlePolls, concurrency int
	c := &cobra.Command{
		Use:   "stream --region R --from trim-horizon|latest|<sequence>|<time>",
		Short: "Republish the event table's stream records (24 h retention) through the stream publisher's code",
		Long: `Read the event table's DynamoDB stream (every shard, parents first) and
republish its INSERTs of the selected origin, the way the stream publisher
does. Without --follow the replay ends once every shard is read up to the
time the first run started; --from latest follows new records until Ctrl-C
(a stand-in publisher while the Lambda is down).`,
		Example: `  salesctl replay stream --region us-east-1 --from trim-horizon
  salesctl replay stream --region us-east-1 --from 2026-11-27T09:30:00Z --checkpoint stream.ckpt
  salesctl replay stream --region us-east-1 --from 4421584500000000017450439091 --rate 100
  salesctl replay stream --region sa-east-1 --from latest`,
		RunE: func(c *cobra.Command, _ []string) error {
			now := time.Now()
			region, err := f.check(g)
			if err != nil {
				return usageOf(c, err)
			}
			if from == "" {
				return usageOf(c, errors.New("--from is required: trim-horizon, latest, a sequence number or an RFC 3339 time"))
			}
			start, err := replay.ParseStreamStart(from)
			if err != nil {
				return usageOf(c, err)
			}
			types, err := parseEventTypes(eventTypes)
			if err != nil {
				return usageOf(c, err)
			}
			org, err := originFilter(origin, f.region)
			if err != nil {
				return usageOf(c, err)
			}
			switch {
			case batchSize < 1 || batchSize > 1000:
				return usageOf(c, fmt.Errorf("--batch-size must be 1 to 1000, got %d", batchSize))
			case idlePolls < 1 || idlePolls > 100:
				return usageOf(c, fmt.Errorf("--idle-polls must be 1 to 100, got %d", idlePolls))
			case concurrency < 1 || concurrency > 32:
				return usageOf(c, fmt.Errorf("--concurrency must be 1 to 32, got %d", concurrency))
			}
			if start.Position.Type == streams.Latest {
				follow = true
			}
			var untilT time.Time
			if until != "" {
				if untilT, err = parseTime("--until", until, now); err != nil {
					return usageOf(c, err)
				}
			}
			cfg, counter, err := awsConfig(c.Context(), f.region)
			if err != nil {
				return err
			}
			arn := region.EventStreamARN
			if arn == "" {
				if arn, err = streams.StreamARN(c.Context(), ddb.NewFromConfig(cfg), region.EventTable); err != nil {
					return err
				}
			}
			pub, err := publisherFor(cfg, region, f.dryRun, concurrency, nil)
			if err != nil {
				return err
			}
			src := &replay.StreamReplay{
				API: dynamodbstreams.NewFromConfig(cfg), StreamARN: arn, Start: start, Until: untilT,
				Filter: replay.Filter{EventTypes: types, Origin: org}, Follow: follow,
				IdlePolls: idlePolls, BatchSize: batchSize,
			}
			sel := src.Selection()
			var pinned pins
			switch {
			case until != "" && relativeTime(until):
				sel += " until=" + until
				pinned.add("until", &src.Until)
			case until != "":
				sel += " until=" + untilT.Format(time.RFC3339Nano)
			case !follow:
				src.Until = now.UTC()
				sel += " until=first-run-start"
				pinned.add("until", &src.Until)
			}
			x := &execution{g: g, f: &f, label: "replay stream " + f.region, unit: "records", counter: counter,
				opts: replay.Options{Command: "replay stream", Selection: sel, Publisher: pub}, prepare: pinned.apply}
			return x.run(c.Context(), followSource{src, follow})
		},
	}
	f.add(c, "events")
	fl := c.Flags()
	fl.StringVar(&from, "from", "", "where to start in shards without a checkpoint: trim-horizon, latest, a sequence number (digits) or an RFC 3339 time")
	fl.StringVar(&until, "until", "", "stop at records created at or after this time (default: when the first run started; none with --follow)")
	fl.BoolVar(&follow, "follow", false, "keep publishing new records until Ctrl-C (implied by --from latest)")
	fl.StringVar(&origin, "origin", "", "only records whose origin_region is this region, or any (default: --region, as the stream publisher)")
	fl.StringSliceVar(&eventTypes, "event-type", nil, "only these event types (repeat or comma-separate)")
	fl.IntVar(&batchSize, "batch-size", 500, "records per batch (1-1000)")
	fl.IntVar(&idlePolls, "idle-polls", 3, "empty reads in a row after which an open shard counts as caught up")
	fl.IntVar(&concurrency, "concurrency", 4, "SNS PublishBatch calls in flight per shard (1-32)")
	return withUsageErrors(c)
}

// followSource makes the end of a --follow replay by Ctrl-C a normal end.
type followSource struct {
	*replay.StreamReplay
	follow bool
}

func (s followSource) Run(ctx context.Context, r *replay.Runner) (bool, error) {
	done, err := s.StreamReplay.Run(ctx, r)
	if err == nil && !done && s.follow && s.Until.IsZero() && ctx.Err() != nil {
		return true, nil
	}
	return done, err
}
