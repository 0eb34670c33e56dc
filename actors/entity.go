package actors

import (
	"reflect"

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

// withEntityIndex returns a copy of an event payload struct with its EntityIndex field set.
// Payloads without the field are returned as they are.
func withEntityIndex(payload any, idx *int) any {
	v := reflect.ValueOf(payload)
	if v.Kind() != reflect.Struct {
		return payload
	}
	f := v.FieldByName("EntityIndex")
	if !f.IsValid() || f.Type() != reflect.TypeOf(idx) {
		return payload
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	cp.FieldByName("EntityIndex").Set(reflect.ValueOf(idx))
	return cp.Interface()
}
