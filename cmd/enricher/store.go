package main

import (
	"encoding/json"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/storage/postgres"
	"github.com/entity-enricher/enricher/transport/api"
)

// store is what the wiring needs of a storage backend: the union of the interfaces the engine
// and the front end define, plus what serve itself calls. Both the embedded badger store
// (storage.DB) and PostgreSQL (postgres.DB, selected by database_url) satisfy it.
type store interface {
	actors.Store
	actors.SchemaStore
	actors.WebhookStore
	api.AccountStore
	api.KeyStore
	api.SchemaStore
	api.JobLister
	api.Pinger
	api.IdempotencyStore
	api.JobRecordStore
	api.WebhookStore
	api.EntityStager
	storage.JobPurger

	Records(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error)
	DeleteRecords(org string, ids []string, hard bool, now enricher.Time) (int, []string, error)
	RestoreRecords(org string, ids []string) (int, []string, error)
	Stats(org, typ string, since, until int64) (map[enricher.StatsKey]enricher.StatsRow, error)
	Costs(org string, since, until int64) (map[string]enricher.CostRow, error)
	JobWithSpec(org, id string) (*enricher.Job, error)
	EntityEnds(job string, fn func(storage.EntityEnd) error) error
	Secret(name string, generate func() []byte) ([]byte, error)
	EnsureBootstrap(b storage.Bootstrap) error
	FreeBytes() (uint64, bool)
	LowSpace() bool
	Close() error
}

var (
	_ store = (*storage.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// recordsAPI gives the store's record listing the front end's method name.
type recordsAPI struct{ store }

// ListRecords runs a records query.
func (r recordsAPI) ListRecords(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error) {
	return r.store.Records(org, q)
}

// resultsAPI adapts the store's entity ends to the front end's results export.
type resultsAPI struct{ store }

// JobSpec returns the spec job id of org was started with.
func (r resultsAPI) JobSpec(org, id string) (json.RawMessage, error) {
	j, err := r.store.JobWithSpec(org, id)
	if err != nil {
		return nil, err
	}
	return j.Spec, nil
}

// EntityEnds calls fn with each ended entity of batch job, in index order.
func (r resultsAPI) EntityEnds(job string, fn func(api.EntityEnd) error) error {
	return r.store.EntityEnds(job, func(e storage.EntityEnd) error { return fn(api.EntityEnd(e)) })
}
