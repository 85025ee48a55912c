// Package config reads the stream publisher's settings from the
// environment once, at start. Every problem is reported in one line that
// names the variable, so a misconfigured function or runner stops with a
// message an operator can act on.
package config

import (
	"log/slog"
	"strings"

	"github.com/salesplatform/libs/sales/envconfig"
)

// Lambda is the function's configuration.
type Lambda struct {
	// Region is the function's region (AWS_REGION): its SNS client's.
	Region string
	// PublishRegion is the origin_region whose events it publishes
	// (PUBLISHER_REGION, default Region).
	PublishRegion string
	// TopicARN is SNS_SALES_PROCESSING_TOPIC.
	TopicARN string
	// PublishConcurrency is PUBLISH_CONCURRENCY (default 4).
	PublishConcurrency int
	LogLevel           slog.Level
}

// Env reads variables and collects every problem: the project's one
// environment reader.
type Env = envconfig.Reader

func lambda(r *Env) Lambda {
	var c Lambda
	c.Region = r.Required("AWS_REGION", "the region this publisher runs in")
	c.PublishRegion = r.String("PUBLISHER_REGION", c.Region)
	c.TopicARN = r.Required("SNS_SALES_PROCESSING_TOPIC", "the ARN of the SNS topic events are published to")
	if c.TopicARN != "" && (RegionOf(c.TopicARN) == "" || !strings.HasPrefix(c.TopicARN, "arn:") || strings.Count(c.TopicARN, ":") != 5) {
		r.Fail("SNS_SALES_PROCESSING_TOPIC must be a topic ARN (arn:aws:sns:<region>:<account>:<name>), got %q", c.TopicARN)
	}
	c.PublishConcurrency = r.Int("PUBLISH_CONCURRENCY", 4, 1, 64)
	c.LogLevel = r.LogLevel("LOG_LEVEL", slog.LevelInfo)
	return c
}

// LoadLambda reads the function's configuration.
func LoadLambda(lookup func(string) (string, bool)) (Lambda, error) {
	r := NewEnv(lookup)
	c := lambda(r)
	return c, r.Err()
}

// NewEnv reads from lookup (os.LookupEnv in main).
func NewEnv(lookup func(string) (string, bool)) *Env { return envconfig.New(lookup) }

// LoadLambdaFrom reads the function's part of a larger configuration.
func LoadLambdaFrom(r *Env) Lambda { return lambda(r) }

// RegionOf is the region field of an ARN ("" if it is not an ARN).
func RegionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
