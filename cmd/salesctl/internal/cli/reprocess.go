package cli

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/messaging"
)

func init() { register(newReprocessCommand) }

// maxGeneration is the worker's bound on reprocess_generation.
const maxGeneration = 1_000_000

// lakeTypes narrows event types to the ones the lake holds.
func lakeTypes(types []domain.EventType) ([]domain.EventType, error) {
	lake := []domain.EventType{domain.EventSaleCreated, domain.EventSaleCancelled}
	if len(types) == 0 {
		return lake, nil
	}
	var out []domain.EventType
	for _, t := range types {
		if t == domain.EventSaleCreated || t == domain.EventSaleCancelled {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--event-type %v: the lake holds only %v", types, lake)
	}
	return out, nil
}

func newReprocessCommand(g *Globals) *cobra.Command {
	var f runFlags
	var sel storeSelection
	var generation, concurrency int
	c := &cobra.Command{
		Use:   "reprocess --region R (--since T [--until T] | --sale-id ID...) [--generation G]",
		Short: "Make the workers write lake records again, under a new generation prefix, without touching current ones",
		Long: `Republish SaleCreated and SaleCancelled events with the message attribute
reprocess_generation=G. A worker that receives one claims it under its own
idempotency key (<event_id>#g<G>), writes the lake object under
reprocess/g<G>/<normal key> and appends nothing to the event store: the
current lake objects and the sales' processed flags stay as they are until an
operator compares the generation and promotes it (docs/operations/replay.md).

Without --generation the next unused generation of the region's lake is
taken (and kept in the checkpoint for a resume). The topic fans out to both
regions' processing queues, so both lakes get the generation.`,
		Example: `  salesctl reprocess --region us-east-1 --since 2026-11-01 --until 2026-11-27 --checkpoint g.ckpt
  salesctl reprocess --region us-east-1 --since 7d --generation 3 --rate 100
  salesctl reprocess --region us-east-1 --sale-id 0192f5a8-7f7e-7c1e-9a3b-2f6f3f1a2b3c --dry-run`,
		RunE: func(c *cobra.Command, _ []string) error {
			now := time.Now()
			region, err := f.check(g)
			if err != nil {
				return usageOf(c, err)
			}
			if generation < 0 || generation > maxGeneration {
				return usageOf(c, fmt.Errorf("--generation must be 1 to %d (0: the next unused one), got %d", maxGeneration, generation))
			}
			if concurrency < 1 || concurrency > 32 {
				return usageOf(c, fmt.Errorf("--concurrency must be 1 to 32, got %d", concurrency))
			}
			cfg, counter, err := awsConfig(c.Context(), f.region)
			if err != nil {
				return err
			}
			src, pinned, err := sel.source(ddb.NewFromConfig(cfg), region.EventTable, f.region, now, true)
			if err != nil {
				return usageOf(c, err)
			}
			if region.TopicARN == "" && !f.dryRun {
				return errors.New("the stack description has no topic_arn for this region")
			}
			s3c := s3.NewFromConfig(cfg, awsconfig.S3Options(cfg))
			snsc := sns.NewFromConfig(cfg)
			x := &execution{g: g, f: &f, label: "reprocess " + f.region, unit: "items", counter: counter,
				opts: replay.Options{Command: "reprocess", Selection: src.Selection()}, notes: map[string]string{}}
			x.prepare = func(r *replay.Runner) error {
				gen := generation
				if v, ok := r.Extra("generation"); ok {
					pinned, err := strconv.Atoi(v)
					if err != nil {
						return fmt.Errorf("checkpoint's generation %q: %w", v, err)
					}
					if gen != 0 && gen != pinned {
						return fmt.Errorf("%w: the checkpoint is for generation %d, not %d", replay.ErrCheckpointMismatch, pinned, gen)
					}
					gen = pinned
				}
				if gen == 0 {
					if region.LakeBucket == "" {
						return errors.New("the stack description has no lake_bucket for this region: pass --generation")
					}
					latest, err := replay.LatestGeneration(c.Context(), s3c, region.LakeBucket)
					if err != nil {
						return err
					}
					gen = latest + 1
				}
				if !f.dryRun {
					if err := r.SetExtra("generation", strconv.Itoa(gen)); err != nil {
						return err
					}
				}
				r.SetPublisher(messaging.NewPublisher(snsc, region.TopicARN, messaging.PublisherOptions{
					Concurrency:     concurrency,
					ExtraAttributes: map[string]string{messaging.AttrReprocessGeneration: strconv.Itoa(gen)},
				}))
				x.notes["generation"] = strconv.Itoa(gen)
				if region.LakeBucket != "" {
					x.notes["lake prefix"] = fmt.Sprintf("s3://%s/%s/g%d/", region.LakeBucket, "reprocess", gen)
				}
				return pinned.apply(r)
			}
			return x.run(c.Context(), src)
		},
	}
	f.add(c, "events")
	sel.add(c)
	c.Flags().IntVar(&generation, "generation", 0, "reprocessing generation (1 or more; default: one above the highest in the region's lake)")
	c.Flags().IntVar(&concurrency, "concurrency", 4, "SNS PublishBatch calls in flight per Scan segment (1-32)")
	return withUsageErrors(c)
}
