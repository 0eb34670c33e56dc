-- Finished jobs are deleted once past job_retention (PurgeJobs): finished_ms is when a job
-- reached its terminal status (NULL while it runs), indexed so the purge reads only the jobs
-- due. Jobs that finished before this migration get theirs from their snapshot.
ALTER TABLE jobs ADD COLUMN finished_ms bigint;
UPDATE jobs SET finished_ms = floor(extract(epoch FROM (convert_from(doc, 'UTF8')::jsonb->>'finished_at')::timestamptz) * 1000)::bigint
    WHERE NOT active AND convert_from(doc, 'UTF8')::jsonb->>'finished_at' IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (finished_ms) WHERE finished_ms IS NOT NULL;
