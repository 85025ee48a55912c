// Package failover moves writes and traffic between regions in a safe
// order and reports what it did:
//
//  1. stop writes where they leave: region state PASSIVE, then the
//     region's write gate CLOSED (once that write returns, nothing commits
//     there any more: not an in-flight request, not an SDK retry, not a
//     service whose cached state still says ACTIVE), then wait for the
//     services' state caches to notice (the settle time);
//  2. wait until replication has brought the leaving regions' latest
//     events and claims to the arriving region;
//  3. move traffic (Global Accelerator traffic dials on AWS, the local
//     edge's dials locally; SKIPPED, and said so, when neither is
//     configured);
//  4. open writes where they arrive (region state ACTIVE).
//
// Between 1 and 4 no region of an active-passive flip takes writes: the
// APIs answer 503 with Retry-After and clients retry, so nothing is lost
// and nothing is written on both sides of the flip. If replication does
// not converge in time, the leaving regions get their previous state back
// (no region is left without writes) and the command fails, unless forced.
package failover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/salesplatform/libs/sales/regionstate"
)

// Mode is the target topology.
type Mode string

const (
	// ActivePassive: only the target region takes writes and traffic.
	ActivePassive Mode = "active-passive"
	// ActiveActive: every region takes writes and traffic.
	ActiveActive Mode = "active-active"
)

// ParseMode reads a mode flag.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case ActivePassive, "ap", "active/passive":
		return ActivePassive, nil
	case ActiveActive, "aa", "active/active":
		return ActiveActive, nil
	}
	return "", fmt.Errorf("mode must be active-passive or active-active, got %q", s)
}

// States reads and writes region states (SSM on AWS and locally).
type States interface {
	Get(ctx context.Context, region string) (regionstate.State, error)
	Set(ctx context.Context, region string, s regionstate.State) error
}

// Traffic reads and sets traffic dials (0-100) per region.
type Traffic interface {
	// Name says what is driven ("Global Accelerator", "local edge").
	Name() string
	Dials(ctx context.Context) (map[string]int, error)
	SetDial(ctx context.Context, region string, dial int) error
}

// Gates open and close regions' write gates (the event store's gate items,
// checked by every write in the same transaction).
type Gates interface {
	// Close closes region's gate in region's own table. When it returns
	// nil, no write commits in region afterwards.
	Close(ctx context.Context, region string) error
	// CloseVia writes region's closed gate into via's table, for a region
	// that cannot be reached: replication closes it there once it is back.
	CloseVia(ctx context.Context, region, via string) error
	// Open opens region's gate in region's own table.
	Open(ctx context.Context, region string) error
}

// Convergence waits until what was written in from before since is in to.
type Convergence interface {
	Wait(ctx context.Context, from, to string, since time.Time) (detail string, err error)
}

// Plan is one failover.
type Plan struct {
	To      string
	Mode    Mode
	Regions []string
	// Settle is how long to wait after changing a state so every service's
	// cached state has expired (at least the services' REGION_STATE_TTL).
	Settle time.Duration
	// ConvergeTimeout bounds the replication wait.
	ConvergeTimeout time.Duration
	// Force goes on when replication does not converge (a region lost for
	// good): what had not replicated is then missing in the arriving region.
	Force bool
}

// Deps are the clients a failover drives. Traffic may be nil (SKIPPED).
type Deps struct {
	States      States
	Traffic     Traffic
	Convergence Convergence
	// Gates may be nil: then only the region states stop writes, and the
	// report says so.
	Gates Gates
	// TrafficMissing explains a nil Traffic in the report.
	TrafficMissing string
	Now            func() time.Time
	Sleep          func(ctx context.Context, d time.Duration) error
}

// Step outcomes.
const (
	StepOK         = "OK"
	StepSkipped    = "SKIPPED"
	StepFailed     = "FAILED"
	StepRolledBack = "ROLLED BACK"
)

// Step is one reported step.
type Step struct {
	Name   string        `json:"name"`
	Status string        `json:"status"`
	Took   time.Duration `json:"took_ns"`
	Detail string        `json:"detail,omitempty"`
}

// RegionView is a region's state and dial before or after.
type RegionView struct {
	State string `json:"state"`
	Dial  *int   `json:"dial,omitempty"`
}

// Report is what a failover did.
type Report struct {
	To     string                `json:"to"`
	Mode   Mode                  `json:"mode"`
	Steps  []Step                `json:"steps"`
	Before map[string]RegionView `json:"before"`
	After  map[string]RegionView `json:"after"`
	// WritesClosed is how long no region took writes (active-passive).
	WritesClosed time.Duration `json:"writes_closed_ns"`
	// ClosedAt is, per leaving region, when its write gate was closed:
	// nothing commits there after it.
	ClosedAt map[string]time.Time `json:"closed_at,omitempty"`
	Total    time.Duration        `json:"total_ns"`
	OK       bool                 `json:"ok"`
}

// ErrFailed marks a failover that did not complete.
var ErrFailed = errors.New("failover did not complete")

type runner struct {
	plan Plan
	deps Deps
	out  io.Writer
	rep  *Report
}

// Run performs plan, printing each step to out as it ends.
func Run(ctx context.Context, plan Plan, deps Deps, out io.Writer) (Report, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Sleep == nil {
		deps.Sleep = sleep
	}
	if out == nil {
		out = io.Discard
	}
	rep := Report{To: plan.To, Mode: plan.Mode, Before: map[string]RegionView{}, After: map[string]RegionView{}, ClosedAt: map[string]time.Time{}}
	if !slices.Contains(plan.Regions, plan.To) {
		return rep, fmt.Errorf("unknown region %q (the stack has %s)", plan.To, strings.Join(plan.Regions, ", "))
	}
	if plan.ConvergeTimeout <= 0 {
		plan.ConvergeTimeout = 2 * time.Minute
	}
	r := &runner{plan: plan, deps: deps, out: out, rep: &rep}
	start := deps.Now()
	err := r.run(ctx)
	rep.Total = deps.Now().Sub(start)
	rep.After = r.view(ctx)
	rep.OK = err == nil
	return rep, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r *runner) step(name string, f func() (status, detail string, err error)) error {
	t := r.deps.Now()
	fmt.Fprintf(r.out, "→ %s ...\n", name)
	status, detail, err := f()
	if err != nil && status == "" {
		status = StepFailed
	}
	if err != nil && detail == "" {
		detail = err.Error()
	}
	s := Step{Name: name, Status: status, Took: r.deps.Now().Sub(t), Detail: detail}
	r.rep.Steps = append(r.rep.Steps, s)
	fmt.Fprintf(r.out, "  %-11s %7s  %s\n", s.Status, s.Took.Round(time.Millisecond), s.Detail)
	return err
}

func (r *runner) view(ctx context.Context) map[string]RegionView {
	out := map[string]RegionView{}
	var dials map[string]int
	if r.deps.Traffic != nil {
		dials, _ = r.deps.Traffic.Dials(ctx)
	}
	for _, region := range r.plan.Regions {
		v := RegionView{State: string(regionstate.Unknown)}
		if s, err := r.deps.States.Get(ctx, region); err == nil {
			v.State = string(s)
		}
		if d, ok := dials[region]; ok {
			v.Dial = &d
		}
		out[region] = v
	}
	return out
}

func (r *runner) run(ctx context.Context) error {
	p := r.plan
	var leaving []string // regions whose writes this failover stops
	var others []string
	for _, region := range p.Regions {
		if region != p.To {
			others = append(others, region)
		}
	}
	if err := r.step("read the current state", func() (string, string, error) {
		r.rep.Before = r.view(ctx)
		var parts []string
		for _, region := range p.Regions {
			v := r.rep.Before[region]
			s := region + "=" + v.State
			if v.Dial != nil {
				s += fmt.Sprintf(" (dial %d)", *v.Dial)
			}
			parts = append(parts, s)
			if region != p.To && p.Mode == ActivePassive && v.State != string(regionstate.Passive) {
				leaving = append(leaving, region)
			}
		}
		return StepOK, strings.Join(parts, ", "), nil
	}); err != nil {
		return err
	}

	var closedAt time.Time
	if err := r.step("stop writes where they leave", func() (string, string, error) {
		if p.Mode == ActiveActive {
			return StepSkipped, "active-active keeps every region's writes", nil
		}
		if len(leaving) == 0 {
			return StepSkipped, "no other region takes writes", nil
		}
		var closed, unreachable []string
		for _, region := range leaving {
			if err := r.deps.States.Set(ctx, region, regionstate.Passive); err != nil {
				// A region whose state could not even be read is lost:
				// forced, the failover goes on without closing it. Its
				// services fail closed on their own once their cached
				// state is older than REGION_STATE_MAX_STALE (ADR 0002),
				// and its gate is closed through the arriving region's
				// replica, which replication brings back to it.
				if p.Force && r.rep.Before[region].State == string(regionstate.Unknown) {
					note := fmt.Sprintf("%s (unreachable, forced on: %v", region, err)
					if r.deps.Gates != nil {
						if gerr := r.deps.Gates.CloseVia(ctx, region, p.To); gerr == nil {
							note += "; gate closed in " + p.To + "'s replica, effective when it replicates back"
						}
					}
					unreachable = append(unreachable, note+")")
					continue
				}
				return StepFailed, "", fmt.Errorf("set %s PASSIVE: %w", region, err)
			}
			if r.deps.Gates != nil {
				if err := r.deps.Gates.Close(ctx, region); err != nil {
					return StepFailed, "", fmt.Errorf("%s is PASSIVE but its write gate did not close: %w", region, err)
				}
				r.rep.ClosedAt[region] = r.deps.Now()
			}
			closed = append(closed, region)
		}
		closedAt = r.deps.Now()
		if err := r.deps.Sleep(ctx, p.Settle); err != nil {
			return StepFailed, "", err
		}
		gates := "write gate closed"
		if r.deps.Gates == nil {
			gates = "no write gates configured: writes stop as the services' cached states expire"
		}
		detail := fmt.Sprintf("%s PASSIVE, %s; waited %s for the services' state caches", strings.Join(closed, ", "), gates, p.Settle)
		if len(unreachable) > 0 {
			if len(closed) == 0 {
				detail = "none closed"
			}
			return StepFailed, detail + "; NOT closed: " + strings.Join(unreachable, "; "), nil
		}
		return StepOK, detail, nil
	}); err != nil {
		return err
	}

	// Replication into the arriving region from every region that wrote:
	// the leaving ones (active-passive) or all others (active-active, the
	// arriving region having been passive).
	sources := leaving
	if p.Mode == ActiveActive {
		sources = others
	}
	if err := r.step("wait for replication to converge", func() (string, string, error) {
		if r.deps.Convergence == nil {
			return StepSkipped, "no convergence check configured", nil
		}
		if len(sources) == 0 {
			return StepSkipped, "no region wrote since the last flip", nil
		}
		if p.Mode == ActiveActive && r.rep.Before[p.To].State == string(regionstate.Active) {
			return StepSkipped, p.To + " already takes writes: nothing to catch up", nil
		}
		since := closedAt
		if since.IsZero() {
			since = r.deps.Now()
		}
		var details []string
		for _, from := range sources {
			cctx, cancel := context.WithTimeout(ctx, p.ConvergeTimeout)
			d, err := r.deps.Convergence.Wait(cctx, from, p.To, since)
			cancel()
			if err != nil {
				if p.Force {
					details = append(details, fmt.Sprintf("%s→%s NOT converged (forced on): %v", from, p.To, err))
					continue
				}
				return StepFailed, "", fmt.Errorf("%s→%s: %w", from, p.To, err)
			}
			details = append(details, d)
		}
		if p.Force && len(details) > 0 && strings.Contains(strings.Join(details, ""), "NOT converged") {
			return StepFailed, strings.Join(details, "; "), nil
		}
		return StepOK, strings.Join(details, "; "), nil
	}); err != nil {
		r.rollback(ctx, leaving)
		return err
	}

	if err := r.step("move traffic", func() (string, string, error) {
		if r.deps.Traffic == nil {
			return StepSkipped, "no traffic control configured: " + r.deps.TrafficMissing, nil
		}
		want := map[string]int{p.To: 100}
		for _, region := range others {
			if p.Mode == ActiveActive {
				want[region] = 100
			} else {
				want[region] = 0
			}
		}
		// Open the arriving region's dial before closing the others, so
		// the edge always has somewhere to send a request.
		order := append([]string{p.To}, others...)
		var parts []string
		for _, region := range order {
			if err := r.deps.Traffic.SetDial(ctx, region, want[region]); err != nil {
				return StepFailed, "", fmt.Errorf("%s dial %s=%d: %w", r.deps.Traffic.Name(), region, want[region], err)
			}
			parts = append(parts, fmt.Sprintf("%s=%d", region, want[region]))
		}
		return StepOK, r.deps.Traffic.Name() + " dials " + strings.Join(parts, ", "), nil
	}); err != nil {
		r.rollback(ctx, leaving)
		return err
	}

	return r.step("open writes where they arrive", func() (string, string, error) {
		opened := []string{p.To}
		if p.Mode == ActiveActive {
			opened = append(opened, others...)
		}
		for _, region := range opened {
			if r.deps.Gates != nil {
				if err := r.deps.Gates.Open(ctx, region); err != nil {
					return StepFailed, "", fmt.Errorf("open the write gate of %s: %w", region, err)
				}
			}
			if err := r.deps.States.Set(ctx, region, regionstate.Active); err != nil {
				return StepFailed, "", fmt.Errorf("set %s ACTIVE: %w", region, err)
			}
		}
		if !closedAt.IsZero() {
			r.rep.WritesClosed = r.deps.Now().Sub(closedAt)
		}
		return StepOK, strings.Join(opened, ", ") + " ACTIVE", nil
	})
}

// rollback gives the leaving regions their writes back after a failure
// before traffic moved, so the system is never left with no writer.
func (r *runner) rollback(ctx context.Context, leaving []string) {
	if len(leaving) == 0 {
		return
	}
	_ = r.step("roll back: reopen writes where they were", func() (string, string, error) {
		for _, region := range leaving {
			prev := regionstate.State(r.rep.Before[region].State)
			if prev != regionstate.Active {
				continue
			}
			if r.deps.Gates != nil {
				if err := r.deps.Gates.Open(context.WithoutCancel(ctx), region); err != nil {
					return StepFailed, "", fmt.Errorf("reopen the write gate of %s: %w", region, err)
				}
			}
			if err := r.deps.States.Set(context.WithoutCancel(ctx), region, regionstate.Active); err != nil {
				return StepFailed, "", fmt.Errorf("set %s back to ACTIVE: %w", region, err)
			}
		}
		return StepRolledBack, strings.Join(leaving, ", ") + " ACTIVE again (check the traffic dials: a partial move is not undone)", nil
	})
}

// Print writes the closing report.
func (rep Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nfailover to %s (%s): %s in %s", rep.To, rep.Mode, map[bool]string{true: "DONE", false: "FAILED"}[rep.OK], rep.Total.Round(time.Millisecond))
	if rep.WritesClosed > 0 {
		fmt.Fprintf(w, "; writes closed for %s", rep.WritesClosed.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	regions := make([]string, 0, len(rep.After))
	for region := range rep.After {
		regions = append(regions, region)
	}
	slices.Sort(regions)
	for _, region := range regions {
		fmt.Fprintf(w, "  %-12s %s → %s\n", region, rep.Before[region].String(), rep.After[region].String())
	}
	skipped := 0
	for _, s := range rep.Steps {
		if s.Status == StepSkipped {
			skipped++
		}
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  %d step(s) SKIPPED (see above)\n", skipped)
	}
}

func (v RegionView) String() string {
	if v.State == "" {
		return "?"
	}
	if v.Dial == nil {
		return v.State
	}
	return fmt.Sprintf("%s/dial %d", v.State, *v.Dial)
}
