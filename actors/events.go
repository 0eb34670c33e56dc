package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// eventSink is where a job's events go: the persister, then the job's hub.
type eventSink struct {
	hub       *hub
	persister *actor.PID
	cfg       *Config
	log       *slog.Logger
}

// emitEvent gives the next seq of job to an event whose header h is filled with the
// job-specific fields (type, running and current model, attempt, last error), completes the
// common fields from job, encodes it, and sends it to the persister with the records it names
// and a snapshot of job. Payloads over event_max_bytes, or once the job's events passed
// job_events_max_bytes, are truncated. The actor that owns job must call it; a
// terminal event asks the persister to report back to that actor. It returns the seq.
func emitEvent(c actor.Context, sink eventSink, job *enricher.Job, h *enricher.EventHeader, payload any, records []*enricher.Record) int64 {
	return emitEventWith(c, sink, job, h, payload, storage.Batch{Records: records})
}

// emitEventWith is emitEvent with more writes in the event's batch (finished-entity marks).
func emitEventWith(c actor.Context, sink eventSink, job *enricher.Job, h *enricher.EventHeader, payload any, extra storage.Batch) int64 {
	job.LastSeq++
	h.Seq, h.JobID, h.JobType, h.Status, h.Timestamp = job.LastSeq, job.ID, job.Type, job.Status, sink.cfg.Now()
	h.TotalModels, h.CompletedModels = job.TotalModels, job.CompletedModels
	if h.RunningModels == nil {
		h.RunningModels = []string{}
	}
	maxPayload := sink.cfg.EventMaxBytes
	if job.EventBytes > int64(sink.cfg.JobEventsMaxBytes) {
		maxPayload = 1
	}
	data, err := enricher.AppendEvent(nil, h, payload, maxPayload)
	if err != nil {
		sink.log.Error("event encoding failed", "job_id", job.ID, "type", h.Type, "err", err)
		data = enricher.AppendBareEvent(nil, h)
	}
	job.EventBytes += int64(len(data))
	for i := range extra.Finished { // an entity's mark points at the event that ended it
		extra.Finished[i].Seq = h.Seq
	}
	snap := snapshotJob(job)
	ev := Event{Seq: h.Seq, Data: data, Terminal: enricher.TerminalEvent(h.Type)}
	req := &persist{
		batch: storage.Batch{Jobs: []*enricher.Job{snap}, Events: []storage.EventEntry{{JobID: job.ID, Seq: h.Seq, Data: data}},
			Records: extra.Records, Finished: extra.Finished, Started: extra.Started},
		events: []Event{ev}, hub: sink.hub, upTo: h.Seq,
	}
	if d := newWebhookDelivery(job, h, data, sink.log); d != nil { // stored with its event (webhook.go)
		req.batch.Webhooks = []*enricher.WebhookDelivery{d}
	}
	if ev.Terminal || len(extra.Finished) > 0 { // batches pace themselves on stored entity ends
		req.notify = c.Self()
	}
	c.Send(sink.persister, req)
	return h.Seq
}

// snapshotJob copies job deeply enough that the owner may go on changing it while the
// persister encodes the copy. RecordIDs only ever grows by append, so the copy shares its
// prefix instead of cloning it.
func snapshotJob(job *enricher.Job) *enricher.Job {
	snap := *job
	snap.RecordIDs = job.RecordIDs[:len(job.RecordIDs):len(job.RecordIDs)]
	for _, p := range []**int{&snap.TotalEntities, &snap.CompletedEntities, &snap.FailedEntities, &snap.SkippedEntities} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return &snap
}
