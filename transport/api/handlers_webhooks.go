package api

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/entity-enricher/enricher"
)

// WebhookStore keeps organizations' signing secrets and lists webhook deliveries.
// Implemented by storage.DB. WebhookSecret is KindNotFound when the organization has none.
type WebhookStore interface {
	SetWebhookSecret(org string, s *enricher.WebhookSecret) error
	WebhookSecret(org string) (*enricher.WebhookSecret, error)
	WebhookDeliveries(org, job string) ([]*enricher.WebhookDelivery, error)
}

// URLGuard checks an outbound URL the way batch fetch does (scheme, no user info, every
// resolved address allowed); errors are KindInvalid with a detail. transport/fetch via cmd.
type URLGuard interface {
	CheckURL(ctx context.Context, url string) error
}

// webhookFields are the optional callback fields of every job-starting request.
type webhookFields struct {
	WebhookURL    *string  `json:"webhook_url"`
	WebhookEvents []string `json:"webhook_events"`
}

// webhookKeyBytes is the size of a new signing key (Standard Webhooks allows 24 to 64).
const webhookKeyBytes = 32

// webhookTarget validates the callback fields of a job start (400s only): known events
// (entity_completed for batches only), a URL the SSRF guard allows, and an organization that
// has a signing secret. It returns nil when no webhook_url was given.
func (c *call) webhookTarget(f webhookFields, batch bool) (*enricher.WebhookTarget, error) {
	if f.WebhookURL == nil {
		if f.WebhookEvents != nil {
			return nil, enricher.Errorf(enricher.KindInvalid, "webhook_events: needs webhook_url")
		}
		return nil, nil
	}
	events, err := enricher.ParseWebhookEvents(f.WebhookEvents, batch)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.s.deps.URLGuard.CheckURL(ctx, *f.WebhookURL); err != nil {
		return nil, enricher.Wrap(enricher.KindInvalid, err, "webhook_url: "+enricher.PublicMessage(err))
	}
	if _, err := c.s.deps.Webhooks.WebhookSecret(c.p.org.ID); err != nil {
		if enricher.IsKind(err, enricher.KindNotFound) {
			return nil, enricher.Errorf(enricher.KindInvalid, "webhook_url: create a webhook secret first (POST /api/auth/webhook-secret)")
		}
		return nil, err
	}
	return &enricher.WebhookTarget{URL: *f.WebhookURL, Events: events}, nil
}

// webhookSecretStatus answers GET /api/auth/webhook-secret: never the secret itself.
type webhookSecretStatus struct {
	Exists    bool           `json:"exists"`
	CreatedAt *enricher.Time `json:"created_at"`
}

func handleGetWebhookSecret(c *call) error {
	s, err := c.s.deps.Webhooks.WebhookSecret(c.p.org.ID)
	if enricher.IsKind(err, enricher.KindNotFound) {
		return c.ok(webhookSecretStatus{})
	}
	if err != nil {
		return err
	}
	at := s.CreatedAt
	return c.ok(webhookSecretStatus{Exists: true, CreatedAt: &at})
}

// handleRotateWebhookSecret creates or replaces the organization's signing secret and shows
// it this once. It is stored sealed (AES-256-GCM under a key derived from the token secret).
func handleRotateWebhookSecret(c *call) error {
	key := make([]byte, webhookKeyBytes)
	nonce := make([]byte, 12)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it crashes the program instead)
	_, _ = rand.Read(nonce)
	sealed, err := enricher.SealWebhookKey(c.s.webhookSealKey, nonce, key)
	if err != nil {
		return err
	}
	s := &enricher.WebhookSecret{Sealed: sealed, CreatedAt: enricher.NewTime(c.s.now())}
	if err := c.s.deps.Webhooks.SetWebhookSecret(c.p.org.ID, s); err != nil {
		return err
	}
	c.s.log.Info("webhook secret rotated", "organization_id", c.p.org.ID)
	return c.ok(map[string]any{"secret": enricher.FormatWebhookSecret(key), "created_at": s.CreatedAt})
}

// handleJobWebhooks lists a job's deliveries and their attempts (404 for a job of another
// organization or past retention).
func handleJobWebhooks(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	if err := c.s.visibleJob(c.p.org.ID, id); err != nil {
		return err
	}
	list, err := c.s.deps.Webhooks.WebhookDeliveries(c.p.org.ID, id)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"job_id": id, "deliveries": list})
}
