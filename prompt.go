package enricher

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Prompt is the system and first user message of an LLM call.
type Prompt struct {
	System string
	User   string
}

// PromptInput is what an enrichment prompt is built from.
type PromptInput struct {
	Schema         *Schema
	Entity         map[string]any // entity_data without the _sim directive
	Spec           *AnswerSpec    // the asked fields of this call
	Strategy       Strategy
	Domain         *Domain         // the call's domain under multi_expertise, else nil
	Classification *Classification // nil without classification
	Mismatch       bool            // the user continued after a classification mismatch
}

const enrichmentSystem = `You are a meticulous research analyst who fills in facts about one entity.
Rules:
- Be accurate and conservative. If you cannot establish a value with confidence, answer null. Never guess or invent.
- Answer with one JSON object only, no prose and no code fences. It must have exactly the requested properties, with the requested types.
- Text values are written in the primary language unless a field asks for several languages.`

// EnrichmentPrompt builds the prompt of one enrichment call: the entity, the asked
// fields with their descriptions and examples, the languages, the classification context, and
// under expert_domains (and waterfall, when the schema declares domains) one section per domain.
func EnrichmentPrompt(in PromptInput) Prompt {
	var b strings.Builder
	root := in.Schema.Root
	fmt.Fprintf(&b, "Entity type: %s", root.Name)
	if root.Description != "" {
		fmt.Fprintf(&b, " (%s)", root.Description)
	}
	b.WriteString("\n\nKnown data about the entity:\n")
	b.Write(appendPromptJSON(make([]byte, 0, 512), in.Entity, true))
	b.WriteString("\n")
	if notes := in.Schema.IdentificationNotes; notes != "" {
		fmt.Fprintf(&b, "\nIdentification notes: %s\n", notes)
	}
	writeClassification(&b, in.Classification, in.Mismatch)
	writeLanguages(&b, in.Spec.Languages)

	switch {
	case in.Domain != nil:
		fmt.Fprintf(&b, "\nYou answer as the expert for %q", in.Domain.Name)
		if in.Domain.Description != "" {
			fmt.Fprintf(&b, ": %s", in.Domain.Description)
		}
		b.WriteString(".\n\nFind these properties:\n")
		writeFields(&b, in.Spec.Properties, "")
	case in.Strategy == StrategyExpertDomains || in.Strategy == StrategyWaterfall && len(in.Schema.Domains) > 0:
		b.WriteString("\nFind these properties, grouped by area of expertise:\n")
		for _, group := range groupByDomain(in.Schema, in.Spec.Properties) {
			fmt.Fprintf(&b, "\n## %s", group.domain.Name)
			if group.domain.Description != "" {
				fmt.Fprintf(&b, ": %s", group.domain.Description)
			}
			b.WriteString("\n")
			writeFields(&b, group.props, "")
		}
	default:
		b.WriteString("\nFind these properties:\n")
		writeFields(&b, in.Spec.Properties, "")
	}
	b.WriteString("\nAnswer with a JSON object holding exactly these properties. Use null for anything you cannot establish.")
	return Prompt{System: enrichmentSystem, User: b.String()}
}

type domainGroup struct {
	domain Domain
	props  []*Property
}

// groupByDomain splits root properties by expertise, in the order domains first appear.
func groupByDomain(s *Schema, props []*Property) []domainGroup {
	var groups []domainGroup
	index := map[string]int{}
	for _, p := range props {
		i, ok := index[p.Expertise]
		if !ok {
			d, _ := s.Domain(p.Expertise)
			if d.Name == "" {
				d.Name = p.Expertise
			}
			i = len(groups)
			index[p.Expertise] = i
			groups = append(groups, domainGroup{domain: d})
		}
		groups[i].props = append(groups[i].props, p)
	}
	return groups
}

func writeLanguages(b *strings.Builder, langs []string) {
	if len(langs) == 0 {
		return
	}
	label := func(code string) string {
		if l, ok := LanguageLabel(code); ok {
			return l + " [" + code + "]"
		}
		return code
	}
	fmt.Fprintf(b, "\nPrimary language: %s.", label(langs[0]))
	if len(langs) > 1 {
		names := make([]string, len(langs))
		for i, c := range langs {
			names[i] = label(c)
		}
		fmt.Fprintf(b, " Multilingual fields need one value per language: %s.", strings.Join(names, ", "))
	}
	b.WriteString(" A multilingual field is an object keyed by language code.\n")
}

func writeClassification(b *strings.Builder, c *Classification, mismatch bool) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\nClassification of this entity: %s (expected type %q, confidence %.2f).", c.Status, c.ExpectedType, c.Confidence)
	if c.EntityDescription != "" {
		fmt.Fprintf(b, " It appears to be: %s.", c.EntityDescription)
	}
	if mismatch || c.Status == "mismatch" {
		b.WriteString(" The entity is NOT of the expected type: answer null for every property that does not apply to what it really is.")
	} else {
		b.WriteString(" Answer null for properties that do not apply to what the entity really is.")
	}
	b.WriteString("\n")
}

// writeFields lists properties as an indented outline with types, descriptions and examples.
func writeFields(b *strings.Builder, props []*Property, indent string) {
	for _, p := range props {
		b.WriteString(indent)
		b.WriteString("- ")
		b.WriteString(p.Name)
		b.WriteString(" (")
		b.WriteString(typeLabel(p))
		if !p.Nullable {
			b.WriteString(", required")
		}
		b.WriteString(")")
		if p.Description != "" {
			b.WriteString(": ")
			b.WriteString(p.Description)
		}
		if len(p.Examples) > 0 {
			b.WriteString(" Examples: ")
			b.Write(appendPromptJSON(nil, p.Examples, false))
		}
		b.WriteString("\n")
		switch {
		case p.Type == TypeObject:
			writeFields(b, p.Properties, indent+"  ")
		case p.Type == TypeArray && p.Items != nil && p.Items.Type == TypeObject:
			b.WriteString(indent)
			b.WriteString("  each item has:\n")
			writeFields(b, p.Items.Properties, indent+"    ")
		}
	}
}

func typeLabel(p *Property) string {
	t := string(p.Type)
	if p.Type == TypeArray && p.Items != nil {
		t = "array of " + string(p.Items.Type)
	}
	if p.Multilingual {
		t = "multilingual " + t
	}
	return t
}

// CorrectionPrompt is the follow-up turn sent after an answer failed validation.
func CorrectionPrompt(problems []string) string {
	var b strings.Builder
	b.WriteString("Your answer has these problems:\n")
	for _, p := range problems {
		fmt.Fprintf(&b, "- %s\n", p)
	}
	b.WriteString("Answer again with the complete corrected JSON object only.")
	return b.String()
}

// ClassificationPrompt builds the classification call. The entity JSON is cut to
// maxChars characters.
func ClassificationPrompt(s *Schema, entity map[string]any, maxChars int) Prompt {
	text := string(appendPromptJSON(nil, entity, false))
	if r := []rune(text); maxChars > 0 && len(r) > maxChars {
		text = string(r[:maxChars])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Expected entity type: %s", s.Root.Name)
	if s.Root.Description != "" {
		fmt.Fprintf(&b, " (%s)", s.Root.Description)
	}
	fmt.Fprintf(&b, "\n\nEntity data:\n%s\n\n", text)
	b.WriteString(`Decide whether this entity is of the expected type. Answer with one JSON object:
{"status": "match" | "mismatch" | "ambiguous" | "unknown", "expected_type": string, "entity_description": string,
 "confidence": number from 0 to 1, "reasoning": string, "alternative_interpretations": [string]}`)
	return Prompt{
		System: "You classify entities before they are researched. Be precise; say unknown when the data does not allow a decision. Answer with JSON only.",
		User:   b.String(),
	}
}

// ClassificationJSONSchema is the answer schema of classification calls.
var ClassificationJSONSchema = json.RawMessage(`{"type":"object","additionalProperties":false,` +
	`"required":["status","expected_type","entity_description","confidence","reasoning","alternative_interpretations"],` +
	`"properties":{"status":{"type":"string","enum":["match","mismatch","ambiguous","unknown"]},` +
	`"expected_type":{"type":"string"},"entity_description":{"type":"string"},` +
	`"confidence":{"type":"number","minimum":0,"maximum":1},"reasoning":{"type":"string"},` +
	`"alternative_interpretations":{"type":"array","items":{"type":"string"}}}}`)

// ParseClassification extracts and checks a classification answer.
func ParseClassification(text string) (*Classification, []string) {
	raw, err := ExtractJSONObject(text)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var c Classification
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, []string{"answer is not valid JSON: " + err.Error()}
	}
	var problems []string
	switch c.Status {
	case "match", "mismatch", "ambiguous", "unknown":
	default:
		problems = append(problems, fmt.Sprintf("status: must be match, mismatch, ambiguous or unknown, got %q", c.Status))
	}
	if c.Confidence < 0 || c.Confidence > 1 {
		problems = append(problems, "confidence: must be from 0 to 1")
	}
	if c.AlternativeInterpretations == nil {
		c.AlternativeInterpretations = []string{}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return &c, nil
}
