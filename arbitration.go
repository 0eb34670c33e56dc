package enricher

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Decision is an arbiter's choice for one conflicted field.
type Decision struct {
	Path        string `json:"path"`
	Value       any    `json:"value"`
	ChosenModel string `json:"chosen_model"`
	Reasoning   string `json:"reasoning"`
}

// ArbitrationJSONSchema is the answer schema of arbitration calls.
var ArbitrationJSONSchema = json.RawMessage(`{"type":"object","additionalProperties":false,"required":["decisions"],` +
	`"properties":{"decisions":{"type":"array","items":{"type":"object","additionalProperties":false,` +
	`"required":["path","value","chosen_model","reasoning"],"properties":{"path":{"type":"string"},` +
	`"value":{},"chosen_model":{"type":"string"},"reasoning":{"type":"string"}}}}}}`)

// ArbitrationPrompt builds the arbitration call: the entity, and for each conflict needing
// arbitration its field's schema fragment and the value each model gave.
func ArbitrationPrompt(s *Schema, entity map[string]any, conflicts []FieldConflict) Prompt {
	var b strings.Builder
	fmt.Fprintf(&b, "Entity type: %s\n\nKnown data about the entity:\n", s.Root.Name)
	b.Write(appendPromptJSON(nil, entity, true))
	b.WriteString("\n\nSeveral models disagree on these fields. For each, choose the correct value (one of the given values, or null when none can be established):\n")
	for _, c := range conflicts {
		fmt.Fprintf(&b, "\n## %s\n", c.Path)
		if p := PropertyAt(s, c.Path); p != nil {
			frag := appendJSONString([]byte(`{"description":`), p.Description) // as json.Marshal writes the map
			frag = append(appendJSONString(append(frag, `,"type":`...), typeLabel(p)), '}')
			fmt.Fprintf(&b, "Field: %s\n", frag)
		}
		fmt.Fprintf(&b, "Values by model:\n%s\n", appendPromptJSON(nil, c.ValuesByModel, true))
	}
	b.WriteString(`
Answer with one JSON object: {"decisions": [{"path": string, "value": the chosen value, "chosen_model": the model whose value you chose or "", "reasoning": string}]}, with each path above exactly once.`)
	return Prompt{
		System: "You arbitrate between research results. Be accurate and conservative; prefer null to a guess. Answer with JSON only.",
		User:   b.String(),
	}
}

// PropertyAt returns the property at a dot path of root properties and nested objects, or nil.
func PropertyAt(s *Schema, path string) *Property {
	props := s.Root.Properties
	var found *Property
	for _, name := range strings.Split(path, ".") {
		found = nil
		for _, p := range props {
			if p.Name == name {
				found = p
				break
			}
		}
		if found == nil {
			return nil
		}
		props = found.Properties
	}
	return found
}

// ParseDecisions extracts and checks an arbitration answer: every conflict's path exactly
// once, no other path, and each value valid for its field. It returns the
// decisions and the values by path.
func ParseDecisions(s *Schema, text string, conflicts []FieldConflict, languages []string) ([]Decision, map[string]any, []string) {
	raw, err := ExtractJSONObject(text)
	if err != nil {
		return nil, nil, []string{err.Error()}
	}
	var ans struct {
		Decisions []Decision `json:"decisions"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, nil, []string{"answer is not valid JSON: " + err.Error()}
	}
	want := map[string]bool{}
	for _, c := range conflicts {
		want[c.Path] = true
	}
	var problems []string
	values := map[string]any{}
	seen := map[string]bool{} // paths with a decision, valid or not
	for i, d := range ans.Decisions {
		switch {
		case !want[d.Path]:
			problems = append(problems, fmt.Sprintf("decisions[%d].path: %q is not a conflict to decide", i, d.Path))
			continue
		case seen[d.Path]:
			problems = append(problems, fmt.Sprintf("decisions[%d].path: %q is decided twice", i, d.Path))
			continue
		}
		seen[d.Path] = true
		if p := PropertyAt(s, d.Path); p != nil {
			field := *p
			field.Name = "value"
			obj, err := json.Marshal(map[string]any{"value": d.Value})
			if err != nil { // a decoded value always encodes; say so rather than pass it unchecked
				problems = append(problems, fmt.Sprintf("decisions[%d] (%s): the value cannot be checked: %v", i, d.Path, err))
				continue
			}
			if _, errs := CheckAnswer(&AnswerSpec{Properties: []*Property{&field}, Languages: languages}, string(obj)); len(errs) > 0 {
				for _, e := range errs {
					problems = append(problems, fmt.Sprintf("decisions[%d] (%s): %s", i, d.Path, e))
				}
				continue
			}
		}
		values[d.Path] = d.Value
	}
	for _, c := range conflicts {
		if !seen[c.Path] {
			problems = append(problems, fmt.Sprintf("decisions: no decision for %q", c.Path))
		}
	}
	if len(problems) > 0 {
		return nil, nil, problems
	}
	return ans.Decisions, values, nil
}
