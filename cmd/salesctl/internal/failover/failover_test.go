package failover

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/salesplatform/libs/sales/regionstate"
)

const (
	east = "us-east-1"
	sa   = "sa-east-1"
)

type rig struct {
	states  *FakeStates
	traffic *FakeTraffic
	conv    *FakeConvergence
	slept   []time.Duration
}

func newRig(east0, sa0 regionstate.State, eastDial, saDial int) *rig {
	r := &rig{states: &FakeStates{States: map[string]regionstate.State{east: east0, sa: sa0}}}
	r.traffic = &FakeTraffic{Dial: map[string]int{east: eastDial, sa: saDial}, Log: &r.states.Log}
	r.conv = &FakeConvergence{Log: &r.states.Log}
	return r
}

func (r *rig) deps() Deps {
	return Deps{States: r.states, Traffic: r.traffic, Convergence: r.conv,
		Sleep: func(_ context.Context, d time.Duration) error { r.slept = append(r.slept, d); return nil }}
}

func TestFailoverOrderAndOutcome(t *testing.T) {
	tests := []struct {
		name      string
		rig       *rig
		plan      Plan
		wantLog   []string
		wantState map[string]regionstate.State
		wantDial  map[string]int
		statuses  []string
	}{
		{
			name:      "active/active to active/passive on sa-east-1",
			rig:       newRig(regionstate.Active, regionstate.Active, 100, 100),
			plan:      Plan{To: sa, Mode: ActivePassive, Settle: 2 * time.Second},
			wantLog:   []string{"state us-east-1=PASSIVE", "converge us-east-1→sa-east-1", "dial sa-east-1=100", "dial us-east-1=0", "state sa-east-1=ACTIVE"},
			wantState: map[string]regionstate.State{east: regionstate.Passive, sa: regionstate.Active},
			wantDial:  map[string]int{east: 0, sa: 100},
			statuses:  []string{StepOK, StepOK, StepOK, StepOK, StepOK},
		},
		{
			name:      "flip from us-east-1 active to sa-east-1",
			rig:       newRig(regionstate.Active, regionstate.Passive, 100, 0),
			plan:      Plan{To: sa, Mode: ActivePassive},
			wantLog:   []string{"state us-east-1=PASSIVE", "converge us-east-1→sa-east-1", "dial sa-east-1=100", "dial us-east-1=0", "state sa-east-1=ACTIVE"},
			wantState: map[string]regionstate.State{east: regionstate.Passive, sa: regionstate.Active},
			wantDial:  map[string]int{east: 0, sa: 100},
			statuses:  []string{StepOK, StepOK, StepOK, StepOK, StepOK},
		},
		{
			name:      "back to active/active",
			rig:       newRig(regionstate.Passive, regionstate.Active, 0, 100),
			plan:      Plan{To: east, Mode: ActiveActive},
			wantLog:   []string{"converge sa-east-1→us-east-1", "dial us-east-1=100", "dial sa-east-1=100", "state us-east-1=ACTIVE", "state sa-east-1=ACTIVE"},
			wantState: map[string]regionstate.State{east: regionstate.Active, sa: regionstate.Active},
			wantDial:  map[string]int{east: 100, sa: 100},
			statuses:  []string{StepOK, StepSkipped, StepOK, StepOK, StepOK},
		},
		{
			name:      "active/active again: nothing to converge",
			rig:       newRig(regionstate.Active, regionstate.Active, 100, 100),
			plan:      Plan{To: east, Mode: ActiveActive},
			wantLog:   []string{"dial us-east-1=100", "dial sa-east-1=100", "state us-east-1=ACTIVE", "state sa-east-1=ACTIVE"},
			wantState: map[string]regionstate.State{east: regionstate.Active, sa: regionstate.Active},
			wantDial:  map[string]int{east: 100, sa: 100},
			statuses:  []string{StepOK, StepSkipped, StepSkipped, StepOK, StepOK},
		},
		{
			name:      "already there: nothing to stop or converge",
			rig:       newRig(regionstate.Passive, regionstate.Active, 0, 100),
			plan:      Plan{To: sa, Mode: ActivePassive},
			wantLog:   []string{"dial sa-east-1=100", "dial us-east-1=0", "state sa-east-1=ACTIVE"},
			wantState: map[string]regionstate.State{east: regionstate.Passive, sa: regionstate.Active},
			wantDial:  map[string]int{east: 0, sa: 100},
			statuses:  []string{StepOK, StepSkipped, StepSkipped, StepOK, StepOK},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.plan.Regions = []string{sa, east}
			var out bytes.Buffer
			rep, err := Run(context.Background(), tc.plan, tc.rig.deps(), &out)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			if !slices.Equal(tc.rig.states.Log, tc.wantLog) {
				t.Errorf("order\n got %v\nwant %v", tc.rig.states.Log, tc.wantLog)
			}
			for r, s := range tc.wantState {
				if tc.rig.states.States[r] != s {
					t.Errorf("%s state %s, want %s", r, tc.rig.states.States[r], s)
				}
				if tc.rig.traffic.Dial[r] != tc.wantDial[r] {
					t.Errorf("%s dial %d, want %d", r, tc.rig.traffic.Dial[r], tc.wantDial[r])
				}
				if rep.After[r].State != string(s) {
					t.Errorf("report after %s = %s", r, rep.After[r].State)
				}
			}
			var statuses []string
			for _, s := range rep.Steps {
				statuses = append(statuses, s.Status)
			}
			if !slices.Equal(statuses, tc.statuses) {
				t.Errorf("statuses %v, want %v", statuses, tc.statuses)
			}
			if !rep.OK || !strings.Contains(out.String(), "open writes where they arrive") {
				t.Errorf("report %+v\n%s", rep, out.String())
			}
		})
	}
}

func TestSettleIsWaitedAfterStoppingWrites(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Active, 100, 100)
	if _, err := Run(context.Background(), Plan{To: east, Mode: ActivePassive, Regions: []string{east, sa}, Settle: 3 * time.Second}, r.deps(), nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.slept, []time.Duration{3 * time.Second}) {
		t.Fatalf("slept %v", r.slept)
	}
}

func TestConvergenceFailureRollsBackWrites(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	r.conv.Err = errors.New("3 items missing")
	var out bytes.Buffer
	rep, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, r.deps(), &out)
	if err == nil || rep.OK {
		t.Fatal("want failure")
	}
	if r.states.States[east] != regionstate.Active || r.states.States[sa] != regionstate.Passive {
		t.Fatalf("states after rollback %v", r.states.States)
	}
	if r.traffic.Dial[east] != 100 || r.traffic.Dial[sa] != 0 {
		t.Fatalf("traffic moved: %v", r.traffic.Dial)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.Status != StepRolledBack {
		t.Fatalf("last step %+v", last)
	}
}

func TestForceGoesOnWithoutConvergence(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	r.conv.Err = errors.New("region unreachable")
	rep, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}, Force: true}, r.deps(), nil)
	if err != nil {
		t.Fatalf("forced run failed: %v", err)
	}
	if r.states.States[sa] != regionstate.Active || r.traffic.Dial[sa] != 100 {
		t.Fatalf("did not arrive: %v %v", r.states.States, r.traffic.Dial)
	}
	if rep.Steps[2].Status != StepFailed || !strings.Contains(rep.Steps[2].Detail, "NOT converged") {
		t.Fatalf("convergence step %+v", rep.Steps[2])
	}
}

func TestForceGoesOnPastALostRegionsState(t *testing.T) {
	// us-east-1 is lost: its state cannot be read nor written, its table
	// cannot take the fence.
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	delete(r.states.States, east)
	r.states.FailSet = map[string]bool{east: true}
	r.conv.Err = errors.New("region unreachable")

	if _, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, r.deps(), nil); err == nil {
		t.Fatal("without --force a region that cannot be closed must stop the failover")
	}
	if r.states.States[sa] != regionstate.Passive || r.traffic.Dial[sa] != 0 {
		t.Fatalf("unforced run moved something: %v %v", r.states.States, r.traffic.Dial)
	}

	rep, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}, Force: true}, r.deps(), nil)
	if err != nil {
		t.Fatalf("forced run failed: %v", err)
	}
	if r.states.States[sa] != regionstate.Active || r.traffic.Dial[sa] != 100 || r.traffic.Dial[east] != 0 {
		t.Fatalf("did not arrive: %v %v", r.states.States, r.traffic.Dial)
	}
	stop := rep.Steps[1]
	if stop.Status != StepFailed || !strings.Contains(stop.Detail, "NOT closed: us-east-1 (unreachable, forced on") {
		t.Fatalf("stop-writes step %+v", stop)
	}
}

func TestForceDoesNotSkipAReadableRegionThatRefusesToClose(t *testing.T) {
	// Readable but not writable (e.g. a permission problem): closing it is
	// not optional, forced or not — it would keep taking writes.
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	r.states.FailSet = map[string]bool{east: true}
	if _, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}, Force: true}, r.deps(), nil); err == nil {
		t.Fatal("want failure")
	}
	if r.states.States[sa] != regionstate.Passive || r.traffic.Dial[sa] != 0 {
		t.Fatalf("moved: %v %v", r.states.States, r.traffic.Dial)
	}
}

func TestTrafficFailureRollsBack(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	r.traffic.Fail = true
	_, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, r.deps(), nil)
	if err == nil {
		t.Fatal("want failure")
	}
	if r.states.States[east] != regionstate.Active || r.states.States[sa] != regionstate.Passive {
		t.Fatalf("states %v", r.states.States)
	}
}

func TestNoTrafficControlIsReportedSkipped(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	d := r.deps()
	d.Traffic, d.TrafficMissing = nil, "no edge_url"
	var out bytes.Buffer
	rep, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, d, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Steps[3].Status != StepSkipped || !strings.Contains(rep.Steps[3].Detail, "no edge_url") {
		t.Fatalf("traffic step %+v", rep.Steps[3])
	}
	if !strings.Contains(out.String(), "SKIPPED") {
		t.Fatalf("output does not say SKIPPED:\n%s", out.String())
	}
	var pr bytes.Buffer
	rep.Print(&pr)
	if !strings.Contains(pr.String(), "1 step(s) SKIPPED") {
		t.Fatalf("report:\n%s", pr.String())
	}
}

func TestUnknownTargetRegion(t *testing.T) {
	r := newRig(regionstate.Active, regionstate.Active, 100, 100)
	if _, err := Run(context.Background(), Plan{To: "eu-west-1", Regions: []string{east, sa}}, r.deps(), nil); err == nil {
		t.Fatal("accepted an unknown region")
	}
	if len(r.states.Log) != 0 {
		t.Fatalf("changed something: %v", r.states.Log)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"active-passive": ActivePassive, "AP": ActivePassive, "active-active": ActiveActive, " aa ": ActiveActive} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("%q → %q, %v", in, got, err)
		}
	}
	if _, err := ParseMode("both"); err == nil {
		t.Error("accepted both")
	}
}

// With write gates: the leaving region's gate closes right after its state
// (and its closing time is reported), the arriving region's gate opens
// before its state; a rollback reopens what it closed; a lost region's gate
// is closed through the arriving region's replica.
func TestFailoverClosesAndOpensWriteGates(t *testing.T) {
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }

	r := newRig(regionstate.Active, regionstate.Passive, 100, 0)
	gates := &FakeGates{Log: &r.states.Log}
	d := r.deps()
	d.Gates, d.Now = gates, now
	rep, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"state us-east-1=PASSIVE", "gate us-east-1=CLOSED", "converge us-east-1→sa-east-1", "dial sa-east-1=100", "dial us-east-1=0", "gate sa-east-1=OPEN", "state sa-east-1=ACTIVE"}
	if !slices.Equal(r.states.Log, want) {
		t.Fatalf("order %v\nwant  %v", r.states.Log, want)
	}
	if !rep.ClosedAt[east].Equal(at) || !gates.Closed[east] || gates.Closed[sa] {
		t.Fatalf("closed at %v, gates %v", rep.ClosedAt, gates.Closed)
	}

	r = newRig(regionstate.Active, regionstate.Passive, 100, 0)
	r.conv.Err = errors.New("replication stalled")
	gates = &FakeGates{Log: &r.states.Log}
	d = r.deps()
	d.Gates = gates
	if _, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Regions: []string{east, sa}}, d, nil); err == nil {
		t.Fatal("a failover whose replication did not converge succeeded")
	}
	if gates.Closed[east] || r.states.States[east] != regionstate.Active {
		t.Fatalf("after the rollback us-east-1 is %s with gate closed %v; want ACTIVE and open", r.states.States[east], gates.Closed[east])
	}

	r = newRig(regionstate.Active, regionstate.Passive, 100, 0)
	delete(r.states.States, east) // unreadable: lost
	r.states.FailSet = map[string]bool{east: true}
	gates = &FakeGates{Log: &r.states.Log}
	d = r.deps()
	d.Gates = gates
	var out bytes.Buffer
	if _, err := Run(context.Background(), Plan{To: sa, Mode: ActivePassive, Force: true, Regions: []string{east, sa}}, d, &out); err != nil {
		t.Fatalf("forced failover from a lost region: %v", err)
	}
	if !gates.Closed[east] || gates.Via[east] != sa || !strings.Contains(out.String(), "gate closed in sa-east-1's replica") {
		t.Fatalf("lost region's gate: closed %v via %q; output:\n%s", gates.Closed[east], gates.Via[east], out.String())
	}
}
