package enricher

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FusionInput is one model's successful output for one entity, as fed to Fuse.
type FusionInput struct {
	Model  string         // model key, e.g. "openai::gpt-4o"; distinct across one Fuse call
	Price  float64        // input_price + output_price of the model, for tie-breaks
	Output map[string]any // the model's structured output (the assembled output shape), JSON-decoded; not modified
}

// FieldConflict is one leaf on which the fused models disagree.
// ValuesByModel holds each model's raw value (null when the model had none), deep-copied from
// the inputs; ResolvedValue is the value held at Path in the merged result (shared with it).
type FieldConflict struct {
	Path             string         `json:"path"`
	FieldType        string         `json:"field_type"` // FieldTypeScalar, FieldTypeMultilingual or FieldTypeArray
	NeedsArbitration bool           `json:"needs_arbitration"`
	ValuesByModel    map[string]any `json:"values_by_model"`
	ResolvedValue    any            `json:"resolved_value"`
	ResolutionMethod string         `json:"resolution_method"` // one of the Resolution constants
}

// ConflictReport is the audit trail of one fusion. TotalFields counts
// the schema's leaves, so it depends only on the schema; AgreedFields + ConflictedFields =
// TotalFields; Conflicts lists the conflicted leaves only, in schema order, and is never nil.
type ConflictReport struct {
	TotalFields      int             `json:"total_fields"`
	AgreedFields     int             `json:"agreed_fields"`
	ConflictedFields int             `json:"conflicted_fields"`
	Conflicts        []FieldConflict `json:"conflicts"`
	// Provenance holds the provenance of every leaf outside arrays, keyed by its path. It is
	// not part of the report's JSON (records and results carry it as field_provenance); a
	// report decoded from JSON has none.
	Provenance map[string]FieldProvenance `json:"-"`
	// models are the fused models in preference order, for ApplyDecisions.
	models []string
}

// The field types of a FieldConflict.
const (
	FieldTypeScalar       = "scalar"
	FieldTypeMultilingual = "multilingual"
	FieldTypeArray        = "array"
)

// The resolution methods of a FieldConflict.
const (
	ResolutionMajority = "majority"  // one largest group of equal values
	ResolutionNonNull  = "non_null"  // nulls dropped, the other values agree
	ResolutionLongest  = "longest"   // strings, several largest groups: the longest value
	ResolutionMedian   = "median"    // numbers, no single largest group: the median
	ResolutionTieBreak = "tie_break" // price, then model key, decided
	ResolutionUnion    = "union"     // arrays: deduplicated union
	ResolutionLLM      = "llm"       // replaced by an arbiter's decision (ApplyDecisions)
	// ResolutionUnverified: a verify field of the waterfall without two agreeing models and
	// without an arbiter's decision: null (SettleWaterfall).
	ResolutionUnverified = "unverified"
)

// fusionDefaultLanguage is the language of multilingual fields when Fuse gets no languages; it
// matches the output assembly's default.
const fusionDefaultLanguage = "en"

// Fuse merges the outputs of several models for one entity into one result with a conflict
// report: it detects the leaves on which the models disagree and merges each by the rules below.
//
// Leaves are scalar, multilingual and array properties; object properties are not leaves, their
// properties are compared one by one under a dot-notation path ("headquarters.city"). Null and
// missing are the same; a value of the wrong shape for its property (an object field that is
// not a JSON object, an array field that is not an array, a multilingual field that is not an
// object keyed by language) counts as null. Scalars are compared by their JSON type: a string
// in a number field is compared as a string.
//
// Ties are broken by a preference order over the inputs: higher Price first, then the model key
// first in byte order. The same order picks the exact spelling that represents a group of equal
// normalised values, and is the contributor order of array unions, so the result does not
// depend on the order of inputs. Inputs sharing a model key should not happen; if they do,
// values_by_model shows the preferred one's value.
//
// Shape of merged: it holds every root property, null when unknown. An object property is null
// when no input holds an object there (every model gave null or nothing); otherwise it is an
// object holding every one of its properties, recursively. A multilingual property is null
// when no input holds an object there; otherwise it is an object keyed by exactly the requested
// languages, each null when unknown. Languages outside the list are ignored; an empty list means
// ["en"]. Arrays hold the union of the inputs' arrays, their object items shaped like objects.
// This is the shape of the output assembly, so fusing one output with itself returns it
// unchanged.
//
// The numbers of the report (total, agreed, conflicted) count the schema's leaves outside
// arrays; array items are merged but not counted. merged shares nothing mutable with inputs;
// the conflicts' ResolvedValue share with merged. s must be a parsed schema, not nil; inputs
// are only read, so Fuse is safe for concurrent use on shared inputs.
func Fuse(s *Schema, inputs []FusionInput, languages []string) (merged map[string]any, report ConflictReport) {
	order := slices.Clone(inputs)
	slices.SortStableFunc(order, compareFusionInputs)
	f := fuser{
		langs:  fusionLanguages(languages),
		models: make([]string, len(order)),
		report: ConflictReport{Conflicts: []FieldConflict{}, Provenance: map[string]FieldProvenance{}},
	}
	roots := make([]any, len(order))
	for i, in := range order {
		f.models[i] = in.Model
		if in.Output != nil {
			roots[i] = in.Output
		}
	}
	merged, _ = f.object(s.Root.Properties, "", roots, true)
	f.report.models = f.models
	return merged, f.report
}

// ApplyDecisions replaces the rule-based value of conflicts with an arbiter's decisions:
// for each conflict of report whose path is a key of decisions, the decided value
// is set at that path in merged and as the conflict's ResolvedValue (both share it), and the
// conflict's ResolutionMethod becomes ResolutionLLM; NeedsArbitration is left as it was; the
// path's Provenance becomes ProvenanceArbitration, its sources the models that gave the
// decided value (a null decision leaves the field without method, like a field nobody answered). Paths
// that name no conflict of report are ignored, so a decision can never add a field outside the
// schema. Objects missing on the way to a path are created. merged and report are modified in
// place, so they must not be used concurrently; checking that each value fits its field is the
// caller's job.
func ApplyDecisions(merged map[string]any, report *ConflictReport, decisions map[string]any) {
	if merged == nil || report == nil {
		return
	}
	for i := range report.Conflicts {
		c := &report.Conflicts[i]
		v, ok := decisions[c.Path]
		if !ok {
			continue
		}
		setFusionPath(merged, c.Path, v)
		c.ResolvedValue = v
		c.ResolutionMethod = ResolutionLLM
		if report.Provenance != nil {
			models := report.models
			if models == nil {
				models = slices.Sorted(maps.Keys(c.ValuesByModel))
			}
			report.Provenance[c.Path] = arbitratedProvenance(c, v, models)
		}
	}
}

// Paths returns the paths of the conflicts, in report order (the conflict_paths of the
// conflicts_detected event). The result is never nil.
func (r *ConflictReport) Paths() []string {
	paths := make([]string, len(r.Conflicts))
	for i, c := range r.Conflicts {
		paths[i] = c.Path
	}
	return paths
}

// NeedingArbitration returns the conflicts whose NeedsArbitration is true, in report order: the
// ones an arbiter is asked about. They share their maps with r.
func (r *ConflictReport) NeedingArbitration() []FieldConflict {
	var out []FieldConflict
	for _, c := range r.Conflicts {
		if c.NeedsArbitration {
			out = append(out, c)
		}
	}
	return out
}

// setFusionPath sets v at the dot-notation path in m, creating objects that are missing or
// null on the way.
func setFusionPath(m map[string]any, path string, v any) {
	for {
		name, rest, nested := strings.Cut(path, ".")
		if !nested {
			m[name] = v
			return
		}
		next, ok := m[name].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[name] = next
		}
		m, path = next, rest
	}
}

// compareFusionInputs orders inputs by preference: higher price, then model key, then (only
// for inputs sharing both, which callers should avoid) their printed output, so that the order
// is total and the result independent of the order of inputs.
func compareFusionInputs(a, b FusionInput) int {
	if c := cmp.Compare(b.Price, a.Price); c != 0 {
		return c
	}
	if c := strings.Compare(a.Model, b.Model); c != 0 {
		return c
	}
	// fmt prints maps with sorted keys, so equal outputs print equally.
	return strings.Compare(fmt.Sprint(a.Output), fmt.Sprint(b.Output))
}

// fusionLanguages returns languages without duplicates, or the default language when empty.
func fusionLanguages(languages []string) []string {
	var out []string
	for _, l := range languages {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{fusionDefaultLanguage}
	}
	return out
}

// fuser holds the state of one Fuse call. Candidate slices passed between its methods hold one
// value per model in preference order (index 0 preferred), nil for null or missing.
type fuser struct {
	langs  []string // requested languages, deduplicated, never empty
	models []string // model keys in preference order
	report ConflictReport
	// Scratch buffers, reused across leaves: keyA and keyB hold the comparison keys of a leaf
	// (fuser.leaf), scratch the keys of a scalar's candidates (fuser.scalar). Neither method
	// calls itself nor the other while using them.
	keyA, keyB, scratch []byte
}

// object merges the objects of props in cands. It returns an object holding every property and
// whether any candidate was an object. With reporting on (outside arrays), every leaf is
// compared and counted, its path being prefix.name.
func (f *fuser) object(props []*Property, prefix string, cands []any, reporting bool) (map[string]any, bool) {
	objs := make([]map[string]any, len(cands))
	isObject := false
	for i, c := range cands {
		if m, ok := c.(map[string]any); ok {
			objs[i], isObject = m, true
		}
	}
	out := make(map[string]any, len(props))
	fields := make([]any, len(cands)) // reused per property: nothing below keeps it
	for _, p := range props {
		for i, m := range objs {
			fields[i] = m[p.Name]
		}
		var path string
		if reporting {
			path = p.Name
			if prefix != "" {
				path = prefix + "." + p.Name
			}
		}
		switch {
		case p.Type == TypeObject && !p.Multilingual:
			sub, ok := f.object(p.Properties, path, fields, reporting)
			if ok {
				out[p.Name] = sub
			} else {
				out[p.Name] = nil
			}
		case reporting:
			out[p.Name] = f.leaf(p, path, fields)
		default:
			out[p.Name], _ = f.value(p, fields)
		}
	}
	return out, isObject
}

// leaf compares and merges the leaf p at path, counting it in the report and recording a
// conflict when the candidates disagree. It returns the merged value.
func (f *fuser) leaf(p *Property, path string, cands []any) any {
	f.report.TotalFields++
	agreed := true
	if len(cands) > 0 {
		f.keyA = f.appendKey(f.keyA[:0], p, cands[0])
		for _, c := range cands[1:] {
			f.keyB = f.appendKey(f.keyB[:0], p, c)
			if !bytes.Equal(f.keyA, f.keyB) {
				agreed = false
				break
			}
		}
	}
	v, method := f.value(p, cands)
	f.report.Provenance[path] = f.provenanceOf(p, cands, v, method)
	if agreed {
		f.report.AgreedFields++
		return v
	}
	f.report.ConflictedFields++
	byModel := make(map[string]any, len(cands))
	for i, c := range cands {
		if _, seen := byModel[f.models[i]]; !seen {
			byModel[f.models[i]] = copyFusionValue(c)
		}
	}
	f.report.Conflicts = append(f.report.Conflicts, FieldConflict{
		Path:             path,
		FieldType:        fusionFieldType(p),
		NeedsArbitration: fusionNeedsArbitration(method),
		ValuesByModel:    byModel,
		ResolvedValue:    v,
		ResolutionMethod: method,
	})
	return v
}

// fusionFieldType returns the field_type of the leaf p.
func fusionFieldType(p *Property) string {
	switch {
	case p.Multilingual:
		return FieldTypeMultilingual
	case p.Type == TypeArray:
		return FieldTypeArray
	default:
		return FieldTypeScalar
	}
}

// fusionNeedsArbitration reports whether a conflict resolved by method needs an arbiter.
func fusionNeedsArbitration(method string) bool {
	return method == ResolutionLongest || method == ResolutionMedian || method == ResolutionTieBreak
}

// copyFusionValue returns a deep copy of the JSON value v (objects and arrays copied, scalars
// shared).
func copyFusionValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = copyFusionValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyFusionValue(e)
		}
		return out
	default:
		return v
	}
}
