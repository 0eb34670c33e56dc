package api

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// fakeJobRecords hands out its records in slice order and counts the walks.
type fakeJobRecords struct {
	recs  []*enricher.Record
	walks int
	err   error
}

func (f *fakeJobRecords) EachRecordOfJob(_, _ string, fn func(*enricher.Record) error) error {
	f.walks++
	if f.err != nil {
		return f.err
	}
	for _, r := range f.recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestJobReportWaterfallCountsAskedModels: a waterfall job's report reads the records twice
// and counts a model's agreement on a fused field only where it was asked the field (the
// third model, never asked the verify field "founded" the first two settled, gets no figure
// there), in either order of records; the same records under another strategy are read once
// and count every source model, as before. A store error is returned.
func TestJobReportWaterfallCountsAskedModels(t *testing.T) {
	strategy, id, idx := "waterfall", "e", 0
	rec := func(typ enricher.RecordType, model, out string, prov map[string]enricher.FieldProvenance) *enricher.Record {
		r := &enricher.Record{StructuredOutput: json.RawMessage(out), FieldProvenance: prov}
		r.Type, r.EntityID, r.EntityIndex, r.Success, r.Strategy = typ, &id, &idx, true, &strategy
		if model != "" {
			r.Model = &model
		}
		return r
	}
	one := func(m string) enricher.FieldProvenance {
		return enricher.FieldProvenance{Sources: []string{m}, Method: enricher.ProvenanceSingle}
	}
	models := []*enricher.Record{
		rec(enricher.RecordEnrichment, "a", `{"name":"Acme","founded":1849}`, map[string]enricher.FieldProvenance{"name": one("a"), "founded": one("a")}),
		rec(enricher.RecordEnrichment, "b", `{"name":"Acme","founded":1849}`, map[string]enricher.FieldProvenance{"name": one("b"), "founded": one("b")}),
		rec(enricher.RecordEnrichment, "c", `{"name":"Acme","founded":null}`, map[string]enricher.FieldProvenance{"name": one("c")}),
	}
	models[2].IsDeleted = true // left out of the figures, still tells what c was asked
	fusion := rec(enricher.RecordFusion, "", `{"name":"Acme","founded":1849}`, map[string]enricher.FieldProvenance{
		"name":    {Sources: []string{"a", "b", "c"}, Method: enricher.ProvenanceUnanimous},
		"founded": {Sources: []string{"a", "b"}, Method: enricher.ProvenanceUnanimous}})
	fusion.SourceModels = []string{"a", "b", "c"}

	agreement := func(r enricher.JobReport, model, path string) *enricher.FieldReport {
		for _, m := range r.Models {
			if m.Model == model {
				return m.Fields[path]
			}
		}
		return nil
	}
	zero := 0.0
	tests := []struct {
		name     string
		strategy enricher.Strategy
		recs     []*enricher.Record
		walks    int
		cFounded *enricher.FieldReport
	}{
		{"waterfall, fusion first", enricher.StrategyWaterfall, append([]*enricher.Record{fusion}, models...), 2, nil},
		{"waterfall, models first", enricher.StrategyWaterfall, append(append([]*enricher.Record{}, models...), fusion), 2, nil},
		{"single pass", enricher.StrategySinglePass, append([]*enricher.Record{fusion}, models...), 1, &enricher.FieldReport{Fused: 1, Agreement: &zero}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeJobRecords{recs: tt.recs}
			r, err := jobReport(store, "org", &enricher.Job{ID: "j1", Strategy: &tt.strategy})
			require.NoError(t, err)
			require.Equal(t, tt.walks, store.walks)
			require.Equal(t, tt.cFounded, agreement(r, "c", "founded"))
			require.Equal(t, 1, agreement(r, "c", "name").Fused, "c was asked name")
			require.Equal(t, 1, agreement(r, "c", "name").Agreed)
			require.Equal(t, 1, agreement(r, "b", "founded").Agreed)
			require.Equal(t, 1, agreement(r, "b", "founded").Fused)
		})
	}

	boom := errors.New("disk gone")
	waterfall := enricher.StrategyWaterfall
	_, err := jobReport(&fakeJobRecords{err: boom}, "org", &enricher.Job{ID: "j1", Strategy: &waterfall})
	require.ErrorIs(t, err, boom)
}
