package awsconfig

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// RequestCounter counts AWS calls per service and operation at two depths:
// operations (what the code asked for) and requests (HTTP attempts,
// retries included: what AWS sees and bills). The request cost of each
// operation of the system is part of its design, and tests assert it.
type RequestCounter struct {
	operations *prometheus.CounterVec
	requests   *prometheus.CounterVec
	mu         sync.Mutex
	ops, reqs  map[string]*atomic.Int64
}

// NewRequestCounter registers aws_operations_total and aws_requests_total
// on reg (which may be nil).
func NewRequestCounter(reg prometheus.Registerer) *RequestCounter {
	c := &RequestCounter{
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aws_operations_total",
			Help: "AWS SDK operations called, by service and operation (retries not counted).",
		}, []string{"service", "operation"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aws_requests_total",
			Help: "AWS HTTP requests sent, by service and operation (every retry attempt counted).",
		}, []string{"service", "operation"}),
		ops:  map[string]*atomic.Int64{},
		reqs: map[string]*atomic.Int64{},
	}
	if reg != nil {
		reg.MustRegister(c.operations, c.requests)
	}
	return c
}

// AddToStack installs the counting middleware: operations at Initialize
// (once per call), requests after the retry middleware (once per attempt).
func (c *RequestCounter) AddToStack(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountOperations",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.inc(ctx, c.operations, c.ops)
			return next.HandleInitialize(ctx, in)
		}), middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("CountRequests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.inc(ctx, c.requests, c.reqs)
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

func (c *RequestCounter) inc(ctx context.Context, vec *prometheus.CounterVec, m map[string]*atomic.Int64) {
	service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	vec.WithLabelValues(service, op).Inc()
	key := service + "." + op
	c.mu.Lock()
	n := m[key]
	if n == nil {
		n = &atomic.Int64{}
		m[key] = n
	}
	c.mu.Unlock()
	n.Add(1)
}

// Counts is a snapshot: "Service.Operation" → count.
type Counts map[string]int64

// Operations returns the operations counted so far.
func (c *RequestCounter) Operations() Counts { return snapshot(&c.mu, c.ops) }

// Requests returns the requests (attempts) counted so far.
func (c *RequestCounter) Requests() Counts { return snapshot(&c.mu, c.reqs) }

func snapshot(mu *sync.Mutex, m map[string]*atomic.Int64) Counts {
	mu.Lock()
	defer mu.Unlock()
	out := make(Counts, len(m))
	for k, v := range m {
		out[k] = v.Load()
	}
	return out
}

// Sub returns c minus before, dropping zero entries: the calls made between
// two snapshots.
func (c Counts) Sub(before Counts) Counts {
	out := Counts{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Total sums all entries, or those of one service ("DynamoDB", "SNS", ...).
func (c Counts) Total(service string) int64 {
	var n int64
	for k, v := range c {
		if service == "" || strings.HasPrefix(k, service+".") {
			n += v
		}
	}
	return n
}

// String renders the counts sorted, for test failures and reports.
func (c Counts) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strconv.FormatInt(c[k], 10))
	}
	return b.String()
}
