package enricher

import "encoding/json"

// Error codes of model runs and calls.
const (
	CodeValidationFailed = "validation_failed"
	CodeRateLimited      = "rate_limited"
	CodeServerError      = "server_error"
	CodeTimeout          = "timeout"
	CodeAuthFailed       = "auth_failed"
	CodeBadRequest       = "bad_request"
	CodeContextLength    = "context_length_exceeded"
	CodeModelNotFound    = "model_not_found"
	CodeOverloaded       = "overloaded"
	CodeCancelled        = "cancelled"
	CodeInternal         = "internal"
)

// ModelResult is the outcome of one model run on one entity.
type ModelResult struct {
	Model              string             `json:"model"`
	Success            bool               `json:"success"`
	PartialSuccess     bool               `json:"partial_success"`
	Cancelled          bool               `json:"cancelled"`
	Result             json.RawMessage    `json:"result"`
	RecordID           *string            `json:"record_id"`
	ErrorMessage       *string            `json:"error_message"`
	ErrorCode          *string            `json:"error_code"`
	CostUSD            float64            `json:"cost_usd"`
	InputTokens        int                `json:"input_tokens"`
	OutputTokens       int                `json:"output_tokens"`
	ProcessingTimeMS   int64              `json:"processing_time_ms"`
	Attempts           int                `json:"attempts"`
	ExpertiseBreakdown []ExpertiseOutcome `json:"expertise_breakdown"`
}

// ExpertiseOutcome is one domain's part of a multi_expertise run.
type ExpertiseOutcome struct {
	Key              string  `json:"key"`
	Name             string  `json:"name"`
	Success          bool    `json:"success"`
	Attempts         int     `json:"attempts"`
	CostUSD          float64 `json:"cost_usd"`
	InputTokens      int     `json:"input_tokens"`
	OutputTokens     int     `json:"output_tokens"`
	ProcessingTimeMS int64   `json:"processing_time_ms"`
	ErrorMessage     *string `json:"error_message"`
}

// FailedModel names a model whose run failed.
type FailedModel struct {
	Model        string  `json:"model"`
	ErrorCode    *string `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
}

// FusionSummary is the fusion part of an EnrichmentOutcome.
type FusionSummary struct {
	Method           string  `json:"method"`
	ArbitrationModel *string `json:"arbitration_model"`
	TotalFields      int     `json:"total_fields"`
	AgreedFields     int     `json:"agreed_fields"`
	ConflictedFields int     `json:"conflicted_fields"`
	RecordID         *string `json:"record_id"`
}

// EnrichmentOutcome is the result of an enrichment of one entity.
type EnrichmentOutcome struct {
	JobID   string          `json:"job_id"`
	Status  JobStatus       `json:"status"`
	Success bool            `json:"success"`
	IsFused bool            `json:"is_fused"`
	Result  json.RawMessage `json:"result"`
	// FieldProvenance is the fused record's per-field provenance; null when not fused.
	FieldProvenance  map[string]FieldProvenance `json:"field_provenance"`
	RecordID         *string                    `json:"record_id"`
	Model            *string                    `json:"model"`
	SourceModels     []string                   `json:"source_models"`
	Classification   *Classification            `json:"classification"`
	Fusion           *FusionSummary             `json:"fusion"`
	FailedModels     []FailedModel              `json:"failed_models"`
	PerModelResults  []ModelResult              `json:"per_model_results"`
	CostUSD          float64                    `json:"cost_usd"`
	InputTokens      int                        `json:"input_tokens"`
	OutputTokens     int                        `json:"output_tokens"`
	ProcessingTimeMS int64                      `json:"processing_time_ms"`
}

// FusionResponse is the result of a fusion: the automatic fusion's, or a fusion
// job's completed.result.
type FusionResponse struct {
	JobID              string          `json:"job_id"`
	Success            bool            `json:"success"`
	Method             *string         `json:"method"`
	MergedResult       json.RawMessage `json:"merged_result"`
	ConflictReport     json.RawMessage `json:"conflict_report"`
	RecordID           *string         `json:"record_id"`
	ArbitrationModel   *string         `json:"arbitration_model"`
	SourceModels       []string        `json:"source_models"`
	SourceRecordIDs    []string        `json:"source_record_ids"`
	CostUSD            float64         `json:"cost_usd"`
	InputTokens        int             `json:"input_tokens"`
	OutputTokens       int             `json:"output_tokens"`
	ProcessingTimeMS   int64           `json:"processing_time_ms"`
	ValidationWarnings []string        `json:"validation_warnings"`
	ErrorMessage       *string         `json:"error_message"`
	// FieldProvenance is the merged result's per-field provenance; null on failure.
	FieldProvenance map[string]FieldProvenance `json:"field_provenance"`
}
