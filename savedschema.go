package enricher

import (
	"encoding/json"
)

// SavedSchema is a schema stored by an organization. Content is the normalised
// document (search-key spellings rewritten to is_key); ContentHash is "sha256:<hex>" of its
// canonical JSON. A SavedSchema value is owned by whoever holds it; storage hands out copies.
type SavedSchema struct {
	ID               string          `json:"id"`
	OrganizationID   string          `json:"-"`
	Name             string          `json:"name"`
	Content          json.RawMessage `json:"schema_content"`
	ContentHash      string          `json:"content_hash"`
	Tags             []string        `json:"tags"`
	IsPinned         bool            `json:"is_pinned"`
	PropertyCount    int             `json:"property_count"`
	ExpertiseCount   int             `json:"expertise_count"`
	SampleJSON       json.RawMessage `json:"sample_json"`
	FormValues       json.RawMessage `json:"form_values"`
	GenerationParams json.RawMessage `json:"generation_params"`
	AISuggestions    []string        `json:"ai_suggestions"`
	PreviousContent  json.RawMessage `json:"-"` // content before the last AI edit, for undo
	IsDeleted        bool            `json:"is_deleted"`
	CreatedAt        Time            `json:"created_at"`
	UpdatedAt        Time            `json:"updated_at"`
	DeletedAt        *Time           `json:"deleted_at"`
}

// MaxSchemaNameLen is the longest schema name accepted.
const MaxSchemaNameLen = 200
