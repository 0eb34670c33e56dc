package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

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

// BenchmarkJobRead reads the snapshot of a finished single enrichment, as a stream's
// subscribe or a blocking start's answer does.
func BenchmarkJobRead(b *testing.B) {
	db, err := Open(Config{Dir: b.TempDir(), GCInterval: -1, TrimInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := enricher.NewTime(time.Now())
	strategy := enricher.StrategySinglePass
	j := &enricher.Job{ID: "0b0c3f6e-5d0e-4b8e-9a53-3d8f3c1a2b4c", OrganizationID: "default", Type: enricher.JobSingleEnrichment,
		Status: enricher.JobPending, CreatedAt: now, Models: []string{"sim::fast"}, Strategy: &strategy,
		Spec: []byte(`{"entity_data":{"name":"Moderna Inc"}}`), TotalModels: 1, RecordIDs: []string{}}
	if err := db.CreateJob(j, nil); err != nil {
		b.Fatal(err)
	}
	j.Status, j.StartedAt, j.FinishedAt = enricher.JobCompleted, &now, &now
	j.LastSeq, j.CompletedModels, j.RecordCount, j.EventBytes = 3, 1, 1, 2415
	j.RecordIDs = []string{"c3703478-3b0a-4015-b105-35c051aa47bf"}
	j.Result = []byte(`{"ceo":"Clara Kim","competitors":["Competitors 916f37","Competitors 0808bf","Competitors 874ce1"],` +
		`"country":"US","description":"Moderna Inc is a regional company.","employees":1160,"founded_year":1987,` +
		`"is_listed":true,"name":"Moderna Inc","revenue_usd":52000000,"ticker":"MODE"}`)
	if err := db.Commit(&Batch{Jobs: []*enricher.Job{j}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Job(j.OrganizationID, j.ID); err != nil {
			b.Fatal(err)
		}
	}
}
