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
	b := enricher.NewReportBuilder(job.ID)
	err = c.s.deps.JobRecords.EachRecordOfJob(c.p.org.ID, job.ID, func(r *enricher.Record) error {
		if !r.IsDeleted {
			b.Add(r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(b.Report())
}
