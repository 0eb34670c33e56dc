-- Entity Enricher on PostgreSQL, version 1. Documents are the JSON the badger backend stores,
-- kept as bytea so they read back byte for byte (saved schemas and structured outputs keep
-- their key order); the columns beside them are what queries filter, sort and sum on. Text
-- columns compare bytewise (COLLATE "C"), as the badger store orders its keys.

-- Instance metadata: secrets (token_secret), flags (admin_exists, has_user).
CREATE TABLE meta (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE organizations (
    id        text COLLATE "C" PRIMARY KEY,
    slug      text COLLATE "C" NOT NULL UNIQUE,
    is_active boolean NOT NULL,
    doc       bytea NOT NULL
);

CREATE TABLE users (
    org_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    email      text COLLATE "C" NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    doc        bytea NOT NULL, -- with the password hash
    PRIMARY KEY (org_id, id)
);

CREATE TABLE api_keys (
    org_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    hash       text COLLATE "C" NOT NULL UNIQUE, -- hex SHA-256 of the full key
    created_at timestamptz NOT NULL,
    doc        bytea NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE refresh_tokens (
    hash       text COLLATE "C" PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    doc        bytea NOT NULL
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE schemas (
    org_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,
    is_deleted boolean NOT NULL,
    doc        bytea NOT NULL,
    PRIMARY KEY (org_id, id)
);
-- Names are unique among an organization's live schemas.
CREATE UNIQUE INDEX schemas_live_name ON schemas (org_id, name) WHERE NOT is_deleted;

CREATE TABLE jobs (
    org_id     text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    created_ms bigint NOT NULL,
    active     boolean NOT NULL, -- not terminal (recovery)
    doc        bytea NOT NULL,   -- the snapshot, without its spec
    spec       bytea,            -- written once, by CreateJob
    PRIMARY KEY (org_id, id)
);
CREATE INDEX jobs_list ON jobs (org_id, created_ms DESC, id);
CREATE INDEX jobs_active ON jobs (id) WHERE active;

CREATE TABLE idempotency_keys (
    org_id     text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    expires_at timestamptz, -- NULL: kept forever
    doc        bytea NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE events (
    job_id text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    data   bytea NOT NULL, -- the JSON sent on the wire
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE records (
    org_id        text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    job_id        text COLLATE "C" NOT NULL,
    type          text COLLATE "C" NOT NULL,
    entity_id     text COLLATE "C",
    entity_index  integer,
    name_lower    text COLLATE "C" NOT NULL, -- lower-cased entity_name, for search
    model         text COLLATE "C" NOT NULL, -- '' when none
    schema_id     text COLLATE "C",
    success       boolean NOT NULL,
    is_deleted    boolean NOT NULL,
    min_conf      integer,        -- min_confidence in ten-thousandths; NULL when unknown
    created_ms    bigint NOT NULL,
    cost_usd      double precision NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    processing_ms bigint NOT NULL,
    summary       bytea NOT NULL, -- the RecordSummary JSON a list page returns
    doc           bytea NOT NULL, -- the whole record, with its entity's _expected object
    PRIMARY KEY (org_id, id)
);
-- One index per list order and per equality filter (each ordered by creation time), as the
-- records list walks them; stats read the creation-time index.
CREATE INDEX records_created ON records (org_id, created_ms, id);
CREATE INDEX records_cost ON records (org_id, cost_usd, id);
CREATE INDEX records_processing ON records (org_id, processing_ms, id);
CREATE INDEX records_job ON records (org_id, job_id, created_ms, id);
CREATE INDEX records_entity ON records (org_id, entity_id, created_ms, id) WHERE entity_id IS NOT NULL;
CREATE INDEX records_schema ON records (org_id, schema_id, created_ms, id) WHERE schema_id IS NOT NULL;
CREATE INDEX records_model ON records (org_id, model, created_ms, id);
CREATE INDEX records_type ON records (org_id, type, created_ms, id);
CREATE INDEX records_job_id ON records (org_id, job_id, id);
CREATE INDEX records_job_entity ON records (job_id, entity_index) WHERE entity_index IS NOT NULL;

-- Billed responses of each record by the model that answered them (cost aggregates): soft-
-- deleted records keep theirs, hard-deleted records lose them.
CREATE TABLE record_costs (
    org_id        text COLLATE "C" NOT NULL,
    record_id     text COLLATE "C" NOT NULL,
    model         text COLLATE "C" NOT NULL,
    created_ms    bigint NOT NULL,
    requests      bigint NOT NULL,
    cost_usd      double precision NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    PRIMARY KEY (org_id, record_id, model)
);
CREATE INDEX record_costs_created ON record_costs (org_id, created_ms);

-- Batch entities, staged before their job exists (NDJSON uploads) and read back in windows.
CREATE TABLE entities (
    job_id text COLLATE "C" NOT NULL,
    idx    integer NOT NULL,
    data   bytea NOT NULL,
    PRIMARY KEY (job_id, idx)
);

-- Entities of a batch in flight (started, not ended) and ended (with their entity_completed seq).
CREATE TABLE entity_started (
    job_id text COLLATE "C" NOT NULL,
    idx    integer NOT NULL,
    PRIMARY KEY (job_id, idx)
);
CREATE TABLE entity_ended (
    job_id text COLLATE "C" NOT NULL,
    idx    integer NOT NULL,
    seq    bigint NOT NULL, -- 0: ended without an event
    PRIMARY KEY (job_id, idx)
);

CREATE TABLE webhooks (
    org_id text COLLATE "C" NOT NULL,
    job_id text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    due_ms bigint, -- set while pending with a next attempt
    doc    bytea NOT NULL,
    PRIMARY KEY (org_id, job_id, seq)
);
CREATE INDEX webhooks_due ON webhooks (due_ms, org_id, job_id, seq) WHERE due_ms IS NOT NULL;

CREATE TABLE webhook_secrets (
    org_id text COLLATE "C" PRIMARY KEY,
    doc    bytea NOT NULL
);
