package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadEntities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, format, content string
		want                        string // JSON of the entities
		err                         string
	}{
		{"json array", "a.json", "", `[{"name":"A","n":12345678901234567890}]`, `[{"n":12345678901234567890,"name":"A"}]`, ""},
		{"json object with entities", "a.json", "", `{"total":1,"entities":[{"name":"A"}]}`, `[{"name":"A"}]`, ""},
		{"json non-object", "a.json", "", `[{"name":"A"},3]`, "", "item 1 is not an object"},
		{"ndjson", "a.ndjson", "", "{\"name\":\"A\"}\n\n{\"name\":\"B\"}\n", `[{"name":"A"},{"name":"B"}]`, ""},
		{"ndjson bad line", "a.jsonl", "", "{\"name\":\"A\"}\n[1]\n", "", "line 2 is not a JSON object"},
		{"csv", "a.csv", "", "name,country\nA,US\nB,\n", `[{"country":"US","name":"A"},{"name":"B"}]`, ""},
		{"csv by content", "-", "", "name\nA\n", `[{"name":"A"}]`, ""},
		{"ndjson by content", "-", "", "{\"name\":\"A\"}\n{\"name\":\"B\"}\n", `[{"name":"A"},{"name":"B"}]`, ""},
		{"one ndjson line by content", "-", "", `{"name":"A"}`, `[{"name":"A"}]`, ""},
		{"json object by content", "-", "", "{\n \"items\": [{\"name\":\"A\"}]\n}", `[{"name":"A"}]`, ""},
		{"forced format", "a.txt", "ndjson", "{\"name\":\"A\"}\n", `[{"name":"A"}]`, ""},
		{"unknown format", "a.txt", "xml", "<a/>", "", "not json, ndjson or csv"},
		{"empty", "a.csv", "", "name\n", "", "no entities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.file
			if path != "-" {
				path = filepath.Join(t.TempDir(), tt.file)
				require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			}
			got, err := readEntities(path, tt.format, strings.NewReader(tt.content))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(b))
		})
	}
}

func TestPriorOutputCutsPartialLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.ndjson")
	content := `{"index":2,"success":true,"cost_usd":0.5}` + "\n" + `{"index":0,"success":false,"cost_usd":0.25}` + "\n" + `{"index":1,"succ`
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	done, failed, cost, err := priorOutput(path, 3)
	require.NoError(t, err)
	require.Equal(t, map[int]bool{0: true, 2: true}, done)
	require.Equal(t, 1, failed)
	require.InDelta(t, 0.75, cost, 1e-9)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(raw), "0.25}\n"), "the partial line is cut off")

	_, _, _, err = priorOutput(path, 2)
	require.ErrorContains(t, err, "line 1 is not a result line of this input")
}
