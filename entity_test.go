package enricher

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// entityKeySchema has a root key `name`, a key `code` inside the object `headquarters`, a
// preserved key (preserve wins: not a search key) and a key inside array items (identifies
// items, not the entity).
func entityKeySchema() *Schema {
	name := answerLeaf("name", TypeString)
	name.IsKey = true
	code := answerLeaf("code", TypeString)
	code.IsKey = true
	hq := answerLeaf("headquarters", TypeObject)
	hq.Properties = []*Property{answerLeaf("city", TypeString), code}
	own := answerLeaf("own_id", TypeString)
	own.IsKey, own.Preserve = true, true
	sku := answerLeaf("sku", TypeString)
	sku.IsKey = true
	lines := answerLeaf("lines", TypeArray)
	lines.Items = &Property{Type: TypeObject, Nullable: true, Properties: []*Property{sku}}
	return &Schema{Root: EntityDefinition{Name: "Site", Properties: []*Property{name, hq, own, lines}}}
}

func TestCheckSearchKeys(t *testing.T) {
	noKeys := &Schema{Root: EntityDefinition{Name: "Note", Properties: []*Property{answerLeaf("text", TypeString)}}}
	tests := []struct {
		name    string
		schema  *Schema
		entity  map[string]any
		wantErr string
	}{
		{name: "root key", schema: answerTestSchema(), entity: map[string]any{"name": "Moderna Inc"}},
		{name: "second key, other case", schema: answerTestSchema(), entity: map[string]any{"COUNTRY": "US"}},
		{name: "number value", schema: answerTestSchema(), entity: map[string]any{"country": 0.0}},
		{
			name:    "only empty values",
			schema:  answerTestSchema(),
			entity:  map[string]any{"name": "", "country": nil, "Name": []any{}, "website": "x"},
			wantErr: "entity_data has none of the search keys: name, country",
		},
		{
			name:    "key nested where the schema does not put it",
			schema:  answerTestSchema(),
			entity:  map[string]any{"company": map[string]any{"name": "Moderna Inc"}},
			wantErr: "entity_data has none of the search keys: name, country",
		},
		{
			name:   "nested key through its object",
			schema: entityKeySchema(),
			entity: map[string]any{"Headquarters": map[string]any{"CODE": "HQ-1"}},
		},
		{
			name:    "preserved and array keys do not count",
			schema:  entityKeySchema(),
			entity:  map[string]any{"own_id": "x", "sku": "y", "lines": []any{map[string]any{"sku": "z"}}},
			wantErr: "entity_data has none of the search keys: name, headquarters.code",
		},
		{name: "no keys in schema", schema: noKeys, entity: map[string]any{"anything": 1.0}},
		{
			name:    "empty entity",
			schema:  noKeys,
			entity:  map[string]any{},
			wantErr: "entity_data: at least one field is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSearchKeys(tt.schema, tt.entity)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			require.True(t, IsKind(err, KindInvalid))
		})
	}
}

func TestEntityID(t *testing.T) {
	const org = "0b6f9c1e-3d2a-4c5b-8e7f-1a2b3c4d5e6f"
	// Expected ids computed independently with Python 3's uuid module:
	//   ns = uuid.UUID("5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e98")
	//   c = lambda o: json.dumps(o, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
	//   uuid.uuid5(ns, org + "|" + c({"country": "US", "name": "Moderna Inc"}))
	//     -> e0ac4004-76aa-56be-9ff5-a09601cf6d40
	//   uuid.uuid5(ns, org + "|" + c({"name": "Moderna Inc"}))
	//     -> 33fc2f32-1e9a-574f-9830-fd09912838ef
	//   uuid.uuid5(ns, org + "|" + c({"website": "https://a.example/?x=<1>&y", "employees": 1200}))
	//     -> c7dfa742-5ef2-5799-9984-728aa9aa1cac
	//   uuid.uuid5(ns, org + "|" + c({"headquarters.code": "HQ-1", "name": "Acme"}))
	//     -> 1eedf53c-f3b1-526e-b5aa-d5bfe3a108b4
	tests := []struct {
		name   string
		schema *Schema
		entity map[string]any
		want   string
	}{
		{
			name:   "both keys, other fields ignored",
			schema: answerTestSchema(),
			entity: map[string]any{"country": "US", "name": "Moderna Inc", "notes": "x", "crm_id": "C1"},
			want:   "e0ac4004-76aa-56be-9ff5-a09601cf6d40",
		},
		{
			name:   "key names lower-cased",
			schema: answerTestSchema(),
			entity: map[string]any{"COUNTRY": "US", "Name": "Moderna Inc"},
			want:   "e0ac4004-76aa-56be-9ff5-a09601cf6d40",
		},
		{
			name:   "empty key values are absent",
			schema: answerTestSchema(),
			entity: map[string]any{"name": "Moderna Inc", "country": ""},
			want:   "33fc2f32-1e9a-574f-9830-fd09912838ef",
		},
		{
			name:   "whole entity when no key is present, sorted and without HTML escaping",
			schema: answerTestSchema(),
			entity: map[string]any{"website": "https://a.example/?x=<1>&y", "employees": 1200.0},
			want:   "c7dfa742-5ef2-5799-9984-728aa9aa1cac",
		},
		{
			name:   "nested key as a dotted path",
			schema: entityKeySchema(),
			entity: map[string]any{"name": "Acme", "headquarters": map[string]any{"Code": "HQ-1", "city": "X"}},
			want:   "1eedf53c-f3b1-526e-b5aa-d5bfe3a108b4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EntityID(org, tt.schema, tt.entity)
			require.Equal(t, tt.want, got)
			require.True(t, ValidUUID(got))
		})
	}
	require.NotEqual(t,
		EntityID(org, answerTestSchema(), map[string]any{"name": "Moderna Inc"}),
		EntityID("1b6f9c1e-3d2a-4c5b-8e7f-1a2b3c4d5e6f", answerTestSchema(), map[string]any{"name": "Moderna Inc"}),
		"the organization is part of the name")
}

func TestEntityName(t *testing.T) {
	seven := 7
	tests := []struct {
		name   string
		schema *Schema
		entity map[string]any
		index  *int
		want   string
	}{
		{name: "name field", schema: answerTestSchema(), entity: map[string]any{"title": "T", "name": "N"}, want: "N"},
		{name: "case-insensitive", schema: answerTestSchema(), entity: map[string]any{"NAME": "N"}, want: "N"},
		{
			name:   "title when name is blank or not a string",
			schema: answerTestSchema(),
			entity: map[string]any{"name": "  ", "Title": "T", "label": "L"},
			want:   "T",
		},
		{name: "label", schema: answerTestSchema(), entity: map[string]any{"name": 3.0, "label": "L"}, want: "L"},
		{
			name:   "first string search key",
			schema: entityKeySchema(),
			entity: map[string]any{"headquarters": map[string]any{"code": "HQ-1"}, "city": "X"},
			want:   "HQ-1",
		},
		{
			name:   "non-string key skipped",
			schema: answerTestSchema(),
			entity: map[string]any{"country": "US", "Name": 12.0},
			want:   "US",
		},
		{name: "batch fallback", schema: answerTestSchema(), entity: map[string]any{"x": "y"}, index: &seven, want: "entity 7"},
		{name: "single fallback", schema: answerTestSchema(), entity: map[string]any{"x": "y"}, want: "entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, EntityName(tt.schema, tt.entity, tt.index))
		})
	}
}

func TestStripSimDirective(t *testing.T) {
	tests := []struct {
		name          string
		entity        map[string]any
		wantClean     map[string]any
		wantDirective map[string]any
	}{
		{
			name:          "directive removed",
			entity:        map[string]any{"name": "A", "_sim": map[string]any{"fail": "timeout", "fail_attempts": 2.0}},
			wantClean:     map[string]any{"name": "A"},
			wantDirective: map[string]any{"fail": "timeout", "fail_attempts": 2.0},
		},
		{
			name:      "non-object directive removed and ignored",
			entity:    map[string]any{"name": "A", "_sim": "fail"},
			wantClean: map[string]any{"name": "A"},
		},
		{
			name:      "no directive",
			entity:    map[string]any{"name": "A", "_SIM": 1.0},
			wantClean: map[string]any{"name": "A", "_SIM": 1.0},
		},
		{name: "nil entity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.entity)
			clean, directive := StripSimDirective(tt.entity)
			require.Equal(t, tt.wantClean, clean)
			require.Equal(t, tt.wantDirective, directive)
			require.Len(t, tt.entity, before, "input is not modified")
			if clean != nil {
				clean["added"] = true
				require.NotContains(t, tt.entity, "added")
			}
		})
	}
}

func TestValidUUID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e98", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"5C2E3A4F-8B1D-4E6A-9F07-3D5B2C1A0E98", false},
		{"5c2e3a4f8b1d4e6a9f073d5b2c1a0e98", false},
		{"{5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e98}", false},
		{"5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e9", false},
		{"5c2e3a4f-8b1d-4e6a-9f07-3d5b2c1a0e9g", false},
		{"5c2e3a4f_8b1d-4e6a-9f07-3d5b2c1a0e98", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, ValidUUID(tt.in))
		})
	}
}

func TestExpectedIsKeptApart(t *testing.T) {
	entity := map[string]any{"name": "Acme", "_sim": map[string]any{"latency_ms": 0.0}, "_expected": map[string]any{"founded_year": 1849.0}}
	clean, directive := StripSimDirective(entity)
	require.Equal(t, map[string]any{"name": "Acme"}, clean, "neither _sim nor _expected reaches a model")
	require.NotNil(t, directive)
	require.Equal(t, map[string]any{"name": "Acme", "_sim": map[string]any{"latency_ms": 0.0}}, WithoutExpected(entity))
	require.Contains(t, entity, "_expected", "the entity is not modified")
	require.JSONEq(t, `{"founded_year":1849}`, string(ExpectedOf(entity)))
	require.Nil(t, ExpectedOf(map[string]any{"_expected": "not an object"}))
	plain := map[string]any{"name": "Acme"}
	require.Equal(t, plain, WithoutExpected(plain))
}
