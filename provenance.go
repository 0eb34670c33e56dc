package enricher

import (
	"bytes"
	"math"
	"slices"
)

// FieldProvenance says where the value of one leaf of a result came from and how sure the
// result is of it. Values are plain data: safe to copy and share once built.
type FieldProvenance struct {
	// Sources are the models whose own value equals the chosen one (by the fusion comparison
	// rules: strings case- and space-insensitive, numbers to 6 significant digits), in the
	// fusion's preference order. Never nil; empty when the chosen value is null or no model
	// gave it (a median of two numbers, a union of arrays).
	Sources []string `json:"sources"`
	// Agreement is len(Sources) divided by the number of models that answered the field
	// (gave a non-null value); 0 when none answered.
	Agreement float64 `json:"agreement"`
	// Method is one of the Provenance constants.
	Method string `json:"method"`
	// Confidence is ProvenanceConfidence(Method, Agreement) for a non-null value, 0 for null.
	// Agreement and Confidence are rounded to 4 decimals (Confidence from the exact agreement).
	Confidence float64 `json:"confidence"`
}

// The methods of a FieldProvenance.
const (
	ProvenanceUnanimous   = "unanimous"   // two or more models answered and all gave the chosen value
	ProvenanceMajority    = "majority"    // one largest group of equal answers, not all of them
	ProvenanceRule        = "rule"        // no majority: median, longest string, tie-break or array union decided
	ProvenanceArbitration = "arbitration" // an arbiter model chose the value among the conflicting ones
	ProvenanceSingle      = "single"      // one model answered the field (alone in the job, or the others gave null)
	// ProvenanceWaterfall: under the waterfall strategy, the value of the first model that
	// answered the field; the earlier models gave null or failed, the later ones were not asked.
	ProvenanceWaterfall = "waterfall"
)

// The weights of ProvenanceConfidence, by method.
const (
	confidenceUnanimous   = 1.0
	confidenceMajority    = 0.9
	confidenceArbitration = 0.8
	confidenceWaterfall   = 0.5
	confidenceRule        = 0.5
	confidenceSingle      = 0.5
)

// ProvenanceConfidence returns the confidence of a non-null value chosen by method with the
// given agreement:
//
//	unanimous:   1.0 × agreement (agreement is 1, so 1.0)
//	majority:    0.9 × agreement (2 of 3 models: 0.6)
//	arbitration: 0.8 × agreement (an arbiter reviewed the conflict; agreement counts its backers)
//	rule:        0.5 × agreement (a mechanical rule broke a tie; 0 when no model gave the value)
//	single:      0.5             (one unchecked answer)
//	waterfall:   0.5 × agreement (the one model that answered; agreement is 1, so 0.5)
//
// Independent models agreeing is the strongest evidence we have, so unanimity over two or more
// models is the only way to reach 1; a value nobody contradicted but only one model gave is a
// coin's worth of trust (0.5), whether it came from a model run alone (single) or from the
// first model of a waterfall that answered (waterfall: the models before it gave null, which
// is no evidence either way). An arbiter's pick weighs more than a mechanical rule's because
// it read the entity and every candidate. The result is rounded to 4 decimals and within 0..1;
// an unknown method gives 0.
func ProvenanceConfidence(method string, agreement float64) float64 {
	agreement = math.Max(0, math.Min(1, agreement))
	var c float64
	switch method {
	case ProvenanceUnanimous:
		c = confidenceUnanimous * agreement
	case ProvenanceMajority:
		c = confidenceMajority * agreement
	case ProvenanceArbitration:
		c = confidenceArbitration * agreement
	case ProvenanceRule:
		c = confidenceRule * agreement
	case ProvenanceSingle:
		c = confidenceSingle
	case ProvenanceWaterfall:
		c = confidenceWaterfall * agreement
	}
	return roundConfidence(c)
}

func roundConfidence(c float64) float64 { return math.Round(c*1e4) / 1e4 }

// MinConfidence returns the lowest confidence among the fields of prov that hold a value
// (method set and at least one source, or single), and whether there was any. Null fields
// (no model answered) are left out: they have no value to trust and show as null anyway.
func MinConfidence(prov map[string]FieldProvenance) (float64, bool) {
	lowest, any := 1.0, false
	for _, p := range prov {
		if p.Method == "" {
			continue
		}
		lowest, any = math.Min(lowest, p.Confidence), true
	}
	return lowest, any
}

// provenanceOf builds the provenance of one leaf from its candidates (one per model in
// preference order, nil for null), the chosen value v and the rule-based method ("" when every
// candidate was null). A leaf no model answered has an empty Method, no sources and confidence 0.
func (f *fuser) provenanceOf(p *Property, cands []any, v any, method string) FieldProvenance {
	f.keyA = f.appendKey(f.keyA[:0], p, v)
	f.keyB = f.appendKey(f.keyB[:0], p, nil)
	chosenNull := bytes.Equal(f.keyA, f.keyB)
	nullKey := slices.Clone(f.keyB)
	out := FieldProvenance{Sources: []string{}}
	answered := 0
	for i, c := range cands {
		f.keyB = f.appendKey(f.keyB[:0], p, c)
		if bytes.Equal(f.keyB, nullKey) {
			continue
		}
		answered++
		if !chosenNull && bytes.Equal(f.keyB, f.keyA) && !slices.Contains(out.Sources, f.models[i]) {
			out.Sources = append(out.Sources, f.models[i])
		}
	}
	if answered == 0 || chosenNull {
		return out
	}
	out.Agreement = float64(len(out.Sources)) / float64(answered)
	switch {
	case answered == 1:
		out.Method = ProvenanceSingle
	case len(out.Sources) == answered:
		out.Method = ProvenanceUnanimous
	case method == ResolutionMajority && len(out.Sources) > 0:
		out.Method = ProvenanceMajority
	default:
		out.Method = ProvenanceRule
	}
	out.Confidence = ProvenanceConfidence(out.Method, out.Agreement)
	out.Agreement = roundConfidence(out.Agreement)
	return out
}

// arbitratedProvenance is the provenance of a leaf whose value an arbiter decided: the
// sources are the models of c whose value equals the decision (compared like scalars of the
// fusion: strings normalised, numbers to 6 significant digits, objects by sorted keys).
func arbitratedProvenance(c *FieldConflict, decided any, models []string) FieldProvenance {
	out := FieldProvenance{Sources: []string{}}
	if decided == nil {
		return out
	}
	want := appendFusionScalarKey(nil, decided)
	answered := 0
	var key []byte
	for _, m := range models {
		v, ok := c.ValuesByModel[m]
		if !ok || v == nil {
			continue
		}
		answered++
		key = appendFusionScalarKey(key[:0], v)
		if bytes.Equal(key, want) {
			out.Sources = append(out.Sources, m)
		}
	}
	out.Method = ProvenanceArbitration
	if answered > 0 {
		out.Agreement = float64(len(out.Sources)) / float64(answered)
	}
	out.Confidence = ProvenanceConfidence(out.Method, out.Agreement)
	out.Agreement = roundConfidence(out.Agreement)
	return out
}

// SingleModelProvenance returns the provenance of one model's own output (an enrichment
// record): every leaf holding a value is ProvenanceSingle from model with confidence 0.5.
func SingleModelProvenance(s *Schema, model string, output map[string]any, languages []string) map[string]FieldProvenance {
	_, report := Fuse(s, []FusionInput{{Model: model, Output: output}}, languages)
	return report.Provenance
}
