package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/failover"
)

func init() { register(failoverCommand) }

func failoverCommand(g *Globals) *cobra.Command {
	var (
		to, mode, output string
		settle, timeout  time.Duration
		force            bool
	)
	c := &cobra.Command{
		Use:   "failover --to REGION [--mode active-passive|active-active]",
		Short: "Move writes and traffic to a region in a safe order, and report each step",
		Long: `Moves writes and traffic in a safe order:
  1. stop writes where they leave (region state PASSIVE) and wait --settle for the services' caches,
  2. wait until the arriving region's tables hold the leaving regions' latest events and claims,
  3. move traffic (Global Accelerator dials on AWS; the local edge's dials locally; SKIPPED when neither is configured),
  4. open writes where they arrive (region state ACTIVE).
--mode active-active opens every region and sets every dial to 100 instead.
Exit codes: 0 done, 1 a step failed (the leaving regions get their writes back if it failed before traffic moved), 2 bad usage.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return Usage("--to is required")
			}
			m, err := failover.ParseMode(mode)
			if err != nil {
				return Usage("--mode: %v", err)
			}
			if output != "text" && output != "json" {
				return Usage("--output must be text or json")
			}
			s, err := g.LoadStack()
			if err != nil {
				return err
			}
			if _, err := s.Region(to); err != nil {
				return Usage("%v", err)
			}
			d, err := regionDeps(cmd.Context(), s)
			if err != nil {
				return err
			}
			plan := failover.Plan{To: to, Mode: m, Regions: s.RegionNames(), Settle: settle, ConvergeTimeout: timeout, Force: force}
			progress := g.Out
			if output == "json" {
				progress = g.Err
			}
			fmt.Fprintf(progress, "failover to %s (%s)\n", to, m)
			rep, err := failover.Run(cmd.Context(), plan, d, progress)
			if output == "json" {
				enc := json.NewEncoder(g.Out)
				enc.SetIndent("", "  ")
				_ = enc.Encode(rep)
			} else {
				rep.Print(g.Out)
			}
			if err != nil {
				fmt.Fprintf(g.Err, "salesctl: failover: %v\n", err)
				return ErrFailed
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "region that takes writes and traffic (required)")
	f.StringVar(&mode, "mode", string(failover.ActivePassive), "active-passive (only --to is ACTIVE) or active-active (every region ACTIVE)")
	f.DurationVar(&settle, "settle", 10*time.Second, "wait after stopping writes, at least the services' REGION_STATE_TTL")
	f.DurationVar(&timeout, "converge-timeout", 2*time.Minute, "give up waiting for replication after this long")
	f.BoolVar(&force, "force", false, "go on when the leaving region is lost: past a replication that does not converge (unreplicated writes stay behind) and past a state parameter that can be neither read nor written (its services fail closed on their own)")
	f.StringVar(&output, "output", "text", "report format: text or json (progress then goes to stderr)")
	return c
}
