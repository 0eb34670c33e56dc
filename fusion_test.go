package enricher

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// fusionValue decodes the JSON text doc as encoding/json does by default; "" is a missing value.
func fusionValue(t testing.TB, doc string) any {
	t.Helper()
	if doc == "" {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(doc), &v), doc)
	return v
}

// fusionObject decodes the JSON object doc.
func fusionObject(t testing.TB, doc string) map[string]any {
	t.Helper()
	m, ok := fusionValue(t, doc).(map[string]any)
	require.True(t, ok, "not an object: %s", doc)
	return m
}

// fusionSchema returns a schema whose root has props.
func fusionSchema(props ...*Property) *Schema {
	return &Schema{Root: EntityDefinition{Name: "Test", Properties: props}}
}

// fusionProp returns a nullable property of type typ.
func fusionProp(name string, typ Type) *Property {
	return &Property{Name: name, Type: typ, Nullable: true, Expertise: GeneralDomain}
}

// fusionObjectProp returns a nullable object property holding props.
func fusionObjectProp(name string, props ...*Property) *Property {
	p := fusionProp(name, TypeObject)
	p.Properties = props
	return p
}

// fusionArrayProp returns a nullable array property of items.
func fusionArrayProp(name string, items *Property) *Property {
	p := fusionProp(name, TypeArray)
	p.Items = items
	return p
}

// fusionKeyProp returns a nullable is_key property.
func fusionKeyProp(name string, typ Type) *Property {
	p := fusionProp(name, typ)
	p.IsKey = true
	return p
}

// fusionTextProp returns a nullable multilingual string property.
func fusionTextProp(name string) *Property {
	p := fusionProp(name, TypeString)
	p.Multilingual = true
	return p
}

// fusionCand is one model's value of a one-field schema in a table test.
type fusionCand struct {
	model string
	price float64
	value string // JSON text; "" when the model has no value (missing)
}

// fusionOneField fuses the value of field "v" (property p) given by cands, and returns the
// merged value and the report.
func fusionOneField(t *testing.T, p *Property, cands []fusionCand, langs []string) (any, ConflictReport) {
	t.Helper()
	p.Name = "v"
	inputs := make([]FusionInput, len(cands))
	for i, c := range cands {
		out := map[string]any{}
		if c.value != "" {
			out["v"] = fusionValue(t, c.value)
		}
		inputs[i] = FusionInput{Model: c.model, Price: c.price, Output: out}
	}
	merged, report := Fuse(fusionSchema(p), inputs, langs)
	require.Len(t, merged, 1)
	return merged["v"], report
}

// checkFusionLeaf checks the report of a one-field fusion: no conflict when method is "",
// otherwise one conflict resolved by method to want with every model's raw value.
func checkFusionLeaf(t *testing.T, cands []fusionCand, got any, report ConflictReport, want, method, fieldType string) {
	t.Helper()
	require.Equal(t, fusionValue(t, want), got, "merged value")
	require.Equal(t, 1, report.TotalFields)
	require.NotNil(t, report.Conflicts)
	if method == "" {
		require.Equal(t, 1, report.AgreedFields)
		require.Equal(t, 0, report.ConflictedFields)
		require.Empty(t, report.Conflicts)
		return
	}
	require.Equal(t, 0, report.AgreedFields)
	require.Equal(t, 1, report.ConflictedFields)
	require.Len(t, report.Conflicts, 1)
	c := report.Conflicts[0]
	require.Equal(t, "v", c.Path)
	require.Equal(t, fieldType, c.FieldType)
	require.Equal(t, method, c.ResolutionMethod)
	require.Equal(t, method == ResolutionLongest || method == ResolutionMedian || method == ResolutionTieBreak,
		c.NeedsArbitration)
	require.Equal(t, got, c.ResolvedValue)
	byModel := map[string]any{}
	for _, cand := range cands {
		byModel[cand.model] = fusionValue(t, cand.value)
	}
	require.Equal(t, byModel, c.ValuesByModel)
}

func TestFuseScalarRules(t *testing.T) {
	tests := []struct {
		name   string
		typ    Type
		cands  []fusionCand
		want   string // JSON text of the merged value; "" for null
		method string // "" when the models agree
	}{
		{
			name:  "strings agree after trimming, collapsing and lower-casing",
			typ:   TypeString,
			cands: []fusionCand{{"a", 1, `"  moderna   INC "`}, {"b", 2, `"Moderna Inc"`}},
			want:  `"Moderna Inc"`, // spelling of the pricier model
		},
		{
			name:   "accents are not normalised away",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"Stephane"`}, {"b", 1, `"Stéphane"`}},
			want:   `"Stephane"`,
			method: ResolutionTieBreak,
		},
		{
			name:  "numbers agree at 6 significant digits",
			typ:   TypeNumber,
			cands: []fusionCand{{"a", 2, `1234567`}, {"b", 1, `1234571`}},
			want:  `1234567`,
		},
		{
			name:  "floating point noise agrees",
			typ:   TypeNumber,
			cands: []fusionCand{{"a", 1, `0.30000000000000004`}, {"b", 2, `0.3`}},
			want:  `0.3`,
		},
		{
			name:  "negative zero is zero",
			typ:   TypeNumber,
			cands: []fusionCand{{"a", 2, `-0`}, {"b", 1, `0`}},
			want:  `0`,
		},
		{
			name:   "numbers differing at the 6th significant digit conflict",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 1, `1.00001`}, {"b", 1, `1.00003`}, {"c", 1, `1.00002`}},
			want:   `1.00002`,
			method: ResolutionMedian,
		},
		{
			name:  "booleans agree",
			typ:   TypeBoolean,
			cands: []fusionCand{{"a", 1, `false`}, {"b", 1, `false`}},
			want:  `false`,
		},
		{
			name:  "all null agrees, missing is null",
			typ:   TypeString,
			cands: []fusionCand{{"a", 1, `null`}, {"b", 1, ``}},
			want:  ``,
		},
		{
			name:   "null against a value is a conflict resolved non_null",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 9, `null`}, {"b", 1, `"Cambridge"`}},
			want:   `"Cambridge"`,
			method: ResolutionNonNull,
		},
		{
			name:   "missing against agreeing values is non_null",
			typ:    TypeInteger,
			cands:  []fusionCand{{"a", 1, `2010`}, {"b", 1, ``}, {"c", 1, `2010.0000001`}},
			want:   `2010`,
			method: ResolutionNonNull,
		},
		{
			name:   "majority",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 9, `"Boston"`}, {"b", 1, `"cambridge"`}, {"c", 2, `"Cambridge"`}},
			want:   `"Cambridge"`,
			method: ResolutionMajority,
		},
		{
			name:   "majority after nulls are dropped is not non_null",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `null`}, {"b", 1, `"x"`}, {"c", 1, `"x"`}, {"d", 9, `"yyyy"`}},
			want:   `"x"`,
			method: ResolutionMajority,
		},
		{
			name:   "majority of numbers",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 1, `1`}, {"b", 1, `5`}, {"c", 1, `5`}},
			want:   `5`,
			method: ResolutionMajority,
		},
		{
			name:   "majority of booleans",
			typ:    TypeBoolean,
			cands:  []fusionCand{{"a", 9, `true`}, {"b", 1, `false`}, {"c", 1, `false`}},
			want:   `false`,
			method: ResolutionMajority,
		},
		{
			name:   "longest string",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 9, `"IBM"`}, {"b", 1, `"International Business Machines"`}},
			want:   `"International Business Machines"`,
			method: ResolutionLongest,
		},
		{
			name:   "longest counts code points, not bytes",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"ééé"`}, {"b", 9, `"abcd"`}},
			want:   `"abcd"`,
			method: ResolutionLongest,
		},
		{
			name:   "longest ignores surrounding and repeated white space",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"  a   b  "`}, {"b", 9, `"abcd"`}},
			want:   `"abcd"`,
			method: ResolutionLongest,
		},
		{
			name:   "inner single spaces count",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"a b c"`}, {"b", 9, `"abcd"`}},
			want:   `"a b c"`,
			method: ResolutionLongest,
		},
		{
			name: "longest among the largest groups only",
			typ:  TypeString,
			cands: []fusionCand{{"a", 1, `"ab"`}, {"b", 1, `"ab"`}, {"c", 1, `"abcd"`}, {"d", 1, `"abcd"`},
				{"e", 9, `"abcdefgh"`}},
			want:   `"abcd"`,
			method: ResolutionLongest,
		},
		{
			name:   "equal length goes to the pricier model",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"abcd"`}, {"z", 2, `"wxyz"`}},
			want:   `"wxyz"`,
			method: ResolutionTieBreak,
		},
		{
			name:   "equal length and price goes to the first key",
			typ:    TypeString,
			cands:  []fusionCand{{"z", 2, `"wxyz"`}, {"a", 2, `"abcd"`}},
			want:   `"abcd"`,
			method: ResolutionTieBreak,
		},
		{
			name:   "tie among the longest only",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 9, `"ab"`}, {"b", 2, `"abcd"`}, {"c", 3, `"wxyz"`}},
			want:   `"wxyz"`,
			method: ResolutionTieBreak,
		},
		{
			name:   "median of an odd count",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 9, `100`}, {"b", 1, `1.5`}, {"c", 1, `3`}},
			want:   `3`,
			method: ResolutionMedian,
		},
		{
			name:   "median of an even count is the mean of the middle two",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 1, `42`}, {"b", 1, `45`}},
			want:   `43.5`,
			method: ResolutionMedian,
		},
		{
			name:   "median over all values when several groups are largest",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 1, `10`}, {"b", 1, `10`}, {"c", 1, `20`}, {"d", 1, `20`}, {"e", 1, `1000`}},
			want:   `20`,
			method: ResolutionMedian,
		},
		{
			name:   "median ignores nulls",
			typ:    TypeNumber,
			cands:  []fusionCand{{"a", 1, `1`}, {"b", 1, `null`}, {"c", 1, `4`}},
			want:   `2.5`,
			method: ResolutionMedian,
		},
		{
			name:   "integer median rounds half away from zero",
			typ:    TypeInteger,
			cands:  []fusionCand{{"a", 1, `2009`}, {"b", 1, `2010`}},
			want:   `2010`,
			method: ResolutionMedian,
		},
		{
			name:   "negative integer median rounds half away from zero",
			typ:    TypeInteger,
			cands:  []fusionCand{{"a", 1, `-1`}, {"b", 1, `-2`}},
			want:   `-2`,
			method: ResolutionMedian,
		},
		{
			name:   "integer median of four values",
			typ:    TypeInteger,
			cands:  []fusionCand{{"a", 1, `1`}, {"b", 1, `2`}, {"c", 1, `4`}, {"d", 1, `10`}},
			want:   `3`,
			method: ResolutionMedian,
		},
		{
			name:   "boolean tie is true",
			typ:    TypeBoolean,
			cands:  []fusionCand{{"a", 9, `false`}, {"b", 1, `true`}},
			want:   `true`,
			method: ResolutionTieBreak,
		},
		{
			name:   "mixed types tie goes to the pricier model",
			typ:    TypeString,
			cands:  []fusionCand{{"a", 1, `"abc"`}, {"b", 2, `7`}},
			want:   `7`,
			method: ResolutionTieBreak,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, report := fusionOneField(t, fusionProp("v", tt.typ), tt.cands, nil)
			checkFusionLeaf(t, tt.cands, got, report, tt.want, tt.method, FieldTypeScalar)
		})
	}
}

// TestFuseSpecExample reproduces the fusion of the example stream of the API documentation, field for field.
func TestFuseSpecExample(t *testing.T) {
	s := fusionSchema(fusionKeyProp("name", TypeString), fusionKeyProp("country", TypeString),
		fusionProp("founded_year", TypeInteger), fusionProp("ceo", TypeString))
	const (
		anthropic = "anthropic::claude-sonnet-4-5-20250514"
		openai    = "openai::gpt-4o"
	)
	inputs := []FusionInput{ // in completion order, as in the stream
		{Model: openai, Price: 2.5 + 10, Output: fusionObject(t,
			`{"name":"Moderna Inc","country":"US","founded_year":2010,"ceo":"Stephane Bancel"}`)},
		{Model: anthropic, Price: 3 + 15, Output: fusionObject(t,
			`{"name":"Moderna Inc","country":"US","founded_year":2010,"ceo":"Stéphane Bancel"}`)},
	}
	merged, report := Fuse(s, inputs, []string{"en"})

	gotMerged, err := json.Marshal(merged)
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"Moderna Inc","country":"US","founded_year":2010,"ceo":"Stéphane Bancel"}`,
		string(gotMerged))
	gotReport, err := json.Marshal(report)
	require.NoError(t, err)
	require.JSONEq(t, `{"total_fields":4,"agreed_fields":3,"conflicted_fields":1,"conflicts":[{"path":"ceo",
		"field_type":"scalar","needs_arbitration":true,"values_by_model":{
		"anthropic::claude-sonnet-4-5-20250514":"Stéphane Bancel","openai::gpt-4o":"Stephane Bancel"},
		"resolved_value":"Stéphane Bancel","resolution_method":"tie_break"}]}`, string(gotReport))
	require.Equal(t, []string{"ceo"}, report.Paths())
}

func TestFuseTieBreakOrder(t *testing.T) {
	tests := []struct {
		name   string
		prices map[string]float64
		want   string
	}{
		{name: "higher price wins", prices: map[string]float64{"a::x": 1, "b::y": 1.5, "c::z": 0}, want: "b::y"},
		{name: "equal price: first key wins", prices: map[string]float64{"c::z": 1, "b::y": 1, "a::x": 1}, want: "a::x"},
		{name: "price before key", prices: map[string]float64{"a::x": 1, "b::y": 1, "c::z": 1.01}, want: "c::z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inputs []FusionInput
			for model, price := range tt.prices {
				inputs = append(inputs, FusionInput{Model: model, Price: price,
					Output: map[string]any{"v": "value of " + model[:1]}})
			}
			for range 3 { // map order varies: the winner must not
				got, report := Fuse(fusionSchema(fusionProp("v", TypeString)), inputs, nil)
				require.Equal(t, "value of "+tt.want[:1], got["v"])
				require.Equal(t, ResolutionTieBreak, report.Conflicts[0].ResolutionMethod)
				inputs = append(inputs[1:], inputs[0])
			}
		})
	}
}

func TestApplyDecisions(t *testing.T) {
	s := fusionSchema(fusionProp("ceo", TypeString), fusionProp("revenue", TypeNumber),
		fusionObjectProp("hq", fusionProp("city", TypeString)))
	inputs := []FusionInput{
		{Model: "a", Price: 1, Output: fusionObject(t, `{"ceo":"Ann","revenue":1,"hq":{"city":"Paris"}}`)},
		{Model: "b", Price: 2, Output: fusionObject(t, `{"ceo":"Bob","revenue":2,"hq":{"city":"Lyon"}}`)},
	}
	merged, report := Fuse(s, inputs, nil)
	require.Equal(t, []string{"ceo", "revenue", "hq.city"}, report.Paths())
	require.Len(t, report.NeedingArbitration(), 3)

	ApplyDecisions(merged, &report, map[string]any{"ceo": "Ann", "hq.city": "Paris", "unknown": 1, "hq.zip": "x"})
	require.Equal(t, map[string]any{"ceo": "Ann", "revenue": 1.5, "hq": map[string]any{"city": "Paris"}}, merged)
	tests := []struct {
		path, method string
		value        any
	}{
		{"ceo", ResolutionLLM, "Ann"},
		{"revenue", ResolutionMedian, 1.5},
		{"hq.city", ResolutionLLM, "Paris"},
	}
	for i, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c := report.Conflicts[i]
			require.Equal(t, tt.path, c.Path)
			require.Equal(t, tt.method, c.ResolutionMethod)
			require.Equal(t, tt.value, c.ResolvedValue)
			require.True(t, c.NeedsArbitration)
		})
	}
	require.Equal(t, 3, report.ConflictedFields)

	ApplyDecisions(nil, &report, map[string]any{"ceo": "x"}) // no panic, no change
	ApplyDecisions(merged, nil, map[string]any{"ceo": "x"})
	require.Equal(t, "Ann", merged["ceo"])
}

func TestFuseEmptyInputs(t *testing.T) {
	s := fusionSchema(fusionProp("a", TypeString), fusionObjectProp("o", fusionProp("b", TypeNumber)),
		fusionTextProp("d"), fusionArrayProp("l", fusionProp("", TypeString)))
	tests := []struct {
		name   string
		inputs []FusionInput
	}{
		{name: "no inputs"},
		{name: "nil output", inputs: []FusionInput{{Model: "a"}, {Model: "b", Output: map[string]any{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, report := Fuse(s, tt.inputs, nil)
			require.Equal(t, map[string]any{"a": nil, "o": nil, "d": nil, "l": nil}, merged)
			require.Equal(t, ConflictReport{TotalFields: 4, AgreedFields: 4, Conflicts: []FieldConflict{}}, bareReport(report))
			b, err := json.Marshal(report)
			require.NoError(t, err)
			require.JSONEq(t, `{"total_fields":4,"agreed_fields":4,"conflicted_fields":0,"conflicts":[]}`, string(b))
		})
	}
}

// TestFuseDuplicateModelKeys checks the documented behaviour for inputs sharing a model key,
// which callers should avoid: the result is still independent of input order, and
// values_by_model shows the preferred input's value.
func TestFuseDuplicateModelKeys(t *testing.T) {
	s := fusionSchema(fusionProp("v", TypeString))
	inputs := []FusionInput{
		{Model: "m", Price: 1, Output: map[string]any{"v": "yy"}},
		{Model: "m", Price: 2, Output: map[string]any{"v": "x"}},
		{Model: "m", Price: 2, Output: map[string]any{"v": "zz"}},
	}
	for range len(inputs) {
		merged, report := Fuse(s, inputs, nil)
		require.Equal(t, map[string]any{"v": "zz"}, merged) // "yy" and "zz" tie on length; "zz" is pricier
		require.Len(t, report.Conflicts, 1)
		require.Equal(t, map[string]any{"m": "x"}, report.Conflicts[0].ValuesByModel)
		inputs = append(inputs[1:], inputs[0])
	}
}
