package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func strp(s string) *string { return &s }

// TestRecordsAgreeWithBruteForce checks the indexed listing against a plain filter and sort
// over the same records, for random queries, pages and deletions.
func TestRecordsAgreeWithBruteForce(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	rng := rand.New(rand.NewPCG(1, 2))
	types := []enricher.RecordType{enricher.RecordEnrichment, enricher.RecordFusion}
	models := []string{"sim::fast", "sim::realistic", "openai::gpt-4o"}
	var all []*enricher.Record
	var batch Batch
	for i := range 300 {
		r := &enricher.Record{OrganizationID: "org"}
		r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		r.Type = types[rng.IntN(2)]
		r.JobID = fmt.Sprintf("job-%d", rng.IntN(10))
		r.Model = strp(models[rng.IntN(3)])
		r.EntityID = strp(fmt.Sprintf("ent-%d", rng.IntN(20)))
		r.EntityName = strp(fmt.Sprintf("Company %d", rng.IntN(50)))
		r.SchemaID = strp(fmt.Sprintf("schema-%d", rng.IntN(3)))
		r.Success = rng.IntN(4) != 0
		r.CostUSD = float64(rng.IntN(1000)) / 1e5
		r.ProcessingTimeMS = int64(rng.IntN(5000))
		r.CreatedAt = enricher.NewTime(t0.Add(time.Duration(rng.IntN(10000)) * time.Second))
		if rng.IntN(4) != 0 { // else unknown, like records written before confidence existed
			c := float64(rng.IntN(21)) / 20
			r.MinConfidence = &c
		}
		all = append(all, r)
		batch.Records = append(batch.Records, r)
	}
	require.NoError(t, db.Commit(&batch))
	other := &enricher.Record{OrganizationID: "other"}
	other.ID, other.Type, other.JobID, other.CreatedAt = "x", enricher.RecordEnrichment, "job-1", enricher.NewTime(t0)
	require.NoError(t, db.Commit(&Batch{Records: []*enricher.Record{other}}))

	var toDelete []string
	for _, r := range all[:40] {
		toDelete = append(toDelete, r.ID)
		r.IsDeleted = true
	}
	n, missing, err := db.DeleteRecords("org", append(toDelete, "missing", "x"), false, enricher.NewTime(t0))
	require.NoError(t, err)
	require.Equal(t, 40, n)
	require.Equal(t, []string{"missing", "x"}, missing, "another organization's record is not found")

	for i := range 250 {
		q := enricher.RecordQuery{Limit: 1 + rng.IntN(30), SortBy: []string{"created_at", "cost_usd", "processing_time_ms"}[rng.IntN(3)], Asc: rng.IntN(2) == 0}
		if rng.IntN(3) == 0 {
			q.Type = string(types[rng.IntN(2)])
		}
		if rng.IntN(3) == 0 {
			q.Model = models[rng.IntN(3)]
		}
		if rng.IntN(5) == 0 {
			q.JobID = fmt.Sprintf("job-%d", rng.IntN(10))
		}
		if rng.IntN(6) == 0 {
			q.EntityID = fmt.Sprintf("ent-%d", rng.IntN(20))
		}
		if rng.IntN(6) == 0 {
			q.SchemaID = fmt.Sprintf("schema-%d", rng.IntN(3))
		}
		if rng.IntN(4) == 0 {
			b := rng.IntN(2) == 0
			q.Success = &b
		}
		if rng.IntN(5) == 0 {
			q.Search = fmt.Sprintf("company %d", rng.IntN(6))
		}
		if rng.IntN(4) == 0 {
			q.Since = t0.Add(time.Duration(rng.IntN(5000)) * time.Second).UnixMilli()
		}
		if rng.IntN(4) == 0 {
			q.Until = t0.Add(time.Duration(5000+rng.IntN(5000)) * time.Second).UnixMilli()
		}
		if rng.IntN(4) == 0 {
			c := float64(rng.IntN(21)) / 20
			q.MinConfidence = &c
		}
		if rng.IntN(4) == 0 {
			c := float64(rng.IntN(21)) / 20
			q.BelowConfidence = &c
		}
		q.IncludeDeleted = rng.IntN(3) == 0
		q.Offset = rng.IntN(3) * q.Limit

		want := bruteForce(all, q)
		got, total, err := db.Records("org", q)
		require.NoError(t, err)
		require.Equal(t, len(want), total, "query %d: %+v", i, q)
		end := min(q.Offset+q.Limit, len(want))
		var wantIDs, gotIDs []string
		if q.Offset < len(want) {
			for _, r := range want[q.Offset:end] {
				wantIDs = append(wantIDs, r.ID)
			}
		}
		for _, s := range got {
			gotIDs = append(gotIDs, s.ID)
		}
		require.Equal(t, wantIDs, gotIDs, "query %d: %+v", i, q)
	}

	restored, missing, err := db.RestoreRecords("org", toDelete[:10])
	require.NoError(t, err)
	require.Equal(t, 10, restored)
	require.Empty(t, missing)
	_, total, err := db.Records("org", enricher.RecordQuery{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, 300-30, total)
	hard, _, err := db.DeleteRecords("org", toDelete[:5], true, enricher.NewTime(t0))
	require.NoError(t, err)
	require.Equal(t, 5, hard)
	_, total, err = db.Records("org", enricher.RecordQuery{Limit: 1, IncludeDeleted: true})
	require.NoError(t, err)
	require.Equal(t, 295, total)
	_, missing, err = db.RestoreRecords("org", toDelete[:1])
	require.NoError(t, err)
	require.Equal(t, toDelete[:1], missing, "a hard delete is final")
}

// bruteMatch is the listing filter written out independently of the index code.
func bruteMatch(r *enricher.Record, q enricher.RecordQuery) bool {
	is := func(p *string, v string) bool { return v == "" || (p != nil && *p == v) }
	ms := r.CreatedAt.UnixMilli()
	name := ""
	if r.EntityName != nil {
		name = strings.ToLower(*r.EntityName)
	}
	return (q.IncludeDeleted || !r.IsDeleted) && (q.Type == "" || string(r.Type) == q.Type) &&
		(q.Success == nil || r.Success == *q.Success) && is(r.Model, q.Model) && is(r.EntityID, q.EntityID) &&
		(q.JobID == "" || r.JobID == q.JobID) && is(r.SchemaID, q.SchemaID) &&
		(q.Since == 0 || ms >= q.Since) && (q.Until == 0 || ms < q.Until) && strings.Contains(name, q.Search) &&
		(q.MinConfidence == nil || (r.MinConfidence != nil && *r.MinConfidence >= *q.MinConfidence)) &&
		(q.BelowConfidence == nil || (r.MinConfidence != nil && *r.MinConfidence < *q.BelowConfidence))
}

// TestIndexEntryConfidence checks that an entry keeps its min confidence, and that an entry
// of the format before confidence existed decodes with an unknown one that no filter matches.
func TestIndexEntryConfidence(t *testing.T) {
	c := 0.6667
	sum := enricher.RecordSummary{ID: "r", Type: enricher.RecordFusion, JobID: "j", MinConfidence: &c, CreatedAt: enricher.NewTime(t0)}
	e := newIndexEntry(&sum)
	got, old, err := decodeIndexEntry(e.encode())
	require.NoError(t, err)
	require.Nil(t, old)
	require.Equal(t, e, got)
	require.Equal(t, uint16(6667), got.minConfidence)
	low, high := 0.6667, 0.6668
	require.True(t, got.matches(enricher.RecordQuery{MinConfidence: &low}))
	require.False(t, got.matches(enricher.RecordQuery{MinConfidence: &high}))
	require.True(t, got.matches(enricher.RecordQuery{BelowConfidence: &high}))
	require.False(t, got.matches(enricher.RecordQuery{BelowConfidence: &low}))

	sum.MinConfidence = nil
	legacy := newIndexEntry(&sum)
	v := legacy.encode()
	require.Zero(t, v[1]&4, "no confidence flag, as in entries written before it existed")
	got, _, err = decodeIndexEntry(v)
	require.NoError(t, err)
	require.False(t, got.hasConfidence)
	zero, one := 0.0, 1.0
	require.False(t, got.matches(enricher.RecordQuery{MinConfidence: &zero}), "unknown is excluded by min_confidence")
	require.False(t, got.matches(enricher.RecordQuery{BelowConfidence: &one}), "and by below_confidence")
	require.True(t, got.matches(enricher.RecordQuery{}))

	_, _, err = decodeIndexEntry(append(e.encode()[:len(e.encode())-2], 0))
	require.ErrorIs(t, err, errBadIndexEntry, "flag set but confidence cut short")
}

// TestRecordExpectedAndStreaming checks that a record's _expected object is stored beside it
// and read back, and that EachRecordOfJob visits every record of a job across windows.
func TestRecordExpectedAndStreaming(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	var batch Batch
	n := recordWindow*2 + 3
	for i := range n {
		r := &enricher.Record{OrganizationID: "org", Expected: []byte(fmt.Sprintf(`{"i":%d}`, i))}
		r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		r.Type, r.JobID, r.CreatedAt = enricher.RecordEnrichment, "job", enricher.NewTime(t0)
		batch.Records = append(batch.Records, r)
	}
	require.NoError(t, db.Commit(&batch))
	r, err := db.Record("org", batch.Records[7].ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"i":7}`, string(r.Expected))
	seen := map[string]bool{}
	require.NoError(t, db.EachRecordOfJob("org", "job", func(r *enricher.Record) error {
		require.False(t, seen[r.ID], "each record once")
		seen[r.ID] = true
		require.NotEmpty(t, r.Expected)
		return nil
	}))
	require.Len(t, seen, n)
	require.NoError(t, db.EachRecordOfJob("other", "job", func(*enricher.Record) error {
		t.Fatal("another organization's records are not visited")
		return nil
	}))
}

// bruteForce filters and sorts like Records, ties broken by id in the same direction.
func bruteForce(all []*enricher.Record, q enricher.RecordQuery) []*enricher.Record {
	var out []*enricher.Record
	for _, r := range all {
		if bruteMatch(r, q) {
			out = append(out, r)
		}
	}
	key := func(r *enricher.Record) string {
		switch q.SortBy {
		case "cost_usd":
			return costKey(r.CostUSD) + "/" + r.ID
		case "processing_time_ms":
			return hex16(uint64(r.ProcessingTimeMS)) + "/" + r.ID
		}
		return hex16(uint64(r.CreatedAt.UnixMilli())) + "/" + r.ID
	}
	sort.Slice(out, func(i, j int) bool {
		c := strings.Compare(key(out[i]), key(out[j]))
		if q.Asc {
			return c < 0
		}
		return c > 0
	})
	return slices.Clip(out)
}

// TestPagingWhileRecordsAreAdded pages through a listing while new records keep arriving: with
// `until` set to the time of the first page, every page comes from the same set, so the pages
// hold no duplicate and no hole.
func TestPagingWhileRecordsAreAdded(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	add := func(from, n int, at time.Time) {
		var b Batch
		for i := from; i < from+n; i++ {
			r := &enricher.Record{OrganizationID: "org"}
			r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			r.Type, r.JobID = enricher.RecordEnrichment, "job"
			r.CreatedAt = enricher.NewTime(at.Add(time.Duration(i) * time.Millisecond))
			b.Records = append(b.Records, r)
		}
		require.NoError(t, db.Commit(&b))
	}
	add(0, 95, t0)
	until := t0.Add(time.Hour).UnixMilli() // "now" when the client asked for page 1
	seen := map[string]bool{}
	for page := 0; ; page++ {
		add(1000+page*7, 7, t0.Add(2*time.Hour)) // records keep arriving between pages
		got, total, err := db.Records("org", enricher.RecordQuery{Limit: 10, Offset: page * 10, Until: until})
		require.NoError(t, err)
		require.Equal(t, 95, total)
		for _, s := range got {
			require.False(t, seen[s.ID], "duplicate %s", s.ID)
			seen[s.ID] = true
		}
		if len(got) < 10 {
			break
		}
	}
	require.Len(t, seen, 95, "no hole")
}
