// Package storagetest is the conformance suite of Entity Enricher's storage backends: the same
// table tests run against the embedded badger store (package storage) and against PostgreSQL
// (package storage/postgres), so both keep one contract: the same results, orders and errors
// of the root error vocabulary (enricher.KindNotFound, KindConflict, ...).
//
// A backend's test calls Run with a function that opens a fresh, empty store for one test;
// the suite closes it (Close must be idempotent). Tests run in parallel, each on its own store.
package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// Backend is what the suite exercises: every method the engine, the API and the wiring use.
type Backend interface {
	Close() error
	Ping() error
	Secret(name string, generate func() []byte) ([]byte, error)

	Register(org *enricher.Organization, user *enricher.User, slugExplicit, allowSignup bool) (*enricher.Organization, *enricher.User, error)
	SlugAvailable(slug string) (bool, error)
	Organization(id string) (*enricher.Organization, error)
	OrganizationBySlug(slug string) (*enricher.Organization, error)
	UpdateOrganization(id string, fn func(*enricher.Organization) error) (*enricher.Organization, error)
	Organizations(includeInactive bool) ([]*enricher.Organization, error)
	DeactivateOrganization(org string, now time.Time) error
	UserByEmail(email string) (*enricher.User, error)
	User(org, id string) (*enricher.User, error)
	CreateUser(u *enricher.User) error
	UpdateUser(org, id string, fn func(*enricher.User) error) (*enricher.User, error)
	Users(org string) ([]*enricher.User, error)
	SaveRefreshToken(hash string, t enricher.RefreshToken, now time.Time) error
	ConsumeRefreshToken(hash string, now time.Time) (*enricher.RefreshToken, error)
	DeleteRefreshToken(hash string) error

	CreateAPIKey(k *enricher.APIKey) error
	APIKeyByHash(hash string) (*enricher.APIKey, error)
	APIKey(org, id string) (*enricher.APIKey, error)
	APIKeys(org string) ([]*enricher.APIKey, error)
	UpdateAPIKey(org, id string, fn func(*enricher.APIKey) error) (*enricher.APIKey, error)
	AddKeyUsage(usage []enricher.KeyUsage) error
	EnsureBootstrap(b storage.Bootstrap) error

	CreateSchema(s *enricher.SavedSchema, maxLive int) error
	Schema(org, id string) (*enricher.SavedSchema, error)
	Schemas(org string) ([]*enricher.SavedSchema, error)
	UpdateSchema(org, id string, fn func(*enricher.SavedSchema) error) (*enricher.SavedSchema, error)
	DeleteSchema(org, id string, now time.Time) (*enricher.SavedSchema, error)
	RestoreSchema(org, id string, now time.Time) (*enricher.SavedSchema, error)

	CreateJob(j *enricher.Job, bind *enricher.IdempotencyBinding) error
	Idempotency(org, key string) (*enricher.IdempotentStart, error)
	Job(org, id string) (*enricher.Job, error)
	JobWithSpec(org, id string) (*enricher.Job, error)
	ActiveJobs() ([]*enricher.Job, error)
	Jobs(org string, keep func(*enricher.Job) bool) ([]*enricher.Job, error)
	Events(job string, after, upTo int64, fn func(seq int64, data []byte) error) error
	Commit(b *storage.Batch) error
	PurgeJobs(finishedBefore time.Time, limit int) (int, error)

	Record(org, id string) (*enricher.Record, error)
	Records(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error)
	DeleteRecords(org string, ids []string, hard bool, now enricher.Time) (int, []string, error)
	RestoreRecords(org string, ids []string) (int, []string, error)
	RecordsOfJob(org, job string) ([]*enricher.Record, error)
	RecordsOfOpenEntities(org, job string) ([]*enricher.Record, error)
	EachRecordOfJob(org, job string, fn func(*enricher.Record) error) error
	Stats(org string, typ string, since, until int64) (map[enricher.StatsKey]enricher.StatsRow, error)
	Costs(org string, since, until int64) (map[string]enricher.CostRow, error)

	PutEntities(job string, from int, entities [][]byte) error
	EntitiesAt(job string, indices []int) ([][]byte, error)
	CountEntities(job string) (int, error)
	DeleteEntities(job string) error
	StartedEntities(job string) ([]int, error)
	FinishedEntities(job string) ([]int, error)
	EntityEnds(job string, fn func(storage.EntityEnd) error) error

	UpdateWebhook(d *enricher.WebhookDelivery) error
	DueWebhooks(now time.Time, limit int) ([]*enricher.WebhookDelivery, error)
	NextWebhookDue(after time.Time) (time.Time, bool, error)
	WebhookDeliveries(org, job string) ([]*enricher.WebhookDelivery, error)
	SetWebhookSecret(org string, s *enricher.WebhookSecret) error
	WebhookSecret(org string) (*enricher.WebhookSecret, error)
}

// Opener opens a fresh, empty store for test t.
type Opener func(t *testing.T) Backend

// Run runs the whole suite against the stores open makes.
func Run(t *testing.T, open Opener) {
	families := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"Accounts", testAccounts},
		{"Tokens", testTokens},
		{"APIKeys", testAPIKeys},
		{"Schemas", testSchemas},
		{"Jobs", testJobs},
		{"Commit", testCommit},
		{"Records", testRecords},
		{"Aggregates", testAggregates},
		{"Entities", testEntities},
		{"Webhooks", testWebhooks},
		{"Lifecycle", testLifecycle},
		{"Purge", testPurge},
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) { f.run(t, open) })
	}
}

// t0 is the suite's clock: every stored time derives from it.
var t0 = time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)

// setup opens a store for t, closed when t ends.
func setup(t *testing.T, open Opener) Backend {
	t.Helper()
	db := open(t)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// requireKind fails unless err is a domain error of kind k.
func requireKind(t *testing.T, err error, k enricher.Kind, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, enricher.IsKind(err, k), "want kind %v, got %v", k, err)
}

func strp(s string) *string { return &s }
