package enricher

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The published test vector of the Standard Webhooks reference libraries.
func TestSignWebhookMatchesTheStandardWebhooksVector(t *testing.T) {
	key, err := ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := SignWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestSignWebhookAgreesWithAnIndependentHMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"type":"completed"}`)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", "d6c1b8c4-7e0a-4d53-9a57-2f1ad0b6f9b1", 1700000000, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	require.Equal(t, want, SignWebhook(key, "d6c1b8c4-7e0a-4d53-9a57-2f1ad0b6f9b1", 1700000000, body))
	require.NotEqual(t, want, SignWebhook(key, "d6c1b8c4-7e0a-4d53-9a57-2f1ad0b6f9b1", 1700000001, body), "the timestamp is signed")
}

func TestWebhookSecretFormatRoundTrips(t *testing.T) {
	key := bytes.Repeat([]byte{0xfe}, 32)
	s := FormatWebhookSecret(key)
	require.Equal(t, "whsec_", s[:6])
	back, err := ParseWebhookSecret(s)
	require.NoError(t, err)
	require.Equal(t, key, back)
	_, err = ParseWebhookSecret("whsec_***")
	require.True(t, IsKind(err, KindInvalid))
}

func TestSealedWebhookKeyOpensOnlyWithItsSealKey(t *testing.T) {
	seal := WebhookSealKey([]byte("token secret of this server"))
	require.Len(t, seal, 32)
	key := []byte("the organization's signing key..")
	nonce := bytes.Repeat([]byte{7}, 12)
	sealed, err := SealWebhookKey(seal, nonce, key)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), string(key), "the key is not stored in clear")
	back, err := OpenWebhookKey(seal, sealed)
	require.NoError(t, err)
	require.Equal(t, key, back)

	_, err = OpenWebhookKey(WebhookSealKey([]byte("another token secret")), sealed)
	require.Error(t, err)
	sealed[len(sealed)-1] ^= 1
	_, err = OpenWebhookKey(seal, sealed)
	require.Error(t, err, "a changed ciphertext does not open")
	_, err = SealWebhookKey(seal, []byte{1}, key)
	require.Error(t, err)
}

func TestParseWebhookEvents(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		batch   bool
		want    []string
		wantErr string
	}{
		{"default", nil, false, []string{"completed", "failed", "cancelled"}, ""},
		{"subset", []string{"failed"}, false, []string{"failed"}, ""},
		{"entity events in a batch", []string{"completed", "entity_completed"}, true, []string{"completed", "entity_completed"}, ""},
		{"entity events outside a batch", []string{"entity_completed"}, false, nil, "only sent for batches"},
		{"unknown", []string{"completed", "started"}, true, nil, `webhook_events[1]: unknown event "started"`},
		{"twice", []string{"failed", "failed"}, false, nil, "listed twice"},
		{"empty", []string{}, false, nil, "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWebhookEvents(tt.in, tt.batch)
			if tt.wantErr != "" {
				require.True(t, IsKind(err, KindInvalid))
				require.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestWebhookDeliveryStoredFormKeepsBodyAndOrganization(t *testing.T) {
	d := &WebhookDelivery{ID: "w1", OrganizationID: "org1", JobID: "j1", EventType: "completed", Status: WebhookPending,
		CreatedAt: NewTime(time.Unix(1700000000, 0)), Body: json.RawMessage(`{"a":1}`)}
	wire, err := json.Marshal(d)
	require.NoError(t, err)
	require.NotContains(t, string(wire), "org1", "the wire form hides the organization")
	require.NotContains(t, string(wire), `"body"`, "and the body")
	stored, err := d.MarshalStored()
	require.NoError(t, err)
	back, err := UnmarshalStoredWebhook(stored)
	require.NoError(t, err)
	require.Equal(t, "org1", back.OrganizationID)
	require.JSONEq(t, `{"a":1}`, string(back.Body))
	require.Equal(t, []WebhookAttempt{}, back.Attempts)
}
