package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	toxictypes "github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// Network runs Shopify's toxiproxy in process: one TCP proxy (a link) per
// service process, listening on 127.0.0.1, in front of that process's
// upstream. Toxics (latency, bandwidth, timeout, reset_peer, ...) are added
// to and removed from links while traffic flows, exactly as the toxiproxy
// server's HTTP API would, without running a server.
type Network struct {
	server *toxiproxy.ApiServer
	mu     sync.Mutex
	links  map[string]*toxiproxy.Proxy
}

// Toxic is one toxiproxy toxic. Type and Attributes are toxiproxy's
// (https://github.com/Shopify/toxiproxy#toxics): latency {latency, jitter}
// in ms, bandwidth {rate} in KB/s, timeout {timeout} in ms (0: hold the
// data forever), reset_peer {timeout} in ms, slow_close, slicer,
// limit_data. Stream is "upstream" (client → server) or "downstream"
// (server → client, the default). Toxicity is the share of connections it
// applies to (0 means 1, as in toxiproxy).
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream,omitempty"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

var quietOnce sync.Once

// NewNetwork returns a network with no links.
func NewNetwork() *Network {
	// toxiproxy logs every connection through zerolog's global logger.
	quietOnce.Do(func() { zerolog.SetGlobalLevel(zerolog.WarnLevel) })
	return &Network{
		server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		links:  map[string]*toxiproxy.Proxy{},
	}
}

// Link starts a proxy named name on a free 127.0.0.1 port in front of
// upstream ("host:port") and returns its address; for an existing link it
// only returns the address.
func (n *Network) Link(name, upstream string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.links[name]; ok {
		return p.Listen, nil
	}
	if err := loopbackOnly(upstream); err != nil {
		return "", err
	}
	p := toxiproxy.NewProxy(n.server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return "", fmt.Errorf("toxiproxy link %s: %w", name, err)
	}
	if err := n.server.Collection.Add(p, false); err != nil {
		p.Stop()
		return "", fmt.Errorf("toxiproxy link %s: %w", name, err)
	}
	n.links[name] = p
	return p.Listen, nil
}

// Links lists the link names, sorted.
func (n *Network) Links() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.links))
	for name := range n.links {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Add adds the toxic to each named link (every link when names is empty).
func (n *Network) Add(t Toxic, names ...string) error {
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	if t.Stream == "" {
		t.Stream = "downstream"
	}
	if t.Name == "" {
		t.Name = t.Type + "_" + t.Stream
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	links, err := n.pick(names)
	if err != nil {
		return err
	}
	for _, p := range links {
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
			return fmt.Errorf("add %s to %s: %w", t.Name, p.Name, err)
		}
	}
	return nil
}

// Remove takes the named toxic off each named link (every link when names
// is empty); a link without it is skipped.
func (n *Network) Remove(toxic string, names ...string) error {
	links, err := n.pick(names)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range links {
		if err := p.Toxics.RemoveToxic(context.Background(), toxic); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", toxic, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Down stops the named links (every link when none is named): their port
// refuses connections and their open connections are closed, like a
// service whose route to AWS is gone.
func (n *Network) Down(names ...string) error {
	links, err := n.pick(names)
	if err != nil {
		return err
	}
	for _, p := range links {
		p.Stop()
	}
	return nil
}

// Up starts stopped links again on their ports (every link when none is
// named).
func (n *Network) Up(names ...string) error {
	links, err := n.pick(names)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range links {
		if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			errs = append(errs, fmt.Errorf("link %s up: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Reset removes every toxic from every link.
func (n *Network) Reset() {
	links, _ := n.pick(nil)
	for _, p := range links {
		p.Toxics.ResetToxics(context.Background())
	}
}

// Toxics lists the toxics on a link.
func (n *Network) Toxics(name string) []string {
	links, err := n.pick([]string{name})
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range links[0].Toxics.GetToxicArray() {
		if w, ok := t.(*toxictypes.ToxicWrapper); ok {
			out = append(out, w.Name)
		}
	}
	return out
}

// Close stops every link.
func (n *Network) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, p := range n.links {
		p.Stop()
		delete(n.links, name)
	}
}

func (n *Network) pick(names []string) ([]*toxiproxy.Proxy, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(names) == 0 {
		out := make([]*toxiproxy.Proxy, 0, len(n.links))
		for _, p := range n.links {
			out = append(out, p)
		}
		return out, nil
	}
	out := make([]*toxiproxy.Proxy, 0, len(names))
	for _, name := range names {
		p, ok := n.links[name]
		if !ok {
			return nil, fmt.Errorf("no link %q", name)
		}
		out = append(out, p)
	}
	return out, nil
}

// loopbackOnly refuses an upstream that is not on this machine: the suite
// sends traffic to loopback addresses only.
func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("upstream %q: %w", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("upstream %q is not a loopback address", hostport)
	}
	return nil
}
