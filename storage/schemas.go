package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Schema key families beyond s/<org>/<id>:
//
//	sn/<org>/<name>   name -> id, live schemas only (names are unique among live schemas)
//	sc/<org>          count of live schemas (uint64 big-endian)
func keySchemaName(org, name string) []byte { return []byte("sn/" + org + "/" + name) }
func keySchemaCount(org string) []byte      { return []byte("sc/" + org) }

// schemaRecord is the stored form of a saved schema.
type schemaRecord struct {
	enricher.SavedSchema
	Org      string `json:"org"`
	Previous []byte `json:"previous_content,omitempty"`
}

func (r *schemaRecord) schema() *enricher.SavedSchema {
	s := r.SavedSchema
	s.OrganizationID, s.PreviousContent = r.Org, r.Previous
	return &s
}

func putSchemaTxn(txn *badger.Txn, s *enricher.SavedSchema) error {
	return putJSON(txn, keySchema(s.OrganizationID, s.ID), &schemaRecord{SavedSchema: *s, Org: s.OrganizationID, Previous: s.PreviousContent})
}

// CreateSchema stores a new live schema. A name already used by a live schema of the
// organization gets " (2)", " (3)", ... appended. KindConflict when the organization already
// holds maxLive live schemas. s.Name is updated to the stored name.
func (db *DB) CreateSchema(s *enricher.SavedSchema, maxLive int) error {
	base := s.Name
	return db.update(func(txn *badger.Txn) error {
		n, err := liveCount(txn, s.OrganizationID)
		if err != nil {
			return err
		}
		if maxLive > 0 && n >= maxLive {
			return enricher.Errorf(enricher.KindConflict, "the organization already holds %d schemas, the maximum", maxLive)
		}
		if s.Name, err = freeSchemaName(txn, s.OrganizationID, base, ""); err != nil {
			return err
		}
		if err := setLiveCount(txn, s.OrganizationID, n+1); err != nil {
			return err
		}
		if err := txn.Set(keySchemaName(s.OrganizationID, s.Name), []byte(s.ID)); err != nil {
			return err
		}
		return putSchemaTxn(txn, s)
	})
}

// freeSchemaName returns name, or name suffixed " (n)", that no live schema other than self uses.
func freeSchemaName(txn *badger.Txn, org, name, self string) (string, error) {
	for n := 1; ; n++ {
		cand := name
		if n > 1 {
			cand = fmt.Sprintf("%s (%d)", name, n)
		}
		id, ok, err := getRaw(txn, keySchemaName(org, cand))
		if err != nil {
			return "", err
		}
		if !ok || string(id) == self {
			return cand, nil
		}
	}
}

func liveCount(txn *badger.Txn, org string) (int, error) {
	v, ok, err := getRaw(txn, keySchemaCount(org))
	if err != nil || !ok || len(v) != 8 {
		return 0, err
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

func setLiveCount(txn *badger.Txn, org string, n int) error {
	if n < 0 {
		n = 0
	}
	return txn.Set(keySchemaCount(org), binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// Schema returns schema id of org, deleted or not.
func (db *DB) Schema(org, id string) (*enricher.SavedSchema, error) {
	var rec schemaRecord
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keySchema(org, id), "schema", &rec) }); err != nil {
		return nil, err
	}
	return rec.schema(), nil
}

// Schemas returns every schema of org, deleted ones included, in id order.
func (db *DB) Schemas(org string) ([]*enricher.SavedSchema, error) {
	var out []*enricher.SavedSchema
	err := db.view(func(txn *badger.Txn) error {
		return scanJSON(txn, prefixSchemas(org), func(r *schemaRecord) error {
			out = append(out, r.schema())
			return nil
		})
	})
	return out, err
}

// UpdateSchema loads schema id of org, applies fn and stores the result. A live schema
// renamed to the name of another live schema is KindConflict. Changing IsDeleted through fn is
// not allowed; use DeleteSchema and RestoreSchema.
func (db *DB) UpdateSchema(org, id string, fn func(*enricher.SavedSchema) error) (*enricher.SavedSchema, error) {
	var out *enricher.SavedSchema
	err := db.update(func(txn *badger.Txn) error {
		var rec schemaRecord
		if err := getJSON(txn, keySchema(org, id), "schema", &rec); err != nil {
			return err
		}
		s := rec.schema()
		oldName, deleted := s.Name, s.IsDeleted
		if err := fn(s); err != nil {
			return err
		}
		s.ID, s.OrganizationID, s.IsDeleted = id, org, deleted
		if !deleted && s.Name != oldName {
			if owner, ok, err := getRaw(txn, keySchemaName(org, s.Name)); err != nil {
				return err
			} else if ok && string(owner) != id {
				return enricher.Errorf(enricher.KindConflict, "a schema named %q already exists", s.Name)
			}
			if err := txn.Delete(keySchemaName(org, oldName)); err != nil {
				return err
			}
			if err := txn.Set(keySchemaName(org, s.Name), []byte(id)); err != nil {
				return err
			}
		}
		out = s
		return putSchemaTxn(txn, s)
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

func (db *DB) setDeleted(org, id string, deleted bool, now time.Time) (*enricher.SavedSchema, error) {
	var out *enricher.SavedSchema
	err := db.update(func(txn *badger.Txn) error {
		var rec schemaRecord
		if err := getJSON(txn, keySchema(org, id), "schema", &rec); err != nil {
			return err
		}
		s := rec.schema()
		out = s
		if s.IsDeleted == deleted {
			return nil
		}
		n, err := liveCount(txn, org)
		if err != nil {
			return err
		}
		if deleted {
			s.IsDeleted, s.DeletedAt = true, enricher.NewTimePtr(now)
			if err := txn.Delete(keySchemaName(org, s.Name)); err != nil {
				return err
			}
			n--
		} else {
			if s.Name, err = freeSchemaName(txn, org, s.Name, id); err != nil {
				return err
			}
			s.IsDeleted, s.DeletedAt = false, nil
			if err := txn.Set(keySchemaName(org, s.Name), []byte(id)); err != nil {
				return err
			}
			n++
		}
		s.UpdatedAt = enricher.NewTime(now)
		if err := setLiveCount(txn, org, n); err != nil {
			return err
		}
		return putSchemaTxn(txn, s)
	})
	return out, err
}
