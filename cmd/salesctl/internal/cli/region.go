package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ga "github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/spf13/cobra"

	"github.com/salesplatform/cmd/salesctl/internal/failover"
	"github.com/salesplatform/libs/sales/awsconfig"
	esddb "github.com/salesplatform/libs/sales/eventstore/dynamodb"
	"github.com/salesplatform/libs/sales/regionstate"
	"github.com/salesplatform/libs/sales/stack"
)

func init() { register(regionCommand) }

// regionDeps wires the failover package to the stack: SSM parameters,
// the traffic control (Global Accelerator when every region has an
// endpoint group, else the local edge, else none) and the convergence
// check over the event store and idempotency tables.
func regionDeps(ctx context.Context, s stack.Stack) (failover.Deps, error) {
	params := map[string]regionstate.SSM{}
	clients := map[string]failover.ItemAPI{}
	events := failover.ReplicatedTable{Name: "events", Fence: failover.EventFence, ByRegion: map[string]string{}}
	claims := failover.ReplicatedTable{Name: "idempotency", Fence: failover.ClaimFence, ByRegion: map[string]string{}}
	groups := map[string]string{}
	for _, name := range s.RegionNames() {
		r := s.Regions[name]
		cfg, err := awsconfig.Load(ctx, name, awsconfig.Options{})
		if err != nil {
			return failover.Deps{}, err
		}
		params[name] = regionstate.SSM{Client: ssm.NewFromConfig(cfg), Name: r.RegionStateParameter}
		clients[name] = dynamodb.NewFromConfig(cfg)
		events.ByRegion[name] = r.EventTable
		claims.ByRegion[name] = r.IdempotencyTable
		if r.EndpointGroupARN != "" {
			groups[name] = r.EndpointGroupARN
		}
	}
	gateClients := map[string]esddb.GateAPI{}
	for name, c := range clients {
		gateClients[name] = c
	}
	host, _ := os.Hostname()
	d := failover.Deps{
		States:      failover.SSMStates{Params: params},
		Convergence: failover.FenceConvergence{Tables: []failover.ReplicatedTable{events, claims}, Clients: clients},
		Gates:       failover.DynamoGates{Clients: gateClients, Tables: events.ByRegion, By: "salesctl@" + host},
	}
	switch {
	case len(groups) == len(s.Regions):
		cfg, err := awsconfig.Load(ctx, failover.APIRegion, awsconfig.Options{})
		if err != nil {
			return failover.Deps{}, err
		}
		d.Traffic = failover.GlobalAccelerator{Client: ga.NewFromConfig(cfg), Groups: groups}
	case s.EdgeURL != "":
		d.Traffic = failover.Edge{URL: s.EdgeURL, HTTP: &http.Client{Timeout: 5 * time.Second}}
	default:
		d.TrafficMissing = "the stack description has neither an endpoint_group_arn for every region nor an edge_url"
	}
	return d, nil
}

func regionCommand(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "region",
		Short: "Read or set a region's ACTIVE/PASSIVE state (SSM only; use failover to move traffic too)",
	}
	var getRegion string
	get := &cobra.Command{
		Use:   "get",
		Short: "Show each region's state (and traffic dial when one is configured)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.LoadStack()
			if err != nil {
				return err
			}
			regions := s.RegionNames()
			if getRegion != "" {
				if _, err := s.Region(getRegion); err != nil {
					return Usage("%v", err)
				}
				regions = []string{getRegion}
			}
			d, err := regionDeps(cmd.Context(), s)
			if err != nil {
				return err
			}
			var dials map[string]int
			traffic := "none configured"
			if d.Traffic != nil {
				traffic = d.Traffic.Name()
				if dials, err = d.Traffic.Dials(cmd.Context()); err != nil {
					fmt.Fprintf(g.Err, "salesctl: traffic dials unavailable: %v\n", err)
				}
			}
			tw := tabwriter.NewWriter(g.Out, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "REGION\tSTATE\tDIAL (%s)\n", traffic)
			failed := false
			for _, r := range regions {
				st, err := d.States.Get(cmd.Context(), r)
				state := string(st)
				if err != nil {
					state, failed = "ERROR: "+err.Error(), true
				}
				dial := "-"
				if v, ok := dials[r]; ok {
					dial = fmt.Sprint(v)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r, state, dial)
			}
			tw.Flush()
			if failed {
				return ErrFailed
			}
			return nil
		},
	}
	get.Flags().StringVar(&getRegion, "region", "", "only this region")

	var setRegion, setState string
	set := &cobra.Command{
		Use:   "set",
		Short: "Set one region's state in SSM (traffic dials unchanged)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if setRegion == "" || setState == "" {
				return Usage("--region and --state are required")
			}
			want, err := regionstate.Parse(setState)
			if err != nil {
				return Usage("--state: %v", err)
			}
			s, err := g.LoadStack()
			if err != nil {
				return err
			}
			if _, err := s.Region(setRegion); err != nil {
				return Usage("%v", err)
			}
			d, err := regionDeps(cmd.Context(), s)
			if err != nil {
				return err
			}
			before, _ := d.States.Get(cmd.Context(), setRegion)
			t := time.Now()
			if err := d.States.Set(cmd.Context(), setRegion, want); err != nil {
				fmt.Fprintf(g.Err, "salesctl: %v\n", err)
				return ErrFailed
			}
			fmt.Fprintf(g.Out, "%s: %s → %s (%s)\n", setRegion, before, want, time.Since(t).Round(time.Millisecond))
			if want == regionstate.Passive {
				var active []string
				for _, r := range s.RegionNames() {
					if st, err := d.States.Get(cmd.Context(), r); err == nil && st == regionstate.Active {
						active = append(active, r)
					}
				}
				if len(active) == 0 {
					fmt.Fprintln(g.Err, "warning: no region is ACTIVE now: every write is refused (503) until one is")
				} else {
					fmt.Fprintf(g.Out, "ACTIVE now: %s (traffic dials unchanged: use 'salesctl failover' to move traffic too)\n", strings.Join(active, ", "))
				}
			}
			return nil
		},
	}
	set.Flags().StringVar(&setRegion, "region", "", "region to set (required)")
	set.Flags().StringVar(&setState, "state", "", "ACTIVE or PASSIVE (required)")
	c.AddCommand(get, set)
	return c
}
