package actors

import (
	"encoding/json"
	"fmt"

	"github.com/entity-enricher/enricher"
)

// The engine's side of execution provider_batch: the checks at start and the collectors a
// batch actor spawns (provbatch.go), with the vendor batches stored before a restart.

// providerBatch reports whether spec runs its calls through the vendors' batch APIs.
func providerBatch(spec *enricher.EnrichSpec) bool {
	return spec.Execution == enricher.ExecutionProviderBatch
}

// checkExecution refuses what execution provider_batch cannot run (KindInvalid): anything
// but a batch job, and a job with a model (enrichment, classification or arbitration) whose
// provider has no batch API or whose catalog entry has no batch price.
func (e *Engine) checkExecution(in *jobInput) error {
	switch in.Spec.Execution {
	case "", enricher.ExecutionRealtime:
		return nil
	case enricher.ExecutionProviderBatch:
	default:
		return enricher.Errorf(enricher.KindInvalid, "execution: unknown execution %q (realtime or provider_batch)", in.Spec.Execution)
	}
	if in.Spec.EntityCount == 0 || in.Spec.FusionRecordIDs != nil {
		return enricher.Errorf(enricher.KindInvalid, "execution: provider_batch is for batch jobs only")
	}
	for _, m := range in.allModels() {
		if m.BatchDiscount <= 0 || e.batchers[m.Provider] == nil {
			return enricher.Errorf(enricher.KindInvalid,
				"execution: provider_batch needs a batch API for every model; model %q (provider %s) has none", m.Key, m.Provider)
		}
	}
	return nil
}

// allModels lists the job's models, its classifier and arbiter, each once.
func (in *jobInput) allModels() []enricher.ModelInfo {
	var out []enricher.ModelInfo
	seen := map[string]bool{}
	for _, m := range append(append([]enricher.ModelInfo{}, in.Models...), ptrModels(in.Classifier, in.Arbiter)...) {
		if !seen[m.Key] {
			seen[m.Key] = true
			out = append(out, m)
		}
	}
	return out
}

func ptrModels(ms ...*enricher.ModelInfo) []enricher.ModelInfo {
	var out []enricher.ModelInfo
	for _, m := range ms {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out
}

// collectors returns the configs of the provider batch collectors of the provider_batch
// batch in: one per model, with the vendor batches the job stored before a restart.
func (e *Engine) collectors(in *jobInput) ([]provBatchConfig, error) {
	attached, err := e.submittedBatches(in.Job)
	if err != nil {
		return nil, err
	}
	pb := e.cfg.ProviderBatch
	var out []provBatchConfig
	for _, m := range in.allModels() {
		out = append(out, provBatchConfig{Model: m.Key, Provider: m.Provider, Batcher: e.batchers[m.Provider],
			Realtime: e.providers[m.Provider], Retry: e.cfg.Retry.WithDefaults(), Poll: pb.Poll, Window: pb.Window,
			Linger: pb.Linger, Timeout: e.cfg.LLMTimeout, Max: pb.Max, Attached: attached[m.Key], Observer: e.cfg.Observer, Cancels: &e.cancels, Now: e.cfg.Now,
			Log: e.log.With("job_id", in.Job.ID)})
	}
	return out, nil
}

// submittedBatches reads the provider_batch_submitted events job stored (before a restart),
// by model key, in submit order.
func (e *Engine) submittedBatches(job *enricher.Job) (map[string][]submittedBatch, error) {
	out := map[string][]submittedBatch{}
	if job.LastSeq == 0 {
		return out, nil
	}
	err := e.deps.Store.Events(job.ID, 0, job.LastSeq, func(_ int64, data []byte) error {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(data, &head); err != nil || head.Type != enricher.EventProviderBatchSubmitted {
			return nil // not one (an unreadable event is no vendor batch of ours either)
		}
		var ev struct {
			enricher.ProviderBatchSubmittedEvent
			Timestamp enricher.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			e.log.Warn("recovery: unreadable provider_batch_submitted; its calls are submitted again", "job_id", job.ID, "err", err)
			return nil
		}
		out[ev.Model] = append(out[ev.Model], submittedBatch{ID: ev.ProviderBatchID, CustomIDs: ev.CustomIDs, At: ev.Timestamp.Time})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vendor batches of job %s: %w", job.ID, err)
	}
	return out, nil
}
