package enricher

import "encoding/json"

// RecordType is the kind of a record.
type RecordType string

// The record types.
const (
	RecordEnrichment       RecordType = "enrichment"
	RecordFusion           RecordType = "fusion"
	RecordSchemaGeneration RecordType = "schema_generation"
	RecordSchemaEdit       RecordType = "schema_edit"
)

// CreatedBy names the credential that started a job: the user (access token or user key) and
// the API key, when there is one.
type CreatedBy struct {
	UserID   *string `json:"user_id"`
	APIKeyID *string `json:"api_key_id"`
}

// Record is one stored result: a model run on an entity, a fusion, or a schema job.
// Records are immutable once written, except for soft deletion and restore. The JSON form is
// RecordDetail: the RecordSummary fields followed by the large ones.
type Record struct {
	RecordSummary
	OrganizationID   string          `json:"-"`
	StructuredOutput json.RawMessage `json:"structured_output"`
	EntityInput      json.RawMessage `json:"entity_input"`
	Classification   *Classification `json:"classification"`
	ConflictReport   json.RawMessage `json:"conflict_report"`
	// FieldProvenance holds, for each leaf path of StructuredOutput, where its value came from
	// and how sure it is (see FieldProvenance); null for records without a structured output
	// and for records written before provenance existed. Set with SetProvenance.
	FieldProvenance  map[string]FieldProvenance `json:"field_provenance"`
	ValidationErrors []string                   `json:"validation_errors"`
	Prompts          []PromptCall               `json:"prompts"`
	CreatedBy        CreatedBy                  `json:"created_by"`
	DeletedAt        *Time                      `json:"deleted_at"`
	// Expected is the entity's _expected object (known values for the job's model report),
	// kept with the record for the report only: never shown in API output nor sent to a model.
	Expected json.RawMessage `json:"-"`
}

// SetProvenance sets FieldProvenance and the summary's MinConfidence (see MinConfidence; null
// when no field holds a value).
func (r *Record) SetProvenance(prov map[string]FieldProvenance) {
	r.FieldProvenance, r.MinConfidence = prov, nil
	if c, ok := MinConfidence(prov); ok {
		r.MinConfidence = &c
	}
}

// PromptCall is one LLM call of a record, with every answer received.
type PromptCall struct {
	ID               string          `json:"id"`
	CallKind         string          `json:"call_kind"`
	Model            string          `json:"model"`
	ExpertiseKey     *string         `json:"expertise_key"`
	ExpertiseName    *string         `json:"expertise_name"`
	SequenceOrder    int             `json:"sequence_order"`
	SystemPrompt     string          `json:"system_prompt"`
	UserPrompt       string          `json:"user_prompt"`
	RawResponse      *string         `json:"raw_response"`
	StructuredOutput json.RawMessage `json:"structured_output"`
	Success          bool            `json:"success"`
	ErrorCode        *string         `json:"error_code"`
	ErrorMessage     *string         `json:"error_message"`
	Attempts         int             `json:"attempts"`
	AttemptLog       []Attempt       `json:"attempt_log"`
	ValidationErrors []string        `json:"validation_errors"`
	InputTokens      int             `json:"input_tokens"`
	OutputTokens     int             `json:"output_tokens"`
	CostUSD          float64         `json:"cost_usd"`
	ProcessingTimeMS int64           `json:"processing_time_ms"`
	CreatedAt        Time            `json:"created_at"`
}

// Attempt is one answer received during a call.
type Attempt struct {
	Attempt          int      `json:"attempt"`
	RawResponse      *string  `json:"raw_response"`
	ValidationErrors []string `json:"validation_errors"`
	ErrorKind        *string  `json:"error_kind"`
	InputTokens      int      `json:"input_tokens"`
	OutputTokens     int      `json:"output_tokens"`
	CostUSD          float64  `json:"cost_usd"`
	ProcessingTimeMS int64    `json:"processing_time_ms"`
}

// Classification is the result of a pre-flight classification call.
type Classification struct {
	Status                     string   `json:"status"` // match | mismatch | ambiguous | unknown
	ExpectedType               string   `json:"expected_type"`
	EntityDescription          string   `json:"entity_description"`
	Confidence                 float64  `json:"confidence"`
	Reasoning                  string   `json:"reasoning"`
	AlternativeInterpretations []string `json:"alternative_interpretations"`
	Model                      string   `json:"model"`
	InputTokens                int      `json:"input_tokens"`
	OutputTokens               int      `json:"output_tokens"`
	CostUSD                    float64  `json:"cost_usd"`
	ProcessingTimeMS           int64    `json:"processing_time_ms"`
}

// RecordSummary is the list view of a record: every field but the large ones.
type RecordSummary struct {
	ID                string     `json:"id"`
	Type              RecordType `json:"type"`
	JobID             string     `json:"job_id"`
	EntityID          *string    `json:"entity_id"`
	EntityName        *string    `json:"entity_name"`
	EntityIndex       *int       `json:"entity_index"`
	Model             *string    `json:"model"`
	Provider          *string    `json:"provider"`
	Strategy          *string    `json:"strategy"`
	Languages         []string   `json:"languages"`
	SchemaID          *string    `json:"schema_id"`
	SchemaContentHash *string    `json:"schema_content_hash"`
	SchemaEntityName  *string    `json:"schema_entity_name"`
	Success           bool       `json:"success"`
	PartialSuccess    bool       `json:"partial_success"`
	Cancelled         bool       `json:"cancelled"`
	CostUSD           float64    `json:"cost_usd"`
	InputTokens       int        `json:"input_tokens"`
	OutputTokens      int        `json:"output_tokens"`
	ProcessingTimeMS  int64      `json:"processing_time_ms"`
	PromptCount       int        `json:"prompt_count"`
	SourceModels      []string   `json:"source_models"`
	SourceRecordIDs   []string   `json:"source_record_ids"`
	FusionMethod      *string    `json:"fusion_method"`
	MinConfidence     *float64   `json:"min_confidence"` // lowest confidence of a field holding a value; null when unknown
	ErrorCode         *string    `json:"error_code"`     // why a failed record failed; null on success
	ErrorMessage      *string    `json:"error_message"`  // the failing prompt's message; null on success
	IsDeleted         bool       `json:"is_deleted"`
	CreatedAt         Time       `json:"created_at"`
}

// Summary returns the RecordSummary view of r.
func (r *Record) Summary() RecordSummary { return r.RecordSummary }

// StatsKey identifies a row of record statistics: record type and answering model.
type StatsKey struct {
	Type  RecordType
	Model string
}

// StatsRow sums records (GET /api/records/stats).
type StatsRow struct {
	Records      int     `json:"records"`
	Successful   int     `json:"successful"`
	CostUSD      float64 `json:"cost_usd"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	TimeMS       int64   `json:"time_ms"`
}

// Add adds o to s (sign 1) or takes it away (sign -1).
func (s *StatsRow) Add(o StatsRow, sign int) {
	s.Records += sign * o.Records
	s.Successful += sign * o.Successful
	s.CostUSD += float64(sign) * o.CostUSD
	s.InputTokens += sign * o.InputTokens
	s.OutputTokens += sign * o.OutputTokens
	s.TimeMS += int64(sign) * o.TimeMS
}

// CostRow sums billed provider responses of one model (GET /api/costs/*).
type CostRow struct {
	Requests     int     `json:"requests"`
	CostUSD      float64 `json:"cost_usd"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
}

// CostsByModel splits the record's billed responses by the model that answered each call
// (the rows GET /api/costs/* sums).
func (r *Record) CostsByModel() map[string]CostRow {
	out := map[string]CostRow{}
	for _, p := range r.Prompts {
		c := out[p.Model]
		c.Requests += len(p.AttemptLog)
		c.CostUSD += p.CostUSD
		c.InputTokens += p.InputTokens
		c.OutputTokens += p.OutputTokens
		out[p.Model] = c
	}
	return out
}

// SetFailure fills ErrorCode and ErrorMessage of a record with success false from its last
// failing prompt (the last one with an error code), or from code and msg when no prompt has
// one. A successful record keeps both null.
func (r *Record) SetFailure(code, msg string) {
	if r.Success {
		r.ErrorCode, r.ErrorMessage = nil, nil
		return
	}
	for i := len(r.Prompts) - 1; i >= 0; i-- {
		if p := r.Prompts[i]; !p.Success && p.ErrorCode != nil {
			c, m := *p.ErrorCode, ""
			if p.ErrorMessage != nil {
				m = *p.ErrorMessage
			}
			r.ErrorCode, r.ErrorMessage = &c, &m
			return
		}
	}
	r.ErrorCode, r.ErrorMessage = &code, &msg
}
