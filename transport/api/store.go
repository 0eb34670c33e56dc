package api

import (
	"context"
	"time"

	"github.com/entity-enricher/enricher"
)

// AccountStore keeps organizations, users and refresh tokens. Implemented by storage.DB.
// Errors follow the enricher vocabulary (KindNotFound, KindConflict, KindForbidden, ...).
type AccountStore interface {
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
}

// KeyStore keeps API keys, looked up by the SHA-256 of the key. Implemented by storage.DB.
type KeyStore interface {
	CreateAPIKey(k *enricher.APIKey) error
	APIKeyByHash(hash string) (*enricher.APIKey, error)
	APIKey(org, id string) (*enricher.APIKey, error)
	APIKeys(org string) ([]*enricher.APIKey, error)
	UpdateAPIKey(org, id string, fn func(*enricher.APIKey) error) (*enricher.APIKey, error)
	AddKeyUsage(usage []enricher.KeyUsage) error
}

// SchemaStore keeps saved schemas. Implemented by storage.DB.
type SchemaStore interface {
	CreateSchema(s *enricher.SavedSchema, maxLive int) error
	Schema(org, id string) (*enricher.SavedSchema, error)
	Schemas(org string) ([]*enricher.SavedSchema, error)
	UpdateSchema(org, id string, fn func(*enricher.SavedSchema) error) (*enricher.SavedSchema, error)
	DeleteSchema(org, id string, now time.Time) (*enricher.SavedSchema, error)
	RestoreSchema(org, id string, now time.Time) (*enricher.SavedSchema, error)
}

// ModelCatalog lists the models the server knows (transport/llm's catalog).
type ModelCatalog interface {
	Models() []enricher.ModelInfo
	// Lookup returns the model with key, or a KindInvalid error naming an unknown or
	// unavailable key.
	Lookup(key string) (enricher.ModelInfo, error)
}

// Pinger reports on storage (GET /health and the low-space refusal of writes). Implemented by
// storage.DB.
type Pinger interface {
	// Ping reports whether storage answers reads.
	Ping() error
	// LowSpace reports whether the data directory is below min_free_disk_mb (until it is back
	// above it plus 10 %): every request but GET and HEAD is then refused with 507.
	LowSpace() bool
}

// RecordStore reads, lists, deletes and restores records. Implemented by storage.DB (through
// a small adapter in cmd for the query type).
type RecordStore interface {
	Record(org, id string) (*enricher.Record, error)
	ListRecords(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error)
	DeleteRecords(org string, ids []string, hard bool, now enricher.Time) (int, []string, error)
	RestoreRecords(org string, ids []string) (int, []string, error)
	// Stats sums live records created in [since, until) (unix ms, 0 = unbounded) by type and model.
	Stats(org, typ string, since, until int64) (map[enricher.StatsKey]enricher.StatsRow, error)
	// Costs sums billed responses of records created in [since, until) by answering model.
	Costs(org string, since, until int64) (map[string]enricher.CostRow, error)
}

// JobLister lists an organization's jobs, newest first. Implemented by storage.DB.
type JobLister interface {
	Jobs(org string, keep func(*enricher.Job) bool) ([]*enricher.Job, error)
}

// ProviderLimits reports each provider's adaptive limit of calls in flight (GET
// /api/enrichment/options). Safe for concurrent use; it must not block.
type ProviderLimits interface {
	ProviderLimits() []ProviderLimit
}

// ProviderLimit is one provider's limit of calls in flight now and its ceiling
// (provider_concurrency).
type ProviderLimit struct {
	Name    string `json:"name"`
	Limit   int    `json:"limit"`
	Ceiling int    `json:"ceiling"`
}

// Engine runs jobs (actors.Engine, through a small adapter in cmd).
type Engine interface {
	// Start admits, stores and starts a job; it returns once the job is stored. A non-nil bind
	// is stored with the job in the same write (its Idempotency-Key; KindConflict when the
	// key was bound meanwhile); the same holds for the two starts below.
	Start(org string, by enricher.CreatedBy, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error)
	// StartFusion checks the records and starts a fusion job (KindNotFound, KindInvalid);
	// webhook (optional) is the job's callback target.
	StartFusion(org string, by enricher.CreatedBy, recordIDs []string, arbiter *string, webhook *enricher.WebhookTarget,
		bind *enricher.IdempotencyBinding) (*enricher.Job, error)
	// StartStaged starts a batch whose spec.EntityCount entities are already stored under
	// jobID (an NDJSON upload), with bind as Start; the caller deletes them when it fails.
	StartStaged(org string, by enricher.CreatedBy, jobID string, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error)
	// StartSchemaJob starts a schema generation or AI edit job.
	StartSchemaJob(org string, by enricher.CreatedBy, spec *enricher.SchemaJobSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error)
	// Subscribe opens a stream on a job of org that starts after seq after (KindNotFound,
	// KindTooMany).
	Subscribe(org, jobID string, after int64) (enricher.EventStream, error)
	// Cancel and Continue return once the job took the command (KindNotFound, KindConflict).
	Cancel(org, jobID string) error
	Continue(org, jobID string) error
	// Job returns the stored state of a job of org.
	Job(org, jobID string) (*enricher.Job, error)
	// ActiveJobs counts non-terminal jobs.
	ActiveJobs() int
}

// EntityStager stores the entities of an NDJSON batch upload under the id its job will have,
// a chunk at a time while the body is read (storage.DB).
type EntityStager interface {
	// PutEntities stores the compact JSON of entities as indices from, from+1, ... of job.
	PutEntities(job string, from int, entities [][]byte) error
	// DeleteEntities removes every entity stored for job (an upload that did not start).
	DeleteEntities(job string) error
}

// EntityFetcher downloads entity lists for batches (transport/fetch, through cmd).
type EntityFetcher interface {
	// FetchEntities GETs url and decodes its entities; errors are KindInvalid with a detail.
	FetchEntities(ctx context.Context, url string, auth enricher.FetchAuth) (entities []map[string]any, format string, elapsed time.Duration, err error)
}

// Metrics is told of every request and stream, for the Prometheus metrics (cmd). It must be
// safe for concurrent use and must not block.
type Metrics interface {
	// Request is one answered request; route is the path pattern, never the raw path.
	Request(method, route string, status int, d time.Duration)
	// StreamOpened and StreamClosed bracket an SSE subscriber; reason is why it ended
	// (completed, client_gone, shutdown, error). A slow subscriber is not a reason: it is
	// caught up from the log, which the engine counts.
	StreamOpened()
	StreamClosed(reason string)
}

type nopMetrics struct{}

func (nopMetrics) Request(string, string, int, time.Duration) {}
func (nopMetrics) StreamOpened()                              {}
func (nopMetrics) StreamClosed(string)                        {}
