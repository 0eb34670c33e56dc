package sim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNullRate: a model's null_rate sets the share of its nullable scalar leaves that are null,
// drawn per model (two models with the same rate miss different fields); a negative rate never
// answers null; the default keeps nulls tied to the value (models that agree share them).
func TestNullRate(t *testing.T) {
	t.Parallel()
	profiles := BuiltinProfiles()
	profiles["cheap"] = Profile{NullRate: 0.4}
	profiles["cheap2"] = Profile{NullRate: 0.4}
	profiles["never"] = Profile{NullRate: -1}
	p, _ := newTest(Config{Profiles: profiles, Disagreement: -1})
	leaves := []string{"founded_year", "revenue_usd", "is_listed"} // nullable scalars of companySchema
	const n = 400
	nulls := map[string]int{}
	both, differ := 0, 0
	for i := range n {
		got := map[string]map[string]any{}
		for _, m := range []string{"cheap", "cheap2", "never", "fast"} {
			resp, err := p.Complete(context.Background(), enrichReq(m, company(i), 1, 1))
			require.NoError(t, err)
			got[m] = decode(t, resp.Text)
		}
		for _, l := range leaves {
			for m, out := range got {
				if out[l] == nil {
					nulls[m]++
				}
			}
			if (got["cheap"][l] == nil) != (got["cheap2"][l] == nil) {
				differ++
			}
			if got["cheap"][l] == nil && got["cheap2"][l] == nil {
				both++
			}
		}
	}
	total := float64(n * len(leaves))
	require.InDelta(t, 0.4, float64(nulls["cheap"])/total, 0.05)
	require.InDelta(t, 0.4, float64(nulls["cheap2"])/total, 0.05)
	require.InDelta(t, 0.16, float64(both)/total, 0.04, "independent draws: both null about 0.4²")
	require.Greater(t, differ, 0)
	require.Zero(t, nulls["never"])
	require.InDelta(t, 0.1, float64(nulls["fast"])/total, 0.04, "the default rate")
}
