package consumer

import "sync"

// parkedSet remembers the receipt handles of messages parked while the
// region was passive, oldest first, up to a bound (the oldest are
// forgotten: they come back when their visibility ends anyway). A handle
// goes stale when its message is received again; giving back a stale one
// fails harmlessly.
type parkedSet struct {
	mu    sync.Mutex
	limit int
	order []string
	byID  map[string]string
}

type parked struct{ id, handle string }

func newParkedSet(limit int) *parkedSet {
	return &parkedSet{limit: limit, byID: map[string]string{}}
}

func (p *parkedSet) add(id, handle string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byID[id]; !ok {
		p.order = append(p.order, id)
	}
	p.byID[id] = handle
	for len(p.byID) > p.limit && len(p.order) > 0 {
		oldest := p.order[0]
		p.order = p.order[1:]
		delete(p.byID, oldest)
	}
	if len(p.order) > 2*p.limit {
		// Removed ids leave their order entries behind; compact them.
		live := p.order[:0]
		for _, id := range p.order {
			if _, ok := p.byID[id]; ok {
				live = append(live, id)
			}
		}
		p.order = live
	}
}

func (p *parkedSet) remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byID, id) // its order entry is skipped on drain
}

// drain returns every remembered handle and forgets them.
func (p *parkedSet) drain() []parked {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]parked, 0, len(p.byID))
	for _, id := range p.order {
		if h, ok := p.byID[id]; ok {
			out = append(out, parked{id: id, handle: h})
			delete(p.byID, id)
		}
	}
	p.order = nil
	return out
}

func (p *parkedSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byID)
}
