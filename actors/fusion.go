package actors

import (
	"encoding/json"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// fuse runs the automatic rule-based fusion of the successful runs (SPEC §6) and folds its
// result into the outcome. A failing fusion emits fusion_completed with success false and a
// non-fatal error; the outcome then keeps the first successful model's result.
func (a *jobActor) fuse(c actor.Context, ok []*modelDone, o *enricher.EnrichmentOutcome) {
	start := a.now()
	sources, ids := make([]string, 0, len(ok)), make([]string, 0, len(ok))
	inputs := make([]enricher.FusionInput, 0, len(ok))
	prices := map[string]float64{}
	for _, m := range a.in.Models {
		prices[m.Key] = m.InputPrice + m.OutputPrice
	}
	for _, d := range ok {
		sources = append(sources, d.Model)
		if d.Result.RecordID != nil {
			ids = append(ids, *d.Result.RecordID)
		}
		inputs = append(inputs, enricher.FusionInput{Model: d.Model, Price: prices[d.Model], Output: d.Output})
	}
	a.emit(c, enricher.EventFusionStarted, enricher.FusionStartedEvent{SourceModels: sources, SourceRecordIDs: ids,
		ArbitrationModel: a.in.Spec.ArbitrationModel}, nil)

	merged, report, err := safeFuse(a.in.Schema, inputs, a.in.Spec.Languages)
	if err != nil {
		msg := "fusion failed: " + err.Error()
		a.log.Error("fusion failed", "job_id", a.job.ID, "err", err)
		a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{ErrorMessage: &msg, ValidationWarnings: []string{}}, nil)
		a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "fusion_failed", ErrorMessage: msg}, nil)
		return
	}
	paths := make([]string, 0, len(report.Conflicts))
	for _, f := range report.Conflicts {
		paths = append(paths, f.Path)
	}
	a.emit(c, enricher.EventConflictsDetected, enricher.ConflictsDetectedEvent{TotalFields: report.TotalFields,
		AgreedFields: report.AgreedFields, ConflictedFields: report.ConflictedFields, ConflictPaths: paths}, nil)

	spec := enricher.NewAnswerSpec(a.in.Schema, nil, "", a.in.Spec.Languages)
	mergedJSON, _ := json.Marshal(merged)
	_, warnings := enricher.CheckAnswer(spec, string(mergedJSON))
	if warnings == nil {
		warnings = []string{}
	}
	reportJSON, _ := json.Marshal(report)
	method := "rule_based"
	rec := a.recordTemplate()
	rec.ID, rec.Type, rec.Success = uuid.NewString(), enricher.RecordFusion, true
	rec.StructuredOutput, rec.ConflictReport, rec.FusionMethod = mergedJSON, reportJSON, &method
	rec.SourceModels, rec.SourceRecordIDs, rec.Prompts, rec.ValidationErrors = sources, ids, []enricher.PromptCall{}, []string{}
	rec.Classification = nil
	rec.ProcessingTimeMS = a.now().Sub(start).Milliseconds()
	a.addRecordID(rec.ID)
	id := rec.ID
	a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{Success: true, Method: &method,
		MergedResult: mergedJSON, ConflictReport: reportJSON, RecordID: &id, ProcessingTimeMS: rec.ProcessingTimeMS,
		ValidationWarnings: warnings}, []*enricher.Record{&rec})

	o.IsFused, o.Result, o.RecordID, o.Model, o.SourceModels = true, mergedJSON, &id, nil, sources
	o.Fusion = &enricher.FusionSummary{Method: method, ArbitrationModel: a.in.Spec.ArbitrationModel,
		TotalFields: report.TotalFields, AgreedFields: report.AgreedFields, ConflictedFields: report.ConflictedFields, RecordID: &id}
}

// safeFuse runs enricher.Fuse, turning a panic into an error.
func safeFuse(s *enricher.Schema, in []enricher.FusionInput, langs []string) (merged map[string]any, report enricher.ConflictReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	merged, report = enricher.Fuse(s, in, langs)
	return merged, report, nil
}
