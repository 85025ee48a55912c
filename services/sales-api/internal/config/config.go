// Package config reads the sales API's settings from the environment once.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/salesplatform/libs/sales/envconfig"
)

// Config is every setting of the API. The original image's variable names
// are kept; new ones are additive with safe defaults.
type Config struct {
	// Host is the listen address (HTTP_HOST, default all interfaces as a
	// container needs; the local stack sets 127.0.0.1).
	Host           string
	Port           int
	Region         string
	Table          string
	StateParameter string
	// StateTTL is how often the region state is re-read from SSM.
	StateTTL time.Duration
	// StateMaxStale is how long a state stays trusted while SSM is
	// unreachable; after it the region refuses writes.
	StateMaxStale time.Duration
	// ShutdownDelay keeps serving after SIGTERM (readiness already 503) so
	// the load balancer deregisters the task before the listener closes.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests.
	ShutdownTimeout time.Duration
	// RequestTimeout is every request's budget for its AWS calls; with the
	// one-second void that settles an unknown write it must stay below the
	// edge's integration timeout (API Gateway's integration_timeout_ms,
	// 10 s by default here).
	RequestTimeout time.Duration
	LogLevel       slog.Level
	AccessLog      bool
	// LegacyTopic is SNS_SALES_PROCESSING_TOPIC, accepted for compatibility:
	// the API no longer publishes (the stream publisher does).
	LegacyTopic string
	// AuthMode is AUTH_MODE: none (the original API's behaviour, the local
	// stack) or gateway (the caller's identity in PrincipalHeader, set by
	// API Gateway; production sets it).
	AuthMode        string
	PrincipalHeader string
	// Operators may read and cancel every sale (OPERATOR_PRINCIPALS,
	// comma-separated; a trailing * matches a prefix).
	Operators []string
	// KeySecret (IDEMPOTENCY_KEY_SECRET) or KeySecretParameter
	// (IDEMPOTENCY_KEY_SECRET_PARAMETER, an SSM SecureString read once at
	// start) keys the derivation of sale ids from Idempotency-Keys; the
	// same value in every region. Required with AUTH_MODE=gateway.
	KeySecret          string
	KeySecretParameter string
}

// FromEnv reads the configuration; lookup is os.LookupEnv in production.
func FromEnv(lookup func(string) (string, bool)) (Config, error) {
	r := envconfig.New(lookup)
	c := Config{
		Host:               r.String("HTTP_HOST", ""),
		Port:               r.Int("PORT", 8080, 1, 65535),
		Region:             r.Required("AWS_REGION", "the region this API serves, e.g. us-east-1"),
		Table:              r.Required("DYNAMO_SALES_TABLE", "the event store table name"),
		StateParameter:     r.Required("SSM_PARAMETER_STORE_STATE", "the SSM parameter holding ACTIVE or PASSIVE"),
		StateTTL:           r.Duration("REGION_STATE_TTL", 5*time.Second, 100*time.Millisecond, 5*time.Minute),
		StateMaxStale:      r.Duration("REGION_STATE_MAX_STALE", 60*time.Second, time.Second, time.Hour),
		ShutdownDelay:      r.Duration("SHUTDOWN_DELAY", 0, 0, time.Minute),
		ShutdownTimeout:    r.Duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second, 5*time.Minute),
		RequestTimeout:     r.Duration("REQUEST_TIMEOUT", 8*time.Second, time.Second, 28*time.Second),
		LogLevel:           r.LogLevel("LOG_LEVEL", slog.LevelInfo),
		AccessLog:          r.Bool("ACCESS_LOG", true),
		LegacyTopic:        r.String("SNS_SALES_PROCESSING_TOPIC", ""),
		AuthMode:           r.String("AUTH_MODE", "none"),
		PrincipalHeader:    r.String("PRINCIPAL_HEADER", "X-Sales-Principal"),
		KeySecret:          r.String("IDEMPOTENCY_KEY_SECRET", ""),
		KeySecretParameter: r.String("IDEMPOTENCY_KEY_SECRET_PARAMETER", ""),
	}
	for _, o := range strings.Split(r.String("OPERATOR_PRINCIPALS", ""), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.Operators = append(c.Operators, o)
		}
	}
	if err := r.Err(); err != nil {
		return c, err
	}
	switch {
	case c.AuthMode != "none" && c.AuthMode != "gateway":
		return c, fmt.Errorf("configuration: AUTH_MODE must be none or gateway, got %q", c.AuthMode)
	case c.AuthMode == "gateway" && c.KeySecret == "" && c.KeySecretParameter == "":
		return c, fmt.Errorf("configuration: IDEMPOTENCY_KEY_SECRET_PARAMETER is required with AUTH_MODE=gateway (the SSM SecureString that keys sale ids derived from Idempotency-Keys)")
	case c.KeySecret != "" && len(c.KeySecret) < 16:
		return c, fmt.Errorf("configuration: IDEMPOTENCY_KEY_SECRET must be at least 16 characters")
	}
	if c.StateMaxStale <= c.StateTTL {
		return c, fmt.Errorf("configuration: REGION_STATE_MAX_STALE (%s) must be longer than REGION_STATE_TTL (%s)", c.StateMaxStale, c.StateTTL)
	}
	return c, nil
}
