package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// TestStatsAndCostsAgreeWithBruteForce compares the day aggregates (with partial edge days)
// to sums over the records themselves, across soft and hard deletes.
func TestStatsAndCostsAgreeWithBruteForce(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	rng := rand.New(rand.NewPCG(3, 4))
	models := []string{"sim::fast", "openai::gpt-4o", "anthropic::claude"}
	var all []*enricher.Record
	var b Batch
	for i := range 200 {
		r := &enricher.Record{OrganizationID: "org"}
		r.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		r.Type = []enricher.RecordType{enricher.RecordEnrichment, enricher.RecordFusion}[rng.IntN(2)]
		r.Model = strp(models[rng.IntN(3)])
		r.JobID = "job"
		r.Success = rng.IntN(3) != 0
		r.CreatedAt = enricher.NewTime(t0.Add(time.Duration(rng.IntN(5*24*3600)) * time.Second))
		r.ProcessingTimeMS = int64(rng.IntN(1000))
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
		b.Records = append(b.Records, r)
	}
	require.NoError(t, db.Commit(&b))
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
	live := all[5:20]
	live = append(live, all[30:]...) // soft-deleted 5..19 remain; 0..4 and 20..29 are gone

	for i := range 60 {
		since, until := int64(0), int64(0)
		if rng.IntN(4) != 0 {
			since = t0.Add(time.Duration(rng.IntN(3*24*3600)) * time.Second).UnixMilli()
		}
		if rng.IntN(4) != 0 {
			until = t0.Add(time.Duration(2*24*3600+rng.IntN(3*24*3600)) * time.Second).UnixMilli()
		}
		in := func(r *enricher.Record) bool {
			ms := r.CreatedAt.UnixMilli()
			return (since == 0 || ms >= since) && (until == 0 || ms < until)
		}
		wantStats := map[enricher.StatsKey]enricher.StatsRow{}
		wantCosts := map[string]enricher.CostRow{}
		for _, r := range live {
			if !in(r) {
				continue
			}
			if !r.IsDeleted {
				k := enricher.StatsKey{Type: r.Type, Model: *r.Model}
				s := wantStats[k]
				s.Add(statsOf(r), 1)
				wantStats[k] = s
			}
			for m, c := range r.CostsByModel() {
				w := wantCosts[m]
				w.Requests += c.Requests
				w.CostUSD += c.CostUSD
				w.InputTokens += c.InputTokens
				w.OutputTokens += c.OutputTokens
				wantCosts[m] = w
			}
		}
		gotStats, err := db.Stats("org", "", since, until)
		require.NoError(t, err)
		gotCosts, err := db.Costs("org", since, until)
		require.NoError(t, err)
		requireRowsEqual(t, i, wantStats, gotStats)
		require.Equal(t, len(nonZeroCosts(wantCosts)), len(nonZeroCosts(gotCosts)), "query %d", i)
		for m, w := range nonZeroCosts(wantCosts) {
			g := gotCosts[m]
			require.Equal(t, w.Requests, g.Requests, "query %d model %s", i, m)
			require.InDelta(t, w.CostUSD, g.CostUSD, 1e-9)
			require.Equal(t, w.InputTokens, g.InputTokens)
		}
	}
}

func requireRowsEqual(t *testing.T, i int, want, got map[enricher.StatsKey]enricher.StatsRow) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		require.Equal(t, w.Records, g.Records, "query %d %v", i, k)
		require.Equal(t, w.Successful, g.Successful)
		require.InDelta(t, w.CostUSD, g.CostUSD, 1e-9)
		require.Equal(t, w.TimeMS, g.TimeMS)
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			require.Zero(t, g.Records, "query %d: unexpected %v", i, k)
		}
	}
}

func nonZeroCosts(m map[string]enricher.CostRow) map[string]enricher.CostRow {
	out := map[string]enricher.CostRow{}
	for k, v := range m {
		if v.Requests != 0 {
			out[k] = v
		}
	}
	return out
}
