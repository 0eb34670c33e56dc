package enricher

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEntityPayloadsCoverEveryIndexedEvent reads the package source: every event payload struct
// with an EntityIndex *int field has a WithEntityIndex method, so an entity's events never go out
// without their index.
func TestEntityPayloadsCoverEveryIndexedEvent(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", nil, 0)
	require.NoError(t, err)
	var indexed, methods []string
	for _, f := range pkgs["enricher"].Files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, fl := range st.Fields.List {
						star, ok := fl.Type.(*ast.StarExpr)
						if !ok || len(fl.Names) != 1 || fl.Names[0].Name != "EntityIndex" {
							continue
						}
						if id, ok := star.X.(*ast.Ident); ok && id.Name == "int" && strings.HasSuffix(ts.Name.Name, "Event") {
							indexed = append(indexed, ts.Name.Name)
						}
					}
				}
			case *ast.FuncDecl:
				if d.Name.Name == "WithEntityIndex" && d.Recv != nil {
					if id, ok := d.Recv.List[0].Type.(*ast.Ident); ok {
						methods = append(methods, id.Name)
					}
				}
			}
		}
	}
	sort.Strings(indexed)
	sort.Strings(methods)
	require.NotEmpty(t, indexed)
	require.Equal(t, indexed, methods, "every payload with an entity_index has WithEntityIndex")
}

// TestWithEntityIndexCopies sets the index on a copy and leaves the original as it was.
func TestWithEntityIndexCopies(t *testing.T) {
	orig := ModelStartedEvent{Model: "sim::a"}
	i := 3
	var p EntityPayload = orig
	data, err := json.Marshal(p.WithEntityIndex(&i))
	require.NoError(t, err)
	require.Contains(t, string(data), `"entity_index":3`)
	require.Nil(t, orig.EntityIndex, "the original payload is unchanged")
}
