package enricher

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fusionFuzzSchema has one leaf of every kind, 12 leaves in all: name, country, ceo, founded,
// revenue, listed, description, hq.city, hq.geo.lat, tags, scores, subs.
func fusionFuzzSchema() *Schema {
	return fusionSchema(
		fusionKeyProp("name", TypeString),
		fusionKeyProp("country", TypeString),
		fusionProp("ceo", TypeString),
		fusionProp("founded", TypeInteger),
		fusionProp("revenue", TypeNumber),
		fusionProp("listed", TypeBoolean),
		fusionTextProp("description"),
		fusionObjectProp("hq", fusionProp("city", TypeString),
			fusionObjectProp("geo", fusionProp("lat", TypeNumber))),
		fusionArrayProp("tags", fusionProp("", TypeString)),
		fusionArrayProp("scores", fusionProp("", TypeNumber)),
		fusionArrayProp("subs", fusionSubsidiary()),
	)
}

// fusionFuzzScalarPaths are the scalar leaves of fusionFuzzSchema.
var fusionFuzzScalarPaths = []string{"name", "country", "ceo", "founded", "revenue", "listed", "hq.city", "hq.geo.lat"}

// fusionFuzzLeafPaths are all the leaves of fusionFuzzSchema, in schema order.
var fusionFuzzLeafPaths = []string{"name", "country", "ceo", "founded", "revenue", "listed", "description",
	"hq.city", "hq.geo.lat", "tags", "scores", "subs"}

// fusionFuzzSource draws choices from fuzz data, then from a generator seeded by it.
type fusionFuzzSource struct {
	data  []byte
	state uint64
}

func newFusionFuzzSource(data []byte) *fusionFuzzSource {
	s := &fusionFuzzSource{data: data, state: 0x9e3779b97f4a7c15}
	for _, b := range data {
		s.state = (s.state ^ uint64(b)) * 0x100000001b3
	}
	return s
}

// pick returns a choice in [0, n).
func (s *fusionFuzzSource) pick(n int) int {
	if len(s.data) > 0 {
		b := s.data[0]
		s.data = s.data[1:]
		return int(b) % n
	}
	s.state = s.state*6364136223846793005 + 1442695040888963407
	return int(s.state>>33) % n
}

// Value pools: spellings that normalise equally, differ by accent only, tie on length.
var (
	fusionFuzzStrings  = []any{"Moderna", "moderna ", "Stéphane", "Stephane", "ab", "wxyz", "  A  b ", "a b", nil}
	fusionFuzzIntegers = []any{1.0, 2.0, 2010.0, -3.0, 0.0, nil}
	fusionFuzzNumbers  = []any{1.5, 2.0, 1234567.0, 1234568.0, -0.25, 0.0, nil}
	fusionFuzzBools    = []any{true, false, nil}
	// Item pools: each row holds spellings of one identity; rows differ after normalisation.
	fusionFuzzTags   = [][]any{{"alpha", "Alpha "}, {"Beta", "beta"}, {"gamma d", "gamma  D"}, {"δelta", "Δelta"}}
	fusionFuzzScores = [][]any{{1.0, 1.0000001}, {2.5, 2.5}, {1e6, 1000000.4}, {7.0, 7.0}}
	fusionFuzzSubs   = [][]any{{"ModernaTX", "modernatx"}, {"Spain", "SPAIN"}, {"Japan", "japan "}}
)

// output returns a generated output in the shape of the output assembly; with sparse set some
// properties may be missing.
func (s *fusionFuzzSource) output(langs []string, sparse bool) map[string]any {
	out := map[string]any{
		"name":        fusionFuzzStrings[s.pick(len(fusionFuzzStrings))],
		"country":     fusionFuzzStrings[s.pick(len(fusionFuzzStrings))],
		"ceo":         fusionFuzzStrings[s.pick(len(fusionFuzzStrings))],
		"founded":     fusionFuzzIntegers[s.pick(len(fusionFuzzIntegers))],
		"revenue":     fusionFuzzNumbers[s.pick(len(fusionFuzzNumbers))],
		"listed":      fusionFuzzBools[s.pick(len(fusionFuzzBools))],
		"description": nil,
		"hq":          nil,
		"tags":        s.items(fusionFuzzTags, func(v any) any { return v }),
		"scores":      s.items(fusionFuzzScores, func(v any) any { return v }),
		"subs": s.items(fusionFuzzSubs, func(v any) any {
			return map[string]any{
				"name":    v,
				"country": fusionFuzzStrings[s.pick(len(fusionFuzzStrings))],
				"pct":     fusionFuzzNumbers[s.pick(len(fusionFuzzNumbers))],
			}
		}),
	}
	if s.pick(4) > 0 {
		d := map[string]any{}
		for _, l := range langs {
			d[l] = fusionFuzzStrings[s.pick(len(fusionFuzzStrings))]
		}
		out["description"] = d
	}
	if s.pick(4) > 0 {
		hq := map[string]any{"city": fusionFuzzStrings[s.pick(len(fusionFuzzStrings))], "geo": nil}
		if s.pick(2) > 0 {
			hq["geo"] = map[string]any{"lat": fusionFuzzNumbers[s.pick(len(fusionFuzzNumbers))]}
		}
		out["hq"] = hq
	}
	if sparse {
		for _, k := range fusionFuzzLeafPaths {
			if s.pick(6) == 0 {
				delete(out, strings.Split(k, ".")[0])
			}
		}
	}
	return out
}

// items returns null or an array of distinct identities of pool in a generated order, each in
// one of its spellings and made by item.
func (s *fusionFuzzSource) items(pool [][]any, item func(any) any) any {
	if s.pick(5) == 0 {
		return nil
	}
	var out []any
	for _, i := range s.order(len(pool)) {
		if s.pick(2) == 0 {
			row := pool[i]
			out = append(out, item(row[s.pick(len(row))]))
		}
	}
	if out == nil {
		out = []any{}
	}
	return out
}

// order returns a generated permutation of 0..n-1.
func (s *fusionFuzzSource) order(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := s.pick(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// inputs returns 1..4 inputs with distinct model keys and prices that often tie.
func (s *fusionFuzzSource) inputs(langs []string, sparse bool) []FusionInput {
	prices := []float64{0, 1, 1, 2.5}
	n := 1 + s.pick(4)
	in := make([]FusionInput, n)
	for i := range in {
		in[i] = FusionInput{
			Model:  fmt.Sprintf("p::m%d", s.pick(100)*10+i),
			Price:  prices[s.pick(len(prices))],
			Output: s.output(langs, sparse),
		}
	}
	return in
}

// fusionFuzzAt returns the value at the dot path in m, nil when absent.
func fusionFuzzAt(m map[string]any, path string) any {
	var v any = m
	for name := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[name]
	}
	return v
}

// fusionFuzzNorm normalises a string independently of the code under test.
func fusionFuzzNorm(v any) string {
	return strings.ToLower(strings.Join(strings.Fields(fmt.Sprint(v)), " "))
}

// FuzzFuse checks the invariants of Fuse on generated outputs: fusing an output with itself is
// the identity without conflicts; permuting the inputs changes nothing; no scalar value is
// invented except by a median; array unions hold every identity exactly once; the report is
// consistent with the schema and the merged result.
func FuzzFuse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("Stéphane Bancel"))
	for seed := range 12 {
		f.Add([]byte{byte(seed), byte(seed * 37), byte(seed * 101), 3})
	}
	s := fusionFuzzSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		src := newFusionFuzzSource(data)
		langs := [][]string{{"en"}, {"en", "fr"}}[src.pick(2)]

		// Identity: one output, alone or with copies under other keys and prices.
		one := src.output(langs, false)
		copies := make([]FusionInput, 1+src.pick(4))
		for i := range copies {
			copies[i] = FusionInput{Model: fmt.Sprintf("c::%d", i), Price: float64(src.pick(3)), Output: one}
		}
		for n := 1; n <= len(copies); n++ {
			merged, report := Fuse(s, copies[:n], langs)
			require.Equal(t, one, merged, "identity with %d copies", n)
			require.Equal(t, ConflictReport{TotalFields: 12, AgreedFields: 12, Conflicts: []FieldConflict{}}, bareReport(report))
			for path, p := range report.Provenance {
				if p.Method == "" {
					continue
				}
				want := ProvenanceUnanimous
				if n == 1 {
					want = ProvenanceSingle
				}
				require.Equal(t, want, p.Method, path)
				require.Len(t, p.Sources, n, path)
			}
		}

		// Permutations.
		inputs := src.inputs(langs, src.pick(2) == 0)
		merged, report := Fuse(s, inputs, langs)
		for range 3 {
			perm := src.order(len(inputs))
			shuffled := make([]FusionInput, len(inputs))
			for i, j := range perm {
				shuffled[i] = inputs[j]
			}
			m2, r2 := Fuse(s, shuffled, langs)
			require.Equal(t, merged, m2)
			require.Equal(t, report, r2)
		}

		checkFusionFuzzReport(t, inputs, merged, report)
		checkFusionFuzzScalars(t, inputs, merged, report)
		checkFusionFuzzUnion(t, inputs, merged, "tags")
	})
}

// checkFusionFuzzReport checks the report's counts, order and consistency with merged.
func checkFusionFuzzReport(t *testing.T, inputs []FusionInput, merged map[string]any, report ConflictReport) {
	t.Helper()
	require.Equal(t, 12, report.TotalFields)
	require.Equal(t, report.TotalFields, report.AgreedFields+report.ConflictedFields)
	require.Len(t, report.Conflicts, report.ConflictedFields)
	last := -1
	for _, c := range report.Conflicts {
		i := slices.Index(fusionFuzzLeafPaths, c.Path)
		require.Greater(t, i, last, "conflicts in schema order: %s", c.Path)
		last = i
		require.Equal(t, fusionFuzzAt(merged, c.Path), c.ResolvedValue, c.Path)
		require.Equal(t, c.ResolutionMethod == ResolutionLongest || c.ResolutionMethod == ResolutionMedian ||
			c.ResolutionMethod == ResolutionTieBreak, c.NeedsArbitration, c.Path)
		require.Len(t, c.ValuesByModel, len(inputs))
		for _, in := range inputs {
			require.Equal(t, fusionFuzzAt(in.Output, c.Path), c.ValuesByModel[in.Model], c.Path)
		}
	}
}

// checkFusionFuzzScalars checks that every non-null scalar leaf of merged is a value some
// model gave, unless it is a median, and that a leaf agreed by every model holds their value.
func checkFusionFuzzScalars(t *testing.T, inputs []FusionInput, merged map[string]any, report ConflictReport) {
	t.Helper()
	for _, path := range fusionFuzzScalarPaths {
		got := fusionFuzzAt(merged, path)
		method := ""
		for _, c := range report.Conflicts {
			if c.Path == path {
				method = c.ResolutionMethod
			}
		}
		if got == nil || method == ResolutionMedian {
			continue
		}
		given := false
		for _, in := range inputs {
			given = given || reflect.DeepEqual(fusionFuzzAt(in.Output, path), got)
		}
		require.True(t, given, "%s = %v was given by no model (method %q)", path, got, method)
	}
}

// checkFusionFuzzUnion checks that the merged array of strings at path holds each normalised
// value of the inputs' arrays exactly once.
func checkFusionFuzzUnion(t *testing.T, inputs []FusionInput, merged map[string]any, path string) {
	t.Helper()
	want := map[string]bool{}
	anyArray := false
	for _, in := range inputs {
		items, ok := fusionFuzzAt(in.Output, path).([]any)
		anyArray = anyArray || ok
		for _, item := range items {
			want[fusionFuzzNorm(item)] = true
		}
	}
	got, ok := fusionFuzzAt(merged, path).([]any)
	require.Equal(t, anyArray, ok, "%s is an array when some input has one", path)
	seen := map[string]bool{}
	for _, item := range got {
		n := fusionFuzzNorm(item)
		require.False(t, seen[n], "%s holds %q twice", path, n)
		seen[n] = true
	}
	require.Equal(t, want, seen)
}
