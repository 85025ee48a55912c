package cli

// Flags, AWS wiring and the summary shared by the replay, reprocess and
// dlq commands.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/awsconfig"
	"github.com/salesplatform/libs/sales/domain"
	"github.com/salesplatform/libs/sales/stack"
)

// runFlags are the flags every replay-like command has.
type runFlags struct {
	region        string
	dryRun        bool
	rate          float64
	checkpoint    string
	progress      string
	progressEvery time.Duration
	output        string
	logLevel      string
}

func (f *runFlags) add(c *cobra.Command, unit string) {
	fl := c.Flags()
	fl.StringVar(&f.region, "region", "", "region to operate on (required; one of the stack's regions)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "read and count, print what would happen; publish, send and write nothing")
	fl.Float64Var(&f.rate, "rate", 0, "limit to this many "+unit+" per second (0: no limit)")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint file: written atomically as the run goes; run the same command with it again to resume after Ctrl-C or a crash")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, plain lines otherwise), bar, lines or none")
	fl.DurationVar(&f.progressEvery, "progress-every", 10*time.Second, "interval of the plain progress lines")
	fl.StringVar(&f.output, "output", "text", "summary format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "warn", "level of the JSON logs on stderr: debug, info, warn or error")
}

// check validates the shared flags and returns the region's resources.
func (f *runFlags) check(g *Globals) (stack.Region, error) {
	if f.region == "" {
		return stack.Region{}, errors.New("--region is required")
	}
	if f.rate < 0 {
		return stack.Region{}, fmt.Errorf("--rate must not be negative, got %g", f.rate)
	}
	if _, err := replay.ParseProgressMode(f.progress); err != nil {
		return stack.Region{}, err
	}
	if f.output != "text" && f.output != "json" {
		return stack.Region{}, fmt.Errorf("--output %q: want text or json", f.output)
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		return stack.Region{}, err
	}
	st, err := g.LoadStack()
	if err != nil {
		return stack.Region{}, operational{err}
	}
	r, err := st.Region(f.region)
	if err != nil {
		return stack.Region{}, err
	}
	return r, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func (f *runFlags) logger(w io.Writer) *slog.Logger {
	l, _ := parseLevel(f.logLevel)
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("command", "salesctl", "region", f.region)
}

// operational marks an error that is not the user's arguments (exit 1).
type operational struct{ error }

func (o operational) Unwrap() error { return o.error }

// usageOf turns an argument problem into a usage error that carries the
// command's usage, and passes other errors through.
func usageOf(c *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var op operational
	if errors.As(err, &op) {
		return op.error
	}
	return Usage("%v\n\n%s", err, strings.TrimRight(c.UsageString(), "\n"))
}

// group makes a command that only holds subcommands answer an unknown
// subcommand with a usage error (exit 2) instead of its help.
func group(c *cobra.Command) *cobra.Command {
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageOf(c, fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath()))
		}
		return c.Help()
	}
	return c
}

// withUsageErrors makes flag parsing errors of c print c's usage.
func withUsageErrors(c *cobra.Command) *cobra.Command {
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageOf(c, err) })
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageOf(c, fmt.Errorf("unexpected argument %q", args[0]))
		}
		return nil
	}
	return c
}

// awsConfig loads the region's AWS config with a request counter, through
// the project's one loader (AWS_ENDPOINT_URL points it at an emulator).
func awsConfig(ctx context.Context, region string) (aws.Config, *awsconfig.RequestCounter, error) {
	counter := awsconfig.NewRequestCounter(nil)
	cfg, err := awsconfig.Load(ctx, region, awsconfig.Options{Counter: counter})
	if err != nil {
		return aws.Config{}, nil, err
	}
	return cfg, counter, nil
}

// emulated reports whether the config points at an endpoint override (the
// local emulator) rather than AWS.
func emulated(cfg aws.Config) bool { return cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" }

// pins are times computed from "now" (an age such as --since 6h, a
// defaulted --until) that the first run stores in its checkpoint and a
// resume reads back, so both select the same events.
type pins []pin

type pin struct {
	key string
	t   *time.Time
}

func (p *pins) add(key string, t *time.Time) { *p = append(*p, pin{key, t}) }

// apply replaces each time with the checkpoint's, or stores it there.
func (p pins) apply(r *replay.Runner) error {
	for _, x := range p {
		if v, ok := r.Extra(x.key); ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("checkpoint's %s %q: %w", x.key, v, err)
			}
			*x.t = t
			continue
		}
		if !r.DryRun() {
			if err := r.SetExtra(x.key, x.t.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
	}
	return nil
}

// relativeTime reports whether a --since/--until value is an age.
func relativeTime(s string) bool {
	s = strings.TrimSpace(s)
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err != nil
}

// parseTime reads an RFC 3339 time, a date (midnight UTC), or a duration
// meaning that long before now ("90m", "36h", "7d").
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := time.ParseDuration(days + "h"); err == nil && d >= 0 {
			return now.Add(-24 * d).UTC(), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-11-27T10:00:00Z), a date (2026-11-27) or an age (90m, 36h, 7d)", flag, s)
}

// parseEventTypes validates --event-type values.
func parseEventTypes(vals []string) ([]domain.EventType, error) {
	known := []domain.EventType{domain.EventSaleCreated, domain.EventSaleCancelled, domain.EventSaleProcessed}
	var out []domain.EventType
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			ok := false
			for _, k := range known {
				if strings.EqualFold(p, string(k)) {
					out = append(out, k)
					ok = true
				}
			}
			if !ok {
				return nil, fmt.Errorf("--event-type %q: want one of %v", p, known)
			}
		}
	}
	return out, nil
}

// parseSaleIDs validates --sale-id values (repeated or comma separated).
func parseSaleIDs(vals []string) ([]uuid.UUID, error) {
	var out []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			id, err := uuid.Parse(p)
			if err != nil {
				return nil, fmt.Errorf("--sale-id %q is not a UUID", p)
			}
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// originFilter reads --origin: a region name, "any", or "" for def.
func originFilter(v, def string) (string, error) {
	switch v = strings.TrimSpace(v); v {
	case "":
		return def, nil
	case "any", "all":
		return "", nil
	}
	if strings.ContainsAny(v, " /,") {
		return "", fmt.Errorf("--origin %q: want a region name or any", v)
	}
	return v, nil
}

// source is what the runner reads from.
type source interface {
	Run(ctx context.Context, r *replay.Runner) (bool, error)
}

// execution is one run of a replay-like command.
type execution struct {
	g       *Globals
	f       *runFlags
	label   string
	unit    string
	opts    replay.Options
	counter *awsconfig.RequestCounter
	// prepare runs after the runner opened (and may read or pin facts in
	// the checkpoint); notes are added to the summary.
	prepare func(r *replay.Runner) error
	notes   map[string]string
}

// run opens the runner, shows progress while src runs, prints the summary
// and returns ErrFailed unless everything was done.
func (x *execution) run(ctx context.Context, src source) error {
	x.opts.DryRun = x.f.dryRun
	x.opts.Rate = x.f.rate
	x.opts.CheckpointPath = x.f.checkpoint
	x.opts.Logger = x.f.logger(x.g.Err)
	r, err := replay.Open(x.opts)
	if err != nil {
		return err
	}
	if x.prepare != nil {
		if err := x.prepare(r); err != nil {
			return err
		}
	}
	if r.Resumed() {
		s := r.Snapshot()
		fmt.Fprintf(x.g.Err, "%s: resuming from %s (run %d; %d published so far)\n", x.label, x.f.checkpoint, r.Runs(), s.Counts.Published)
	}
	if x.f.dryRun {
		fmt.Fprintf(x.g.Err, "%s: DRY RUN: nothing will be published or sent\n", x.label)
	}
	mode, _ := replay.ParseProgressMode(x.f.progress)
	p := replay.StartProgress(x.g.Err, mode, x.f.progressEvery, x.label, x.unit, r.Snapshot)
	complete, runErr := src.Run(ctx, r)
	p.Stop()
	if runErr == nil && !complete && ctx.Err() != nil {
		runErr = errors.New("interrupted")
	}
	res, err := r.Finish(complete, runErr)
	if err != nil {
		fmt.Fprintf(x.g.Err, "%s: %v\n", x.label, err)
		res.Complete = false
		if res.Error == "" {
			res.Error = err.Error()
		}
	}
	if x.counter != nil {
		res.AWSOperations = x.counter.Operations()
		res.AWSRequests = x.counter.Requests()
	}
	res.Notes = x.notes
	if err := printSummary(x.g.Out, x.f.output, x.label, x.f.checkpoint, x.f.rate, res); err != nil {
		return err
	}
	if !res.OK() {
		return ErrFailed
	}
	return nil
}

// printSummary writes the run's account.
func printSummary(w io.Writer, format, label, checkpoint string, rateLimit float64, res replay.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	verb := "published"
	if res.DryRun {
		verb = "would publish"
	}
	status := "complete"
	switch {
	case res.Error != "":
		status = "stopped: " + res.Error
	case !res.Complete:
		status = "incomplete"
	case res.Counts.Failed > 0:
		status = "complete, with failures"
	}
	if res.DryRun {
		status = "DRY RUN, " + status
	}
	fmt.Fprintf(w, "%s: %s (%s)\n", label, status, time.Duration(res.ElapsedSeconds*float64(time.Second)).Round(time.Millisecond))
	fmt.Fprintf(w, "  selection      %s\n", res.Selection)
	fmt.Fprintf(w, "  read           %d\n", res.Counts.Read)
	fmt.Fprintf(w, "  %-14s %d\n", verb, res.Counts.Published)
	fmt.Fprintf(w, "  skipped        %d%s\n", res.Counts.SkippedTotal(), reasons(res.Counts.Skipped))
	fmt.Fprintf(w, "  failed         %d\n", res.Counts.Failed)
	fmt.Fprintf(w, "  duplicates     %d (sent again after a resume or an unanswered call; idempotent consumers absorb them)\n", res.Counts.Duplicates)
	if res.Runs > 1 {
		fmt.Fprintf(w, "  runs           %d (resumed from %s)\n", res.Runs, checkpoint)
	}
	if res.DryRun && rateLimit > 0 && res.Counts.Published > 0 {
		fmt.Fprintf(w, "  at --rate %g    about %s\n", rateLimit, (time.Duration(float64(res.Counts.Published)/rateLimit) * time.Second).Round(time.Second))
	}
	keys := make([]string, 0, len(res.Notes))
	for k := range res.Notes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-14s %s\n", k, res.Notes[k])
	}
	if len(res.AWSOperations) > 0 {
		fmt.Fprintf(w, "  aws calls      %s\n", awsconfig.Counts(res.AWSOperations).String())
		if retries := awsconfig.Counts(res.AWSRequests).Sub(res.AWSOperations); len(retries) > 0 {
			fmt.Fprintf(w, "  aws retries    %s\n", retries.String())
		}
	}
	for i, f := range res.Failures {
		if i == 10 {
			fmt.Fprintf(w, "  ... %d more failures in the checkpoint file\n", len(res.Failures)-10)
			break
		}
		fmt.Fprintf(w, "  failed: %s: %s\n", f.ID, f.Reason)
	}
	if !res.OK() && checkpoint != "" && !res.DryRun {
		fmt.Fprintf(w, "  resume with the same command and --checkpoint %s\n", checkpoint)
	}
	return nil
}

func reasons(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
