package enricher

import (
	"encoding/json"
	"fmt"
	"time"
)

// JobType is the kind of a job.
type JobType string

// The job types.
const (
	JobSingleEnrichment JobType = "single_enrichment"
	JobBatchEnrichment  JobType = "batch_enrichment"
	JobSchemaGeneration JobType = "schema_generation"
	JobSchemaEdit       JobType = "schema_edit"
	JobFusion           JobType = "fusion"
)

// JobStatus is the state of a job: pending → running ⇄ paused → completed | failed | cancelled.
type JobStatus string

// The job statuses.
const (
	JobPending   JobStatus = "pending"
	JobRunning   JobStatus = "running"
	JobPaused    JobStatus = "paused"
	JobCompleted JobStatus = "completed"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Terminal reports whether s is completed, failed or cancelled.
func (s JobStatus) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// Strategy is how a model's calls are split.
type Strategy string

// The strategies.
const (
	StrategySinglePass     Strategy = "single_pass"
	StrategyExpertDomains  Strategy = "expert_domains"
	StrategyMultiExpertise Strategy = "multi_expertise"
	// StrategyWaterfall asks the models one after another, each only the fields the earlier
	// ones left open (waterfall.go); each step is one call whose prompt is grouped by
	// expertise domain when the schema declares domains.
	StrategyWaterfall Strategy = "waterfall"
)

// Valid reports whether s is one of the four strategies.
func (s Strategy) Valid() bool {
	return s == StrategySinglePass || s == StrategyExpertDomains || s == StrategyMultiExpertise || s == StrategyWaterfall
}

// Mismatch policies: what a classification mismatch does to a job.
const (
	MismatchPause    = "pause"
	MismatchContinue = "continue"
	MismatchCancel   = "cancel"
	MismatchSkip     = "skip"
)

// Executions of a batch job: how its LLM calls reach the providers.
const (
	// ExecutionRealtime sends each call as it comes (the default).
	ExecutionRealtime = "realtime"
	// ExecutionProviderBatch gathers each model's calls into its vendor's batch API
	// (answered within the vendor's completion window, at its batch price).
	ExecutionProviderBatch = "provider_batch"
)

// EnrichSpec is a validated enrichment request as stored with its job. The schema content is
// copied when the job starts, so later edits of the saved schema never affect it.
type EnrichSpec struct {
	EntityData map[string]any `json:"entity_data,omitempty"` // single enrichment
	// Entities are a batch's entities as given to the engine. The stored spec never holds
	// them: the engine stores them one per key under the job id and keeps only EntityCount.
	Entities []map[string]any `json:"entities,omitempty"`
	// EntityCount is the number of entities of a batch whose entities are stored under its job
	// id (every batch once started; an NDJSON upload before it starts).
	EntityCount         int             `json:"entity_count,omitempty"`
	SelectedIndices     []int           `json:"selected_indices,omitempty"`
	SchemaID            *string         `json:"schema_id"`
	SchemaContent       json.RawMessage `json:"schema_content"`
	Models              []string        `json:"models"`
	Languages           []string        `json:"languages"`
	Strategy            Strategy        `json:"strategy"`
	ClassificationModel *string         `json:"classification_model"`
	ArbitrationModel    *string         `json:"arbitration_model"`
	OnMismatch          string          `json:"on_classification_mismatch"`
	// VerifyFields are leaf paths that need two agreeing models (waterfall strategy only).
	VerifyFields []string `json:"verify_fields,omitempty"`
	Sync         bool     `json:"sync,omitempty"`
	// FusionRecordIDs names the records a fusion job merges (job type fusion only).
	FusionRecordIDs []string `json:"fusion_record_ids,omitempty"`
	// Webhook, when set, is where the job's events are called back (copied to Job.Webhook).
	Webhook *WebhookTarget `json:"webhook,omitempty"`
	// Execution is ExecutionRealtime ("" too) or ExecutionProviderBatch (batch jobs only).
	Execution string `json:"execution,omitempty"`
}

// Job is the stored state of a job. The job actor owns it while the job runs; storage keeps the
// latest snapshot, written together with the events that changed it.
type Job struct {
	ID                string          `json:"job_id"`
	OrganizationID    string          `json:"organization_id"`
	Type              JobType         `json:"job_type"`
	Status            JobStatus       `json:"status"`
	CreatedAt         Time            `json:"created_at"`
	StartedAt         *Time           `json:"started_at"`
	FinishedAt        *Time           `json:"finished_at"`
	CreatedBy         CreatedBy       `json:"created_by"`
	Models            []string        `json:"models"`
	Strategy          *Strategy       `json:"strategy"`
	SchemaID          *string         `json:"schema_id"`
	Spec              json.RawMessage `json:"spec,omitempty"`
	LastSeq           int64           `json:"last_seq"`
	TotalModels       int             `json:"total_models"`
	CompletedModels   int             `json:"completed_models"`
	TotalEntities     *int            `json:"total_entities"`
	CompletedEntities *int            `json:"completed_entities"`
	FailedEntities    *int            `json:"failed_entities"`
	SkippedEntities   *int            `json:"skipped_entities"`
	RecordIDs         []string        `json:"record_ids"`
	RecordCount       int             `json:"record_count"` // all records, RecordIDs keeps the first 1000
	Pause             *Pause          `json:"pause"`
	ErrorMessage      *string         `json:"error_message"`
	Result            json.RawMessage `json:"result"`
	EventBytes        int64           `json:"event_bytes"`
	Classification    *Classification `json:"classification,omitempty"` // for recovery
	CostUSD           float64         `json:"cost_usd,omitempty"`       // batch totals so far
	InputTokens       int             `json:"input_tokens,omitempty"`
	OutputTokens      int             `json:"output_tokens,omitempty"`
	PausedMS          int64           `json:"paused_ms"` // paused time so far
	// Webhook is the job's callback target (nil: none); its events become webhook deliveries.
	Webhook *WebhookTarget `json:"webhook,omitempty"`
}

// Pause describes a job paused on a classification mismatch.
type Pause struct {
	Classification *Classification `json:"classification"`
	ExpiresAt      Time            `json:"expires_at"`
}

// IdempotentStart is a remembered job start: the request's fingerprint, the job it
// started and the response a streaming start answers (null for blocking starts, which answer
// with the job's outcome).
type IdempotentStart struct {
	Fingerprint string          `json:"fingerprint"`
	JobID       string          `json:"job_id"`
	Response    json.RawMessage `json:"response"`
}

// IdempotencyBinding asks a job start to remember its Idempotency-Key in the very write that
// stores the job, so that a retry finds the job whatever became of the first request (a 503 at
// shutdown, a 504, a dropped connection, a crash). The front end fills it; the engine passes it
// to storage with the new job. Respond builds a streaming start's answer from the job id; nil
// for blocking starts. Respond must be a pure function of its argument.
type IdempotencyBinding struct {
	Key         string
	Fingerprint string
	TTL         time.Duration // how long the key is kept; 0 means no expiry
	Respond     func(jobID string) any
}

// Start returns what the binding remembers for job jobID. The error is an encoding failure of
// the response.
func (b *IdempotencyBinding) Start(jobID string) (*IdempotentStart, error) {
	s := &IdempotentStart{Fingerprint: b.Fingerprint, JobID: jobID}
	if b.Respond != nil {
		raw, err := json.Marshal(b.Respond(jobID))
		if err != nil {
			return nil, fmt.Errorf("idempotent start response: %w", err)
		}
		s.Response = raw
	}
	return s, nil
}

// JobView is the JobStatus object, as GET /api/llm/jobs/{job_id} answers it
// (the server builds it from a Job; clients decode it). Entity counters are nil outside
// batches; Result is the terminal event's result (null before, absent in lists).
type JobView struct {
	JobID              string          `json:"job_id"`
	JobType            JobType         `json:"job_type"`
	Status             JobStatus       `json:"status"`
	IsPaused           bool            `json:"is_paused"`
	CreatedAt          Time            `json:"created_at"`
	StartedAt          *Time           `json:"started_at"`
	FinishedAt         *Time           `json:"finished_at"`
	CreatedBy          CreatedBy       `json:"created_by"`
	Models             []string        `json:"models"`
	Strategy           *Strategy       `json:"strategy"`
	SchemaID           *string         `json:"schema_id"`
	TotalModels        int             `json:"total_models"`
	CompletedModels    int             `json:"completed_models"`
	TotalEntities      *int            `json:"total_entities"`
	CompletedEntities  *int            `json:"completed_entities"`
	FailedEntities     *int            `json:"failed_entities"`
	SkippedEntities    *int            `json:"skipped_entities"`
	RecordIDs          []string        `json:"record_ids"`
	RecordIDsTruncated bool            `json:"record_ids_truncated"`
	LastSeq            int64           `json:"last_seq"`
	Pause              *Pause          `json:"pause,omitempty"`
	ErrorMessage       *string         `json:"error_message"`
	Result             json.RawMessage `json:"result,omitempty"`
}

// View returns the JobStatus object of j; withResult adds the terminal result (null before
// the end), which lists leave out.
func (j *Job) View(withResult bool) JobView {
	orEmpty := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	v := JobView{
		JobID: j.ID, JobType: j.Type, Status: j.Status, IsPaused: j.Status == JobPaused,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, CreatedBy: j.CreatedBy,
		Models: orEmpty(j.Models), Strategy: j.Strategy, SchemaID: j.SchemaID, TotalModels: j.TotalModels,
		CompletedModels: j.CompletedModels, TotalEntities: j.TotalEntities, CompletedEntities: j.CompletedEntities,
		FailedEntities: j.FailedEntities, SkippedEntities: j.SkippedEntities, RecordIDs: orEmpty(j.RecordIDs),
		RecordIDsTruncated: j.RecordCount > len(j.RecordIDs), LastSeq: j.LastSeq, Pause: j.Pause, ErrorMessage: j.ErrorMessage,
	}
	if withResult {
		v.Result = j.Result
		if v.Result == nil {
			v.Result = json.RawMessage("null")
		}
	}
	return v
}
