package sim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// parseSchema decodes an answer schema in one pass. It is a small scanner rather than
// encoding/json because it runs on every enrichment call; it accepts well-formed JSON and
// reports an error (never panics) on anything else.
func parseSchema(b []byte) (*node, error) {
	sc := &scanner{b: b}
	n, err := sc.node()
	if err != nil {
		return nil, err
	}
	if sc.ws(); sc.i != len(sc.b) {
		return nil, sc.fail("unexpected data after the schema")
	}
	return n, nil
}

// scanner reads JSON from b at offset i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) error {
	return fmt.Errorf("answer schema: %s at offset %d", msg, s.i)
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// node reads a schema; a non-object schema (true, false) is an empty node.
func (s *scanner) node() (*node, error) {
	n := &node{}
	if s.peek() != '{' {
		return n, s.skip()
	}
	err := s.object(func(key string) error {
		switch key {
		case "type":
			switch s.peek() {
			case '"':
				t, err := s.str()
				n.types = []string{t}
				return err
			case '[':
				return s.array(func() error {
					t, err := s.str()
					n.types = append(n.types, t)
					return err
				})
			}
		case "properties":
			n.props = []field{}
			return s.object(func(name string) error {
				sub, err := s.node()
				n.props = append(n.props, field{name, sub})
				return err
			})
		case "items":
			var err error
			n.items, err = s.node()
			return err
		case "enum":
			return s.array(func() error {
				s.ws()
				start := s.i
				err := s.skip()
				n.enum = append(n.enum, json.RawMessage(s.b[start:s.i]))
				return err
			})
		case "$ref":
			if s.peek() == '"' {
				var err error
				n.ref, err = s.str()
				return err
			}
		case "anyOf", "oneOf":
			return s.array(func() error {
				sub, err := s.node()
				n.alts = append(n.alts, sub)
				return err
			})
		case "description", "format":
			if s.peek() == '"' {
				v, err := s.str()
				if key == "description" {
					n.desc = v
				} else {
					n.format = v
				}
				return err
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			v, ok, err := s.number()
			if ok {
				switch key {
				case "minimum":
					n.minimum = &v
				case "maximum":
					n.maximum = &v
				case "exclusiveMinimum":
					n.exclusiveMinimum = &v
				default:
					n.exclusiveMaximum = &v
				}
			}
			return err
		case "maxLength":
			v, ok, err := s.number()
			if ok && v >= 0 && v == float64(int(v)) {
				l := int(v)
				n.maxLength = &l
			}
			return err
		case "$defs", "definitions":
			if n.defs == nil {
				n.defs = map[string]*node{}
			}
			return s.object(func(name string) error {
				sub, err := s.node()
				n.defs[name] = sub
				return err
			})
		}
		return s.skip()
	})
	return n, err
}

// object reads an object, calling member with each key; member must read the value.
func (s *scanner) object(member func(key string) error) error {
	if s.peek() != '{' {
		return s.fail("expected an object")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// array reads an array, calling elem for each element; elem must read it.
func (s *scanner) array(elem func() error) error {
	if s.peek() != '[' {
		return s.fail("expected an array")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}

// str reads a string.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		return "", s.fail("expected a string")
	}
	start := s.i
	escaped := false
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i++
		case '"':
			s.i++
			if !escaped {
				return string(s.b[start+1 : s.i-1]), nil
			}
			var out string
			if err := json.Unmarshal(s.b[start:s.i], &out); err != nil {
				return "", s.fail("bad string")
			}
			return out, nil
		}
	}
	return "", s.fail("unterminated string")
}

// number reads any value and reports it when it is a number (ok false for another type).
func (s *scanner) number() (float64, bool, error) {
	s.ws()
	start := s.i
	if err := s.skip(); err != nil {
		return 0, false, err
	}
	v, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	return v, err == nil, nil
}

// skip reads any value.
func (s *scanner) skip() error {
	switch s.peek() {
	case '{':
		return s.object(func(string) error { return s.skip() })
	case '[':
		return s.array(s.skip)
	case '"':
		_, err := s.str()
		return err
	case 0:
		return s.fail("unexpected end")
	}
	start := s.i
	for s.i < len(s.b) && !strings.ContainsRune(",:]} \t\r\n{[\"", rune(s.b[s.i])) {
		s.i++
	}
	if s.i == start {
		return s.fail("unexpected character")
	}
	if !json.Valid(s.b[start:s.i]) {
		return s.fail("bad literal")
	}
	return nil
}
