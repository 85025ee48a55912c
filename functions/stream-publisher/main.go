// Command stream-publisher is the Lambda function behind the event store's
// stream: it publishes each INSERT of its own region to the region's SNS
// topic (DESIGN §4). Build it with `task build:lambda` (provided.al2023,
// arm64); run it locally with cmd/stream-runner.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/salesplatform/functions/stream-publisher/internal/app"
	"github.com/salesplatform/functions/stream-publisher/internal/config"
	"github.com/salesplatform/functions/stream-publisher/internal/publisher"
	"github.com/salesplatform/libs/sales/awsconfig"
)

func main() {
	h, err := initHandler(context.Background(), os.LookupEnv, os.Stdout)
	if err != nil {
		// One line naming what is wrong; Lambda reports it as an init error.
		fmt.Fprintln(os.Stderr, "stream-publisher:", err)
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// initHandler is everything the cold start does: read the environment,
// load the AWS config, build the handler. No AWS call is made.
func initHandler(ctx context.Context, lookup func(string) (string, bool), out io.Writer) (*publisher.Handler, error) {
	c, err := config.LoadLambda(lookup)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: c.LogLevel})).With("service", "stream-publisher")
	counter := awsconfig.NewRequestCounter(nil)
	return app.NewHandler(ctx, c, app.Options{
		Recorder: publisher.NewEMF(out, "stream-publisher", counter),
		AWS:      awsconfig.Options{Counter: counter},
		Logger:   log,
	})
}
