package enricher

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Webhook event names a job can ask to be called back for (the terminal events plus, for
// batches, entity_completed).
var (
	// DefaultWebhookEvents applies when a job-starting request names no webhook_events.
	DefaultWebhookEvents = []string{EventCompleted, EventFailed, EventCancelled}
	// webhookEvents are the accepted values of webhook_events.
	webhookEvents = []string{EventCompleted, EventFailed, EventCancelled, EventEntityCompleted}
)

// WebhookTarget is where a job's callbacks go: the URL (already checked by the SSRF guard at
// job start) and the event types it asked for. It is stored with the job and never changes.
type WebhookTarget struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// Wants reports whether event type t is delivered to this target.
func (w *WebhookTarget) Wants(t string) bool { return w != nil && slices.Contains(w.Events, t) }

// ParseWebhookEvents validates a webhook_events list: nil means DefaultWebhookEvents; every
// value must be known, listed once, and entity_completed is only allowed for batches.
// Errors are KindInvalid naming the field.
func ParseWebhookEvents(events []string, batch bool) ([]string, error) {
	if events == nil {
		return slices.Clone(DefaultWebhookEvents), nil
	}
	if len(events) == 0 {
		return nil, Errorf(KindInvalid, "webhook_events: must not be empty")
	}
	for i, e := range events {
		switch {
		case !slices.Contains(webhookEvents, e):
			return nil, Errorf(KindInvalid, "webhook_events[%d]: unknown event %q (allowed: %s)", i, e, strings.Join(webhookEvents, ", "))
		case e == EventEntityCompleted && !batch:
			return nil, Errorf(KindInvalid, "webhook_events[%d]: %q is only sent for batches", i, e)
		case slices.Contains(events[:i], e):
			return nil, Errorf(KindInvalid, "webhook_events[%d]: %q is listed twice", i, e)
		}
	}
	return slices.Clone(events), nil
}

// Webhook delivery states.
const (
	WebhookPending   = "pending"   // not delivered yet; NextAttemptAt says when it is tried
	WebhookDelivered = "delivered" // a 2xx answer ended it
	WebhookFailed    = "failed"    // no 2xx within the retry window; no more attempts
)

// WebhookDelivery is one callback of one job event: a stored message, tried until a 2xx
// answer or until its retry window ends. ID is the webhook-id header, the same on every
// attempt. The delivery worker alone changes it after it is stored.
type WebhookDelivery struct {
	ID             string           `json:"webhook_id"`
	OrganizationID string           `json:"-"`
	JobID          string           `json:"job_id"`
	EventType      string           `json:"event_type"`
	EventSeq       int64            `json:"event_seq"`
	URL            string           `json:"url"`
	Status         string           `json:"status"`
	CreatedAt      Time             `json:"created_at"`
	NextAttemptAt  *Time            `json:"next_attempt_at"`
	DeliveredAt    *Time            `json:"delivered_at"`
	Attempts       []WebhookAttempt `json:"attempts"`
	Body           json.RawMessage  `json:"-"` // the exact bytes sent and signed
}

// webhookStored is the stored form of a delivery: the wire fields plus the organization
// and the body, which the API never shows.
type webhookStored struct {
	WebhookDelivery
	Org  string          `json:"organization_id"`
	Data json.RawMessage `json:"body"`
}

// MarshalStored encodes d with its organization and body (storage only).
func (d *WebhookDelivery) MarshalStored() ([]byte, error) {
	return json.Marshal(webhookStored{WebhookDelivery: *d, Org: d.OrganizationID, Data: d.Body})
}

// UnmarshalStoredWebhook decodes what MarshalStored wrote.
func UnmarshalStoredWebhook(b []byte) (*WebhookDelivery, error) {
	var s webhookStored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	d := s.WebhookDelivery
	d.OrganizationID, d.Body = s.Org, s.Data
	if d.Attempts == nil {
		d.Attempts = []WebhookAttempt{}
	}
	return &d, nil
}

// WebhookAttempt is one try of a delivery: when, the HTTP status or the error, how long it
// took, and when the next try is due (null once the delivery ended).
type WebhookAttempt struct {
	AttemptedAt   Time    `json:"attempted_at"`
	StatusCode    *int    `json:"status_code"`
	Error         *string `json:"error"`
	DurationMS    int64   `json:"duration_ms"`
	NextAttemptAt *Time   `json:"next_attempt_at"`
}

// WebhookBody builds the JSON body of a delivery: type, job, status and time of the event,
// and data, the event exactly as the job's stream carries it.
func WebhookBody(h *EventHeader, event []byte) ([]byte, error) {
	return json.Marshal(struct {
		Type      string          `json:"type"`
		JobID     string          `json:"job_id"`
		JobType   JobType         `json:"job_type"`
		Status    JobStatus       `json:"status"`
		Timestamp Time            `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{h.Type, h.JobID, h.JobType, h.Status, NewTime(h.Timestamp), event})
}

// WebhookSecretPrefix starts every signing secret (Standard Webhooks).
const WebhookSecretPrefix = "whsec_"

// FormatWebhookSecret returns the secret string shown to users: whsec_ + base64(key).
func FormatWebhookSecret(key []byte) string {
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseWebhookSecret returns the key bytes of a whsec_ secret: the base64-decoded part after
// the prefix (a secret without the prefix is accepted too).
func ParseWebhookSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
	if err != nil {
		return nil, Errorf(KindInvalid, "webhook secret: not base64 after %s", WebhookSecretPrefix)
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header value of Standard Webhooks: "v1," and
// the base64 HMAC-SHA256, keyed with key, of "<id>.<unix seconds>.<body>".
func SignWebhook(key []byte, id string, unix int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(unix, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookSecret is an organization's signing secret as stored: its key sealed (AES-256-GCM,
// nonce first) with a key derived from the server's token secret, and when it was made.
type WebhookSecret struct {
	Sealed    []byte `json:"sealed"`
	CreatedAt Time   `json:"created_at"`
}

// WebhookSealKey derives the 32-byte key that seals webhook secrets at rest from the
// server's token secret (HMAC-SHA256 with a fixed label, so the token secret itself is never
// used as a cipher key).
func WebhookSealKey(tokenSecret []byte) []byte {
	mac := hmac.New(sha256.New, tokenSecret)
	mac.Write([]byte("entity-enricher webhook secret sealing v1"))
	return mac.Sum(nil)
}

// SealWebhookKey encrypts key with sealKey (32 bytes) under nonce (12 random bytes the
// caller draws; never reuse one) and returns nonce || ciphertext.
func SealWebhookKey(sealKey, nonce, key []byte) ([]byte, error) {
	aead, err := webhookAEAD(sealKey)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, errors.New("webhook seal: nonce must hold 12 bytes")
	}
	return aead.Seal(slices.Clone(nonce), nonce, key, nil), nil
}

// OpenWebhookKey decrypts what SealWebhookKey returned. It fails when sealKey is not the one
// that sealed it (for instance after token_secret changed).
func OpenWebhookKey(sealKey, sealed []byte) ([]byte, error) {
	aead, err := webhookAEAD(sealKey)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("webhook seal: sealed secret too short")
	}
	key, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errors.New("webhook seal: the secret cannot be opened with this server's token secret")
	}
	return key, nil
}

func webhookAEAD(sealKey []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
