package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
)

// forward hands an event of this entity to the batch actor, tagged with the entity index.
func (a *jobActor) forward(c actor.Context, typ string, payload any, records []*enricher.Record) {
	running := make([]string, 0, len(a.runs))
	for _, m := range a.in.Models {
		if _, ok := a.runs[m.Key]; ok {
			running = append(running, m.Key)
		}
	}
	ev := &entityEvent{Index: *a.in.Entity, Type: typ, Payload: withEntityIndex(payload, a.in.Entity), Records: records,
		Running: running, Current: a.current, LastError: a.lastError}
	if a.current != nil {
		ev.Attempt = a.attempts[*a.current]
	}
	c.Send(c.Parent(), ev)
}

// entityDone reports the end of this entity to the batch actor.
func (a *jobActor) entityDone(c actor.Context, o *enricher.EnrichmentOutcome, reason string, records []*enricher.Record) {
	a.finished = true
	o.ProcessingTimeMS = a.activeMS()
	c.Send(c.Parent(), &entityDone{Index: *a.in.Entity, Outcome: o, Reason: reason, Records: records})
}

// withEntityIndex returns a copy of an event payload with its entity_index set. Payloads
// without the field (enricher.EntityPayload not implemented) are returned as they are.
func withEntityIndex(payload any, idx *int) any {
	if p, ok := payload.(enricher.EntityPayload); ok {
		return p.WithEntityIndex(idx)
	}
	return payload
}
