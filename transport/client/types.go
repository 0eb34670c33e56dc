package client

import (
	"encoding/json"

	"github.com/entity-enricher/enricher"
)

// Health is the answer of GET /health.
type Health struct {
	Status        string `json:"status"`
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptime_seconds"`
	Storage       string `json:"storage"`
	JobsActive    int    `json:"jobs_active"`
}

// LoginResponse is the answer of login and register.
type LoginResponse struct {
	AccessToken      string                 `json:"access_token"`
	RefreshToken     string                 `json:"refresh_token"`
	TokenType        string                 `json:"token_type"`
	ExpiresAt        enricher.Time          `json:"expires_at"`
	RefreshExpiresAt enricher.Time          `json:"refresh_expires_at"`
	User             *enricher.User         `json:"user"`
	Organization     *enricher.Organization `json:"organization"`
}

// CreateAPIKeyRequest is the body of POST /api/auth/api-keys. A nil Role makes a
// user key; empty Scopes mean both; a nil ExpiresInDays never expires.
type CreateAPIKeyRequest struct {
	Name          string           `json:"name"`
	Role          *enricher.Role   `json:"role,omitempty"`
	Scopes        []enricher.Scope `json:"scopes,omitempty"`
	ExpiresInDays *int             `json:"expires_in_days,omitempty"`
}

// APIKey is the ApiKey object.
type APIKey struct {
	enricher.APIKey
	EffectiveRole enricher.Role `json:"effective_role"`
}

// APIKeyCreated is an APIKey with the full key, which the server shows only once.
type APIKeyCreated struct {
	APIKey
	Key string `json:"key"`
}

// Limits are the request limits the server reports in its options.
type Limits struct {
	MaxModels        int `json:"max_models"`
	MaxLanguages     int `json:"max_languages"`
	MaxBatchEntities int `json:"max_batch_entities"`
	MaxEntityBytes   int `json:"max_entity_bytes"`
}

// StrategyInfo names an enrichment strategy.
type StrategyInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Options is the answer of GET /api/enrichment/options.
type Options struct {
	Models            []enricher.ModelInfo `json:"models"`
	AvailableModels   []string             `json:"available_models"`
	Languages         map[string]string    `json:"languages"`
	Strategies        []StrategyInfo       `json:"strategies"`
	DefaultStrategy   string               `json:"default_strategy"`
	ModelsLastUpdated enricher.Time        `json:"models_last_updated"`
	Limits            Limits               `json:"limits"`
}

// SaveSchemaRequest is the body of POST /api/schema/saved.
type SaveSchemaRequest struct {
	Name          string          `json:"name"`
	SchemaContent json.RawMessage `json:"schema_content"`
	Tags          []string        `json:"tags,omitempty"`
	IsPinned      bool            `json:"is_pinned,omitempty"`
}

// SchemaList is the answer of GET /api/schema/saved. Its items carry the list fields only:
// SchemaContent and the other large fields are empty (use GetSchema).
type SchemaList struct {
	Schemas []enricher.SavedSchema `json:"schemas"`
	Total   int                    `json:"total"`
}

// EnrichRequest is the body of a single enrichment. Exactly one of SchemaID and
// TargetSchema is set; empty optional fields take the server's defaults.
type EnrichRequest struct {
	EntityData               map[string]any  `json:"entity_data"`
	SchemaID                 string          `json:"schema_id,omitempty"`
	TargetSchema             json.RawMessage `json:"target_schema,omitempty"`
	Models                   []string        `json:"models"`
	Languages                []string        `json:"languages,omitempty"`
	Strategy                 string          `json:"strategy,omitempty"`
	ClassificationModel      string          `json:"classification_model,omitempty"`
	ArbitrationModel         string          `json:"arbitration_model,omitempty"`
	OnClassificationMismatch string          `json:"on_classification_mismatch,omitempty"`
	VerifyFields             []string        `json:"verify_fields,omitempty"` // waterfall only
}

// SyncRequest is the body of the blocking enrichment.
type SyncRequest struct {
	EnrichRequest
	TimeoutSeconds         int  `json:"timeout_seconds,omitempty"`
	IncludePerModelResults bool `json:"include_per_model_results,omitempty"`
}

// BatchRequest is the body of POST /api/enrichment/batch/start. In the NDJSON form
// (StartBatchNDJSON) it is the options line and Entities stays nil.
type BatchRequest struct {
	Entities                 []map[string]any `json:"entities,omitempty"`
	SchemaID                 string           `json:"schema_id,omitempty"`
	TargetSchema             json.RawMessage  `json:"target_schema,omitempty"`
	Models                   []string         `json:"models"`
	Languages                []string         `json:"languages,omitempty"`
	Strategy                 string           `json:"strategy,omitempty"`
	ClassificationModel      string           `json:"classification_model,omitempty"`
	ArbitrationModel         string           `json:"arbitration_model,omitempty"`
	OnClassificationMismatch string           `json:"on_classification_mismatch,omitempty"`
	VerifyFields             []string         `json:"verify_fields,omitempty"` // waterfall only
	SelectedIndices          []int            `json:"selected_indices,omitempty"`
	Execution                string           `json:"execution,omitempty"` // realtime (default) or provider_batch
}

// Started is the answer of a streaming job start: the job and where to follow it. Total is set
// by batch starts only.
type Started struct {
	JobID     string `json:"job_id"`
	Message   string `json:"message"`
	StreamURL string `json:"stream_url"`
	Total     int    `json:"total,omitempty"`
}

// FetchResponse is the answer of a batch fetch: entities to pass to StartBatch.
type FetchResponse struct {
	Entities    []map[string]any `json:"entities"`
	Total       int              `json:"total"`
	Format      string           `json:"format"`
	FetchTimeMS int64            `json:"fetch_time_ms"`
}

// Job is the JobStatus object (see enricher.JobView).
type Job = enricher.JobView

// JobQuery filters GET /api/llm/jobs; zero fields are left out.
type JobQuery struct {
	Status   enricher.JobStatus
	JobType  enricher.JobType
	Page     int
	PageSize int
}

// JobList is one page of jobs, newest first.
type JobList struct {
	Jobs       []Job `json:"jobs"`
	Total      int   `json:"total"`
	Page       int   `json:"page"`
	PageSize   int   `json:"page_size"`
	TotalPages int   `json:"total_pages"`
}

// JobAction is the answer of cancel and continue.
type JobAction struct {
	JobID   string             `json:"job_id"`
	Status  enricher.JobStatus `json:"status"`
	Message string             `json:"message"`
}

// RecordPage is one page of record summaries.
type RecordPage struct {
	Records    []enricher.RecordSummary `json:"records"`
	Total      int                      `json:"total"`
	Page       int                      `json:"page"`
	PageSize   int                      `json:"page_size"`
	TotalPages int                      `json:"total_pages"`
}

// DeleteResult is the answer of POST /api/records/batch-delete.
type DeleteResult struct {
	Deleted  int      `json:"deleted"`
	NotFound []string `json:"not_found"`
}

// CostSummary is the answer of GET /api/costs/summary.
type CostSummary struct {
	StartDate          enricher.Time `json:"start_date"`
	EndDate            enricher.Time `json:"end_date"`
	TotalCost          float64       `json:"total_cost"`
	TotalRequests      int           `json:"total_requests"`
	TotalInputTokens   int           `json:"total_input_tokens"`
	TotalOutputTokens  int           `json:"total_output_tokens"`
	AvgCostPerRequest  float64       `json:"avg_cost_per_request"`
	MostUsedModel      *string       `json:"most_used_model"`
	MostExpensiveModel *string       `json:"most_expensive_model"`
}

// FusionRequest is the body of POST /api/fusion/merge.
type FusionRequest struct {
	ResultIDs        []string `json:"result_ids"`
	ArbitrationModel string   `json:"arbitration_model,omitempty"`
	TimeoutSeconds   int      `json:"timeout_seconds,omitempty"`
}
