package storage

import (
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage/codectest"
)

// TestValueCodecMatchesEncodingJSON: the stored value codec (github.com/goccy/go-json) writes
// the very bytes encoding/json writes for every stored type with every field set, and each
// reads the other's bytes back to the same value, so data written before it came in reads the
// same, and a value never depends on which of the two wrote it.
func TestValueCodecMatchesEncodingJSON(t *testing.T) {
	codectest.MatchesEncodingJSON(t, gojson.Marshal, decodeValue,
		&enricher.Job{}, &enricher.Record{}, &enricher.RecordSummary{}, &recordRow{}, &enricher.StatsRow{},
		&enricher.CostRow{}, &enricher.APIKey{}, &enricher.Organization{}, &enricher.User{},
		&enricher.SavedSchema{}, &enricher.IdempotentStart{}, &enricher.WebhookDelivery{})
}
