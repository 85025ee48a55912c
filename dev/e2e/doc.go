// Package e2e is the end-to-end invariant suite (DESIGN §6, issue 8): its
// tests start the whole local stack themselves (devstack, the same code as
// `task up`) on free loopback ports in a temporary directory, and check
// the invariants through the public HTTP API, the failover command, the
// lakes, the event stores and the processes' metrics.
//
// The tests share one stack and run one after another; each works only on
// the sales it created itself, so the suite can run twice on the same stack
// (go test -count=2). Set E2E_KEEP=1 to keep the stack's directory (logs)
// after the run.
package e2e
