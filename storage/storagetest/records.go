package storagetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

func newRecord(org, id, job string, entity int) *enricher.Record {
	r := &enricher.Record{OrganizationID: org}
	r.ID, r.JobID, r.Type, r.Success = id, job, enricher.RecordEnrichment, true
	r.EntityIndex, r.EntityName, r.Model = &entity, strp(fmt.Sprintf("Company %d", entity)), strp("sim::fast")
	r.CreatedAt = enricher.NewTime(t0)
	r.StructuredOutput = []byte(`{"name":"x","a":1}`)
	return r
}

// population is a random set of records of organization "org" (and one of "other"), with the
// queries' answers computed by brute force.
func population(seed uint64, n int) []*enricher.Record {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	types := []enricher.RecordType{enricher.RecordEnrichment, enricher.RecordFusion}
	models := []string{"sim::fast", "sim::realistic", "openai::gpt-4o"}
	var all []*enricher.Record
	for i := range n {
		r := &enricher.Record{OrganizationID: "org"}
		r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		r.Type = types[rng.IntN(2)]
		r.JobID = fmt.Sprintf("job-%d", rng.IntN(10))
		r.Model = strp(models[rng.IntN(3)])
		r.EntityID = strp(fmt.Sprintf("ent-%d", rng.IntN(20)))
		r.EntityName = strp(fmt.Sprintf("Company %d", rng.IntN(50)))
		r.SchemaID = strp(fmt.Sprintf("schema-%d", rng.IntN(3)))
		r.Success = rng.IntN(4) != 0
		r.ProcessingTimeMS = int64(rng.IntN(50)) * 100 // ties in every order
		r.CreatedAt = enricher.NewTime(t0.Add(time.Duration(rng.IntN(5*24*3600)) * time.Second))
		if rng.IntN(4) != 0 {
			c := float64(rng.IntN(21)) / 20
			r.MinConfidence = &c
		}
		for c := range rng.IntN(3) {
			p := enricher.PromptCall{Model: models[(rng.IntN(3)+c)%3], CostUSD: float64(rng.IntN(100)) / 1e4,
				InputTokens: rng.IntN(500), OutputTokens: rng.IntN(100)}
			for range 1 + rng.IntN(3) {
				p.AttemptLog = append(p.AttemptLog, enricher.Attempt{})
			}
			r.Prompts = append(r.Prompts, p)
			r.CostUSD += p.CostUSD
			r.InputTokens += p.InputTokens
			r.OutputTokens += p.OutputTokens
		}
		all = append(all, r)
	}
	return all
}

// matches is the listing filter written out plainly.
func matches(r *enricher.Record, q enricher.RecordQuery) bool {
	is := func(p *string, v string) bool { return v == "" || (p != nil && *p == v) }
	ms := r.CreatedAt.UnixMilli()
	name := ""
	if r.EntityName != nil {
		name = strings.ToLower(*r.EntityName)
	}
	conf := func(c *float64, ok func(a, b int) bool) bool {
		return c == nil || (r.MinConfidence != nil && ok(units(*r.MinConfidence), units(*c)))
	}
	return (q.IncludeDeleted || !r.IsDeleted) && (q.Type == "" || string(r.Type) == q.Type) &&
		(q.Success == nil || r.Success == *q.Success) && is(r.Model, q.Model) && is(r.EntityID, q.EntityID) &&
		(q.JobID == "" || r.JobID == q.JobID) && is(r.SchemaID, q.SchemaID) &&
		(q.Since == 0 || ms >= q.Since) && (q.Until == 0 || ms < q.Until) && strings.Contains(name, q.Search) &&
		conf(q.MinConfidence, func(a, b int) bool { return a >= b }) && conf(q.BelowConfidence, func(a, b int) bool { return a < b })
}

func units(c float64) int { return int(c*10000 + 0.5) }

// expected returns the records of all that q selects, in q's order (ties by id, same direction).
func expected(all []*enricher.Record, q enricher.RecordQuery) []string {
	var out []*enricher.Record
	for _, r := range all {
		if matches(r, q) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *enricher.Record) int {
		c := 0
		switch q.SortBy {
		case "cost_usd":
			c = cmp.Compare(a.CostUSD, b.CostUSD)
		case "processing_time_ms":
			c = cmp.Compare(a.ProcessingTimeMS, b.ProcessingTimeMS)
		default:
			c = cmp.Compare(a.CreatedAt.UnixMilli(), b.CreatedAt.UnixMilli())
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if !q.Asc {
			c = -c
		}
		return c
	})
	ids := []string{}
	for _, r := range out {
		ids = append(ids, r.ID)
	}
	return ids
}

func testRecords(t *testing.T, open Opener) {
	t.Run("filters, sorts, paging and search agree with brute force", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		all := population(1, 240)
		require.NoError(t, db.Commit(&storage.Batch{Records: all}))
		other := newRecord("other", "x", "job-1", 0)
		require.NoError(t, db.Commit(&storage.Batch{Records: []*enricher.Record{other}}))
		var del []string
		for _, r := range all[:30] {
			del = append(del, r.ID)
			r.IsDeleted = true
		}
		n, missing, err := db.DeleteRecords("org", append(del, "missing", "x"), false, enricher.NewTime(t0))
		require.NoError(t, err)
		require.Equal(t, 30, n)
		require.Equal(t, []string{"missing", "x"}, missing, "another organization's record is not found")

		rng := rand.New(rand.NewPCG(7, 8))
		for i := range 150 {
			q := enricher.RecordQuery{Limit: 1 + rng.IntN(25), Asc: rng.IntN(2) == 0,
				SortBy: []string{"", "created_at", "cost_usd", "processing_time_ms"}[rng.IntN(4)]}
			if rng.IntN(3) == 0 {
				q.Type = string([]enricher.RecordType{enricher.RecordEnrichment, enricher.RecordFusion}[rng.IntN(2)])
			}
			if rng.IntN(3) == 0 {
				q.Model = []string{"sim::fast", "sim::realistic", "openai::gpt-4o"}[rng.IntN(3)]
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
				q.Since = t0.Add(time.Duration(rng.IntN(2*24*3600)) * time.Second).UnixMilli()
			}
			if rng.IntN(4) == 0 {
				q.Until = t0.Add(time.Duration(2*24*3600+rng.IntN(3*24*3600)) * time.Second).UnixMilli()
			}
			if rng.IntN(5) == 0 {
				c := float64(rng.IntN(21)) / 20
				q.MinConfidence = &c
			}
			if rng.IntN(5) == 0 {
				c := float64(rng.IntN(21)) / 20
				q.BelowConfidence = &c
			}
			q.IncludeDeleted = rng.IntN(3) == 0
			q.Offset = rng.IntN(3) * q.Limit

			want := expected(all, q)
			got, total, err := db.Records("org", q)
			require.NoError(t, err)
			require.Equal(t, len(want), total, "query %d: %+v", i, q)
			page := want[min(q.Offset, len(want)):min(q.Offset+q.Limit, len(want))]
			gotIDs := []string{}
			for _, s := range got {
				gotIDs = append(gotIDs, s.ID)
			}
			require.Equal(t, page, gotIDs, "query %d: %+v", i, q)
		}
	})

	t.Run("delete, restore, hard delete", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		a, b, c := newRecord("o1", "a", "job", 0), newRecord("o1", "b", "job", 1), newRecord("o2", "c", "job2", 0)
		require.NoError(t, db.Commit(&storage.Batch{Records: []*enricher.Record{a, b, c}}))
		n, missing, err := db.DeleteRecords("o1", []string{"a", "c"}, false, enricher.NewTime(t0))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{"c"}, missing)
		n, _, err = db.DeleteRecords("o1", []string{"a"}, false, enricher.NewTime(t0))
		require.NoError(t, err)
		require.Equal(t, 1, n, "deleting a deleted record again counts")
		got, err := db.Record("o1", "a")
		require.NoError(t, err)
		require.True(t, got.IsDeleted)
		require.NotNil(t, got.DeletedAt)
		_, total, err := db.Records("o1", enricher.RecordQuery{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		page, total, err := db.Records("o1", enricher.RecordQuery{Limit: 10, IncludeDeleted: true})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.True(t, page[0].IsDeleted || page[1].IsDeleted, "the summary says deleted")

		n, missing, err = db.RestoreRecords("o1", []string{"a", "b", "zz"})
		require.NoError(t, err)
		require.Equal(t, 2, n, "restoring a live record counts")
		require.Equal(t, []string{"zz"}, missing)
		got, err = db.Record("o1", "a")
		require.NoError(t, err)
		require.False(t, got.IsDeleted)
		require.Nil(t, got.DeletedAt)

		n, _, err = db.DeleteRecords("o1", []string{"a"}, true, enricher.NewTime(t0))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		_, err = db.Record("o1", "a")
		requireKind(t, err, enricher.KindNotFound)
		_, missing, err = db.RestoreRecords("o1", []string{"a"})
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, missing, "a hard delete is final")
		_, err = db.Record("o1", "c")
		requireKind(t, err, enricher.KindNotFound, "another organization's record")
		page, _, err = db.Records("o1", enricher.RecordQuery{})
		require.NoError(t, err)
		require.NotNil(t, page, "an empty page is an empty list")
		require.Empty(t, page)
	})

	t.Run("records of a job and of open entities", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		var recs []*enricher.Record
		for i := range 5 {
			r := newRecord("o1", fmt.Sprintf("r%03d", i), "job", i%3)
			r.Expected = []byte(`{"founded":1999}`)
			recs = append(recs, r)
		}
		recs = append(recs, newRecord("o1", "other-job", "job2", 0))
		require.NoError(t, db.Commit(&storage.Batch{Records: recs, Finished: []storage.EntityMark{{JobID: "job", Index: 1, Seq: 4}}}))
		of, err := db.RecordsOfJob("o1", "job")
		require.NoError(t, err)
		require.Equal(t, []string{"r000", "r001", "r002", "r003", "r004"}, recordIDs(of))
		require.Equal(t, `{"founded":1999}`, string(of[0].Expected), "the expected object is kept")
		require.Equal(t, `{"name":"x","a":1}`, string(of[0].StructuredOutput), "output kept byte for byte")
		none, err := db.RecordsOfJob("o2", "job")
		if err != nil { // badger reads the job's records under the organization asked: not found
			requireKind(t, err, enricher.KindNotFound)
		}
		require.Empty(t, none, "another organization sees none")
		open, err := db.RecordsOfOpenEntities("o1", "job")
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"r000", "r002", "r003"}, recordIDs(open), "entity 1 ended")
		var walked []string
		require.NoError(t, db.EachRecordOfJob("o1", "job", func(r *enricher.Record) error { walked = append(walked, r.ID); return nil }))
		require.Equal(t, []string{"r000", "r001", "r002", "r003", "r004"}, walked)
	})
}

func recordIDs(rs []*enricher.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testAggregates(t *testing.T, open Opener) {
	t.Run("stats and costs agree with brute force", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		all := population(3, 150)
		require.NoError(t, db.Commit(&storage.Batch{Records: all}))
		require.NoError(t, db.Commit(&storage.Batch{Records: []*enricher.Record{newRecord("other", "x", "j", 0)}}))
		var soft, hard []string
		for _, r := range all[:20] {
			soft = append(soft, r.ID)
			r.IsDeleted = true
		}
		for _, r := range all[20:30] {
			hard = append(hard, r.ID)
		}
		_, _, err := db.DeleteRecords("org", soft, false, enricher.NewTime(t0))
		require.NoError(t, err)
		_, _, err = db.DeleteRecords("org", append(hard, soft[:5]...), true, enricher.NewTime(t0))
		require.NoError(t, err)
		kept := append(slices.Clone(all[5:20]), all[30:]...) // soft-deleted 5..19 remain

		rng := rand.New(rand.NewPCG(5, 6))
		for i := range 30 {
			since, until := int64(0), int64(0)
			if rng.IntN(4) != 0 {
				since = t0.Add(time.Duration(rng.IntN(3*24*3600)) * time.Second).UnixMilli()
			}
			if rng.IntN(4) != 0 {
				until = t0.Add(time.Duration(2*24*3600+rng.IntN(3*24*3600)) * time.Second).UnixMilli()
			}
			typ := ""
			if rng.IntN(3) == 0 {
				typ = string(enricher.RecordFusion)
			}
			wantStats := map[enricher.StatsKey]enricher.StatsRow{}
			wantCosts := map[string]enricher.CostRow{}
			for _, r := range kept {
				ms := r.CreatedAt.UnixMilli()
				if (since > 0 && ms < since) || (until > 0 && ms >= until) {
					continue
				}
				if !r.IsDeleted && (typ == "" || string(r.Type) == typ) {
					k := enricher.StatsKey{Type: r.Type, Model: *r.Model}
					s := wantStats[k]
					s.Records++
					if r.Success {
						s.Successful++
					}
					s.CostUSD += r.CostUSD
					s.InputTokens += r.InputTokens
					s.OutputTokens += r.OutputTokens
					s.TimeMS += r.ProcessingTimeMS
					wantStats[k] = s
				}
				for _, p := range r.Prompts {
					c := wantCosts[p.Model]
					c.Requests += len(p.AttemptLog)
					c.CostUSD += p.CostUSD
					c.InputTokens += p.InputTokens
					c.OutputTokens += p.OutputTokens
					wantCosts[p.Model] = c
				}
			}
			gotStats, err := db.Stats("org", typ, since, until)
			require.NoError(t, err)
			gotCosts, err := db.Costs("org", since, until)
			require.NoError(t, err)
			gotStats, gotCosts = nonZeroStats(gotStats), nonZeroCosts(gotCosts)
			require.Len(t, gotStats, len(wantStats), "query %d", i)
			for k, w := range wantStats {
				g := gotStats[k]
				require.InDelta(t, w.CostUSD, g.CostUSD, 1e-9, "query %d %v", i, k)
				g.CostUSD = w.CostUSD
				require.Equal(t, w, g, "query %d %v", i, k)
			}
			require.Len(t, gotCosts, len(wantCosts), "query %d", i)
			for m, w := range wantCosts {
				g := gotCosts[m]
				require.InDelta(t, w.CostUSD, g.CostUSD, 1e-9, "query %d %s", i, m)
				g.CostUSD = w.CostUSD
				require.Equal(t, w, g, "query %d %s", i, m)
			}
		}
	})
}

// nonZeroStats and nonZeroCosts drop rows that sum nothing (a store may keep emptied rows).
func nonZeroStats(m map[enricher.StatsKey]enricher.StatsRow) map[enricher.StatsKey]enricher.StatsRow {
	out := map[enricher.StatsKey]enricher.StatsRow{}
	for k, v := range m {
		if v.Records != 0 {
			out[k] = v
		}
	}
	return out
}

func nonZeroCosts(m map[string]enricher.CostRow) map[string]enricher.CostRow {
	out := map[string]enricher.CostRow{}
	for k, v := range m {
		if v.Requests != 0 || v.InputTokens != 0 || v.OutputTokens != 0 || v.CostUSD > 1e-12 {
			out[k] = v
		}
	}
	return out
}
