// Package storage is the embedded badger database of Entity Enricher: organizations, users,
// API keys, refresh tokens, saved schemas, jobs with their events and staged batch entities,
// records with their indexes, webhook deliveries and idempotency keys.
//
// A *DB is safe for concurrent use. Every method runs in its own badger transaction, copies
// values out before the transaction ends, retries transaction conflicts a few times, and
// translates badger errors into the domain vocabulary of package enricher at the call site:
// a missing object is an enricher.KindNotFound error, a broken invariant a KindConflict error,
// anything unexpected a KindInternal (or KindUnavailable once the DB is closed).
//
// Keys start with a short family prefix and, for tenant data, the organization id, so every
// lookup is scoped to one organization by construction (see keys.go).
package storage
