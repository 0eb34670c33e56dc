package llmtest

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// operation is the one operation of a trimmed API description (see trimSpec), compiled for
// validating exchanges: the request's method and path, its header parameters, its request body
// and the body of each documented response status. It is immutable once compiled and safe for
// concurrent use (compiled JSON schemas are).
//
// What is checked, as an OpenAPI validator does:
//   - the request's method and path (the first server URL's path, then the operation's path);
//   - each header parameter: present when required, its value valid against its schema (see
//     checkHeaders);
//   - the request body: present when required, its Content-Type documented, and a JSON body
//     valid against that media type's schema;
//   - the response status: documented exactly ("200"), by range ("4XX") or by "default", in
//     that order; an undocumented status is a violation;
//   - the response headers the status documents, as the request's header parameters;
//   - the response body, unless empty: when the status documents content, its Content-Type
//     documented and a JSON body valid against that media type's schema.
//
// A body of a non-JSON media type (e.g. text/event-stream) has its content type checked only,
// unless its schema carries "x-line-schema" (Anthropic's application/x-jsonl results): then the
// body is JSON Lines and each non-empty line is validated against that schema.
// A templated path ("/batches/{batch_id}") matches any one non-empty segment per parameter;
// path parameters are checked by that match only.
// "format" is annotation, not assertion (the JSON Schema 2020-12 default). Description features
// this validator does not check (path, query or cookie parameters, templated paths) make
// compileOperation fail rather than be skipped silently.
type operation struct {
	name      string
	method    string
	path      string
	pattern   *regexp.Regexp // the path as a pattern; nil when it has no parameters
	headers   []headerParam
	body      *content            // nil: the operation documents no request body
	responses map[string]*content // by status key: "200", "4XX", "default"
}

// headerParam is a header parameter of the operation or a header of one of its responses.
type headerParam struct {
	name     string
	required bool
	schema   *jsonschema.Schema // nil: any value
}

// content is a request body or a response: whether a request body is required, by media
// type the schema the body must satisfy (nil: any body of that type), and a response's headers.
type content struct {
	required bool
	media    map[string]*jsonschema.Schema
	lines    map[string]*jsonschema.Schema // by media type: the schema of each JSON line
	headers  []headerParam
}

// schemaURL names a description inside the schema compiler; nothing is ever fetched from it.
const schemaURL = "https://llmtest.invalid/openapi.json"

// compileOperation compiles the single operation of the trimmed description raw.
func compileOperation(name string, raw []byte) (*operation, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	root, _ := doc.(map[string]any)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	op := &operation{name: name, responses: map[string]*content{}}

	if servers, _ := root["servers"].([]any); len(servers) > 0 {
		s, _ := servers[0].(map[string]any)
		u, err := url.Parse(fmt.Sprint(s["url"]))
		if err != nil {
			return nil, fmt.Errorf("server url: %w", err)
		}
		op.path = strings.TrimSuffix(u.Path, "/")
	}
	paths, _ := root["paths"].(map[string]any)
	if len(paths) != 1 {
		return nil, fmt.Errorf("want one path, have %d", len(paths))
	}
	var ptr string
	var node map[string]any
	for p, item := range paths {
		methods, _ := item.(map[string]any)
		for m, o := range methods {
			if m == "parameters" {
				return nil, fmt.Errorf("path-level parameters are not supported")
			}
			obj, isObject := o.(map[string]any)
			if !isObject { // summary, description
				continue
			}
			if op.method != "" {
				return nil, fmt.Errorf("want one operation under %s", p)
			}
			op.method, op.path = strings.ToUpper(m), op.path+p
			ptr, node = "/paths/"+escapePointer(p)+"/"+escapePointer(m), obj
		}
	}
	if node == nil {
		return nil, errors.New("no operation")
	}
	if strings.Contains(op.path, "{") {
		pat := regexp.QuoteMeta(op.path)
		pat = regexp.MustCompile(`\\\{[^}]*\\\}`).ReplaceAllString(pat, "[^/]+")
		op.pattern = regexp.MustCompile("^" + pat + "$")
	}

	params, _ := node["parameters"].([]any)
	for i := range params {
		pptr, p, err := resolve(root, fmt.Sprintf("%s/parameters/%d", ptr, i))
		if err != nil {
			return nil, err
		}
		if p["in"] == "path" && p["required"] == true && strings.Contains(op.path, "{"+fmt.Sprint(p["name"])+"}") {
			continue // checked by the route's pattern
		}
		if p["in"] != "header" {
			return nil, fmt.Errorf("%v parameter %v is not supported", p["in"], p["name"])
		}
		hp, err := compileHeader(c, fmt.Sprint(p["name"]), pptr, p)
		if err != nil {
			return nil, err
		}
		op.headers = append(op.headers, hp)
	}
	if node["requestBody"] != nil {
		if op.body, err = compileContent(c, root, ptr+"/requestBody"); err != nil {
			return nil, err
		}
	}
	responses, _ := node["responses"].(map[string]any)
	for status := range responses {
		rc, err := compileContent(c, root, ptr+"/responses/"+escapePointer(status))
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", status, err)
		}
		if status != "default" {
			status = strings.ToUpper(status) // "4xx" is "4XX"
		}
		op.responses[status] = rc
	}
	return op, nil
}

// compileContent compiles the request body or response at the JSON pointer ptr of root.
func compileContent(c *jsonschema.Compiler, root map[string]any, ptr string) (*content, error) {
	ptr, node, err := resolve(root, ptr)
	if err != nil {
		return nil, err
	}
	out := &content{required: node["required"] == true, media: map[string]*jsonschema.Schema{},
		lines: map[string]*jsonschema.Schema{}}
	headers, _ := node["headers"].(map[string]any)
	for _, name := range sortedKeys(headers) {
		hptr, h, err := resolve(root, ptr+"/headers/"+escapePointer(name))
		if err != nil {
			return nil, err
		}
		hp, err := compileHeader(c, name, hptr, h)
		if err != nil {
			return nil, err
		}
		out.headers = append(out.headers, hp)
	}
	media, _ := node["content"].(map[string]any)
	for mt, m := range media {
		var sch *jsonschema.Schema
		sptr := ptr + "/content/" + escapePointer(mt) + "/schema"
		if mm, _ := m.(map[string]any); mm["schema"] != nil {
			if sch, err = c.Compile(schemaURL + "#" + sptr); err != nil {
				return nil, fmt.Errorf("%s: %w", mt, err)
			}
			if ms, _ := mm["schema"].(map[string]any); ms["x-line-schema"] != nil {
				line, err := c.Compile(schemaURL + "#" + sptr + "/x-line-schema")
				if err != nil {
					return nil, fmt.Errorf("%s lines: %w", mt, err)
				}
				out.lines[strings.ToLower(mt)] = line
			}
		}
		out.media[strings.ToLower(mt)] = sch
	}
	return out, nil
}

// compileHeader compiles the header parameter or response header h, found at ptr.
func compileHeader(c *jsonschema.Compiler, name, ptr string, h map[string]any) (headerParam, error) {
	hp := headerParam{name: name, required: h["required"] == true}
	if h["schema"] != nil {
		var err error
		if hp.schema, err = c.Compile(schemaURL + "#" + ptr + "/schema"); err != nil {
			return hp, fmt.Errorf("header %s: %w", name, err)
		}
	}
	return hp, nil
}

// checkHeaders returns the violations of header against hs. A header value is text; as an
// OpenAPI "simple"-style value it is valid when either the text or the JSON scalar it spells
// (a number, a boolean) satisfies the schema, so "7" is both a string and an integer.
func checkHeaders(what string, hs []headerParam, header http.Header) []string {
	var out []string
	for _, h := range hs {
		v := header.Values(h.name)
		if len(v) == 0 {
			if h.required {
				out = append(out, fmt.Sprintf("%s: missing required header %s", what, h.name))
			}
			continue
		}
		if h.schema == nil {
			continue
		}
		err := h.schema.Validate(v[0])
		if err == nil {
			continue
		}
		scalar, jerr := jsonschema.UnmarshalJSON(strings.NewReader(v[0]))
		if _, isObject := scalar.(map[string]any); jerr == nil && !isObject {
			if _, isArray := scalar.([]any); !isArray {
				if err = h.schema.Validate(scalar); err == nil {
					continue
				}
			}
		}
		out = append(out, schemaViolations(what+" header "+h.name, v[0], err)...)
	}
	return out
}

// resolve returns the object at the JSON pointer ptr of root, following "$ref"s (local ones,
// as a trimmed description has), and the pointer it was found at.
func resolve(root map[string]any, ptr string) (string, map[string]any, error) {
	for range 10 {
		var cur any = root
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch n := cur.(type) {
			case map[string]any:
				cur = n[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(n) {
					return "", nil, fmt.Errorf("bad pointer %s", ptr)
				}
				cur = n[i]
			default:
				return "", nil, fmt.Errorf("bad pointer %s", ptr)
			}
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("no object at %s", ptr)
		}
		ref, isRef := obj["$ref"].(string)
		if !isRef {
			return ptr, obj, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return "", nil, fmt.Errorf("non-local $ref %s", ref)
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	return "", nil, fmt.Errorf("$ref chain too long at %s", ptr)
}

// escapePointer escapes one JSON pointer token.
func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// checkRequest returns the violations of r, whose body is body.
func (op *operation) checkRequest(r *http.Request, body []byte) []string {
	what := op.name + " request"
	if v := op.route(what, r); v != nil {
		return v
	}
	out := checkHeaders(what, op.headers, r.Header)
	if op.body == nil {
		return out
	}
	return append(out, op.body.check(what+" body", r.Header.Get("Content-Type"), body, op.body.required)...)
}

// route returns a violation when r is not a request for the operation.
func (op *operation) route(what string, r *http.Request) []string {
	if op.matches(r) {
		return nil
	}
	return []string{fmt.Sprintf("%s: %s Path '%s' not found (the description has %s %s)",
		what, r.Method, r.URL.Path, op.method, op.path)}
}

// matches reports whether r is a request for the operation.
func (op *operation) matches(r *http.Request) bool {
	if r.Method != op.method {
		return false
	}
	if op.pattern != nil {
		return op.pattern.MatchString(r.URL.Path)
	}
	return r.URL.Path == op.path
}

// checkResponse returns the violations of a response to r with status, header and body.
func (op *operation) checkResponse(r *http.Request, status int, header http.Header, body []byte) []string {
	what := fmt.Sprintf("%s response %d", op.name, status)
	if v := op.route(what, r); v != nil {
		return v
	}
	rc := op.responses[strconv.Itoa(status)]
	if rc == nil {
		rc = op.responses[fmt.Sprintf("%dXX", status/100)]
	}
	if rc == nil {
		rc = op.responses["default"]
	}
	if rc == nil {
		return []string{fmt.Sprintf("%s: status %d is not documented (documented: %s)", what, status,
			strings.Join(sortedKeys(op.responses), ", "))}
	}
	out := checkHeaders(what, rc.headers, header)
	if len(rc.media) == 0 {
		return out
	}
	// OpenAPI has no "required" for a response body: documented content describes the body
	// when there is one, so an empty body (a proxy's bare 408) is not a violation.
	return append(out, rc.check(what+" body", header.Get("Content-Type"), body, false)...)
}

// check returns the violations of a body of media type contentType; an empty body is one
// when required.
func (c *content) check(what, contentType string, body []byte, required bool) []string {
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return []string{what + ": missing (the description requires one)"}
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return []string{fmt.Sprintf("%s: bad content type %q: %v", what, contentType, err)}
	}
	sch, ok := c.media[mt]
	if !ok {
		sch, ok = c.media[strings.Split(mt, "/")[0]+"/*"]
	}
	if !ok {
		sch, ok = c.media["*/*"]
	}
	if !ok {
		return []string{fmt.Sprintf("%s: content type %q is not documented (documented: %s)", what, mt,
			strings.Join(sortedKeys(c.media), ", "))}
	}
	if line := c.lines[mt]; line != nil {
		var out []string
		for i, l := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(l))
			if err != nil {
				out = append(out, fmt.Sprintf("%s line %d: not JSON: %v", what, i+1, err))
				continue
			}
			out = append(out, schemaViolations(fmt.Sprintf("%s line %d", what, i+1), doc, line.Validate(doc))...)
		}
		return out
	}
	if sch == nil || !strings.Contains(mt, "json") {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []string{fmt.Sprintf("%s: not JSON: %v", what, err)}
	}
	return schemaViolations(what, doc, sch.Validate(doc))
}

// printer renders schema errors in English.
var printer = message.NewPrinter(language.English)

// schemaViolations renders err, the result of validating doc, one line per failed keyword
// with the location in doc ("$.messages[0].role"); nil when err is nil.
func schemaViolations(what string, doc any, err error) []string {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []string{what + ": " + err.Error()}
	}
	seen := map[string]bool{}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		msg := e.ErrorKind.LocalizedString(printer)
		if _, ok := e.ErrorKind.(*kind.FalseSchema); ok {
			msg = "not allowed (e.g. an unknown property where unevaluatedProperties is false)"
		}
		line := fmt.Sprintf("%s: %s: %s", what, instancePath(doc, e.InstanceLocation), msg)
		if !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	walk(ve)
	return out
}

// instancePath renders the location loc of doc as "$.a[0].b".
func instancePath(doc any, loc []string) string {
	var sb strings.Builder
	sb.WriteByte('$')
	cur := doc
	for _, tok := range loc {
		switch n := cur.(type) {
		case []any:
			sb.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n) {
				cur = n[i]
			}
		case map[string]any:
			sb.WriteString("." + tok)
			cur = n[tok]
		default:
			sb.WriteString("." + tok)
		}
	}
	return sb.String()
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
