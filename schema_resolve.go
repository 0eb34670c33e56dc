package enricher

import (
	"slices"
	"strconv"
	"strings"
)

// expandedCap bounds the expanded property counts computed during resolution, so that chains
// of references that multiply cannot overflow.
const expandedCap = 1 << 40

// defState is the resolution state of one $defs type.
type defState struct {
	def      *EntityDefinition
	index    int      // position in $defs
	refs     []string // types referenced anywhere inside this one, first reference first
	visiting bool
	done     bool
	ok       bool // resolved: every reference below it is defined and acyclic
	height   int  // deepest relative depth of its properties (its own properties are at 1)
	size     int  // its properties at every depth, references expanded
}

// resolver resolves $ref properties in place.
type resolver struct {
	states map[string]*defState
}

// resolve reports reference cycles (S6, second half), fills every $ref property from its type,
// and reports references that nest deeper than MaxSchemaDepth (S9). Root-level expansion size
// is kept in p for checkCount.
func (p *schemaParser) resolve(s *Schema) {
	r := &resolver{states: make(map[string]*defState, len(s.Defs))}
	order := make([]string, 0, len(s.Defs))
	for _, d := range s.Defs {
		if _, dup := r.states[d.Name]; dup {
			continue
		}
		r.states[d.Name] = &defState{def: d, index: p.defIndex[d.Name]}
		order = append(order, d.Name)
	}
	for _, site := range p.refSites {
		if st := r.states[site.owner]; site.owner != "" && st != nil && !slices.Contains(st.refs, site.def) {
			st.refs = append(st.refs, site.def)
		}
	}
	p.reportCycles(r, order)
	for _, name := range order {
		r.resolveDef(name)
	}
	_, p.expanded, p.expandedOK = r.list(s.Root.Properties)
	for _, site := range p.refSites {
		st := r.states[site.def]
		if st == nil || !st.ok || st.height > MaxSchemaDepth {
			continue // a type too deep on its own is reported inside it
		}
		if depth := site.depth + st.height; depth > MaxSchemaDepth {
			p.addf(schemaPath(site.path, "$ref"), "nesting depth %d, the maximum is %d", depth, MaxSchemaDepth)
		}
	}
}

// reportCycles reports each reference cycle once, at the $defs type of the cycle that comes
// first in the document, as "$defs.A: reference cycle A → B → A".
func (p *schemaParser) reportCycles(r *resolver, order []string) {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(order))
	var stack []string
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		color[name] = grey
		stack = append(stack, name)
		for _, next := range r.states[name].refs {
			switch color[next] {
			case white:
				visit(next)
			case grey:
				start := slices.Index(stack, next)
				cycle := slices.Clone(stack[start:])
				first := 0
				for i, n := range cycle {
					if r.states[n].index < r.states[cycle[first]].index {
						first = i
					}
				}
				cycle = append(cycle[first:], cycle[:first]...)
				cycle = append(cycle, cycle[0])
				text := strings.Join(cycle, " → ")
				if !seen[text] {
					seen[text] = true
					p.add(schemaPath("$defs", cycle[0]), "reference cycle "+text)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
	}
	for _, name := range order {
		if color[name] == white {
			visit(name)
		}
	}
}

// resolveDef resolves the $defs type name once; a type met again while it is being resolved is
// part of a cycle and stays unresolved.
func (r *resolver) resolveDef(name string) *defState {
	st := r.states[name]
	if st == nil || st.done || st.visiting {
		return st
	}
	st.visiting = true
	st.height, st.size, st.ok = r.list(st.def.Properties)
	st.visiting, st.done = false, true
	return st
}

// list resolves props and returns their deepest relative depth (1 for flat properties), their
// count at every depth with references expanded, and whether every reference resolved.
func (r *resolver) list(props []*Property) (height, size int, ok bool) {
	ok = true
	for _, p := range props {
		h, below, pok := r.node(p)
		height = max(height, h)
		size = min(size+1+below, expandedCap)
		ok = ok && pok
	}
	return height, size, ok
}

// node resolves p and returns its height (1 for a scalar), the count of named properties
// below it with references expanded, and whether every reference resolved.
func (r *resolver) node(p *Property) (height, below int, ok bool) {
	if p.Ref != "" {
		st := r.resolveDef(strings.TrimPrefix(p.Ref, refPrefix))
		if st == nil || !st.done || !st.ok {
			return 1, 0, false
		}
		p.Type = TypeObject
		p.Properties = slices.Clone(st.def.Properties)
		if p.Description == "" {
			p.Description = st.def.Description
		}
		return 1 + st.height, st.size, true
	}
	switch {
	case p.Type == TypeObject:
		h, size, ok := r.list(p.Properties)
		return 1 + h, size, ok
	case p.Type == TypeArray && p.Items != nil:
		h, below, ok := r.node(p.Items)
		return 1 + h, below, ok
	}
	return 1, 0, true
}

// checkCount applies the property limit of S9, to the properties written in the document
// (PropertyCount: each $defs type once) and to the properties once references are expanded.
func (p *schemaParser) checkCount(s *Schema) {
	switch written := s.PropertyCount(); {
	case written > MaxSchemaProperties:
		p.addf("root", "%d properties, the maximum is %d", written, MaxSchemaProperties)
	case p.expandedOK && p.expanded > MaxSchemaProperties:
		n := strconv.Itoa(p.expanded)
		if p.expanded >= expandedCap {
			n = "more than " + strconv.Itoa(expandedCap)
		}
		p.addf("root", "%s properties once $ref types are expanded, the maximum is %d", n, MaxSchemaProperties)
	}
}
