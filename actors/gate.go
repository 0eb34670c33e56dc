package actors

import (
	"sync/atomic"

	"github.com/entity-enricher/enricher"
)

// providerGate bounds the calls of one provider that accepted work holds (waiting in the
// provider actor's queue or in flight) to provider_queue, so that queue never refuses a call
// of an accepted job: the bound is enforced before work starts instead.
//
//   - A batch takes room for one entity's calls before it starts the entity (tryTake) and gives
//     it back when the entity ends; without room it waits and tries again later.
//   - A single job (enrichment, fusion, schema job) takes its calls at admission (take), even
//     past the limit, and gives them back when it ends.
//   - Admission refuses a new job needing the provider while batches wait for its room or the
//     job's calls do not fit (429).
//
// So the calls held, hence waiting, stay at most provider_queue plus the calls of single jobs
// admitted at the same instant (each admission checks before it takes). Fields are atomics:
// the supervisor and every batch actor use the gate concurrently; no lock, no blocking.
type providerGate struct {
	name    string
	limit   int64
	used    atomic.Int64 // calls held by running work
	blocked atomic.Int64 // batches waiting for room here
	maxUsed atomic.Int64 // highest used seen (tests, bench)
}

// tryTake takes n calls if they fit under the limit, or if nothing is held (an entity whose
// calls alone exceed the limit still runs, alone).
func (g *providerGate) tryTake(n int64) bool {
	for {
		cur := g.used.Load()
		if cur > 0 && cur+n > g.limit {
			return false
		}
		if g.used.CompareAndSwap(cur, cur+n) {
			g.noteMax(cur + n)
			return true
		}
	}
}

// take takes n calls whatever the limit (admitted single jobs).
func (g *providerGate) take(n int64) { g.noteMax(g.used.Add(n)) }

// give returns n calls.
func (g *providerGate) give(n int64) { g.used.Add(-n) }

func (g *providerGate) noteMax(v int64) {
	for {
		m := g.maxUsed.Load()
		if v <= m || g.maxUsed.CompareAndSwap(m, v) {
			return
		}
	}
}

// callNeed is the number of provider calls a unit of work (a job, or one batch entity) may
// have waiting or in flight at once, by provider name.
type callNeed map[string]int64

// gates are the gates of every provider, by name. The map is built once by the engine and
// only read afterwards.
type gates map[string]*providerGate

// newGates returns a gate of limit calls for each provider.
func newGates(providers []string, limit int) gates {
	gs := gates{}
	for _, p := range providers {
		gs[p] = &providerGate{name: p, limit: int64(limit)}
	}
	return gs
}

// admit tells whether a new job needing need may start: KindTooMany (429, Retry-After) when
// batches already wait for room at one of its providers, or its calls do not fit there.
func (gs gates) admit(need callNeed) error {
	for p, n := range need {
		g := gs[p]
		if g == nil {
			continue
		}
		if used := g.used.Load(); g.blocked.Load() > 0 || (used > 0 && used+n > g.limit) {
			return enricher.Errorf(enricher.KindTooMany,
				"provider %s is at capacity: %d calls are waiting or running (provider_queue %d); retry later", p, used, g.limit)
		}
	}
	return nil
}

// tryTake takes need at every provider, or nothing.
func (gs gates) tryTake(need callNeed) bool {
	var taken []string
	for p, n := range need {
		g := gs[p]
		if g == nil {
			continue
		}
		if !g.tryTake(n) {
			for _, q := range taken {
				gs[q].give(need[q])
			}
			return false
		}
		taken = append(taken, p)
	}
	return true
}

// take takes need whatever the limits.
func (gs gates) take(need callNeed) {
	for p, n := range need {
		if g := gs[p]; g != nil {
			g.take(n)
		}
	}
}

// give returns need.
func (gs gates) give(need callNeed) {
	for p, n := range need {
		if g := gs[p]; g != nil {
			g.give(n)
		}
	}
}

// block marks (delta 1) or unmarks (delta -1) a batch waiting for room at need's providers.
func (gs gates) block(need callNeed, delta int64) {
	for p := range need {
		if g := gs[p]; g != nil {
			g.blocked.Add(delta)
		}
	}
}

// jobNeed returns the calls one entity may have at once: one per model run (one per expertise
// domain under multi_expertise, an upper bound: domains with nothing to ask make no call), plus
// the classification and arbitration calls. A fusion job (sources set) makes only the
// arbitration call.
func jobNeed(models []enricher.ModelInfo, classifier, arbiter *enricher.ModelInfo, schema *enricher.Schema, strategy enricher.Strategy, fusion bool) callNeed {
	need := callNeed{}
	perRun := int64(1)
	if strategy == enricher.StrategyMultiExpertise && schema != nil {
		seen := map[string]bool{}
		for _, p := range schema.Root.Properties {
			seen[p.Expertise] = true
		}
		perRun = max(int64(len(seen)), 1)
	}
	if !fusion {
		for _, m := range models {
			need[m.Provider] += perRun
		}
	}
	for _, m := range []*enricher.ModelInfo{classifier, arbiter} {
		if m != nil {
			need[m.Provider]++
		}
	}
	return need
}

// entityRoom is a batch actor's use of the gates: it takes room for each entity it starts,
// gives it back when the entity ends, and marks the batch as waiting while it has none. Owned
// by one batch actor; not safe for concurrent use.
type entityRoom struct {
	gates   gates
	need    callNeed
	held    int // entities holding room
	waiting bool
}

// take takes room for one entity; false marks the batch as waiting.
func (r *entityRoom) take() bool {
	if r.gates.tryTake(r.need) {
		r.held++
		r.setWaiting(false)
		return true
	}
	r.setWaiting(true)
	return false
}

// give returns one entity's room.
func (r *entityRoom) give() {
	if r.held > 0 {
		r.held--
		r.gates.give(r.need)
	}
}

// setWaiting marks or unmarks the batch as waiting for room.
func (r *entityRoom) setWaiting(w bool) {
	if w == r.waiting {
		return
	}
	r.waiting = w
	if w {
		r.gates.block(r.need, 1)
	} else {
		r.gates.block(r.need, -1)
	}
}

// close gives everything back (the batch actor stops).
func (r *entityRoom) close() {
	for r.held > 0 {
		r.give()
	}
	r.setWaiting(false)
}

// need returns the calls of a schema job: its one call.
func (in *schemaJobInput) need() callNeed { return callNeed{in.Model.Provider: 1} }
