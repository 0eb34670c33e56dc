package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// dueOf returns the due time (unix ms) of a delivery that waits for an attempt, else nil.
func dueOf(d *enricher.WebhookDelivery) *int64 {
	if d.Status != enricher.WebhookPending || d.NextAttemptAt == nil {
		return nil
	}
	ms := max(d.NextAttemptAt.UnixMilli(), 0)
	return &ms
}

// queueWebhook adds the upsert of a delivery (Commit stores it with the event it reports).
func queueWebhook(b *pgx.Batch, d *enricher.WebhookDelivery) error {
	doc, err := d.MarshalStored()
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO webhooks (org_id, job_id, seq, due_ms, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id, job_id, seq) DO UPDATE SET due_ms = excluded.due_ms, doc = excluded.doc`,
		d.OrganizationID, d.JobID, d.EventSeq, dueOf(d), doc)
	return nil
}

// UpdateWebhook stores d (after an attempt) in place of its stored version, with its new due
// time; a delivery that ended is no longer due. KindNotFound when d was never stored.
func (db *DB) UpdateWebhook(d *enricher.WebhookDelivery) error {
	doc, err := d.MarshalStored()
	if err != nil {
		return err
	}
	return db.query(func(ctx context.Context, q querier) error {
		tag, err := q.Exec(ctx, `UPDATE webhooks SET due_ms = $4, doc = $5 WHERE org_id = $1 AND job_id = $2 AND seq = $3`,
			d.OrganizationID, d.JobID, d.EventSeq, dueOf(d), doc)
		if err == nil && tag.RowsAffected() == 0 {
			return enricher.Errorf(enricher.KindNotFound, "webhook delivery not found")
		}
		return err
	})
}

// DueWebhooks returns at most limit pending deliveries due at or before now, earliest first
// (ties in organization, job and event order).
func (db *DB) DueWebhooks(now time.Time, limit int) ([]*enricher.WebhookDelivery, error) {
	var out []*enricher.WebhookDelivery
	collect := deliveriesInto(&out)
	err := db.query(func(ctx context.Context, q querier) error {
		return eachRaw(ctx, q, collect, `SELECT doc FROM webhooks WHERE due_ms IS NOT NULL AND due_ms <= $1
			ORDER BY due_ms, org_id, job_id, seq LIMIT $2`, max(now.UnixMilli(), 0), max(limit, 0))
	})
	return out, err
}

// NextWebhookDue returns when the earliest pending delivery due after after (to the
// millisecond) is due; false when none is.
func (db *DB) NextWebhookDue(after time.Time) (time.Time, bool, error) {
	var due *int64
	err := db.query(func(ctx context.Context, q querier) error {
		return q.QueryRow(ctx, `SELECT min(due_ms) FROM webhooks WHERE due_ms IS NOT NULL AND due_ms > $1`,
			after.UnixMilli()).Scan(&due)
	})
	if err != nil || due == nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(*due), true, nil
}

// WebhookDeliveries returns the deliveries of job of org in event order (empty when none).
func (db *DB) WebhookDeliveries(org, job string) ([]*enricher.WebhookDelivery, error) {
	out := []*enricher.WebhookDelivery{}
	collect := deliveriesInto(&out)
	err := db.query(func(ctx context.Context, q querier) error {
		return eachRaw(ctx, q, collect, `SELECT doc FROM webhooks WHERE org_id = $1 AND job_id = $2 ORDER BY seq`, org, job)
	})
	return out, err
}

// SetWebhookSecret stores (or replaces) the signing secret of org.
func (db *DB) SetWebhookSecret(org string, s *enricher.WebhookSecret) error {
	doc, err := encode("webhook secret", s)
	if err != nil {
		return err
	}
	return db.query(func(ctx context.Context, q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO webhook_secrets (org_id, doc) VALUES ($1, $2)
			ON CONFLICT (org_id) DO UPDATE SET doc = excluded.doc`, org, doc)
		return err
	})
}

// WebhookSecret returns the signing secret of org; KindNotFound when it has none.
func (db *DB) WebhookSecret(org string) (*enricher.WebhookSecret, error) {
	var s enricher.WebhookSecret
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &s, "webhook secret", `SELECT doc FROM webhook_secrets WHERE org_id = $1`, org)
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// deliveriesInto decodes each stored delivery and appends it to out.
func deliveriesInto(out *[]*enricher.WebhookDelivery) func([]byte) error {
	return func(doc []byte) error {
		d, err := enricher.UnmarshalStoredWebhook(doc)
		if err != nil {
			return err
		}
		*out = append(*out, d)
		return nil
	}
}
