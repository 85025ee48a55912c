// Package replication is a DEVELOPMENT-ONLY STAND-IN for two things AWS does
// and the local emulator (moto) cannot: DynamoDB global-table replication
// and S3 cross-region replication (CRR). It never runs in AWS: there, the
// global tables and the buckets' replication rules (infra/modules) do this
// work.
//
// What it reproduces, and how:
//
//   - Table items. For each replicated table it reads every region's stream
//     and writes each change into the same table of every other region, the
//     way a global table does: last writer wins per item. Changes the
//     stand-in itself wrote are recognised when they come back on the
//     destination's stream and are not sent back (a global table does not
//     replicate a replicated write either). Because moto emits a MODIFY
//     record even for an identical put, an item already equal at the
//     destination is skipped too, so nothing loops. Append-only tables (the
//     event store) are written with attribute_not_exists, so an event is
//     never rewritten.
//   - Lake objects. Each bucket is listed periodically and every object
//     missing from another region's bucket is copied under the same key
//     with If-None-Match: * (objects are immutable and deterministic), and
//     marked as a replica; deletes are not replicated (CRR's default).
//   - Lag. Every change is held until it is Lag old, so tests can reproduce
//     a replication delay; the lag can be changed at run time.
//   - Pause. Replication can be paused and resumed at run time (fault
//     tests: a region cut off from the other).
//
// Progress and lag are Prometheus metrics; an admin HTTP API (loopback
// only) reads the status and pauses, resumes or changes the lag.
package replication
