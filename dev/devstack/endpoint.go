package devstack

import "fmt"

// overrideEndpoints points each service process at the endpoint
// Options.Endpoint names for it (a later AWS_ENDPOINT_URL in the
// environment wins over the emulator's).
func (s *Stack) overrideEndpoints() error {
	if s.opts.Endpoint == nil {
		return nil
	}
	for _, p := range s.procs {
		if p.Region == "" {
			continue // stand-ins and the edge: development-only, never behind a fault
		}
		u, err := s.opts.Endpoint(p.Name, s.moto.URL)
		if err != nil {
			return fmt.Errorf("endpoint of %s: %w", p.Name, err)
		}
		if u != "" {
			p.Env = append(p.Env, "AWS_ENDPOINT_URL="+u)
		}
	}
	return nil
}
