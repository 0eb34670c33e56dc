package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
)

// The waterfall strategy inside a job actor (single enrichment or one entity of a batch): the
// models run one after another in request order; after each run the pure decision
// (enricher.Waterfall.Pending) names the fields the next model is asked, the job emits
// waterfall_escalated and starts it; when nothing is left open, or no model is left, the
// successful runs are fused (even one) and the fusion is settled (enricher.SettleWaterfall).
// Everything runs on the job actor's mailbox; the model actors do the calls.

// waterfallRun is a job's waterfall state, owned by the job actor.
type waterfallRun struct {
	plan  *enricher.Waterfall
	spec  *enricher.AnswerSpec // every asked field of the entity; steps ask parts of it
	asked []string             // the fields of the step running now
	steps []enricher.WaterfallStep
}

// startWaterfall starts the first model not yet run. After a restart the runs recorded
// before it are replayed through the decision in order, so the waterfall resumes where it
// stopped without asking a model twice.
func (a *jobActor) startWaterfall(c actor.Context) {
	spec := enricher.NewAnswerSpec(a.in.Schema, a.entity, "", a.in.Spec.Languages)
	w := &waterfallRun{plan: enricher.NewWaterfall(spec, a.in.Spec.VerifyFields), spec: spec}
	a.wf = w
	fields := w.plan.Leaves()
	for i, m := range a.in.Models {
		d, done := a.results[m.Key]
		if !done {
			a.startStep(c, i, fields)
			return
		}
		w.steps = append(w.steps, waterfallStep(m.Key, fields, d))
		if fields, _ = w.plan.Pending(w.steps); len(fields) == 0 {
			break
		}
	}
	a.endWaterfall()
	a.finishJob(c)
}

// startStep runs the i-th model on fields.
func (a *jobActor) startStep(c actor.Context, i int, fields []string) {
	a.wf.asked = fields
	var plan []plannedCall
	if spec := a.wf.plan.Restrict(a.wf.spec, fields); !spec.Empty() {
		p, err := newPlannedCall(a.in.Answers, a.in.Schema, nil, spec)
		if err != nil {
			a.failInternal(c, "the answer schema", err)
			return
		}
		plan = []plannedCall{p}
	}
	a.startModel(c, i, plan)
}

// waterfallNext takes the finished run m into the waterfall and starts the next step; false
// when the waterfall is over (the job goes on to fusion).
func (a *jobActor) waterfallNext(c actor.Context, m *modelDone) bool {
	w := a.wf
	w.steps = append(w.steps, waterfallStep(m.Model, w.asked, m))
	fields, reasons := w.plan.Pending(w.steps)
	i := slices.IndexFunc(a.in.Models, func(mi enricher.ModelInfo) bool { return mi.Key == m.Model })
	if len(fields) == 0 || i < 0 || i+1 >= len(a.in.Models) {
		a.endWaterfall()
		return false
	}
	next := a.in.Models[i+1].Key
	a.emit(c, enricher.EventWaterfallEscalated, enricher.WaterfallEscalatedEvent{FromModel: m.Model, NextModel: next,
		Step: i + 2, Fields: fields, Reasons: reasons}, nil)
	a.startStep(c, i+1, fields)
	return true
}

// endWaterfall counts the models a single job did not need out of its total_models, so a
// finished job shows completed_models = total_models. A batch's total stays the upper bound.
func (a *jobActor) endWaterfall() {
	if a.in.Entity == nil {
		a.job.TotalModels = len(a.results)
	}
}

// waterfallStep is the decision's view of a finished run: its output, or nil when it failed.
func waterfallStep(model string, asked []string, d *modelDone) enricher.WaterfallStep {
	s := enricher.WaterfallStep{Model: model, Asked: asked}
	if d.Result.Success {
		s.Output = d.Output
	}
	return s
}

// fuse wraps the rule-based merge (enricher.Fuse when inner is nil) with the waterfall's
// settling. It runs inside the fusion actor; the waterfall's plan is read-only.
func (w *waterfallRun) fuse(inner fuseFunc, arbiter bool) fuseFunc {
	plan := w.plan
	return func(s *enricher.Schema, in []enricher.FusionInput, langs []string) (map[string]any, enricher.ConflictReport) {
		if inner == nil {
			inner = enricher.Fuse
		}
		merged, report := inner(s, in, langs)
		plan.SettleWaterfall(merged, &report, arbiter)
		return merged, report
	}
}

// askedProvenance returns prov, the provenance of a run's whole output, limited under the
// waterfall strategy to the fields the run was asked: a field a step was not asked is null in
// its output without being the model's answer, so the record leaves it out (the model report
// then counts a step's nulls and accuracy on what it was asked only). Other strategies keep
// every field.
func askedProvenance(spec *modelSpec, prov map[string]enricher.FieldProvenance) map[string]enricher.FieldProvenance {
	if spec.Strategy != enricher.StrategyWaterfall {
		return prov
	}
	out := map[string]enricher.FieldProvenance{}
	for _, p := range spec.Plan {
		for _, path := range p.Spec.LeafPaths() {
			if v, ok := prov[path]; ok {
				out[path] = v
			}
		}
	}
	return out
}
