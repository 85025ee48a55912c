package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/replay"
	"github.com/salesplatform/libs/sales/stack"
)

func init() { register(newDLQCommand) }

func newDLQCommand(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and redrive dead letters",
		Long: `Dead letters are messages the worker could not process: poison messages it
sent there at once (with a dead_letter_reason attribute) and messages SQS
moved there after maxReceiveCount failed receives. Fix the cause, inspect,
then redrive; the worker is idempotent, so a message that was in fact
processed is acknowledged without a second effect.`,
	}
	c.AddCommand(newDLQInspectCommand(g), newDLQRedriveCommand(g))
	return group(c)
}

// dlqURL resolves --queue: processing (the processing DLQ), publisher (the
// stream publisher's failure queue) or a queue URL.
func dlqURL(r stack.Region, q string) (string, error) {
	switch q {
	case "", "processing":
		if r.ProcessingDLQURL == "" {
			return "", errors.New("the stack description has no processing_dlq_url for this region")
		}
		return r.ProcessingDLQURL, nil
	case "publisher":
		if r.PublisherFailureQueueURL == "" {
			return "", errors.New("the stack description has no publisher_failure_queue_url for this region")
		}
		return r.PublisherFailureQueueURL, nil
	}
	if !strings.HasPrefix(q, "http://") && !strings.HasPrefix(q, "https://") {
		return "", fmt.Errorf("--queue %q: want processing, publisher or a queue URL", q)
	}
	return q, nil
}

func newDLQInspectCommand(g *Globals) *cobra.Command {
	var region, queue, output string
	var maxMessages int
	var dryRun bool
	c := &cobra.Command{
		Use:   "inspect --region R [--queue processing|publisher|URL]",
		Short: "Summarise a dead-letter queue: counts by event type, reason and origin, ages, sample ids",
		Long: `Receive up to --max dead letters, summarise them and make them visible again
at once. Receiving raises the messages' receive counts (harmless in a
dead-letter queue, which has no redrive policy of its own) and hides each
for a few seconds; --dry-run reads only the queue's counters.`,
		Example: `  salesctl dlq inspect --region us-east-1
  salesctl dlq inspect --region us-east-1 --queue publisher --output json`,
		RunE: func(c *cobra.Command, _ []string) error {
			if region == "" {
				return usageOf(c, errors.New("--region is required"))
			}
			if maxMessages < 1 || maxMessages > 100_000 {
				return usageOf(c, fmt.Errorf("--max must be 1 to 100000, got %d", maxMessages))
			}
			if output != "text" && output != "json" {
				return usageOf(c, fmt.Errorf("--output %q: want text or json", output))
			}
			st, err := g.LoadStack()
			if err != nil {
				return err
			}
			r, err := st.Region(region)
			if err != nil {
				return usageOf(c, err)
			}
			url, err := dlqURL(r, queue)
			if err != nil {
				return usageOf(c, err)
			}
			cfg, _, err := awsConfig(c.Context(), region)
			if err != nil {
				return err
			}
			api := sqs.NewFromConfig(cfg)
			var in replay.Inspection
			if dryRun {
				d, err := replay.Depth(c.Context(), api, url)
				if err != nil {
					return err
				}
				in = replay.Inspection{Queue: url, Depth: d}
			} else if in, err = replay.Inspect(c.Context(), api, url, maxMessages, 30*time.Second); err != nil {
				return err
			}
			return printInspection(g.Out, output, region, in)
		},
	}
	fl := c.Flags()
	fl.StringVar(&region, "region", "", "region (required)")
	fl.StringVar(&queue, "queue", "processing", "processing (the processing DLQ), publisher (the stream publisher's failure queue) or a queue URL")
	fl.IntVar(&maxMessages, "max", 1000, "most messages to look at")
	fl.StringVar(&output, "output", "text", "text or json")
	fl.BoolVar(&dryRun, "dry-run", false, "read only the queue's counters; receive nothing")
	return withUsageErrors(c)
}

func printInspection(w io.Writer, format, region string, in replay.Inspection) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	fmt.Fprintf(w, "dead letters in %s\n", in.Queue)
	fmt.Fprintf(w, "  messages       %d visible, %d in flight, %d delayed (approximate)\n", in.Depth.Visible, in.Depth.InFlight, in.Depth.Delayed)
	if in.Sampled == 0 {
		return nil
	}
	fmt.Fprintf(w, "  inspected      %d\n", in.Sampled)
	if !in.Oldest.IsZero() {
		now := time.Now()
		fmt.Fprintf(w, "  age            oldest %s (%s ago), newest %s (%s ago)\n", in.Oldest.Format(time.RFC3339), now.Sub(in.Oldest).Round(time.Second),
			in.Newest.Format(time.RFC3339), now.Sub(in.Newest).Round(time.Second))
	}
	fmt.Fprintf(w, "  receive count  up to %d\n", in.MaxRecv)
	section := func(title string, m map[string]int, samplePrefix string) {
		if len(m) == 0 {
			return
		}
		fmt.Fprintf(w, "  %s\n", title)
		for _, k := range replay.SortedKeys(m) {
			fmt.Fprintf(w, "    %-32s %6d", k, m[k])
			if s := in.Samples[samplePrefix+k]; len(s) > 0 {
				fmt.Fprintf(w, "   e.g. %s", strings.Join(s, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	section("by event type", in.ByType, "")
	section("by reason", in.ByReason, "reason:")
	section("by origin region", in.ByOrigin, "-")
	if in.StreamBatches > 0 {
		fmt.Fprintf(w, "  stream batches the publisher gave up: %d (%d records); republish them with\n", in.StreamBatches, in.StreamRecords)
		fmt.Fprintf(w, "    salesctl replay stream --region %s --from %s\n", region, in.EarliestSequence)
	}
	return nil
}

func newDLQRedriveCommand(g *Globals) *cobra.Command {
	var f runFlags
	var to, method, queue string
	var maxMessages int64
	var visibility time.Duration
	c := &cobra.Command{
		Use:   "redrive --region R [--to source|<queue>] [--max N] [--method auto|move-task|copy]",
		Short: "Move dead letters back to the queue they came from (or another) once the cause is fixed",
		Long: `Move the processing dead-letter queue's messages back, unchanged (body and
attributes), to the processing queue or to --to.

Methods: move-task asks SQS to move them (StartMessageMoveTask; --rate maps
to its per-second limit; it cannot stop at --max). copy receives, sends to
the target, and deletes from the dead-letter queue only after the send
succeeded, recording sent-but-not-deleted messages in the checkpoint so a
crash loses nothing and a resume sends nothing twice. auto (the default)
uses copy against an emulator (AWS_ENDPOINT_URL: the local emulator has no
move tasks) or with --max, and move-task on AWS.`,
		Example: `  salesctl dlq redrive --region us-east-1 --dry-run
  salesctl dlq redrive --region us-east-1 --max 10 --checkpoint redrive.ckpt
  salesctl dlq redrive --region us-east-1 --to https://sqs.us-east-1.amazonaws.com/123456789012/sales-quarantine --method copy`,
		RunE: func(c *cobra.Command, _ []string) error {
			region, err := f.check(g)
			if err != nil {
				return usageOf(c, err)
			}
			if maxMessages < 0 {
				return usageOf(c, fmt.Errorf("--max must not be negative, got %d", maxMessages))
			}
			if method != "auto" && method != "move-task" && method != "copy" {
				return usageOf(c, fmt.Errorf("--method %q: want auto, move-task or copy", method))
			}
			if method == "move-task" && maxMessages > 0 {
				return usageOf(c, errors.New("--max needs --method copy: a message move task cannot stop at a count"))
			}
			if visibility < time.Second || visibility > 12*time.Hour {
				return usageOf(c, fmt.Errorf("--visibility must be 1s to 12h, got %s", visibility))
			}
			if queue == "publisher" {
				return usageOf(c, errors.New("the publisher's failure queue holds stream positions, not events: run 'salesctl dlq inspect --queue publisher' and replay the stream from the sequence it prints"))
			}
			source, err := dlqURL(region, queue)
			if err != nil {
				return usageOf(c, err)
			}
			cfg, counter, err := awsConfig(c.Context(), f.region)
			if err != nil {
				return err
			}
			api := sqs.NewFromConfig(cfg)
			target, err := redriveTarget(c.Context(), api, region, queue, source, to)
			if err != nil {
				return usageOf(c, err)
			}
			if method == "auto" {
				method = "move-task"
				if emulated(cfg) || maxMessages > 0 {
					method = "copy"
				}
			}
			var src selectedSource
			if method == "copy" || f.dryRun {
				src = &replay.RedriveCopy{API: api, Source: source, Target: target, Max: maxMessages, Visibility: visibility}
			} else {
				srcDepth, err := replay.Depth(c.Context(), api, source)
				if err != nil {
					return err
				}
				mt := &replay.RedriveMoveTask{API: api, SourceARN: srcDepth.ARN, Rate: f.rate}
				if to != "" && to != "source" {
					d, err := replay.Depth(c.Context(), api, target)
					if err != nil {
						return err
					}
					mt.TargetARN = d.ARN
				}
				src = mt
				f.rate = 0 // SQS applies it
			}
			x := &execution{g: g, f: &f, label: "dlq redrive " + f.region, unit: "messages", counter: counter,
				opts:  replay.Options{Command: "dlq redrive", Selection: src.Selection()},
				notes: map[string]string{"method": method, "from": source, "to": target}}
			return x.run(c.Context(), src)
		},
	}
	f.add(c, "messages")
	fl := c.Flags()
	fl.StringVar(&queue, "queue", "processing", "dead-letter queue: processing or a queue URL")
	fl.StringVar(&to, "to", "source", "target: source (the queue the messages came from) or a queue URL or name")
	fl.Int64Var(&maxMessages, "max", 0, "move at most this many messages (0: all; needs --method copy)")
	fl.StringVar(&method, "method", "auto", "auto, move-task (SQS moves them) or copy (receive, send, delete)")
	fl.DurationVar(&visibility, "visibility", 60*time.Second, "copy method: how long a received message stays hidden while it is copied")
	return withUsageErrors(c)
}

// redriveTarget resolves --to.
func redriveTarget(ctx context.Context, api *sqs.Client, r stack.Region, queue, source, to string) (string, error) {
	switch {
	case to == "" || to == "source":
		if queue == "" || queue == "processing" {
			if r.ProcessingQueueURL == "" {
				return "", errors.New("the stack description has no processing_queue_url for this region: pass --to")
			}
			return r.ProcessingQueueURL, nil
		}
		out, err := api.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: &source})
		if err != nil {
			return "", operational{fmt.Errorf("find the source queue of %s: %w", source, err)}
		}
		if len(out.QueueUrls) != 1 {
			return "", fmt.Errorf("%s is the dead-letter queue of %d queues: pass --to", source, len(out.QueueUrls))
		}
		return out.QueueUrls[0], nil
	case strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://"):
		return to, nil
	}
	out, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(to)})
	if err != nil {
		return "", fmt.Errorf("--to %q: no such queue: %v", to, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
