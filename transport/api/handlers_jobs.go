package api

import (
	"slices"

	"github.com/entity-enricher/enricher"
)

// visibleJob returns KindNotFound unless job id of org exists and is within retention.
func (s *Server) visibleJob(org, id string) error {
	_, err := s.jobInRetention(org, id)
	return err
}

func (s *Server) jobInRetention(org, id string) (*enricher.Job, error) {
	j, err := s.deps.Engine.Job(org, id)
	if err != nil {
		return nil, err
	}
	if j.FinishedAt != nil && s.now().Sub(j.FinishedAt.Time) > s.cfg.JobRetention {
		return nil, enricher.Errorf(enricher.KindNotFound, "job not found")
	}
	return j, nil
}

func handleJobStatus(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	j, err := c.s.jobInRetention(c.p.org.ID, id)
	if err != nil {
		return err
	}
	return c.ok(j.View(true))
}

func handleListJobs(c *call) error {
	p, err := parsePage(c.ctx)
	if err != nil {
		return err
	}
	status := enricher.JobStatus(c.ctx.QueryArgs().Peek("status"))
	if status != "" && !slices.Contains([]enricher.JobStatus{enricher.JobPending, enricher.JobRunning, enricher.JobPaused,
		enricher.JobCompleted, enricher.JobFailed, enricher.JobCancelled}, status) {
		return enricher.Errorf(enricher.KindInvalid, "status: unknown value %q", status)
	}
	typ := enricher.JobType(c.ctx.QueryArgs().Peek("job_type"))
	if typ != "" && !slices.Contains([]enricher.JobType{enricher.JobSingleEnrichment, enricher.JobBatchEnrichment,
		enricher.JobSchemaGeneration, enricher.JobSchemaEdit, enricher.JobFusion}, typ) {
		return enricher.Errorf(enricher.KindInvalid, "job_type: unknown value %q", typ)
	}
	now := c.s.now()
	jobs, err := c.s.deps.Jobs.Jobs(c.p.org.ID, func(j *enricher.Job) bool {
		if j.FinishedAt != nil && now.Sub(j.FinishedAt.Time) > c.s.cfg.JobRetention {
			return false
		}
		return (status == "" || j.Status == status) && (typ == "" || j.Type == typ)
	})
	if err != nil {
		return err
	}
	items, total, pages := paginated(jobs, p)
	out := make([]enricher.JobView, len(items))
	for i, j := range items {
		out[i] = j.View(false)
	}
	return c.ok(map[string]any{"jobs": out, "total": total, "page": p.Page, "page_size": p.Size, "total_pages": pages})
}

func handleCancel(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	if err := c.s.visibleJob(c.p.org.ID, id); err != nil {
		return err
	}
	if err := c.s.deps.Engine.Cancel(c.p.org.ID, id); err != nil {
		return err
	}
	return c.ok(map[string]string{"job_id": id, "status": string(enricher.JobCancelled), "message": "job cancelled"})
}

func handleContinue(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	if err := c.s.visibleJob(c.p.org.ID, id); err != nil {
		return err
	}
	if err := c.s.deps.Engine.Continue(c.p.org.ID, id); err != nil {
		return err
	}
	return c.ok(map[string]string{"job_id": id, "status": string(enricher.JobRunning), "message": "job resumed"})
}

func handleGetRecord(c *call) error {
	id, err := pathID(c.ctx, "record_id", "record")
	if err != nil {
		return err
	}
	r, err := c.s.deps.Records.Record(c.p.org.ID, id)
	if err != nil {
		return err
	}
	return c.ok(r)
}
