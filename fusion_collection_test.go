package enricher

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFuseMultilingual(t *testing.T) {
	tests := []struct {
		name   string
		langs  []string
		cands  []fusionCand
		want   string
		method string // "" when the models agree
	}{
		{
			name:  "every language agrees after normalisation",
			langs: []string{"en", "fr"},
			cands: []fusionCand{{"a", 2, `{"en":"Biotech Co","fr":"Société"}`}, {"b", 1, `{"en":" biotech  co","fr":"SOCIÉTÉ"}`}},
			want:  `{"en":"Biotech Co","fr":"Société"}`,
		},
		{
			name:   "one language differs: its method",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 2, `{"en":"Biotech","fr":"Biotech"}`}, {"b", 1, `{"en":"biotech","fr":"Biotech SA"}`}},
			want:   `{"en":"Biotech","fr":"Biotech SA"}`,
			method: ResolutionLongest,
		},
		{
			name:   "tie_break is less clear than longest",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 1, `{"en":"abcd","fr":"court"}`}, {"b", 2, `{"en":"wxyz","fr":"plus long"}`}},
			want:   `{"en":"wxyz","fr":"plus long"}`,
			method: ResolutionTieBreak,
		},
		{
			name:   "longest is less clear than non_null",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 1, `{"en":null,"fr":"court"}`}, {"b", 2, `{"en":"x","fr":"plus long"}`}},
			want:   `{"en":"x","fr":"plus long"}`,
			method: ResolutionLongest,
		},
		{
			name:   "non_null is less clear than majority",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 1, `{"en":null,"fr":"x"}`}, {"b", 1, `{"en":"y","fr":"x"}`}, {"c", 1, `{"en":"y","fr":"z"}`}},
			want:   `{"en":"y","fr":"x"}`,
			method: ResolutionNonNull,
		},
		{
			name:   "majority per language",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 9, `{"en":"p","fr":"x"}`}, {"b", 1, `{"en":"q","fr":"x"}`}, {"c", 1, `{"en":"q","fr":"x"}`}},
			want:   `{"en":"q","fr":"x"}`,
			method: ResolutionMajority,
		},
		{
			name:   "null field against an object",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 9, `null`}, {"b", 1, `{"en":"x","fr":"y"}`}},
			want:   `{"en":"x","fr":"y"}`,
			method: ResolutionNonNull,
		},
		{
			name:   "a missing language is null",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 9, `{"en":"x"}`}, {"b", 1, `{"en":"x","fr":"y"}`}},
			want:   `{"en":"x","fr":"y"}`,
			method: ResolutionNonNull,
		},
		{
			name:   "a value that is not an object counts as null",
			langs:  []string{"en", "fr"},
			cands:  []fusionCand{{"a", 9, `"plain"`}, {"b", 1, `{"en":"x","fr":"y"}`}},
			want:   `{"en":"x","fr":"y"}`,
			method: ResolutionNonNull,
		},
		{
			name:  "languages outside the list are ignored",
			langs: []string{"en"},
			cands: []fusionCand{{"a", 1, `{"en":"x","de":"eins"}`}, {"b", 1, `{"en":"x","de":"zwei"}`}},
			want:  `{"en":"x"}`,
		},
		{
			name:  "all null stays null",
			langs: []string{"en", "fr"},
			cands: []fusionCand{{"a", 1, `null`}, {"b", 1, ``}},
			want:  ``,
		},
		{
			name:  "an object of nulls agrees with null and stays an object",
			langs: []string{"en", "fr"},
			cands: []fusionCand{{"a", 1, `null`}, {"b", 1, `{"en":null,"fr":null}`}},
			want:  `{"en":null,"fr":null}`,
		},
		{
			name:   "no languages means en",
			cands:  []fusionCand{{"a", 1, `{"en":"x","fr":"y"}`}, {"b", 1, `{"en":"xx","fr":"y"}`}},
			want:   `{"en":"xx"}`,
			method: ResolutionLongest,
		},
		{
			name:   "duplicate languages count once",
			langs:  []string{"fr", "en", "fr"},
			cands:  []fusionCand{{"a", 1, `{"en":"x","fr":"y"}`}, {"b", 1, `{"en":"x","fr":null}`}},
			want:   `{"en":"x","fr":"y"}`,
			method: ResolutionNonNull,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, report := fusionOneField(t, fusionTextProp("v"), tt.cands, tt.langs)
			checkFusionLeaf(t, tt.cands, got, report, tt.want, tt.method, FieldTypeMultilingual)
		})
	}
}

func TestFuseMultilingualArray(t *testing.T) {
	p := fusionArrayProp("v", fusionProp("", TypeString))
	p.Multilingual = true
	cands := []fusionCand{
		{"a", 2, `{"en":["vaccines"],"fr":["vaccins"]}`},
		{"b", 1, `{"en":["Vaccines","therapeutics"],"fr":["vaccins"]}`},
	}
	got, report := fusionOneField(t, p, cands, []string{"en", "fr"})
	checkFusionLeaf(t, cands, got, report, `{"en":["vaccines","therapeutics"],"fr":["vaccins"]}`,
		ResolutionUnion, FieldTypeMultilingual)
}

// fusionSubsidiary is an array item type with a key field.
func fusionSubsidiary() *Property {
	return fusionObjectProp("", fusionKeyProp("name", TypeString), fusionProp("country", TypeString),
		fusionProp("pct", TypeNumber))
}

func TestFuseArrays(t *testing.T) {
	strs := func() *Property { return fusionProp("", TypeString) }
	tests := []struct {
		name   string
		items  *Property
		cands  []fusionCand
		want   string
		method string // "" when the models agree
	}{
		{
			name:  "same set in another order agrees; order of the preferred model",
			items: strs(),
			cands: []fusionCand{{"a", 2, `["x","y"]`}, {"b", 1, `["Y ","x"]`}},
			want:  `["x","y"]`,
		},
		{
			name:  "duplicates within one array collapse",
			items: strs(),
			cands: []fusionCand{{"a", 2, `["x","X"," x"]`}, {"b", 1, `["x"]`}},
			want:  `["x"]`,
		},
		{
			name:  "number items compare at 6 significant digits",
			items: fusionProp("", TypeNumber),
			cands: []fusionCand{{"a", 1, `[1.0000001, 2]`}, {"b", 2, `[2, 1]`}},
			want:  `[2, 1]`,
		},
		{
			name:   "union in order of the first contributor, new items appended",
			items:  strs(),
			cands:  []fusionCand{{"a", 2, `["b","a"]`}, {"b", 1, `["A","c"]`}, {"c", 1, `["d","c"]`}},
			want:   `["b","a","c","d"]`,
			method: ResolutionUnion,
		},
		{
			name:   "null against an array",
			items:  strs(),
			cands:  []fusionCand{{"a", 9, `null`}, {"b", 1, `["x"]`}},
			want:   `["x"]`,
			method: ResolutionNonNull,
		},
		{
			name:   "null against agreeing arrays",
			items:  strs(),
			cands:  []fusionCand{{"a", 9, ``}, {"b", 1, `["x","y"]`}, {"c", 2, `["y","x"]`}},
			want:   `["y","x"]`,
			method: ResolutionNonNull,
		},
		{
			name:   "null against disagreeing arrays",
			items:  strs(),
			cands:  []fusionCand{{"a", 9, `null`}, {"b", 1, `["x"]`}, {"c", 2, `["y"]`}},
			want:   `["y","x"]`,
			method: ResolutionUnion,
		},
		{
			name:   "empty array is a value",
			items:  strs(),
			cands:  []fusionCand{{"a", 1, `[]`}, {"b", 1, `null`}},
			want:   `[]`,
			method: ResolutionNonNull,
		},
		{
			name:   "empty array against items",
			items:  strs(),
			cands:  []fusionCand{{"a", 9, `[]`}, {"b", 1, `["x"]`}},
			want:   `["x"]`,
			method: ResolutionUnion,
		},
		{
			name:  "a value that is not an array counts as null",
			items: strs(),
			cands: []fusionCand{{"a", 9, `"x"`}, {"b", 1, `null`}},
			want:  ``,
		},
		{
			name:  "objects by key",
			items: fusionSubsidiary(),
			cands: []fusionCand{
				{"a", 2, `[{"name":"ModernaTX","country":"US","pct":100},{"name":"Moderna Spain","country":null,"pct":99.5}]`},
				{"b", 1, `[{"name":"modernatx ","country":"US","pct":90},{"name":"Moderna Japan","country":"JP","pct":100}]`},
			},
			want: `[{"name":"ModernaTX","country":"US","pct":95},{"name":"Moderna Spain","country":null,"pct":99.5},
				{"name":"Moderna Japan","country":"JP","pct":100}]`,
			method: ResolutionUnion,
		},
		{
			name:  "objects with equal keys merge field by field",
			items: fusionSubsidiary(),
			cands: []fusionCand{
				{"a", 1, `[{"name":"X","country":null,"pct":1},{"name":"Y"}]`},
				{"b", 2, `[{"name":"y","country":"FR"},{"name":"x","country":"US","pct":3}]`},
				{"c", 1, `[{"name":"X","country":"US","pct":5}]`},
			},
			want:   `[{"name":"y","country":"FR","pct":null},{"name":"x","country":"US","pct":3}]`,
			method: ResolutionUnion,
		},
		{
			name:  "objects with equal keys agree even when other fields differ",
			items: fusionSubsidiary(),
			cands: []fusionCand{{"a", 1, `[{"name":"X","pct":1}]`}, {"b", 1, `[{"name":"x","pct":2}]`}},
			want:  `[{"name":"X","country":null,"pct":1.5}]`,
		},
		{
			name:   "objects without a key value compare whole",
			items:  fusionSubsidiary(),
			cands:  []fusionCand{{"a", 2, `[{"name":null,"pct":1},{"name":" ","pct":2}]`}, {"b", 1, `[{"pct":1},{"pct":3}]`}},
			want:   `[{"name":null,"country":null,"pct":1},{"name":" ","country":null,"pct":2},{"name":null,"country":null,"pct":3}]`,
			method: ResolutionUnion,
		},
		{
			name:   "objects of a type without key fields compare whole",
			items:  fusionObjectProp("", fusionProp("city", TypeString), fusionProp("role", TypeString)),
			cands:  []fusionCand{{"a", 2, `[{"city":"Paris","role":"HQ"}]`}, {"b", 1, `[{"city":" paris","role":"hq"},{"city":"Lyon"}]`}},
			want:   `[{"city":"Paris","role":"HQ"},{"city":"Lyon","role":null}]`,
			method: ResolutionUnion,
		},
		{
			name:   "nested arrays in items merge as unions",
			items:  fusionObjectProp("", fusionKeyProp("name", TypeString), fusionArrayProp("tags", fusionProp("", TypeString))),
			cands:  []fusionCand{{"a", 2, `[{"name":"X","tags":["a"]}]`}, {"b", 1, `[{"name":"X","tags":["b","a"]},{"name":"Z","tags":null}]`}},
			want:   `[{"name":"X","tags":["a","b"]},{"name":"Z","tags":null}]`,
			method: ResolutionUnion,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, report := fusionOneField(t, fusionArrayProp("v", tt.items), tt.cands, nil)
			checkFusionLeaf(t, tt.cands, got, report, tt.want, tt.method, FieldTypeArray)
		})
	}
}

func TestFuseObjects(t *testing.T) {
	s := fusionSchema(
		fusionProp("a", TypeString),
		fusionObjectProp("hq", fusionProp("city", TypeString), fusionProp("country", TypeString),
			fusionObjectProp("geo", fusionProp("lat", TypeNumber))),
		fusionProp("z", TypeBoolean))
	tests := []struct {
		name      string
		outputs   []string // models m0, m1, … at equal price
		want      string
		conflicts []string // paths, in order
	}{
		{
			name:      "leaves of nested objects have dot paths, in schema order",
			outputs:   []string{`{"a":"x","hq":{"city":"Boston","geo":{"lat":1}},"z":true}`, `{"a":"y","hq":{"city":"Cambridge","geo":{"lat":2}},"z":false}`},
			want:      `{"a":"x","hq":{"city":"Cambridge","country":null,"geo":{"lat":1.5}},"z":true}`,
			conflicts: []string{"a", "hq.city", "hq.geo.lat", "z"},
		},
		{
			name:      "null object against an object",
			outputs:   []string{`{"hq":null}`, `{"hq":{"city":"Cambridge","country":"US","geo":null}}`},
			want:      `{"a":null,"hq":{"city":"Cambridge","country":"US","geo":null},"z":null}`,
			conflicts: []string{"hq.city", "hq.country"},
		},
		{
			name:    "an object no model gave is null",
			outputs: []string{`{"a":"x"}`, `{"a":"x","hq":null}`},
			want:    `{"a":"x","hq":null,"z":null}`,
		},
		{
			name:    "an empty object given by one model is an object of nulls",
			outputs: []string{`{"hq":{}}`, `{"hq":null}`},
			want:    `{"a":null,"hq":{"city":null,"country":null,"geo":null},"z":null}`,
		},
		{
			name:    "fields outside the schema are dropped",
			outputs: []string{`{"a":"x","extra":1,"hq":{"zip":"02139"}}`, `{"a":"x"}`},
			want:    `{"a":"x","hq":{"city":null,"country":null,"geo":null},"z":null}`,
		},
		{
			name:      "an object field that is not an object counts as null",
			outputs:   []string{`{"hq":"Cambridge"}`, `{"hq":{"city":"Cambridge"}}`},
			want:      `{"a":null,"hq":{"city":"Cambridge","country":null,"geo":null},"z":null}`,
			conflicts: []string{"hq.city"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inputs := make([]FusionInput, len(tt.outputs))
			for i, out := range tt.outputs {
				inputs[i] = FusionInput{Model: "m" + string(rune('0'+i)), Output: fusionObject(t, out)}
			}
			merged, report := Fuse(s, inputs, nil)
			require.Equal(t, fusionObject(t, tt.want), merged)
			require.Equal(t, 5, report.TotalFields, "a, hq.city, hq.country, hq.geo.lat, z")
			require.Equal(t, len(tt.conflicts), report.ConflictedFields)
			require.Equal(t, 5-len(tt.conflicts), report.AgreedFields)
			if tt.conflicts == nil {
				tt.conflicts = []string{}
			}
			require.Equal(t, tt.conflicts, report.Paths())
		})
	}
}

// TestFuseOwnership checks that merged and the report share nothing mutable with the inputs.
func TestFuseOwnership(t *testing.T) {
	s := fusionSchema(fusionArrayProp("subs", fusionSubsidiary()), fusionTextProp("d"),
		fusionArrayProp("tags", fusionProp("", TypeString)))
	a := `{"subs":[{"name":"X","country":"US","pct":1}],"d":{"en":"x"},"tags":["t"]}`
	b := `{"subs":[{"name":"Y","country":"FR","pct":2}],"d":{"en":"y"},"tags":["u"]}`
	inputs := []FusionInput{{Model: "a", Output: fusionObject(t, a)}, {Model: "b", Output: fusionObject(t, b)}}
	merged, report := Fuse(s, inputs, nil)
	require.Len(t, report.Conflicts, 3)

	merged["subs"].([]any)[0].(map[string]any)["name"] = "changed"
	merged["d"].(map[string]any)["en"] = "changed"
	merged["tags"].([]any)[0] = "changed"
	for _, c := range report.Conflicts {
		for _, v := range c.ValuesByModel {
			switch x := v.(type) {
			case []any:
				x[0] = "changed"
			case map[string]any:
				x["en"] = "changed"
			}
		}
	}
	for i, want := range []string{a, b} {
		got, err := json.Marshal(inputs[i].Output)
		require.NoError(t, err)
		require.JSONEq(t, want, string(got))
	}
}
