package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValuesConformToSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema string
	}{
		{name: "company", schema: companySchema},
		{name: "non-nullable scalars", schema: `{"type":"object","properties":{
			"s":{"type":"string"},"i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"}},
			"required":["s","i","n","b"]}`},
		{name: "nested arrays", schema: `{"type":"object","properties":{
			"grid":{"type":"array","items":{"type":"array","items":{"type":"integer"}}}},"required":["grid"]}`},
		{name: "multilingual array of strings", schema: `{"type":"object","properties":{
			"aliases":{"type":"object","properties":{"en":{"type":"array","items":{"type":"string"}},
			"de":{"type":"array","items":{"type":"string"}}},"required":["en","de"]}},"required":["aliases"]}`},
		{name: "refs and anyOf", schema: `{"type":"object","$defs":{"Person":{"type":"object",
			"properties":{"name":{"type":"string"},"born":{"anyOf":[{"type":"integer"},{"type":"null"}]}},"required":["name","born"]}},
			"properties":{"ceo":{"$ref":"#/$defs/Person"}},"required":["ceo"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			schema := schemaMap(t, tt.schema)
			resolved := resolveForTest(schema)
			for i := range 200 {
				req := enrichReq("fast", company(i), 1, 1)
				req.Schema = json.RawMessage(tt.schema)
				resp, err := p.Complete(context.Background(), req)
				require.NoError(t, err)
				var v any
				require.NoError(t, json.Unmarshal([]byte(resp.Text), &v))
				require.Empty(t, conform(resolved, v, "answer"), resp.Text)
			}
		})
	}
}

// resolveForTest inlines the refs and anyOf of the "refs and anyOf" case, so that conform
// needs no reference support.
func resolveForTest(schema map[string]any) map[string]any {
	defs, _ := schema["$defs"].(map[string]any)
	if defs == nil {
		return schema
	}
	person := defs["Person"].(map[string]any)
	props := person["properties"].(map[string]any)
	props["born"] = map[string]any{"type": []any{"integer", "null"}}
	schema["properties"].(map[string]any)["ceo"] = person
	return schema
}

// descRE is a simulated description in one language of a multilingual text.
var descRE = regexp.MustCompile(`^(Company \d+ is an? [a-z -]+\.) \((en|fr)\)$`)

func TestValueShapes(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	var nulls, nullable, items, arrays int
	for i := range 300 {
		resp, err := p.Complete(context.Background(), enrichReq("fast", company(i), 1, 1))
		require.NoError(t, err)
		m := decode(t, resp.Text)

		require.Contains(t, industries, m["sector"], "a sector is an industry")
		emp := m["employees"].(float64)
		require.True(t, emp >= 5 && emp <= 300000 && emp == float64(int(emp)), emp)

		for _, k := range []string{"founded_year", "revenue_usd", "is_listed", "tags", "description"} {
			nullable++
			if m[k] == nil {
				nulls++
			}
		}
		if y, ok := m["founded_year"].(float64); ok {
			require.True(t, y >= 1850 && y <= 2025, y)
		}
		if r, ok := m["revenue_usd"].(float64); ok {
			require.True(t, r >= 1e6 && r <= 5e11, r)
		}
		if d, ok := m["description"].(map[string]any); ok {
			en := descRE.FindStringSubmatch(d["en"].(string))
			fr := descRE.FindStringSubmatch(d["fr"].(string))
			require.NotNil(t, en, d)
			require.NotNil(t, fr, d)
			require.Contains(t, en[1], fmt.Sprintf("Company %d ", i))
			require.Equal(t, "en", en[2])
			require.Equal(t, "fr", fr[2])
			require.Equal(t, en[1], fr[1], "languages translate one value")
		}
		if hq, ok := m["headquarters"].(map[string]any); ok {
			if c, ok := hq["city"].(string); ok {
				require.Contains(t, cities, strings.ReplaceAll(c, " ", "_"))
			}
		} else {
			t.Fatalf("objects are never null: %s", resp.Text)
		}
		if subs, ok := m["subsidiaries"].([]any); ok {
			arrays++
			items += len(subs)
			require.True(t, len(subs) >= 1 && len(subs) <= 3)
		}
	}
	share := float64(nulls) / float64(nullable)
	require.InDelta(t, 0.10, share, 0.04, "null share of nullable leaves")
	require.Greater(t, float64(items)/float64(arrays), 1.5, "arrays hold 1..3 items")
}

func TestArrayItemPathsDiffer(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{Disagreement: -1})
	for i := range 50 {
		req := enrichReq("fast", company(i), 1, 1)
		req.Schema = json.RawMessage(`{"type":"object","properties":{"subs":{"type":"array",
			"items":{"type":"object","properties":{"name":{"type":"string"}}}}}}`)
		resp, err := p.Complete(context.Background(), req)
		require.NoError(t, err)
		subs := decode(t, resp.Text)["subs"].([]any)
		seen := map[any]bool{}
		for _, s := range subs {
			name := s.(map[string]any)["name"]
			require.False(t, seen[name], "items at different indexes get different values: %s", resp.Text)
			seen[name] = true
		}
	}
}

func TestFieldLabel(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"name", "Name"},
		{"founded_year", "Founded year"},
		{"_private", "Private"},
		{"CEO", "CEO"},
		{"été", "Été"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, fieldLabel(tt.in))
		})
	}
}

func TestEmptyOrBadSchema(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	req := enrichReq("fast", company(1), 1, 1)
	req.Schema = nil
	resp, err := p.Complete(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, "{}", resp.Text)

	req.Schema = json.RawMessage(`{"type":"object","properties":[1]}`)
	_, err = p.Complete(context.Background(), req)
	require.Error(t, err)
}

func TestParseSchemaRejectsBrokenJSON(t *testing.T) {
	t.Parallel()
	doc := []byte(companySchema)
	for i := range len(doc) {
		prefix := doc[:i]
		if json.Valid(prefix) {
			continue
		}
		_, err := parseSchema(prefix)
		require.Error(t, err, "prefix %q", prefix)
	}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "escaped names", in: `{"properties":{"a\"b":{"type":"string"}}}`, ok: true},
		{name: "boolean schema", in: `true`, ok: true},
		{name: "unknown keywords skipped", in: `{"type":"object","x":[1,{"y":null}],"properties":{}}`, ok: true},
		{name: "trailing data", in: `{} {}`},
		{name: "bad literal", in: `{"minimum": 1x}`},
		{name: "type not a string", in: `{"type":[1]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseSchema([]byte(tt.in))
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	n, err := parseSchema([]byte(`{"properties":{"a\"b":{"type":["integer","null"]}},"enum":[1, "x"]}`))
	require.NoError(t, err)
	require.Equal(t, "a\"b", n.props[0].name)
	require.Equal(t, []string{"integer", "null"}, n.props[0].node.types)
	require.Equal(t, []json.RawMessage{json.RawMessage("1"), json.RawMessage(`"x"`)}, n.enum)
}
