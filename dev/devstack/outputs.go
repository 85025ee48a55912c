package devstack

import "github.com/salesplatform/libs/sales/stack"

// RegionOutputs are one region's resources, as the infrastructure's
// outputs task writes them (.local/infra/outputs.json).
type RegionOutputs = stack.Region

// Outputs is the stack description every tool reads (salesctl too).
type Outputs = stack.Stack

// LoadOutputs reads a stack description.
func LoadOutputs(path string) (Outputs, error) { return stack.Load(path) }
