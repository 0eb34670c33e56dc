package enricher

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Schema job kinds.
const (
	SchemaJobGeneration = "schema_generation"
	SchemaJobEdit       = "schema_edit"
)

// SchemaJobSpec is a validated schema generation or AI edit request, stored with its job.
type SchemaJobSpec struct {
	Kind     string         `json:"kind"` // schema_generation | schema_edit
	Model    string         `json:"model"`
	Sample   map[string]any `json:"sample,omitempty"`    // generation
	Name     *string        `json:"name,omitempty"`      // generation
	SchemaID string         `json:"schema_id,omitempty"` // edit
	Prompt   string         `json:"prompt,omitempty"`    // edit
	// Webhook, when set, is where the job's events are called back (copied to Job.Webhook).
	Webhook *WebhookTarget `json:"webhook,omitempty"`
}

// SchemaJobResult is completed.result of a schema job.
type SchemaJobResult struct {
	SchemaID    string          `json:"schema_id"`
	Schema      json.RawMessage `json:"schema"`
	RecordID    string          `json:"record_id"`
	Suggestions []string        `json:"suggestions"`
	Reused      bool            `json:"reused"`
}

// SchemaAnswerJSONSchema is the answer schema of generation and edit calls: a schema document
// and five suggestions.
var SchemaAnswerJSONSchema = json.RawMessage(`{"type":"object","required":["schema","suggestions"],` +
	`"properties":{"schema":{"type":"object"},"suggestions":{"type":"array","items":{"type":"string"}}}}`)

const schemaFormat = `A schema document is a JSON object:
{"root": {"name": string, "description": string, "type": "object", "properties": {<name>: <property>}},
 "$defs": {<Type>: entity definition} (optional),
 "expertise_domains": {<key>: {"name": string, "description": string}}}
A property: {"type": "string"|"number"|"integer"|"boolean"|"array"|"object", "description": string,
 "examples": [..], "expertise": <domain key, root properties only>, "is_key": true for fields that identify the entity,
 "multilingual": true for text written in several languages, "items": <property> for arrays,
 "properties": {...} for objects}. Property names match ^[A-Za-z_][A-Za-z0-9_]{0,63}$.`

// CollapseLocalized returns a copy of a sample in which every localized object (all keys
// supported language codes, all values strings or null) becomes one text value, and the
// names (dot paths) of the fields that were localized (the first generation step).
func CollapseLocalized(sample map[string]any) (map[string]any, []string) {
	var paths []string
	var walk func(v any, path string) any
	walk = func(v any, path string) any {
		switch t := v.(type) {
		case map[string]any:
			if text, ok := localizedText(t); ok {
				paths = append(paths, path)
				return text
			}
			out := make(map[string]any, len(t))
			for k, e := range t {
				p := k
				if path != "" {
					p = path + "." + k
				}
				out[k] = walk(e, p)
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = walk(e, path)
			}
			return out
		}
		return v
	}
	out, _ := walk(sample, "").(map[string]any)
	return out, paths
}

func localizedText(m map[string]any) (string, bool) {
	if len(m) == 0 {
		return "", false
	}
	first := ""
	for k, v := range m {
		if _, ok := LanguageLabel(strings.ToLower(k)); !ok {
			return "", false
		}
		s, ok := v.(string)
		if !ok && v != nil {
			return "", false
		}
		if first == "" || k == "en" {
			first = s
		}
	}
	return first, true
}

// GenerationPrompt builds the schema generation call from a sample.
func GenerationPrompt(sample map[string]any) Prompt {
	collapsed, localized := CollapseLocalized(sample)
	data := appendPromptJSON(nil, collapsed, true)
	props := len(sample)
	maxDomains := max(1, props/6)
	var b strings.Builder
	fmt.Fprintf(&b, "Design a schema for enriching entities like this sample:\n%s\n\n", data)
	if len(localized) > 0 {
		fmt.Fprintf(&b, "These fields hold text in several languages; mark them multilingual: %s\n\n", strings.Join(localized, ", "))
	}
	fmt.Fprintf(&b, "Rules: every top-level sample field is a root property with a type that fits its value; "+
		"mark identifying fields is_key; add useful missing facts as properties; group root properties into at most %d expertise domain(s).\n\n", maxDomains)
	b.WriteString(schemaFormat)
	b.WriteString("\n\nAnswer with one JSON object: {\"schema\": <schema document>, \"suggestions\": [five short ideas to improve the schema]}.")
	return Prompt{System: "You design JSON schemas for entity enrichment. Answer with JSON only.", User: b.String()}
}

// EditPrompt builds the AI edit call: the current schema and the user's instruction.
func EditPrompt(current json.RawMessage, instruction string) Prompt {
	var b strings.Builder
	fmt.Fprintf(&b, "Current schema:\n%s\n\nChange it as asked: %s\n\nKeep everything else as it is.\n\n", current, instruction)
	b.WriteString(schemaFormat)
	b.WriteString("\n\nAnswer with one JSON object: {\"schema\": <the whole new schema document>, \"suggestions\": [five short ideas to improve it further]}.")
	return Prompt{System: "You edit JSON schemas for entity enrichment. Answer with JSON only.", User: b.String()}
}

// SchemaAnswer is a checked answer of a generation or edit call.
type SchemaAnswer struct {
	Content     json.RawMessage // normalised schema document
	Hash        string
	Schema      *Schema
	Suggestions []string
}

// ParseSchemaAnswer extracts and checks the answer of a schema call: the document passes
// S1–S9 and, with a sample (generation), G1–G3. It returns the problems otherwise.
func ParseSchemaAnswer(text string, sample map[string]any) (*SchemaAnswer, []string) {
	raw, err := ExtractJSONObject(text)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var ans struct {
		Schema      json.RawMessage `json:"schema"`
		Suggestions []string        `json:"suggestions"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, []string{"answer is not valid JSON: " + err.Error()}
	}
	if len(ans.Schema) == 0 || ans.Schema[0] != '{' {
		return nil, []string{"schema: required, a JSON object"}
	}
	s, err := ParseSchema(ans.Schema)
	if err != nil {
		var de *Error
		if e, ok := err.(*Error); ok {
			de = e
		}
		if de != nil && len(de.Problems) > 0 {
			return nil, de.Problems
		}
		return nil, []string{err.Error()}
	}
	if sample != nil {
		if problems := CheckSampleAgainstSchema(s, sample); len(problems) > 0 {
			return nil, problems
		}
	}
	norm, err := NormalizeSchemaJSON(ans.Schema)
	if err != nil {
		return nil, []string{err.Error()}
	}
	hash, err := SchemaContentHash(norm)
	if err != nil {
		return nil, []string{err.Error()}
	}
	if len(ans.Suggestions) > 5 {
		ans.Suggestions = ans.Suggestions[:5]
	}
	if ans.Suggestions == nil {
		ans.Suggestions = []string{}
	}
	return &SchemaAnswer{Content: norm, Hash: hash, Schema: s, Suggestions: ans.Suggestions}, nil
}
