package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// schemaListItem is SavedSchemaListItem: a SavedSchema without its large fields.
type schemaListItem struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	ContentHash    string         `json:"content_hash"`
	Tags           []string       `json:"tags"`
	IsPinned       bool           `json:"is_pinned"`
	PropertyCount  int            `json:"property_count"`
	ExpertiseCount int            `json:"expertise_count"`
	IsDeleted      bool           `json:"is_deleted"`
	CreatedAt      enricher.Time  `json:"created_at"`
	UpdatedAt      enricher.Time  `json:"updated_at"`
	DeletedAt      *enricher.Time `json:"deleted_at"`
}

func listItem(s *enricher.SavedSchema) schemaListItem {
	return schemaListItem{
		ID: s.ID, Name: s.Name, ContentHash: s.ContentHash, Tags: nonNil(s.Tags), IsPinned: s.IsPinned,
		PropertyCount: s.PropertyCount, ExpertiseCount: s.ExpertiseCount, IsDeleted: s.IsDeleted,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, DeletedAt: s.DeletedAt,
	}
}

// schemaView fills the list fields that must never be null in a SavedSchema response.
func schemaView(s *enricher.SavedSchema) *enricher.SavedSchema {
	v := *s
	v.Tags, v.AISuggestions = nonNil(v.Tags), nonNil(v.AISuggestions)
	return &v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func handleListSchemas(c *call) error {
	deleted, err := queryBool(c.ctx, "include_deleted", false)
	if err != nil {
		return err
	}
	search := strings.ToLower(string(c.ctx.QueryArgs().Peek("search")))
	tag := string(c.ctx.QueryArgs().Peek("tag"))
	all, err := c.s.deps.Schemas.Schemas(c.p.org.ID)
	if err != nil {
		return err
	}
	all = slices.DeleteFunc(all, func(s *enricher.SavedSchema) bool {
		return (s.IsDeleted && !deleted) ||
			(search != "" && !strings.Contains(strings.ToLower(s.Name), search)) ||
			(tag != "" && !slices.Contains(s.Tags, tag))
	})
	slices.SortFunc(all, func(a, b *enricher.SavedSchema) int {
		if a.IsPinned != b.IsPinned {
			if a.IsPinned {
				return -1
			}
			return 1
		}
		if c := b.UpdatedAt.Compare(a.UpdatedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	items := make([]schemaListItem, len(all))
	for i, s := range all {
		items[i] = listItem(s)
	}
	return c.ok(map[string]any{"schemas": items, "total": len(items)})
}

// schemaFields are the writable fields of a saved schema (create and PATCH).
type schemaFields struct {
	Name          *string         `json:"name"`
	SchemaContent json.RawMessage `json:"schema_content"`
	Tags          *[]string       `json:"tags"`
	IsPinned      *bool           `json:"is_pinned"`
	SampleJSON    json.RawMessage `json:"sample_json"`
	FormValues    json.RawMessage `json:"form_values"`
}

// parsedContent is a validated, normalised schema document with its derived fields.
type parsedContent struct {
	content        json.RawMessage
	hash           string
	properties     int
	expertiseCount int
}

// check validates the fields that are present and returns the parsed content (nil when
// absent). Every problem is reported at once.
func (f *schemaFields) check(requireAll bool) (*parsedContent, error) {
	var p problems
	if f.Name != nil {
		*f.Name = strings.TrimSpace(*f.Name)
		p.checkLen("name", *f.Name, 1, enricher.MaxSchemaNameLen)
	} else if requireAll {
		p.add("name: required")
	}
	if f.Tags != nil {
		if len(*f.Tags) > 20 {
			p.add("tags: at most 20 tags")
		}
		for i, t := range *f.Tags {
			if n := utf8.RuneCountInString(t); n < 1 || n > 50 {
				p.add("tags[%d]: must be 1 to 50 characters", i)
			}
		}
	}
	for _, o := range []struct {
		name string
		raw  json.RawMessage
	}{{"sample_json", f.SampleJSON}, {"form_values", f.FormValues}} {
		if present(o.raw) && !isObject(o.raw) {
			p.add("%s: expected object or null", o.name)
		}
	}
	var parsed *parsedContent
	switch {
	case !present(f.SchemaContent):
		if requireAll {
			p.add("schema_content: required")
		}
	case !isObject(f.SchemaContent):
		p.add("schema_content: expected object")
	default:
		pc, err := parseContent(f.SchemaContent)
		if err != nil {
			var de *enricher.Error
			if len(p) == 0 || !errors.As(err, &de) {
				return nil, err
			}
			p = append(p, de.Problems...)
		}
		parsed = pc
	}
	return parsed, p.err()
}

// parseContent validates a schema document and derives hash and counts.
func parseContent(raw json.RawMessage) (*parsedContent, error) {
	sch, err := enricher.ParseSchema(raw)
	if err != nil {
		return nil, err
	}
	norm, err := enricher.NormalizeSchemaJSON(raw)
	if err != nil {
		return nil, err
	}
	hash, err := enricher.SchemaContentHash(norm)
	if err != nil {
		return nil, err
	}
	return &parsedContent{content: norm, hash: hash, properties: sch.PropertyCount(), expertiseCount: sch.ExpertiseCount()}, nil
}

// present reports whether an optional raw field was given with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

func compactOrNil(raw json.RawMessage) json.RawMessage {
	if !present(raw) {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return nil
	}
	return b.Bytes()
}

func handleCreateSchema(c *call) error {
	var req schemaFields
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	pc, err := req.check(true)
	if err != nil {
		return err
	}
	now := enricher.NewTime(c.s.now())
	s := &enricher.SavedSchema{
		ID: uuid.NewString(), OrganizationID: c.p.org.ID, Name: *req.Name,
		Content: pc.content, ContentHash: pc.hash, PropertyCount: pc.properties, ExpertiseCount: pc.expertiseCount,
		Tags: []string{}, SampleJSON: compactOrNil(req.SampleJSON), FormValues: compactOrNil(req.FormValues),
		AISuggestions: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	if req.Tags != nil {
		s.Tags = *req.Tags
	}
	if req.IsPinned != nil {
		s.IsPinned = *req.IsPinned
	}
	if err := c.s.deps.Schemas.CreateSchema(s, c.s.cfg.MaxSchemasPerOrg); err != nil {
		return err
	}
	return c.ok(schemaView(s))
}

// schemaInPath loads the schema named by the path of the caller's organization.
func (c *call) schemaInPath() (*enricher.SavedSchema, error) {
	id, err := pathID(c.ctx, "schema_id", "schema")
	if err != nil {
		return nil, err
	}
	return c.s.deps.Schemas.Schema(c.p.org.ID, id)
}

func handleGetSchema(c *call) error {
	s, err := c.schemaInPath()
	if err != nil {
		return err
	}
	return c.ok(schemaView(s))
}

func handlePatchSchema(c *call) error {
	cur, err := c.schemaInPath()
	if err != nil {
		return err
	}
	var req schemaFields
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	pc, err := req.check(false)
	if err != nil {
		return err
	}
	now := enricher.NewTime(c.s.now())
	s, err := c.s.deps.Schemas.UpdateSchema(c.p.org.ID, cur.ID, func(s *enricher.SavedSchema) error {
		if s.IsDeleted {
			return enricher.Errorf(enricher.KindConflict, "schema is deleted: restore it first")
		}
		if req.Name != nil {
			s.Name = *req.Name
		}
		if pc != nil {
			s.Content, s.ContentHash, s.PropertyCount, s.ExpertiseCount = pc.content, pc.hash, pc.properties, pc.expertiseCount
		}
		if req.Tags != nil {
			s.Tags = *req.Tags
		}
		if req.IsPinned != nil {
			s.IsPinned = *req.IsPinned
		}
		if present(req.SampleJSON) {
			s.SampleJSON = compactOrNil(req.SampleJSON)
		}
		if present(req.FormValues) {
			s.FormValues = compactOrNil(req.FormValues)
		}
		s.UpdatedAt = now
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(schemaView(s))
}

func handleDeleteSchema(c *call) error {
	cur, err := c.schemaInPath()
	if err != nil {
		return err
	}
	s, err := c.s.deps.Schemas.DeleteSchema(c.p.org.ID, cur.ID, c.s.now())
	if err != nil {
		return err
	}
	return c.ok(schemaView(s))
}

func handleRestoreSchema(c *call) error {
	cur, err := c.schemaInPath()
	if err != nil {
		return err
	}
	s, err := c.s.deps.Schemas.RestoreSchema(c.p.org.ID, cur.ID, c.s.now())
	if err != nil {
		return err
	}
	return c.ok(schemaView(s))
}

type duplicateRequest struct {
	Name *string `json:"name"`
}

func handleDuplicateSchema(c *call) error {
	cur, err := c.schemaInPath()
	if err != nil {
		return err
	}
	var req duplicateRequest
	if len(bytes.TrimSpace(c.ctx.PostBody())) > 0 {
		if err := decodeBody(c.ctx, &req); err != nil {
			return err
		}
	}
	name := cur.Name + " (copy)"
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
		var p problems
		p.checkLen("name", name, 1, enricher.MaxSchemaNameLen)
		if err := p.err(); err != nil {
			return err
		}
	}
	if utf8.RuneCountInString(name) > enricher.MaxSchemaNameLen {
		name = string([]rune(name)[:enricher.MaxSchemaNameLen])
	}
	now := enricher.NewTime(c.s.now())
	s := &enricher.SavedSchema{
		ID: uuid.NewString(), OrganizationID: c.p.org.ID, Name: name,
		Content: cur.Content, ContentHash: cur.ContentHash, PropertyCount: cur.PropertyCount, ExpertiseCount: cur.ExpertiseCount,
		Tags: slices.Clone(nonNil(cur.Tags)), SampleJSON: cur.SampleJSON, FormValues: cur.FormValues,
		AISuggestions: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	if err := c.s.deps.Schemas.CreateSchema(s, c.s.cfg.MaxSchemasPerOrg); err != nil {
		return err
	}
	return c.ok(schemaView(s))
}
