package enricher

// RecordQuery selects and orders the records of one organization (GET /api/records): the front
// end parses it from the query string, storage runs it. A zero value is the first page of
// every live record, newest first.
type RecordQuery struct {
	Type, Model, EntityID, JobID, SchemaID string // "" = any
	Success                                *bool
	Search                                 string // lower-cased substring of entity_name
	Since, Until                           int64  // unix ms; 0 = unbounded
	SortBy                                 string // created_at (default) | cost_usd | processing_time_ms
	Asc                                    bool
	IncludeDeleted                         bool
	Offset, Limit                          int
	// MinConfidence keeps records whose min_confidence is at least this; BelowConfidence those
	// whose min_confidence is below it (some field under it). Both in 0..1, nil = no filter;
	// compared at 4 decimals. Records with an unknown min_confidence (no field holding a value,
	// or written before confidence existed) match neither.
	MinConfidence, BelowConfidence *float64
}
