// Package domain holds the sale aggregate, its events, the event envelope,
// the fold that rebuilds a sale from its events and the upcasters that read
// old schema versions. It imports no AWS package: adapters translate to and
// from these types at the edge.
package domain
