// Package config reads the stream publisher's settings from the
// environment once, at start. Every problem is reported in one line that
// names the variable, so a misconfigured function or runner stops with a
// message an operator can act on.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
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

// Env reads variables and collects every problem.
type Env struct {
	lookup   func(string) (string, bool)
	problems []string
}

func (r *Env) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *Env) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// Required returns a variable that must be set; what describes it.
func (r *Env) Required(name, what string) string {
	v, ok := r.get(name)
	if !ok {
		r.fail("%s is required (%s)", name, what)
	}
	return v
}

// String returns a variable or def.
func (r *Env) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// Int returns an integer in [lo, hi], or def when unset.
func (r *Env) Int(name string, def, lo, hi int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail("%s must be an integer from %d to %d, got %q", name, lo, hi, v)
		return def
	}
	return n
}

// Duration returns a Go duration in [lo, hi], or def when unset.
func (r *Env) Duration(name string, def, lo, hi time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		r.fail("%s must be a duration from %s to %s such as 250ms, got %q", name, lo, hi, v)
		return def
	}
	return d
}

// Err is nil when every variable was fine, else one line naming them all.
func (r *Env) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("configuration: " + strings.Join(r.problems, "; "))
}

func (r *Env) lambda() Lambda {
	var c Lambda
	c.Region = r.Required("AWS_REGION", "the region this publisher runs in")
	c.PublishRegion = r.String("PUBLISHER_REGION", c.Region)
	c.TopicARN = r.Required("SNS_SALES_PROCESSING_TOPIC", "the ARN of the SNS topic events are published to")
	if c.TopicARN != "" && (RegionOf(c.TopicARN) == "" || !strings.HasPrefix(c.TopicARN, "arn:") || strings.Count(c.TopicARN, ":") != 5) {
		r.fail("SNS_SALES_PROCESSING_TOPIC must be a topic ARN (arn:aws:sns:<region>:<account>:<name>), got %q", c.TopicARN)
	}
	c.PublishConcurrency = r.Int("PUBLISH_CONCURRENCY", 4, 1, 64)
	level := r.String("LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		r.fail("LOG_LEVEL must be debug, info, warn or error, got %q", level)
	}
	return c
}

// LoadLambda reads the function's configuration.
func LoadLambda(lookup func(string) (string, bool)) (Lambda, error) {
	r := NewEnv(lookup)
	c := r.lambda()
	return c, r.Err()
}

// NewEnv reads from lookup (os.LookupEnv in main).
func NewEnv(lookup func(string) (string, bool)) *Env { return &Env{lookup: lookup} }

// Fail records a problem found by the caller.
func (r *Env) Fail(format string, args ...any) { r.fail(format, args...) }

// LoadLambdaFrom reads the function's part of a larger configuration.
func LoadLambdaFrom(r *Env) Lambda { return r.lambda() }

// RegionOf is the region field of an ARN ("" if it is not an ARN).
func RegionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}
