package storage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func TestIndexEntryRoundTrip(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		sum  enricher.RecordSummary
	}{
		{"model record", enricher.RecordSummary{ID: "r1", Type: enricher.RecordType("enrichment"), JobID: "j1", Model: str("sim::fast"),
			EntityID: str("e1"), EntityName: str("ACME Corp"), SchemaID: str("s1"), Success: true, CreatedAt: enricher.NewTime(time.UnixMilli(1764000000123))}},
		{"deleted, nothing optional", enricher.RecordSummary{ID: "r2", Type: enricher.RecordType("fusion"), JobID: "j2", IsDeleted: true,
			CreatedAt: enricher.NewTime(time.UnixMilli(5))}},
		{"unicode name", enricher.RecordSummary{ID: "r3", JobID: "j3", EntityName: str("Ünïcode ÅB"), CreatedAt: enricher.NewTime(time.UnixMilli(0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newIndexEntry(&tt.sum)
			got, old, err := decodeIndexEntry(want.encode())
			require.NoError(t, err)
			require.Nil(t, old)
			require.Equal(t, want, got)

			// The former format (the summary's JSON) decodes to the same entry plus the summary.
			js, err := json.Marshal(tt.sum)
			require.NoError(t, err)
			got, old, err = decodeIndexEntry(js)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, tt.sum.ID, old.ID)
		})
	}
}

func TestIndexEntryRejectsGarbage(t *testing.T) {
	e := indexEntry{typ: "enrichment", jobID: "job", nameLower: "acme"}
	good := e.encode()
	for _, bad := range [][]byte{nil, {2, 0, 0}, good[:len(good)-1], append([]byte{1, 0}, 0xff, 0xff, 0xff)} {
		_, _, err := decodeIndexEntry(bad)
		require.Error(t, err, "%x", bad)
	}
}
