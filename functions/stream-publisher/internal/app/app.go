// Package app wires the stream publisher from its configuration: the one
// place the Lambda and the local runner build their handler, so both run
// the same thing.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/salesplatform/functions/stream-publisher/internal/config"
	"github.com/salesplatform/functions/stream-publisher/internal/publisher"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/messaging"
)

// Options are what differs between the Lambda and the runner.
type Options struct {
	Recorder publisher.Recorder
	AWS      awsconfig.Options
	Logger   *slog.Logger
}

// NewHandler builds the handler. It makes no AWS call, so a cold start
// pays only for loading the configuration.
func NewHandler(ctx context.Context, c config.Lambda, o Options) (*publisher.Handler, error) {
	// The SNS client talks to the topic's region (normally the function's).
	region := config.RegionOf(c.TopicARN)
	if region == "" {
		region = c.Region
	}
	cfg, err := awsconfig.Load(ctx, region, o.AWS)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	pub := messaging.NewPublisher(sns.NewFromConfig(cfg), c.TopicARN, messaging.PublisherOptions{Concurrency: c.PublishConcurrency})
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return publisher.New(c.PublishRegion, pub, o.Recorder, log.With("publish_region", c.PublishRegion)), nil
}
