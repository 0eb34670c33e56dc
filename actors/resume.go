package actors

import (
	"encoding/json"
	"maps"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// Recovery of a job or batch entity that was in flight when the server stopped:
// every run whose record is stored stands as finished and is not run again, and a stored
// fusion record stands for the fusion. Their events were stored with those records, so none
// is emitted again: one record and one model_completed per (entity, model run).

// adoptRecovered takes over what a job (or batch entity) stored before a restart: its
// finished runs, the classification they were made with, and its fusion record.
func (a *jobActor) adoptRecovered() {
	for _, r := range a.in.Recovered {
		switch {
		case r.Type == enricher.RecordEnrichment && r.Model != nil:
			a.results[*r.Model] = doneFromRecord(r)
			if a.classification == nil && r.Classification != nil {
				a.classification = r.Classification // a batch entity keeps it only on its records
			}
		case r.Type == enricher.RecordFusion:
			a.fused = r
		}
	}
}

// doneFromRecord rebuilds a finished run from its record (recovery, fusion jobs): its result,
// usage, attempts, per-domain breakdown and, for a failed run, the first failed call's error.
func doneFromRecord(r *enricher.Record) *modelDone {
	res := enricher.ModelResult{Model: *r.Model, Success: r.Success, PartialSuccess: r.PartialSuccess, Cancelled: r.Cancelled,
		Result: r.StructuredOutput, CostUSD: r.CostUSD, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		ProcessingTimeMS: r.ProcessingTimeMS}
	id := r.ID
	res.RecordID = &id
	var breakdown []enricher.ExpertiseOutcome
	for _, p := range r.Prompts {
		if p.CallKind == "classification" {
			continue // billed to this record, not part of the run
		}
		res.Attempts += p.Attempts
		if p.ExpertiseKey != nil && p.ExpertiseName != nil {
			breakdown = append(breakdown, enricher.ExpertiseOutcome{Key: *p.ExpertiseKey, Name: *p.ExpertiseName, Success: p.Success,
				Attempts: p.Attempts, CostUSD: p.CostUSD, InputTokens: p.InputTokens, OutputTokens: p.OutputTokens,
				ProcessingTimeMS: p.ProcessingTimeMS, ErrorMessage: p.ErrorMessage})
		}
		if !p.Success && !r.Success && res.ErrorCode == nil {
			res.ErrorCode, res.ErrorMessage = p.ErrorCode, p.ErrorMessage
		}
	}
	if r.Strategy != nil && enricher.Strategy(*r.Strategy) == enricher.StrategyMultiExpertise {
		res.ExpertiseBreakdown = breakdown
		if res.ExpertiseBreakdown == nil {
			res.ExpertiseBreakdown = []enricher.ExpertiseOutcome{}
		}
	}
	if r.Cancelled {
		code, msg := enricher.CodeCancelled, "the job was cancelled"
		res.ErrorCode, res.ErrorMessage = &code, &msg
	}
	var out map[string]any
	_ = json.Unmarshal(r.StructuredOutput, &out)
	return &modelDone{Model: *r.Model, Result: res, Output: out, Record: nil}
}

// reuseFusion completes the fusion from the fusion record stored before a restart instead of
// merging (and arbitrating) again. It reports whether there was such a record.
func (a *jobActor) reuseFusion(o *enricher.EnrichmentOutcome) bool {
	r := a.fused
	if r == nil {
		return false
	}
	f := &fusionRun{outcome: o, sources: r.SourceModels, ids: r.SourceRecordIDs}
	if err := json.Unmarshal(r.ConflictReport, &f.report); err != nil {
		a.log.Warn("recovery: stored fusion record has no readable conflict report", "job_id", a.job.ID, "record_id", r.ID, "err", err)
	}
	a.fusion = f
	spec := enricher.NewAnswerSpec(a.in.Schema, nil, "", a.in.Spec.Languages)
	_, warnings := enricher.CheckAnswer(spec, string(r.StructuredOutput))
	a.fusionOutcome(f, r, warnings)
	return true
}

// recordsByEntity groups recovered batch records by entity index.
func recordsByEntity(records []*enricher.Record) map[int][]*enricher.Record {
	out := map[int][]*enricher.Record{}
	for _, r := range records {
		if r.EntityIndex != nil {
			out[*r.EntityIndex] = append(out[*r.EntityIndex], r)
		}
	}
	return out
}

// resumeEntities takes over what the batch's entities in flight stored before a restart.
func (b *batchActor) resumeEntities() {
	b.resumed = maps.Clone(b.in.Recovered)
	b.announced = map[int]bool{}
	for _, i := range b.in.Started {
		b.announced[i] = true
	}
}

// announce emits entity_started for entity i, with the mark that it started, unless it did
// so before a restart; it returns the records the entity stored then (nil when none). An
// entity resumes once, so both are dropped from the batch.
func (b *batchActor) announce(c actor.Context, i int, label string) []*enricher.Record {
	recovered, started := b.resumed[i], b.announced[i]
	delete(b.resumed, i)
	delete(b.announced, i)
	if !started && recovered == nil {
		b.emitWith(c, enricher.EventEntityStarted, enricher.EntityStartedEvent{EntityIndex: i, EntityLabel: label},
			storage.Batch{Started: []storage.EntityMark{{JobID: b.job.ID, Index: i}}})
	}
	return recovered
}
