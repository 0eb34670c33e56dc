package actors

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
)

// Preparation and launch of jobs: a request is checked against the catalog and turned into the
// input of its actor (prepare), admitted and stored (admitAndStore), then its actor is spawned
// under the supervisor (launch). The Start* methods of the Engine (engine.go) call these in
// that order; nothing here blocks inside an actor.

// admitAndStore reserves an admission slot for job, whose work needs need provider calls at
// once (held from now on when hold), and stores it, with its Idempotency-Key when bind is
// set; the slot and calls are given back when the job cannot be stored. Errors: KindTooMany,
// KindUnavailable, KindConflict (the key was bound meanwhile).
func (e *Engine) admitAndStore(job *enricher.Job, need callNeed, hold bool, bind *enricher.IdempotencyBinding) error {
	res, err := e.sys.Root.RequestFuture(e.sup, &reserve{Org: job.OrganizationID, Need: need, Hold: hold}, askTimeout).Result()
	if err != nil {
		return enricher.Wrap(enricher.KindUnavailable, err, "job admission unavailable")
	}
	if r := res.(*reserved); r.Err != nil {
		return r.Err
	}
	if err := e.deps.Store.CreateJob(job, bind); err != nil {
		rel := &release{Org: job.OrganizationID}
		if hold {
			rel.Held = need
		}
		e.sys.Root.Send(e.sup, rel)
		return err
	}
	return nil
}

func (e *Engine) start(org string, by enricher.CreatedBy, id string, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	if e.stopped.Load() {
		return nil, enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
	}
	in, err := e.prepare(org, spec)
	if err != nil {
		return nil, err
	}
	raw, err := encodeExact(func(dst []byte) ([]byte, error) { return enricher.AppendSpec(dst, spec) })
	if err != nil {
		return nil, fmt.Errorf("encode job spec: %w", err)
	}
	strategy := spec.Strategy
	job := &enricher.Job{
		ID: id, OrganizationID: org, Type: enricher.JobSingleEnrichment, Status: enricher.JobPending,
		CreatedAt: enricher.NewTime(e.cfg.Now()), CreatedBy: by, Spec: raw, Models: spec.Models,
		Strategy: &strategy, SchemaID: spec.SchemaID, TotalModels: len(spec.Models), RecordIDs: []string{},
		Webhook: spec.Webhook,
	}
	if spec.FusionRecordIDs != nil {
		job.Type, job.TotalModels, job.Strategy, job.Models = enricher.JobFusion, 0, nil, []string{}
	}
	if spec.EntityCount > 0 {
		total := spec.EntityCount
		if spec.SelectedIndices != nil {
			total = len(spec.SelectedIndices)
		}
		job.Type, job.TotalModels = enricher.JobBatchEnrichment, total*len(spec.Models)
	}
	var held callNeed
	if spec.EntityCount == 0 {
		held = in.need()
	}
	if err := e.admitAndStore(job, in.need(), held != nil, bind); err != nil {
		return nil, err
	}
	in.Job = job
	e.dispatch(job, held, func() { e.launch(in) })
	return job, nil
}

// stageEntities stores a batch's inline entities under id in chunks.
func (e *Engine) stageEntities(id string, entities []map[string]any) error {
	chunk := make([][]byte, 0, entityWindow)
	for i, ent := range entities {
		raw, err := encodeJSON(ent)
		if err != nil {
			return enricher.Wrap(enricher.KindInvalid, err, fmt.Sprintf("entities[%d]: not encodable", i))
		}
		chunk = append(chunk, raw)
		if len(chunk) == cap(chunk) || i == len(entities)-1 {
			if err := e.deps.Store.PutEntities(id, i+1-len(chunk), chunk); err != nil {
				e.dropEntities(id)
				return err
			}
			chunk = chunk[:0]
		}
	}
	return nil
}

// dropEntities deletes the stored entities of a batch that did not start.
func (e *Engine) dropEntities(id string) {
	if err := e.deps.Store.DeleteEntities(id); err != nil {
		e.log.Warn("entities of a batch that did not start are left in storage", "job_id", id, "err", err)
	}
}

// prepare resolves the schema and models of a spec into a job input (without the job).
func (e *Engine) prepare(org string, spec *enricher.EnrichSpec) (*jobInput, error) {
	schema, hash, err := e.schemas.get(spec.SchemaContent)
	if err != nil {
		return nil, err
	}
	in := &jobInput{Spec: spec, Schema: schema, SchemaHash: hash, Answers: e.answers, Providers: e.providers, Journal: e.journalDeps(), Cfg: &e.cfg, Log: e.log}
	if spec.FusionRecordIDs != nil {
		for _, id := range spec.FusionRecordIDs {
			r, err := e.deps.Store.Record(org, id)
			if err != nil {
				return nil, err
			}
			in.Sources = append(in.Sources, r)
			m, err := e.deps.Catalog.Lookup(*r.Model)
			if err != nil { // a model no longer available still merges; it only loses its price
				m = enricher.ModelInfo{Key: *r.Model}
			}
			in.Models = append(in.Models, m)
		}
	}
	for _, key := range spec.Models {
		if spec.FusionRecordIDs != nil {
			break // the sources' models, resolved above
		}
		m, err := e.deps.Catalog.Lookup(key)
		if err != nil {
			return nil, err
		}
		if e.providers[m.Provider] == nil {
			return nil, enricher.Errorf(enricher.KindInvalid, "model %q is not available: no client for provider %q", key, m.Provider)
		}
		in.Models = append(in.Models, m)
	}
	if spec.ClassificationModel != nil {
		m, err := e.deps.Catalog.Lookup(*spec.ClassificationModel)
		if err != nil {
			return nil, err
		}
		if e.providers[m.Provider] == nil {
			return nil, enricher.Errorf(enricher.KindInvalid, "model %q is not available", m.Key)
		}
		in.Classifier = &m
	}
	if spec.ArbitrationModel != nil {
		m, err := e.deps.Catalog.Lookup(*spec.ArbitrationModel)
		if err != nil {
			return nil, err
		}
		if e.providers[m.Provider] == nil {
			return nil, enricher.Errorf(enricher.KindInvalid, "model %q is not available", m.Key)
		}
		in.Arbiter = &m
	}
	if err := e.checkExecution(in); err != nil {
		return nil, err
	}
	return in, nil
}

// need returns the provider calls the job (a batch: one of its entities) may hold at once.
func (in *jobInput) need() callNeed {
	if providerBatch(in.Spec) { // its calls wait at the vendor, not in the provider actors
		return callNeed{}
	}
	return jobNeed(in.Models, in.Classifier, in.Arbiter, in.Schema, in.Spec.Strategy, in.Spec.FusionRecordIDs != nil)
}

// launch starts an enrichment, batch or fusion job actor. A single job's calls were taken at
// admission; a batch takes room per entity.
func (e *Engine) launch(in *jobInput) {
	if in.Spec.EntityCount > 0 {
		finished, err := e.deps.Store.FinishedEntities(in.Job.ID)
		if err != nil {
			e.log.Error("batch recovery: finished entities unreadable; they run again", "job_id", in.Job.ID, "err", err)
		}
		started, err := e.deps.Store.StartedEntities(in.Job.ID)
		if err != nil {
			e.log.Error("batch recovery: started entities unreadable; they announce their start again", "job_id", in.Job.ID, "err", err)
		}
		b := &batchInput{Finished: finished, Started: started, Recovered: recordsByEntity(in.Recovered), Entities: e.deps.Store,
			Job: in.Job, Spec: in.Spec, Schema: in.Schema, SchemaHash: in.SchemaHash, Answers: in.Answers, Models: in.Models, Classifier: in.Classifier,
			Arbiter: in.Arbiter, Providers: in.Providers, Window: e.cfg.BatchConcurrency, Log: e.log, Gates: e.gates, Need: in.need(),
			Journal: in.Journal}
		if providerBatch(in.Spec) {
			if b.Collectors, err = e.collectors(in); err != nil {
				e.log.Error("batch recovery: stored vendor batches unreadable; their calls are submitted again", "job_id", in.Job.ID, "err", err)
				b.Collectors, _ = e.collectors(&jobInput{Spec: in.Spec, Models: in.Models, Classifier: in.Classifier, Arbiter: in.Arbiter,
					Job: &enricher.Job{ID: in.Job.ID}})
			}
			b.Window = e.cfg.ProviderBatch.Max
		}
		e.sys.Root.Send(e.sup, &spawnJob{Job: in.Job, Props: actor.PropsFromProducer(newBatchActor(b), actor.WithSupervisor(stopStrategy))})
		return
	}
	e.sys.Root.Send(e.sup, &spawnJob{Job: in.Job, Held: in.need(), Props: actor.PropsFromProducer(newJobActor(in), actor.WithSupervisor(stopStrategy))})
}

// journalDeps are what the journal of every job needs from the engine.
func (e *Engine) journalDeps() journalDeps {
	return journalDeps{persister: e.persister, cfg: &e.cfg, log: e.log, stopping: &e.stopped}
}

func ptrStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (e *Engine) prepareSchemaJob(org string, spec *enricher.SchemaJobSpec) (*schemaJobInput, error) {
	if e.deps.Schemas == nil {
		return nil, enricher.Errorf(enricher.KindUnavailable, "schema jobs are not available")
	}
	m, err := e.deps.Catalog.Lookup(spec.Model)
	if err != nil {
		return nil, err
	}
	if e.providers[m.Provider] == nil {
		return nil, enricher.Errorf(enricher.KindInvalid, "model %q is not available: no client for provider %q", m.Key, m.Provider)
	}
	in := &schemaJobInput{Spec: spec, Model: m, Provider: e.providers[m.Provider], Schemas: e.deps.Schemas,
		MaxLive: e.cfg.MaxSchemasPerOrg, Log: e.log}
	if spec.Kind == enricher.SchemaJobEdit {
		s, err := e.deps.Schemas.Schema(org, spec.SchemaID)
		if err != nil {
			return nil, err
		}
		if s.IsDeleted {
			return nil, enricher.Errorf(enricher.KindConflict, "schema is deleted: restore it first")
		}
		in.Current = s.Content
	}
	return in, nil
}

func (e *Engine) launchSchemaJob(in *schemaJobInput) {
	in.Journal = e.journalDeps()
	e.sys.Root.Send(e.sup, &spawnJob{Job: in.Job, Held: in.need(), Props: actor.PropsFromProducer(newSchemaJobActor(in), actor.WithSupervisor(stopStrategy))})
}

// fusionSpec checks the records to merge (see StartFusion for the errors) and builds the spec
// of the fusion job: the entity, schema and languages of the first record, one model per
// record.
func (e *Engine) fusionSpec(org string, ids []string, arbiter *string, webhook *enricher.WebhookTarget) (*enricher.EnrichSpec, error) {
	var first *enricher.Record
	models := map[string]bool{}
	var keys []string
	for _, id := range ids {
		r, err := e.deps.Store.Record(org, id)
		if err == nil && r.IsDeleted {
			err = enricher.Errorf(enricher.KindNotFound, "record %s not found", id)
		}
		if err != nil {
			if enricher.IsKind(err, enricher.KindNotFound) {
				return nil, enricher.Errorf(enricher.KindNotFound, "record %s not found", id)
			}
			return nil, err
		}
		switch {
		case r.Type != enricher.RecordEnrichment || !r.Success || r.Model == nil:
			return nil, enricher.Errorf(enricher.KindInvalid, "record %s is not a successful enrichment record", id)
		case models[*r.Model]:
			return nil, enricher.Errorf(enricher.KindInvalid, "two records of model %q: fusion merges different models", *r.Model)
		case first != nil && (ptrStr(r.SchemaContentHash) != ptrStr(first.SchemaContentHash) || !slices.Equal(r.Languages, first.Languages)):
			return nil, enricher.Errorf(enricher.KindInvalid, "record %s was enriched with another schema or other languages than %s", id, first.ID)
		}
		models[*r.Model] = true
		keys = append(keys, *r.Model)
		if first == nil {
			first = r
		}
	}
	job, err := e.deps.Store.JobWithSpec(org, first.JobID)
	if err != nil {
		return nil, fmt.Errorf("job of record %s: %w", first.ID, err)
	}
	var src enricher.EnrichSpec
	if err := json.Unmarshal(job.Spec, &src); err != nil {
		return nil, fmt.Errorf("job of record %s: %w", first.ID, err)
	}
	var entity map[string]any
	if err := json.Unmarshal(first.EntityInput, &entity); err != nil {
		return nil, fmt.Errorf("entity of record %s: %w", first.ID, err)
	}
	spec := &enricher.EnrichSpec{
		EntityData: entity, SchemaID: first.SchemaID, SchemaContent: src.SchemaContent, Models: keys,
		Languages: first.Languages, Strategy: enricher.StrategySinglePass, ArbitrationModel: arbiter, FusionRecordIDs: ids,
		Webhook: webhook,
	}
	return spec, nil
}
