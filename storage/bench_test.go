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

// BenchmarkEntitiesAt reads a 30,000-entity batch back from a store on disk in the batch
// actor's windows of 256, as a batch does.
func BenchmarkEntitiesAt(b *testing.B) {
	db, err := Open(Config{Dir: b.TempDir(), GCInterval: -1, TrimInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n, window = 30000, 256
	for from := 0; from < n; from += window {
		chunk := make([][]byte, 0, window)
		for i := from; i < min(from+window, n); i++ {
			chunk = append(chunk, fmt.Appendf(nil, `{"name":"Company %d","country":"US"}`, i))
		}
		if err := db.PutEntities("job1", from, chunk); err != nil {
			b.Fatal(err)
		}
	}
	indices := make([]int, window)
	from := 0
	for b.Loop() {
		for k := range indices {
			indices[k] = (from + k) % n
		}
		if _, err := db.EntitiesAt("job1", indices); err != nil {
			b.Fatal(err)
		}
		from = (from + window) % n
	}
}
