package api

import (
	"github.com/entity-enricher/enricher"
)

// JobRecordStore streams a job's records. Implemented by storage.DB.
type JobRecordStore interface {
	// EachRecordOfJob calls fn with every record job of org wrote, holding at most a small
	// window of them; fn's error stops it and is returned.
	EachRecordOfJob(org, job string, fn func(*enricher.Record) error) error
}

// handleReport serves GET /api/llm/jobs/{job_id}/report: the model report of an enrichment
// job, aggregated from its stored records as they are read (nothing is run again; memory does
// not grow with the records held, see enricher.ReportBuilder). Another organization's job is
// 404 like an unknown one.
func handleReport(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	job, err := c.s.jobInRetention(c.p.org.ID, id)
	if err != nil {
		return err
	}
	if job.Type != enricher.JobSingleEnrichment && job.Type != enricher.JobBatchEnrichment {
		return enricher.Errorf(enricher.KindInvalid, "reports cover enrichment jobs only (this is a %s job)", job.Type)
	}
	report, err := jobReport(c.s.deps.JobRecords, c.p.org.ID, job)
	if err != nil {
		return err
	}
	return c.ok(report)
}

// jobReport builds the report of job from its records in records, which come in no useful
// order: a waterfall job's records are read twice, first to note which fields each model was
// asked for each entity (enricher.ReportBuilder.NoteAsked), then to aggregate; other jobs are
// read once. Soft-deleted records are left out of the figures. The store's error is returned.
func jobReport(records JobRecordStore, org string, job *enricher.Job) (enricher.JobReport, error) {
	b := enricher.NewReportBuilder(job.ID)
	if job.Strategy != nil && *job.Strategy == enricher.StrategyWaterfall {
		err := records.EachRecordOfJob(org, job.ID, func(r *enricher.Record) error {
			b.NoteAsked(r) // deleted ones too: the model was asked what it was asked
			return nil
		})
		if err != nil {
			return enricher.JobReport{}, err
		}
	}
	err := records.EachRecordOfJob(org, job.ID, func(r *enricher.Record) error {
		if !r.IsDeleted {
			b.Add(r)
		}
		return nil
	})
	if err != nil {
		return enricher.JobReport{}, err
	}
	return b.Report(), nil
}
