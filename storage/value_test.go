package storage

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// TestValueCompression stores values of each kind and reads them back through both readers:
// only large values that compress well are stored compressed, and every value reads back as
// it was given.
func TestValueCompression(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	record := []byte(`{"structured_output":{"name":"Moderna Inc","country":"US"},"prompts":[` +
		strings.Repeat(`{"system_prompt":"You are an expert research assistant.","attempts":1},`, 40) + `{}]}`)
	tests := []struct {
		name       string
		value      []byte
		compressed bool
	}{
		{"empty", nil, false},
		{"small", []byte(`{"a":1}`), false},
		{"just under the threshold", bytes.Repeat([]byte("a"), compressMin-1), false},
		{"at the threshold", bytes.Repeat([]byte("a"), compressMin), true},
		{"a record", record, true},
		{"larger than a pooled buffer", bytes.Repeat(record, 400), true},
		{"incompressible", noise, false},
	}
	db := openTest(t)
	for i, tc := range tests {
		key := []byte{'t', 'v', '/', byte(i)}
		require.NoError(t, db.bdb.Update(func(txn *badger.Txn) error { return setValue(txn, key, bytes.Clone(tc.value)) }), tc.name)
		require.NoError(t, db.bdb.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			require.NoError(t, err)
			require.Equal(t, tc.compressed, item.UserMeta()&metaS2 != 0, "%s: compressed", tc.name)
			if tc.compressed {
				require.Less(t, item.ValueSize(), int64(len(tc.value)-len(tc.value)/8), tc.name)
			}
			require.NoError(t, readValue(item, func(v []byte) error {
				require.Equal(t, string(tc.value), string(v), tc.name)
				return nil
			}))
			got, err := copyValue(item)
			require.NoError(t, err)
			require.Equal(t, string(tc.value), string(got), tc.name)
			return nil
		}))
	}
}

// TestUncompressedValuesStillRead reads a job snapshot and an event stored as earlier versions
// wrote them (plain JSON, no user meta), beside ones written now.
func TestUncompressedValuesStillRead(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	org := "00000000-0000-4000-8000-000000000001"
	old := &enricher.Job{ID: "job-old", OrganizationID: org, Type: enricher.JobSingleEnrichment, Status: enricher.JobCompleted,
		Result: json.RawMessage(`{"summary":"` + strings.Repeat("plain ", 100) + `"}`)}
	raw, err := json.Marshal(old)
	require.NoError(t, err)
	event := []byte(`{"type":"completed","seq":1,"result":"` + strings.Repeat("plain ", 400) + `"}`)
	require.NoError(t, db.bdb.Update(func(txn *badger.Txn) error {
		if err := txn.Set(keyJob(org, old.ID), raw); err != nil {
			return err
		}
		return txn.Set(keyEvent(old.ID, 1), event)
	}))
	got, err := db.Job(org, old.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(old.Result), string(got.Result))

	require.NoError(t, db.Commit(&Batch{Events: []EventEntry{{JobID: old.ID, Seq: 2, Data: bytes.Replace(event, []byte(`"seq":1`), []byte(`"seq":2`), 1)}}}))
	var seqs []int64
	require.NoError(t, db.Events(old.ID, 0, 0, func(seq int64, data []byte) error {
		seqs = append(seqs, seq)
		require.Contains(t, string(data), `"seq":`+string(rune('0'+seq)))
		require.True(t, json.Valid(data), "event %d", seq)
		return nil
	}))
	require.Equal(t, []int64{1, 2}, seqs)
	require.NoError(t, db.bdb.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyEvent(old.ID, 2))
		require.NoError(t, err)
		require.NotZero(t, item.UserMeta()&metaS2, "an event written now is compressed")
		return nil
	}))
}
