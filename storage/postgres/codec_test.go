package postgres

import (
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage/codectest"
)

// TestDocCodecMatchesEncodingJSON: the documents this backend stores (github.com/goccy/go-json)
// are the bytes encoding/json writes, and each reads the other's, so rows written before the
// codec changed read the same. Runs without a database.
func TestDocCodecMatchesEncodingJSON(t *testing.T) {
	codectest.MatchesEncodingJSON(t, gojson.Marshal, gojson.Unmarshal,
		&enricher.Job{}, &recordDoc{}, &enricher.RecordSummary{}, &userDoc{}, &apiKeyDoc{}, &schemaDoc{},
		&enricher.Organization{}, &enricher.IdempotentStart{}, &enricher.WebhookDelivery{}, &enricher.RefreshToken{})
}
