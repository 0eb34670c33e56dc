package actors

import (
	"encoding/json"
	"fmt"

	"github.com/entity-enricher/enricher"
)

// Recovery at start-up: jobs stored as unfinished are re-admitted and relaunched from their
// stored state; the actors then resume where the stored events end (resume.go).

// recover restarts every job that was not finished when the server stopped.
func (e *Engine) recover() error {
	jobs, err := e.deps.Store.ActiveJobs()
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	for _, j := range jobs {
		if err := e.resume(j); err != nil {
			return fmt.Errorf("recovery of job %s: %w", j.ID, err)
		}
	}
	return nil
}

// resume relaunches the stored unfinished job j (with its spec) from its stored state: at
// start-up for every such job, in a cluster on the node that claimed it (Ensure). A job that
// cannot run any more is logged and skipped (nil); an error means storage failed.
func (e *Engine) resume(j *enricher.Job) error {
	if j.Type == enricher.JobSchemaGeneration || j.Type == enricher.JobSchemaEdit {
		if err := e.recoverSchemaJob(j); err != nil {
			e.log.Error("recovery: schema job cannot run any more; skipped", "job_id", j.ID, "err", err)
		}
		return nil
	}
	var spec enricher.EnrichSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		e.log.Error("recovery: unreadable job spec; job skipped", "job_id", j.ID, "err", err)
		return nil
	}
	if spec.Entities != nil { // stored before batches kept their entities one per key
		if err := e.stageEntities(j.ID, spec.Entities); err != nil {
			return err
		}
		spec.EntityCount, spec.Entities = len(spec.Entities), nil
	}
	in, err := e.prepare(j.OrganizationID, &spec)
	if err != nil {
		e.log.Error("recovery: job cannot run any more; skipped", "job_id", j.ID, "err", err)
		return nil
	}
	stored := e.deps.Store.RecordsOfJob
	if spec.EntityCount > 0 { // a batch needs only the records of the entities in flight
		stored = e.deps.Store.RecordsOfOpenEntities
	}
	if in.Recovered, err = stored(j.OrganizationID, j.ID); err != nil {
		return err
	}
	// Recovered jobs are admitted whatever the caps: they were admitted before.
	if _, err := e.sys.Root.RequestFuture(e.sup, &reserve{Org: j.OrganizationID, Need: in.need(), Hold: spec.EntityCount == 0,
		Recovered: true}, askTimeout).Result(); err != nil {
		return err
	}
	in.Job = j
	e.launch(in)
	e.log.Info("job resumed", "job_id", j.ID, "last_seq", j.LastSeq)
	return nil
}

// recoverSchemaJob runs an unfinished schema job again (its call is at-least-once).
func (e *Engine) recoverSchemaJob(j *enricher.Job) error {
	var spec enricher.SchemaJobSpec
	if err := json.Unmarshal(j.Spec, &spec); err != nil {
		return err
	}
	in, err := e.prepareSchemaJob(j.OrganizationID, &spec)
	if err != nil {
		return err
	}
	if _, err := e.sys.Root.RequestFuture(e.sup, &reserve{Org: j.OrganizationID, Need: in.need(), Hold: true, Recovered: true}, askTimeout).Result(); err != nil {
		return err
	}
	in.Job = j
	e.launchSchemaJob(in)
	return nil
}
