// Package fault marks the points of the processing path where a test may
// kill or stall the worker: after the claim, after the lake write, after
// the completion. Production binaries are built without the faultinject
// tag, where Point is a no-op the compiler removes; only a test binary,
// built with -tags faultinject, reads the fault variables.
package fault

// Points, in processing order.
const (
	// Claimed: the claim is INPROGRESS, nothing written yet.
	Claimed = "claimed"
	// LakeWritten: the lake object exists, the claim is not COMPLETED.
	LakeWritten = "lake-written"
	// Completed: claim COMPLETED and SaleProcessed appended, message not
	// deleted yet.
	Completed = "completed"
)

// Environment variables read by a faultinject build.
const (
	// EnvKill names a point at which the process SIGKILLs itself, the first
	// time any message reaches it.
	EnvKill = "SALES_WORKER_FAULT_KILL"
	// EnvDelay is "<point>=<duration>": every message stalls there (the
	// stall ends early when the processing context ends).
	EnvDelay = "SALES_WORKER_FAULT_DELAY"
)
