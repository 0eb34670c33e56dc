package enricher

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The waterfall strategy asks the models of a job one after another, in the order given
// (cheapest first). The first model is asked every asked field; each later model is asked only
// the fields the earlier ones left open:
//
//   - a field is open while no model answered it (every model asked gave null, or its run
//     failed: an answer that still failed validation after its retries, a transport failure);
//   - a field of verify_fields is open until two models gave equal values (compared by the
//     fusion rules); a third answer breaks a tie, and once three models answered without two
//     agreeing the field is closed unverified: the arbitration model decides, or it is null.
//
// The answers are then fused as usual (Fuse), and SettleWaterfall marks where the waterfall
// decided. Everything here is pure: the job actor feeds it the finished steps.

// The reasons a field is passed on to the next model (waterfall_escalated.reasons).
const (
	WaterfallNull       = "null"       // every model asked gave null
	WaterfallFailed     = "failed"     // the last model asked failed (validation after its retries, or transport)
	WaterfallUnverified = "unverified" // a verify field without two agreeing models yet
)

// waterfallMaxVerifyAnswers is the number of answers after which a verify field without
// agreement stops escalating: two to agree, a third to break a tie.
const waterfallMaxVerifyAnswers = 3

// WaterfallStep is one finished step of a waterfall: the model, the leaf paths it was asked,
// and its output (the assembled output of its run), nil when the run failed.
type WaterfallStep struct {
	Model  string
	Asked  []string
	Output map[string]any
}

// waterfallLeaf is one asked leaf: its dot path, its property and the path's names.
type waterfallLeaf struct {
	path  string
	names []string
	prop  *Property
}

// Waterfall is the plan of one entity's waterfall: the leaves the first model is asked and the
// fields that need two agreeing models. It is immutable once built and safe to share.
type Waterfall struct {
	leaves []waterfallLeaf
	verify map[string]bool
	langs  []string
}

// NewWaterfall returns the waterfall of a run asking spec (the job's answer spec for the
// entity: every asked field), with verify the leaf paths that need two agreeing models (paths
// not asked are ignored: a search key the input holds needs no verification).
func NewWaterfall(spec *AnswerSpec, verify []string) *Waterfall {
	w := &Waterfall{verify: map[string]bool{}, langs: fusionLanguages(spec.Languages)}
	walkLeaves(spec.Properties, nil, func(names []string, p *Property) {
		w.leaves = append(w.leaves, waterfallLeaf{path: strings.Join(names, "."), names: names, prop: p})
	})
	for _, v := range verify {
		if slices.ContainsFunc(w.leaves, func(l waterfallLeaf) bool { return l.path == v }) {
			w.verify[v] = true
		}
	}
	return w
}

// Leaves returns the asked leaf paths, in schema order (what the first model is asked).
func (w *Waterfall) Leaves() []string {
	out := make([]string, len(w.leaves))
	for i, l := range w.leaves {
		out[i] = l.path
	}
	return out
}

// Verified reports whether path is a verify field of this waterfall.
func (w *Waterfall) Verified(path string) bool { return w.verify[path] }

// Pending returns the fields the next model is asked after steps (in order, oldest first),
// in schema order, with the reason of each. A field is judged only on the steps that asked it.
// An empty result ends the waterfall.
func (w *Waterfall) Pending(steps []WaterfallStep) (fields []string, reasons map[string]string) {
	fields, reasons = []string{}, map[string]string{}
	f := fuser{langs: w.langs}
	nullKey := []byte(nil)
	for _, l := range w.leaves {
		nullKey = f.appendKey(nullKey[:0], l.prop, nil)
		var keys [][]byte
		lastFailed, asked := false, false
		for _, s := range steps {
			if !slices.Contains(s.Asked, l.path) {
				continue
			}
			asked = true
			lastFailed = s.Output == nil
			if s.Output == nil {
				continue
			}
			k := f.appendKey(nil, l.prop, valueAt(s.Output, l.names))
			if !bytes.Equal(k, nullKey) {
				keys = append(keys, k)
			}
		}
		reason := ""
		switch {
		case !asked:
			continue // only the first step's leaves exist; a leaf nobody was asked is not ours
		case !w.verify[l.path] && len(keys) > 0:
		case w.verify[l.path] && (agreeing(keys) || len(keys) >= waterfallMaxVerifyAnswers):
		case len(keys) > 0:
			reason = WaterfallUnverified
		case lastFailed:
			reason = WaterfallFailed
		default:
			reason = WaterfallNull
		}
		if reason != "" {
			fields = append(fields, l.path)
			reasons[l.path] = reason
		}
	}
	return fields, reasons
}

// agreeing reports whether two of keys are equal.
func agreeing(keys [][]byte) bool {
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if bytes.Equal(keys[i], keys[j]) {
				return true
			}
		}
	}
	return false
}

// valueAt returns the value at names in a decoded JSON object, nil when absent.
func valueAt(m map[string]any, names []string) any {
	var v any = m
	for _, n := range names {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[n]
	}
	return v
}

// LeafPaths returns the dot paths of the leaves a asks for (outside arrays), in schema order.
func (a *AnswerSpec) LeafPaths() []string {
	var out []string
	walkLeaves(a.Properties, nil, func(names []string, _ *Property) {
		out = append(out, strings.Join(names, "."))
	})
	return out
}

// Restrict returns a copy of spec asking only the leaves named in fields (dot paths); objects
// left without a field are dropped. Leaves are shared with spec, pruned objects are new.
func (w *Waterfall) Restrict(spec *AnswerSpec, fields []string) *AnswerSpec {
	keep := map[string]bool{}
	for _, f := range fields {
		keep[f] = true
	}
	return &AnswerSpec{Properties: restrictProperties(spec.Properties, "", keep), Languages: spec.Languages}
}

func restrictProperties(props []*Property, prefix string, keep map[string]bool) []*Property {
	var out []*Property
	for _, p := range props {
		path := p.Name
		if prefix != "" {
			path = prefix + "." + p.Name
		}
		if !isFusionObject(p) {
			if keep[path] {
				out = append(out, p)
			}
			continue
		}
		children := restrictProperties(p.Properties, path, keep)
		if len(children) == 0 {
			continue
		}
		pruned := *p
		pruned.Properties = children
		out = append(out, &pruned)
	}
	return out
}

// isFusionObject reports whether p is an object the fusion walks into (not a leaf).
func isFusionObject(p *Property) bool { return p.Type == TypeObject && !p.Multilingual }

// walkLeaves calls fn with the path names of every leaf of props outside arrays (what the
// fusion compares one by one: scalars, multilingual fields, arrays), depth first in order.
func walkLeaves(props []*Property, prefix []string, fn func(names []string, p *Property)) {
	for _, p := range props {
		names := append(prefix[:len(prefix):len(prefix)], p.Name)
		if isFusionObject(p) {
			walkLeaves(p.Properties, names, fn)
			continue
		}
		fn(names, p)
	}
}

// LeafPaths returns the dot paths of the schema's leaves outside arrays ("headquarters.city"),
// the keys of field_provenance, in document order.
func (s *Schema) LeafPaths() []string {
	var out []string
	walkLeaves(s.Root.Properties, nil, func(names []string, _ *Property) {
		out = append(out, strings.Join(names, "."))
	})
	return out
}

// CheckVerifyOptions checks what verify_fields need besides the schema: the waterfall
// strategy and at least two models. Errors are KindInvalid.
func CheckVerifyOptions(strategy Strategy, models int, fields []string) error {
	switch {
	case len(fields) == 0:
		return nil
	case strategy != StrategyWaterfall:
		return Errorf(KindInvalid, "verify_fields: only the waterfall strategy takes verify_fields")
	case models < 2:
		return Errorf(KindInvalid, "verify_fields: two models must agree on a verified field; give at least 2 models")
	}
	return nil
}

// CheckVerifyFields checks that each of verify_fields names a leaf path of s ("hq.city";
// objects and paths inside arrays are not leaves) once. Errors are KindInvalid, naming the
// first bad entry and listing leaf paths.
func CheckVerifyFields(s *Schema, fields []string) error {
	leaves := s.LeafPaths()
	seen := map[string]bool{}
	for i, f := range fields {
		switch {
		case seen[f]:
			return Errorf(KindInvalid, "verify_fields[%d]: %q is listed twice", i, f)
		case !slices.Contains(leaves, f):
			return Errorf(KindInvalid, "verify_fields[%d]: %q is not a leaf field of the schema (%s)", i, f, leafHint(leaves))
		}
		seen[f] = true
	}
	return nil
}

// leafHint lists up to ten leaf paths for an error message.
func leafHint(leaves []string) string {
	if len(leaves) > 10 {
		return fmt.Sprintf("leaf fields include %s, …", strings.Join(leaves[:10], ", "))
	}
	return "leaf fields: " + strings.Join(leaves, ", ")
}

// SettleWaterfall adjusts a fusion of waterfall answers (merged and report as Fuse returned
// them) in place:
//
//   - a conflict whose only disagreement is null against one value (resolution non_null) is
//     no conflict under the waterfall (later models were not asked the field) and counts as
//     agreed;
//   - a leaf of w answered by one model is ProvenanceWaterfall (it came from the first model
//     of the waterfall that answered it);
//   - a verify leaf without two agreeing models is left to the arbiter when arbiter is set and
//     its conflict needs arbitration; otherwise it is set to null, its conflict (if any) gets
//     ResolutionUnverified, and its provenance is emptied.
//
// It returns the verify paths set to null, in schema order.
func (w *Waterfall) SettleWaterfall(merged map[string]any, report *ConflictReport, arbiter bool) []string {
	unverified := []string{}
	conflict := func(path string) *FieldConflict {
		for i := range report.Conflicts {
			if report.Conflicts[i].Path == path {
				return &report.Conflicts[i]
			}
		}
		return nil
	}
	for _, l := range w.leaves {
		prov, ok := report.Provenance[l.path]
		if !ok {
			continue
		}
		if !w.verify[l.path] {
			if prov.Method == ProvenanceSingle {
				prov.Method = ProvenanceWaterfall
				prov.Confidence = ProvenanceConfidence(prov.Method, prov.Agreement)
				report.Provenance[l.path] = prov
			}
			continue
		}
		if prov.Method == "" || len(prov.Sources) >= 2 {
			continue // null everywhere, or two models agree
		}
		c := conflict(l.path)
		if arbiter && c != nil && c.NeedsArbitration {
			continue
		}
		if merged != nil {
			setFusionPath(merged, l.path, nil)
		}
		if c != nil {
			c.ResolvedValue, c.ResolutionMethod = nil, ResolutionUnverified
		}
		report.Provenance[l.path] = FieldProvenance{Sources: []string{}}
		unverified = append(unverified, l.path)
	}
	kept := report.Conflicts[:0]
	for _, c := range report.Conflicts {
		if c.ResolutionMethod == ResolutionNonNull {
			report.ConflictedFields--
			report.AgreedFields++
			continue
		}
		kept = append(kept, c)
	}
	report.Conflicts = kept
	return unverified
}
