package chaos

import (
	"time"

	"github.com/salesplatform/dev/devstack"
)

// Size is how much load a scenario runs.
type Size struct {
	PerRegion int
	LoadFor   time.Duration
	Hold      time.Duration
	// Kills per process-fault scenario.
	Kills int
	// ReplicationPause of the replication scenario.
	ReplicationPause time.Duration
}

// Sizes of the fast subset (the normal `go test`) and the full suite.
var (
	// The replication pause outlasts the workers' takeover delay (20 s):
	// both regions then process the same events.
	FastSize = Size{PerRegion: 8, LoadFor: 8 * time.Second, Hold: 8 * time.Second, Kills: 1, ReplicationPause: 30 * time.Second}
	FullSize = Size{PerRegion: 25, LoadFor: 25 * time.Second, Hold: 15 * time.Second, Kills: 3, ReplicationPause: time.Minute}
)

// lateDelay is how late the late-writes scenarios deliver a call: beyond
// the APIs' request budget (REQUEST_TIMEOUT, 8 s) and its void.
const lateDelay = 12 * time.Second

// apis are the fault-chain names of the regions' APIs.
func apis() []string {
	var out []string
	for _, r := range devstack.DefaultRegions {
		out = append(out, devstack.API+"/"+r)
	}
	return out
}

// Scenarios is the catalogue, in the order the suite runs it. Every
// network fault goes on every service's link (both regions' APIs, stream
// runners and workers); every AWS fault on every service's calls.
func Scenarios(s Size) []Scenario {
	sc := []Scenario{
		{
			Name:    "net-latency",
			Injects: "toxiproxy latency 200 ms ± 100 ms on both directions of every service↔AWS link",
			Expect:  "slower, nothing else: no 5xx needed, exact counts",
			Fault: throughout(toxics(
				Toxic{Name: "lat-down", Type: "latency", Stream: "downstream", Attributes: map[string]any{"latency": 200, "jitter": 100}},
				Toxic{Name: "lat-up", Type: "latency", Stream: "upstream", Attributes: map[string]any{"latency": 200, "jitter": 100}},
			)),
		},
		{
			Name:    "net-bandwidth",
			Injects: "toxiproxy bandwidth 8 KB/s per connection, both directions, every link",
			Expect:  "slower calls (long answers such as stream reads take seconds), exact counts",
			Fault: throughout(toxics(
				Toxic{Name: "bw-down", Type: "bandwidth", Stream: "downstream", Attributes: map[string]any{"rate": 8}},
				Toxic{Name: "bw-up", Type: "bandwidth", Stream: "upstream", Attributes: map[string]any{"rate": 8}},
			)),
		},
		{
			Name:    "net-timeout",
			Injects: "toxiproxy timeout on 15 % of connections: the answer is dropped and the connection closed after 2 s (the call took effect)",
			Expect:  "SDK retries after lost answers; conditional writes recognise their own first attempt; exact counts",
			Fault: throughout(toxics(
				Toxic{Name: "timeout", Type: "timeout", Stream: "downstream", Toxicity: 0.15, Attributes: map[string]any{"timeout": 2000}},
			)),
		},
		{
			Name:    "net-reset-peer",
			Injects: "toxiproxy reset_peer on 15 % of connections: TCP RST instead of the answer (the call took effect)",
			Expect:  "as net-timeout, faster; exact counts",
			Fault: throughout(toxics(
				Toxic{Name: "reset", Type: "reset_peer", Stream: "downstream", Toxicity: 0.15, Attributes: map[string]any{"timeout": 0}},
			)),
		},
		{
			Name:    "net-blackout-10s",
			Injects: "toxiproxy timeout 0 on both directions of every link for 10 s in the middle of the load (a partition: nothing passes, nothing is refused)",
			Expect:  "APIs answer 5xx (never a 201 for a sale not stored) while AWS is unreachable; everything converges after; exact counts",
			Fast:    true,
			Fault: window(s.LoadFor/4, 10*time.Second, toxics(
				Toxic{Name: "black-down", Type: "timeout", Stream: "downstream", Attributes: map[string]any{"timeout": 0}},
				Toxic{Name: "black-up", Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}},
			)),
		},
		{
			Name:    "net-refused-10s",
			Injects: "every service↔AWS link down for 10 s in the middle of the load: connections refused, open ones closed",
			Expect:  "the SDKs fail fast and the APIs answer 5xx without writing; clients retry with their key; exact counts",
			Fault:   window(s.LoadFor/4, 10*time.Second, linksDown),
		},
		{
			Name:    "aws-throttle",
			Injects: "20 % of calls throttled, in each service's own code: DynamoDB ProvisionedThroughputExceededException, Streams LimitExceededException, SQS/SSM ThrottlingException, SNS Throttling, S3 503 SlowDown",
			Expect:  "SDK backs off and retries (requests > operations), exact counts",
			Fault:   throughout(awsRules(Rule{Service: SvcAny, Kind: Throttle, Rate: 0.2})),
			Check:   retriedInjected,
		},
		{
			Name:    "aws-500",
			Injects: "20 % of calls answered HTTP 500: half before the call reaches the emulator, half after it took effect (lost answer)",
			Expect:  "SDK retries; a retried conditional write (event append, claim, lake put) recognises its own effect; exact counts",
			Fast:    true,
			Fault: throughout(awsRules(
				Rule{Service: SvcAny, Kind: ServerError, Rate: 0.1},
				Rule{Service: SvcAny, Kind: LostAnswer, Rate: 0.11}, // of the remaining 90 %: about 10 % overall
			)),
			Check: retriedInjected,
		},
		{
			Name:    "aws-slow",
			Injects: "30 % of calls delayed 1.5 s before they reach the emulator",
			Expect:  "slower, exact counts",
			Fault:   throughout(awsRules(Rule{Service: SvcAny, Kind: Slow, Rate: 0.3, Delay: 1500 * time.Millisecond})),
		},
		{
			Name:    "kill-worker",
			Injects: "SIGKILL of a random region's worker at random moments under load, restarted 0.5–2 s later",
			Expect:  "claims of the killed worker expire and are taken over; lake writes are conditional; exact counts",
			Fast:    true,
			Fault:   killer(devstack.Worker, s.Kills),
		},
		{
			Name:    "kill-runner",
			Injects: "SIGKILL of a random region's stream runner (publisher) at random moments, restarted 0.5–2 s later",
			Expect:  "the runner resumes from its checkpoint; records published twice are absorbed by the workers' idempotency; exact counts",
			Fault:   killer(devstack.Runner, s.Kills),
		},
		{
			Name:    "kill-api",
			Injects: "SIGKILL of a random region's API at random moments, restarted 0.5–2 s later",
			Expect:  "in-flight requests lose their answer; a retry with the same Idempotency-Key gets the same sale; exact counts",
			Fault:   killer(devstack.API, s.Kills),
		},
		{
			Name:    "replication-pause",
			Injects: "replication stand-in paused (no store or claim copies between the regions) for " + s.ReplicationPause.String() + ", longer than the workers' takeover delay, during ACTIVE/ACTIVE load",
			Expect:  "each region processes its own sales at once and, past the takeover delay, the other region's too; stores converge after the resume; exact counts, one SaleProcessed per source event",
			Fast:    true,
			Fault:   replicationPause(s.ReplicationPause),
		},
		{
			Name:    "late-writes",
			Injects: "half of the APIs' DynamoDB calls land " + lateDelay.String() + " late, after the request's budget (delayed in the network, delivered even though the client gave up); half of the clients give up at their first 503",
			Expect:  "a write answered 503 never commits (its position was voided first); every other sale exactly once",
			Fast:    true,
			Abandon: 0.5,
			Fault:   throughout(awsRulesFor(apis(), Rule{Service: SvcDynamoDB, Kind: Late, Rate: 0.5, Delay: lateDelay})),
		},
		{
			Name:    "flip-late-writes",
			Injects: "30 % of the APIs' DynamoDB calls land " + (lateDelay / 2).String() + " late while the operator fails over from ACTIVE/ACTIVE to ACTIVE/PASSIVE on sa-east-1 under load (and back)",
			Expect:  "once the failover closed us-east-1's write gate, no event commits there: no SaleCreated or SaleCancelled INSERT after the gate's record in its stream",
			Fault:   flipUnderLateWrites(lateDelay / 2),
		},
	}
	for i := range sc {
		sc[i].PerRegion, sc[i].LoadFor, sc[i].Hold = s.PerRegion, s.LoadFor, s.Hold
	}
	return sc
}
