package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// schemaDoc is the stored form of a saved schema.
type schemaDoc struct {
	enricher.SavedSchema
	Org      string `json:"org"`
	Previous []byte `json:"previous_content,omitempty"`
}

func (d *schemaDoc) schema() *enricher.SavedSchema {
	s := d.SavedSchema
	s.OrganizationID, s.PreviousContent = d.Org, d.Previous
	return &s
}

// lockSchemasTxn serializes the changes to org's schema names and live count.
func lockSchemasTxn(ctx context.Context, tx pgx.Tx, org string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSchemas, org)
	return err
}

func putSchema(ctx context.Context, q querier, s *enricher.SavedSchema) error {
	b, err := encode("schema", &schemaDoc{SavedSchema: *s, Org: s.OrganizationID, Previous: s.PreviousContent})
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO schemas (org_id, id, name, is_deleted, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, is_deleted = excluded.is_deleted, doc = excluded.doc`,
		s.OrganizationID, s.ID, s.Name, s.IsDeleted, b)
	if uniqueViolation(err, "schemas_live_name") {
		return enricher.Errorf(enricher.KindConflict, "a schema named %q already exists", s.Name)
	}
	return err
}

// CreateSchema stores a new live schema. A name already used by a live schema of the
// organization gets " (2)", " (3)", ... appended. KindConflict when the organization already
// holds maxLive live schemas. s.Name is updated to the stored name.
func (db *DB) CreateSchema(s *enricher.SavedSchema, maxLive int) error {
	base := s.Name
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := lockSchemasTxn(ctx, tx, s.OrganizationID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM schemas WHERE org_id = $1 AND NOT is_deleted`, s.OrganizationID).Scan(&n); err != nil {
			return err
		}
		if maxLive > 0 && n >= maxLive {
			return enricher.Errorf(enricher.KindConflict, "the organization already holds %d schemas, the maximum", maxLive)
		}
		var err error
		if s.Name, err = freeSchemaName(ctx, tx, s.OrganizationID, base, ""); err != nil {
			return err
		}
		return putSchema(ctx, tx, s)
	})
}

// freeSchemaName returns name, or name suffixed " (n)", that no live schema other than self uses.
func freeSchemaName(ctx context.Context, q querier, org, name, self string) (string, error) {
	for n := 1; ; n++ {
		cand := name
		if n > 1 {
			cand = fmt.Sprintf("%s (%d)", name, n)
		}
		taken, err := exists(ctx, q, `SELECT 1 FROM schemas WHERE org_id = $1 AND name = $2 AND NOT is_deleted AND id <> $3`, org, cand, self)
		if err != nil {
			return "", err
		}
		if !taken {
			return cand, nil
		}
	}
}

// Schema returns schema id of org, deleted or not.
func (db *DB) Schema(org, id string) (*enricher.SavedSchema, error) {
	var d schemaDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "schema", `SELECT doc FROM schemas WHERE org_id = $1 AND id = $2`, org, id)
	})
	if err != nil {
		return nil, err
	}
	return d.schema(), nil
}

// Schemas returns every schema of org, deleted ones included, in id order.
func (db *DB) Schemas(org string) ([]*enricher.SavedSchema, error) {
	var out []*enricher.SavedSchema
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(d *schemaDoc) error { out = append(out, d.schema()); return nil },
			`SELECT doc FROM schemas WHERE org_id = $1 ORDER BY id`, org)
	})
	return out, err
}

// UpdateSchema loads schema id of org, applies fn and stores the result. A live schema
// renamed to the name of another live schema is KindConflict. Changing IsDeleted through fn is
// not allowed; use DeleteSchema and RestoreSchema.
func (db *DB) UpdateSchema(org, id string, fn func(*enricher.SavedSchema) error) (*enricher.SavedSchema, error) {
	var out *enricher.SavedSchema
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		s, err := lockedSchema(ctx, tx, org, id)
		if err != nil {
			return err
		}
		deleted := s.IsDeleted
		if err := fn(s); err != nil {
			return err
		}
		s.ID, s.OrganizationID, s.IsDeleted = id, org, deleted
		out = s
		return putSchema(ctx, tx, s)
	})
	return out, err
}

// DeleteSchema soft-deletes schema id of org. Deleting a deleted schema changes nothing.
func (db *DB) DeleteSchema(org, id string, now time.Time) (*enricher.SavedSchema, error) {
	return db.setDeleted(org, id, true, now)
}

// RestoreSchema brings a deleted schema back, suffixing its name when a live schema took it
// meanwhile. Restoring a live schema changes nothing. The live-schema limit is not checked:
// restoring never loses data.
func (db *DB) RestoreSchema(org, id string, now time.Time) (*enricher.SavedSchema, error) {
	return db.setDeleted(org, id, false, now)
}

// lockedSchema reads schema id of org after taking the lock of org's schemas (names and the
// live-schema count change only under it).
func lockedSchema(ctx context.Context, tx pgx.Tx, org, id string) (*enricher.SavedSchema, error) {
	if err := lockSchemasTxn(ctx, tx, org); err != nil {
		return nil, err
	}
	var d schemaDoc
	if err := getDoc(ctx, tx, &d, "schema", `SELECT doc FROM schemas WHERE org_id = $1 AND id = $2`, org, id); err != nil {
		return nil, err
	}
	return d.schema(), nil
}

func (db *DB) setDeleted(org, id string, deleted bool, now time.Time) (*enricher.SavedSchema, error) {
	var out *enricher.SavedSchema
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		s, err := lockedSchema(ctx, tx, org, id)
		if err != nil {
			return err
		}
		out = s
		if s.IsDeleted == deleted {
			return nil
		}
		if deleted {
			s.IsDeleted, s.DeletedAt = true, enricher.NewTimePtr(now)
		} else {
			var err error
			if s.Name, err = freeSchemaName(ctx, tx, org, s.Name, id); err != nil {
				return err
			}
			s.IsDeleted, s.DeletedAt = false, nil
		}
		s.UpdatedAt = enricher.NewTime(now)
		return putSchema(ctx, tx, s)
	})
	return out, err
}
