// Package config reads the worker's settings from the environment, once, at
// start. The original worker's variable names are kept; every new one is
// optional with a safe default.
package config

import (
	"strconv"
	"time"

	"github.com/salesplatform/libs/sales/envconfig"
)

// Config is everything the worker needs to run.
type Config struct {
	// Region is the worker's own region (AWS_REGION): SaleProcessed events
	// are written at positions of this region, and events whose origin is
	// another region wait for the takeover delay.
	Region string
	// QueueURL is the processing queue (SQS_SALES_QUEUE).
	QueueURL string
	// DLQURL is the dead-letter queue (SQS_SALES_DLQ). Empty: read from the
	// processing queue's redrive policy at start.
	DLQURL string
	// StateParameter is the region-state SSM parameter (SSM_PARAMETER_STORE_STATE).
	StateParameter string
	// EventsTable is the event store (DYNAMO_SALES_TABLE).
	EventsTable string
	// IdempotencyTable holds claims (DYNAMO_SALES_IDEMPOTENCY_TABLE).
	IdempotencyTable string
	// Bucket is the lake (S3_SALES_BUCKET).
	Bucket string

	// HTTPHost and Port are where the probe server listens (HTTP_HOST,
	// default all interfaces as a container needs; PORT, default 8080).
	HTTPHost string
	Port     int
	// Consumers is the number of receive loops (CONSUMER_THREADS, default 2);
	// each handles a batch of up to 10 messages concurrently.
	Consumers int
	// VisibilityTimeout asked for on every receive (VISIBILITY_TIMEOUT,
	// default 30 s, whole seconds).
	VisibilityTimeout time.Duration
	// Lease is how long a claim holds (IDEMPOTENCY_LEASE, default
	// 1.5 × VisibilityTimeout; must exceed it).
	Lease time.Duration
	// IdempotencyTTL is how long claim records live (IDEMPOTENCY_TTL,
	// default 14 days, SQS's longest retention).
	IdempotencyTTL time.Duration
	// TakeoverDelay is how old another region's event must be before this
	// region processes it (TAKEOVER_DELAY, default 60 s).
	TakeoverDelay time.Duration
	// RegionStateTTL is the region-state cache's refresh period
	// (REGION_STATE_TTL, default 5 s).
	RegionStateTTL time.Duration
	// StopTimeout bounds the drain after SIGTERM (STOP_TIMEOUT, default
	// 25 s, under ECS's default 30 s stopTimeout).
	StopTimeout time.Duration
	// ReceiveWait is the long-poll wait (RECEIVE_WAIT_TIME, default 20 s).
	ReceiveWait time.Duration
	// PassiveVisibility is how long a message stays hidden when the region
	// is PASSIVE and its claim is not COMPLETED (PASSIVE_VISIBILITY,
	// default 120 s; doubled per receive up to 15 min).
	PassiveVisibility time.Duration
	// BackoffBase and BackoffMax shape the retry delay of a failed message:
	// base × 2^(receives-1), capped, with jitter (RETRY_BACKOFF_BASE default
	// 2 s, RETRY_BACKOFF_MAX default 5 min).
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// maxVisibility is SQS's limit (12 hours).
const maxVisibility = 12 * time.Hour

// FromEnv reads the configuration through getenv (os.Getenv in main). A
// missing or malformed variable is an error naming it; all such problems
// are reported together, on one line.
func FromEnv(getenv func(string) string) (Config, error) {
	p := envconfig.FromGetenv(getenv)
	const queueURL = "a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)"
	c := Config{
		Region:           p.Required("AWS_REGION", "the worker's AWS region"),
		QueueURL:         p.URL("SQS_SALES_QUEUE", queueURL, true),
		DLQURL:           p.URL("SQS_SALES_DLQ", queueURL, false),
		StateParameter:   p.Required("SSM_PARAMETER_STORE_STATE", "name of the region-state SSM parameter"),
		EventsTable:      p.Required("DYNAMO_SALES_TABLE", "name of the event-store table"),
		IdempotencyTable: p.Required("DYNAMO_SALES_IDEMPOTENCY_TABLE", "name of the idempotency table"),
		Bucket:           p.Required("S3_SALES_BUCKET", "name of the lake bucket"),

		HTTPHost:          p.String("HTTP_HOST", ""),
		Port:              p.Int("PORT", 8080, 1, 65535),
		Consumers:         p.Int("CONSUMER_THREADS", 2, 1, 64),
		VisibilityTimeout: p.Duration("VISIBILITY_TIMEOUT", 30*time.Second, time.Second, maxVisibility),
		IdempotencyTTL:    p.Duration("IDEMPOTENCY_TTL", 14*24*time.Hour, time.Minute, 365*24*time.Hour),
		TakeoverDelay:     p.Duration("TAKEOVER_DELAY", 60*time.Second, 0, maxVisibility),
		RegionStateTTL:    p.Duration("REGION_STATE_TTL", 5*time.Second, 100*time.Millisecond, 10*time.Minute),
		StopTimeout:       p.Duration("STOP_TIMEOUT", 25*time.Second, time.Second, 10*time.Minute),
		ReceiveWait:       p.Duration("RECEIVE_WAIT_TIME", 20*time.Second, 0, 20*time.Second),
		PassiveVisibility: p.Duration("PASSIVE_VISIBILITY", 120*time.Second, time.Second, maxVisibility),
		BackoffBase:       p.Duration("RETRY_BACKOFF_BASE", 2*time.Second, 0, maxVisibility),
		BackoffMax:        p.Duration("RETRY_BACKOFF_MAX", 5*time.Minute, time.Second, maxVisibility),
	}
	if c.VisibilityTimeout%time.Second != 0 {
		p.Fail("VISIBILITY_TIMEOUT must be whole seconds, got %s", c.VisibilityTimeout)
	}
	if c.ReceiveWait%time.Second != 0 {
		p.Fail("RECEIVE_WAIT_TIME must be whole seconds, got %s", c.ReceiveWait)
	}
	c.Lease = p.Duration("IDEMPOTENCY_LEASE", c.VisibilityTimeout*3/2, time.Second, 24*time.Hour)
	if c.Lease <= c.VisibilityTimeout {
		p.Fail("IDEMPOTENCY_LEASE (%s) must exceed VISIBILITY_TIMEOUT (%s): a redelivered message must not take over work still running", c.Lease, c.VisibilityTimeout)
	}
	if c.BackoffMax < c.BackoffBase {
		p.Fail("RETRY_BACKOFF_MAX (%s) must not be below RETRY_BACKOFF_BASE (%s)", c.BackoffMax, c.BackoffBase)
	}
	if err := p.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Addr is the probe server's listen address.
func (c Config) Addr() string { return c.HTTPHost + ":" + strconv.Itoa(c.Port) }
