package enricher_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the import arrows true: the root imports nothing of the
// module, storage never imports fasthttp or protoactor, transport/api never imports actors or
// storage, adapters never import actors, and the Go client imports only the root.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/entity-enricher/enricher"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{mod, []string{mod + "/"}},
		{mod + "/storage", []string{"github.com/valyala/fasthttp", "github.com/asynkron/protoactor-go", mod + "/actors", mod + "/transport"}},
		{mod + "/storage/postgres", []string{"github.com/valyala/fasthttp", "github.com/asynkron/protoactor-go", mod + "/actors", mod + "/transport"}},
		{mod + "/transport/api", []string{mod + "/actors", mod + "/storage", mod + "/transport/llm", "github.com/asynkron/protoactor-go", "github.com/dgraph-io/badger"}},
		{mod + "/transport/llm", []string{mod + "/actors", mod + "/storage", mod + "/transport/api"}},
		{mod + "/transport/llm/sim", []string{mod + "/actors", mod + "/storage", mod + "/transport/api"}},
		{mod + "/transport/llm/openai", []string{mod + "/actors", mod + "/storage", mod + "/transport/api"}},
		{mod + "/transport/llm/anthropic", []string{mod + "/actors", mod + "/storage", mod + "/transport/api"}},
		{mod + "/transport/llm/gemini", []string{mod + "/actors", mod + "/storage", mod + "/transport/api"}},
		{mod + "/transport/fetch", []string{mod + "/actors", mod + "/storage", mod + "/transport/api", mod + "/transport/llm"}},
		{mod + "/actors", []string{mod + "/transport/api", "github.com/valyala/fasthttp"}},
		{mod + "/transport/client", []string{mod + "/actors", mod + "/storage", mod + "/transport/", "github.com/valyala/fasthttp", "github.com/asynkron/protoactor-go"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tt.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tt.forbidden {
					if dep != tt.pkg && strings.HasPrefix(dep, f) {
						t.Errorf("%s imports %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
