package enricher

import "encoding/json"

// StreamEvent is one persisted event as a subscriber receives it: its seq and its wire JSON.
// Data is shared between subscribers and must not be modified.
type StreamEvent struct {
	Seq      int64
	Data     []byte
	Terminal bool
}

// Event payloads: the fields each event adds to the common header. EntityIndex is
// null outside batches.

// ModelStartedEvent is the payload of model_started.
type ModelStartedEvent struct {
	Model         string   `json:"model"`
	Strategy      Strategy `json:"strategy"`
	ExpertiseKeys []string `json:"expertise_keys"`
	EntityIndex   *int     `json:"entity_index"`
}

// WaterfallEscalatedEvent is the payload of waterfall_escalated: under the waterfall
// strategy, FromModel finished and NextModel is asked Fields (leaf paths, schema order), each
// for the reason in Reasons (WaterfallNull, WaterfallFailed or WaterfallUnverified). Step is
// NextModel's 1-based position in the job's models.
type WaterfallEscalatedEvent struct {
	FromModel   string            `json:"from_model"`
	NextModel   string            `json:"next_model"`
	Step        int               `json:"step"`
	Fields      []string          `json:"fields"`
	Reasons     map[string]string `json:"reasons"`
	EntityIndex *int              `json:"entity_index"`
}

// AttemptFailedEvent is the payload of attempt_failed.
type AttemptFailedEvent struct {
	Model        string   `json:"model"`
	CallKind     string   `json:"call_kind"`
	ExpertiseKey *string  `json:"expertise_key"`
	Attempt      int      `json:"attempt"`
	ErrorKind    string   `json:"error_kind"`
	Errors       []string `json:"errors"`
	WillRetry    bool     `json:"will_retry"`
	EntityIndex  *int     `json:"entity_index"`
}

// ExpertiseCompletedEvent is the payload of expertise_completed.
type ExpertiseCompletedEvent struct {
	Model               string          `json:"model"`
	ExpertiseKey        string          `json:"expertise_key"`
	ExpertiseName       string          `json:"expertise_name"`
	Success             bool            `json:"success"`
	CompletedExpertises int             `json:"completed_expertises"`
	TotalExpertises     int             `json:"total_expertises"`
	ExpertiseResult     json.RawMessage `json:"expertise_result"`
	PartialResult       json.RawMessage `json:"partial_result"`
	Attempts            int             `json:"attempts"`
	CostUSD             float64         `json:"cost_usd"`
	InputTokens         int             `json:"input_tokens"`
	OutputTokens        int             `json:"output_tokens"`
	ProcessingTimeMS    int64           `json:"processing_time_ms"`
	ErrorMessage        *string         `json:"error_message"`
	EntityIndex         *int            `json:"entity_index"`
	IsTruncated         bool            `json:"truncated,omitempty"`
}

// Truncated drops the result objects.
func (e ExpertiseCompletedEvent) Truncated() any {
	e.ExpertiseResult, e.PartialResult, e.IsTruncated = nil, nil, true
	return e
}

// ModelCompletedEvent is the payload of model_completed: every ModelResult field.
type ModelCompletedEvent struct {
	ModelResult
	EntityIndex *int `json:"entity_index"`
	IsTruncated bool `json:"truncated,omitempty"`
}

// Truncated drops the result object.
func (e ModelCompletedEvent) Truncated() any {
	e.Result, e.IsTruncated = nil, true
	return e
}

// ClassificationStartedEvent is the payload of classification_started.
type ClassificationStartedEvent struct {
	Model       string `json:"model"`
	EntityIndex *int   `json:"entity_index"`
}

// ClassificationCompletedEvent is the payload of classification_completed.
type ClassificationCompletedEvent struct {
	Model          string          `json:"model"`
	Success        bool            `json:"success"`
	Classification *Classification `json:"classification"`
	ErrorMessage   *string         `json:"error_message"`
	EntityIndex    *int            `json:"entity_index"`
}

// MismatchPauseEvent is the payload of classification_mismatch_pause.
type MismatchPauseEvent struct {
	Classification *Classification `json:"classification"`
	TimeoutSeconds int             `json:"timeout_seconds"`
	ExpiresAt      Time            `json:"expires_at"`
	EntityIndex    *int            `json:"entity_index"`
}

// JobResumedEvent is the payload of job_resumed.
type JobResumedEvent struct {
	Classification *Classification `json:"classification"`
}

// FusionStartedEvent is the payload of fusion_started.
type FusionStartedEvent struct {
	SourceModels     []string `json:"source_models"`
	SourceRecordIDs  []string `json:"source_record_ids"`
	ArbitrationModel *string  `json:"arbitration_model"`
	EntityIndex      *int     `json:"entity_index"`
}

// ConflictsDetectedEvent is the payload of conflicts_detected.
type ConflictsDetectedEvent struct {
	TotalFields      int      `json:"total_fields"`
	AgreedFields     int      `json:"agreed_fields"`
	ConflictedFields int      `json:"conflicted_fields"`
	ConflictPaths    []string `json:"conflict_paths"`
	EntityIndex      *int     `json:"entity_index"`
}

// ArbitrationStartedEvent is the payload of arbitration_started.
type ArbitrationStartedEvent struct {
	ArbitrationModel string `json:"arbitration_model"`
	ConflictCount    int    `json:"conflict_count"`
	EntityIndex      *int   `json:"entity_index"`
}

// ArbitrationCompletedEvent is the payload of arbitration_completed.
type ArbitrationCompletedEvent struct {
	ArbitrationModel    string     `json:"arbitration_model"`
	Success             bool       `json:"success"`
	Decisions           []Decision `json:"decisions"`
	FallbackToRuleBased bool       `json:"fallback_to_rule_based"`
	CostUSD             float64    `json:"cost_usd"`
	InputTokens         int        `json:"input_tokens"`
	OutputTokens        int        `json:"output_tokens"`
	ErrorMessage        *string    `json:"error_message"`
	EntityIndex         *int       `json:"entity_index"`
}

// FusionCompletedEvent is the payload of fusion_completed.
type FusionCompletedEvent struct {
	Success            bool            `json:"success"`
	Method             *string         `json:"method"`
	MergedResult       json.RawMessage `json:"merged_result"`
	ConflictReport     json.RawMessage `json:"conflict_report"`
	RecordID           *string         `json:"record_id"`
	CostUSD            float64         `json:"cost_usd"`
	InputTokens        int             `json:"input_tokens"`
	OutputTokens       int             `json:"output_tokens"`
	ProcessingTimeMS   int64           `json:"processing_time_ms"`
	ValidationWarnings []string        `json:"validation_warnings"`
	ErrorMessage       *string         `json:"error_message"`
	EntityIndex        *int            `json:"entity_index"`
	IsTruncated        bool            `json:"truncated,omitempty"`
}

// Truncated drops the merged result.
func (e FusionCompletedEvent) Truncated() any {
	e.MergedResult, e.IsTruncated = nil, true
	return e
}

// ErrorEvent is the payload of error.
type ErrorEvent struct {
	ErrorCode    string  `json:"error_code"`
	ErrorMessage string  `json:"error_message"`
	Fatal        bool    `json:"fatal"`
	Model        *string `json:"model"`
	EntityIndex  *int    `json:"entity_index"`
}

// CompletedEvent is the payload of completed.
type CompletedEvent struct {
	Result      json.RawMessage `json:"result"`
	IsTruncated bool            `json:"truncated,omitempty"`
}

// Truncated drops the result.
func (e CompletedEvent) Truncated() any {
	e.Result, e.IsTruncated = nil, true
	return e
}

// FailedEvent is the payload of failed.
type FailedEvent struct {
	ErrorCode    string          `json:"error_code"`
	ErrorMessage string          `json:"error_message"`
	Result       json.RawMessage `json:"result"`
}

// CancelledEvent is the payload of cancelled.
type CancelledEvent struct {
	Reason string          `json:"reason"`
	Result json.RawMessage `json:"result"`
}

// Cancel reasons.
const (
	ReasonUser                   = "user"
	ReasonPauseTimeout           = "pause_timeout"
	ReasonClassificationMismatch = "classification_mismatch"
	ReasonOrganizationDeleted    = "organization_deleted"
)

// BatchSummary is the result of a batch job.
type BatchSummary struct {
	BatchCounters
	CostUSD          float64 `json:"cost_usd"`
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	ProcessingTimeMS int64   `json:"processing_time_ms"`
}

// BatchStartedEvent is the payload of batch_started.
type BatchStartedEvent struct {
	SelectedIndices []int `json:"selected_indices"`
}

// EntityStartedEvent is the payload of entity_started.
type EntityStartedEvent struct {
	EntityIndex int    `json:"entity_index"`
	EntityLabel string `json:"entity_label"`
}

// EntityCompletedEvent is the payload of entity_completed.
type EntityCompletedEvent struct {
	EntityIndex      int             `json:"entity_index"`
	EntityLabel      string          `json:"entity_label"`
	Success          bool            `json:"success"`
	Skipped          bool            `json:"skipped"`
	ErrorMessage     *string         `json:"error_message"`
	Results          []ModelResult   `json:"results"`
	Fusion           *FusionSummary  `json:"fusion"`
	FinalResult      json.RawMessage `json:"final_result"`
	FinalRecordID    *string         `json:"final_record_id"`
	CostUSD          float64         `json:"cost_usd"`
	ProcessingTimeMS int64           `json:"processing_time_ms"`
	IsTruncated      bool            `json:"truncated,omitempty"`
}

// Truncated drops the large objects.
func (e EntityCompletedEvent) Truncated() any {
	e.FinalResult, e.Results, e.IsTruncated = nil, nil, true
	return e
}

// BatchCompletedEvent is the payload of batch_completed.
type BatchCompletedEvent struct {
	CostUSD          float64 `json:"cost_usd"`
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	ProcessingTimeMS int64   `json:"processing_time_ms"`
}

// ProviderBatchSubmittedEvent is the payload of provider_batch_submitted: the calls of one
// model sent as one vendor batch. CustomIDs name its requests (the job stores them so a
// restarted server waits for this batch instead of submitting its calls again).
type ProviderBatchSubmittedEvent struct {
	Model           string   `json:"model"`
	ProviderBatchID string   `json:"provider_batch_id"`
	Requests        int      `json:"requests"`
	CustomIDs       []string `json:"custom_ids"`
}

// ProviderBatchProgressEvent is the payload of provider_batch_progress (the vendor's counts
// changed) and provider_batch_ended (the vendor batch will change no more; its results are
// being read).
type ProviderBatchProgressEvent struct {
	Model           string `json:"model"`
	ProviderBatchID string `json:"provider_batch_id"`
	Status          string `json:"status"`
	Succeeded       int    `json:"succeeded"`
	Failed          int    `json:"failed"`
	Total           int    `json:"total"`
}
