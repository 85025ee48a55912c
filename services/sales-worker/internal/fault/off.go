//go:build !faultinject

package fault

import "context"

// Enabled reports whether this binary honours fault variables.
const Enabled = false

// Point is a no-op in production builds.
func Point(context.Context, string) error { return nil }
