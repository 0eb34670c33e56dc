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
}
