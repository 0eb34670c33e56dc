package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/entity-enricher/enricher"
)

// BenchmarkAPIKeyLookup measures what authenticating one request costs in storage: the
// SHA-256 of the presented key plus the hash-index and key reads, among 10,000 keys.
func BenchmarkAPIKeyLookup(b *testing.B) {
	db, err := Open(Config{InMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("ent_benchmarkkey%040d", i)
		sum := sha256.Sum256([]byte(keys[i]))
		k := &enricher.APIKey{ID: fmt.Sprintf("k%d", i), OrganizationID: "org", Name: "n", Type: enricher.KeyUser,
			Hash: hex.EncodeToString(sum[:]), IsActive: true}
		if err := db.CreateAPIKey(k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sum := sha256.Sum256([]byte(keys[i%len(keys)]))
		if _, err := db.APIKeyByHash(hex.EncodeToString(sum[:])); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
