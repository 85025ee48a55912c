// Package cli is salesctl's command tree. Each command lives in its own
// file and registers itself with register, so commands are added without
// touching this file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/salesplatform/libs/sales/stack"
)

// Globals are the flags every command shares.
type Globals struct {
	// StackFile describes the deployed resources (default: the local
	// stack's .local/infra/outputs.json, or $SALESCTL_STACK).
	StackFile string
	Out, Err  io.Writer
}

// LoadStack reads the stack description named by --stack.
func (g *Globals) LoadStack() (stack.Stack, error) { return stack.Load(g.StackFile) }

var builders []func(*Globals) *cobra.Command

// register adds a command builder; call it from an init function.
func register(b func(*Globals) *cobra.Command) { builders = append(builders, b) }

// ErrFailed makes Execute exit 1 after the command printed its own report.
var ErrFailed = errors.New("failed")

// Execute runs the CLI and returns the process exit code: 0 success, 1 the
// operation failed (or partly failed), 2 bad usage.
func Execute(ctx context.Context, args []string, out, errOut io.Writer) int {
	g := &Globals{Out: out, Err: errOut}
	root := &cobra.Command{
		Use:           "salesctl",
		Short:         "Operate the sales platform: region state, failover, replay, dead letters",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return Usage("unknown command %q", args[0])
			}
			return c.Help()
		},
	}
	def := os.Getenv("SALESCTL_STACK")
	if def == "" {
		def = ".local/infra/outputs.json"
	}
	root.PersistentFlags().StringVar(&g.StackFile, "stack", def, "stack description (resource names per region), as written by the infrastructure outputs task")
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	for _, b := range builders {
		root.AddCommand(b(g))
	}
	err := root.ExecuteContext(ctx)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(errOut, "salesctl: %v\nRun 'salesctl --help' for usage.\n", err)
		return 2
	case errors.Is(err, ErrFailed):
		return 1
	default:
		fmt.Fprintf(errOut, "salesctl: %v\n", err)
		return 1
	}
}

type usageError struct{ error }

// Usage wraps an argument problem so the CLI exits 2 with a usage hint.
func Usage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isCobraUsage(err error) bool {
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "requires at least", "accepts ", "required flag", "invalid argument"} {
		if strings.Contains(err.Error(), p) {
			return true
		}
	}
	return false
}
