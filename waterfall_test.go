package enricher

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// waterfallSchema has a search key (name), two scalars, a nested object and a multilingual
// field: leaves name, ceo, founded, hq.city, hq.country, summary.
func waterfallSchema() *Schema {
	summary := fusionProp("summary", TypeString)
	summary.Multilingual = true
	return fusionSchema(
		fusionKeyProp("name", TypeString),
		fusionProp("ceo", TypeString),
		fusionProp("founded", TypeInteger),
		fusionObjectProp("hq", fusionProp("city", TypeString), fusionProp("country", TypeString)),
		summary,
	)
}

func TestWaterfallPending(t *testing.T) {
	all := []string{"ceo", "founded", "hq.city", "hq.country", "summary"} // name is in the input
	step := func(model string, asked []string, out string) WaterfallStep {
		s := WaterfallStep{Model: model, Asked: asked}
		if out != "" {
			s.Output = fusionObject(t, out)
		}
		return s
	}
	full := `{"name":"Acme","ceo":"Ann","founded":1999,"hq":{"city":"Oslo","country":"NO"},"summary":{"en":"A firm"}}`
	tests := []struct {
		name    string
		verify  []string
		steps   []WaterfallStep
		want    []string
		reasons map[string]string
	}{
		{"everything answered: stop", nil, []WaterfallStep{step("a", all, full)}, []string{}, map[string]string{}},
		{"nulls escalate, nested and multilingual too", nil,
			[]WaterfallStep{step("a", all, `{"ceo":null,"founded":1999,"hq":{"city":null,"country":"NO"},"summary":{"en":null}}`)},
			[]string{"ceo", "hq.city", "summary"},
			map[string]string{"ceo": WaterfallNull, "hq.city": WaterfallNull, "summary": WaterfallNull}},
		{"a failed run escalates every field it was asked", nil,
			[]WaterfallStep{step("a", all, "")},
			all, map[string]string{"ceo": WaterfallFailed, "founded": WaterfallFailed, "hq.city": WaterfallFailed,
				"hq.country": WaterfallFailed, "summary": WaterfallFailed}},
		{"second model fills the open fields; a field it was not asked stays settled", nil,
			[]WaterfallStep{
				step("a", all, `{"ceo":null,"founded":1999,"hq":{"city":"Oslo","country":"NO"},"summary":{"en":"x"}}`),
				step("b", []string{"ceo"}, `{"ceo":"Ann","founded":null}`),
			}, []string{}, map[string]string{}},
		{"null after failure: the reason is the last model's", nil,
			[]WaterfallStep{step("a", all, ""), step("b", all, `{"ceo":null,"founded":1,"hq":{"city":"x","country":"y"},"summary":{"en":"s"}}`)},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallNull}},
		{"failure after null", nil,
			[]WaterfallStep{step("a", all, `{"ceo":null,"founded":1,"hq":{"city":"x","country":"y"},"summary":{"en":"s"}}`), step("b", []string{"ceo"}, "")},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallFailed}},
		{"a verify field always needs a second model", []string{"ceo"},
			[]WaterfallStep{step("a", all, full)},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallUnverified}},
		{"two agreeing models settle it (case and spaces ignored)", []string{"ceo"},
			[]WaterfallStep{step("a", all, full), step("b", []string{"ceo"}, `{"ceo":" ann "}`)},
			[]string{}, map[string]string{}},
		{"two disagreeing models call a third", []string{"ceo", "founded"},
			[]WaterfallStep{step("a", all, full), step("b", []string{"ceo", "founded"}, `{"ceo":"Bob","founded":1999}`)},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallUnverified}},
		{"the third breaks the tie", []string{"ceo"},
			[]WaterfallStep{step("a", all, full), step("b", []string{"ceo"}, `{"ceo":"Bob"}`), step("c", []string{"ceo"}, `{"ceo":"Bob"}`)},
			[]string{}, map[string]string{}},
		{"three answers without agreement stop (arbiter or null)", []string{"ceo"},
			[]WaterfallStep{step("a", all, full), step("b", []string{"ceo"}, `{"ceo":"Bob"}`), step("c", []string{"ceo"}, `{"ceo":"Cy"}`)},
			[]string{}, map[string]string{}},
		{"a null does not count as an answer of a verify field", []string{"ceo"},
			[]WaterfallStep{step("a", all, full), step("b", []string{"ceo"}, `{"ceo":null}`), step("c", []string{"ceo"}, `{"ceo":"Bob"}`)},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallUnverified}},
		{"a verify field nobody answered is null", []string{"ceo"},
			[]WaterfallStep{step("a", all, `{"ceo":null,"founded":1,"hq":{"city":"x","country":"y"},"summary":{"en":"s"}}`)},
			[]string{"ceo"}, map[string]string{"ceo": WaterfallNull}},
		{"verify on a path that is not asked is ignored", []string{"name"},
			[]WaterfallStep{step("a", all, full)}, []string{}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := waterfallSchema()
			spec := NewAnswerSpec(s, map[string]any{"name": "Acme"}, "", nil)
			w := NewWaterfall(spec, tt.verify)
			require.Equal(t, all, w.Leaves())
			got, reasons := w.Pending(tt.steps)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.reasons, reasons)
		})
	}
}

func TestWaterfallRestrict(t *testing.T) {
	s := waterfallSchema()
	spec := NewAnswerSpec(s, map[string]any{"name": "Acme"}, "", []string{"en", "fr"})
	w := NewWaterfall(spec, nil)
	r := w.Restrict(spec, []string{"hq.city", "summary"})
	require.Equal(t, []string{"en", "fr"}, r.Languages)
	require.Len(t, r.Properties, 2)
	require.Equal(t, "hq", r.Properties[0].Name)
	require.Len(t, r.Properties[0].Properties, 1)
	require.Equal(t, "city", r.Properties[0].Properties[0].Name)
	require.Len(t, s.Root.Properties[3].Properties, 2, "the schema is not modified")
	require.Equal(t, "summary", r.Properties[1].Name)
	require.True(t, w.Restrict(spec, []string{}).Empty())
}

func TestSettleWaterfall(t *testing.T) {
	s := fusionSchema(fusionProp("ceo", TypeString), fusionProp("founded", TypeInteger), fusionProp("city", TypeString))
	spec := NewAnswerSpec(s, nil, "", nil)
	in := func(model string, price float64, out string) FusionInput {
		return FusionInput{Model: model, Price: price, Output: fusionObject(t, out)}
	}
	tests := []struct {
		name       string
		verify     []string
		arbiter    bool
		inputs     []FusionInput
		merged     string
		methods    map[string]string
		conflicts  []string // paths, with their resolution
		resolution []string
		unverified []string
	}{
		{"values of one model each are waterfall, nulls of unasked models no conflict", nil, false,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":null,"city":"Oslo"}`), in("b", 2, `{"ceo":null,"founded":1999,"city":null}`)},
			`{"ceo":"Ann","founded":1999,"city":"Oslo"}`,
			map[string]string{"ceo": ProvenanceWaterfall, "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{}, []string{}, []string{}},
		{"verified by two: unanimous", []string{"ceo"}, false,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":1,"city":"x"}`), in("b", 2, `{"ceo":"ann","founded":null,"city":null}`)},
			`{"ceo":"ann","founded":1,"city":"x"}`,
			map[string]string{"ceo": ProvenanceUnanimous, "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{}, []string{}, []string{}},
		{"verified by two of three: majority", []string{"ceo"}, false,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":1,"city":"x"}`), in("b", 2, `{"ceo":"Bob"}`), in("c", 3, `{"ceo":"Bob"}`)},
			`{"ceo":"Bob","founded":1,"city":"x"}`,
			map[string]string{"ceo": ProvenanceMajority, "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{"ceo"}, []string{ResolutionMajority}, []string{}},
		{"no agreement, no arbiter: null", []string{"ceo"}, false,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":1,"city":"x"}`), in("b", 2, `{"ceo":"Bob"}`)},
			`{"ceo":null,"founded":1,"city":"x"}`,
			map[string]string{"ceo": "", "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{"ceo"}, []string{ResolutionUnverified}, []string{"ceo"}},
		{"no agreement, arbiter: left to it", []string{"ceo"}, true,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":1,"city":"x"}`), in("b", 2, `{"ceo":"Bob"}`)},
			`{"ceo":"Bob","founded":1,"city":"x"}`,
			map[string]string{"ceo": ProvenanceRule, "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{"ceo"}, []string{ResolutionTieBreak}, []string{}},
		{"one answer of a verify field: null even with an arbiter", []string{"ceo"}, true,
			[]FusionInput{in("a", 1, `{"ceo":"Ann","founded":1,"city":"x"}`), in("b", 2, `{"ceo":null}`)},
			`{"ceo":null,"founded":1,"city":"x"}`,
			map[string]string{"ceo": "", "founded": ProvenanceWaterfall, "city": ProvenanceWaterfall},
			[]string{"ceo"}, []string{ResolutionUnverified}, []string{"ceo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWaterfall(spec, tt.verify)
			merged, report := Fuse(s, tt.inputs, nil)
			unverified := w.SettleWaterfall(merged, &report, tt.arbiter)
			require.Equal(t, fusionObject(t, tt.merged), merged)
			require.Equal(t, tt.unverified, unverified)
			for path, m := range tt.methods {
				p := report.Provenance[path]
				require.Equal(t, m, p.Method, path)
				if m == ProvenanceWaterfall {
					require.Equal(t, 0.5, p.Confidence, path)
					require.Len(t, p.Sources, 1, path)
				}
				if m == "" {
					require.Zero(t, p.Confidence, path)
					require.Empty(t, p.Sources, path)
				}
			}
			var paths, res []string
			for _, c := range report.Conflicts {
				paths, res = append(paths, c.Path), append(res, c.ResolutionMethod)
			}
			require.Equal(t, tt.conflicts, append([]string{}, paths...))
			require.Equal(t, tt.resolution, append([]string{}, res...))
			require.Equal(t, report.TotalFields, report.AgreedFields+report.ConflictedFields)
			require.Equal(t, len(report.Conflicts), report.ConflictedFields)
		})
	}
}

func TestCheckVerifyFields(t *testing.T) {
	s := waterfallSchema()
	require.Equal(t, []string{"name", "ceo", "founded", "hq.city", "hq.country", "summary"}, s.LeafPaths())
	tests := []struct {
		name     string
		strategy Strategy
		models   int
		fields   []string
		err      string
	}{
		{"none", StrategySinglePass, 1, nil, ""},
		{"ok", StrategyWaterfall, 2, []string{"ceo", "hq.city"}, ""},
		{"other strategy", StrategySinglePass, 2, []string{"ceo"}, "only the waterfall strategy"},
		{"object is no leaf", StrategyWaterfall, 2, []string{"hq"}, `verify_fields[0]: "hq" is not a leaf field`},
		{"unknown", StrategyWaterfall, 2, []string{"ceo", "cto"}, `verify_fields[1]: "cto" is not a leaf field of the schema (leaf fields: name, ceo`},
		{"twice", StrategyWaterfall, 2, []string{"ceo", "ceo"}, `verify_fields[1]: "ceo" is listed twice`},
		{"one model", StrategyWaterfall, 1, []string{"ceo"}, "give at least 2 models"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckVerifyOptions(tt.strategy, tt.models, tt.fields)
			if err == nil {
				err = CheckVerifyFields(s, tt.fields)
			}
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.True(t, IsKind(err, KindInvalid))
			require.ErrorContains(t, err, tt.err)
		})
	}
}
