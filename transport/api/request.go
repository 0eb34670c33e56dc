package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// decodeBody parses the request body as a JSON object into v (whatever the
// Content-Type; not JSON or not an object is 400; wrong field types are 400 naming the field).
func decodeBody(ctx *fasthttp.RequestCtx, v any) error {
	body := bytes.TrimSpace(ctx.PostBody())
	if len(body) == 0 {
		return enricher.Errorf(enricher.KindInvalid, "request body must be a JSON object")
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return enricher.Errorf(enricher.KindInvalid, "request body must be a JSON object")
		}
		return enricher.Errorf(enricher.KindInvalid, "request body is not valid JSON")
	}
	return decodeJSON(body, v, "")
}

// decodeJSON unmarshals b into v and turns decoding errors into 400s that name the field,
// prefixed with prefix (e.g. "schema_content.").
func decodeJSON(b []byte, v any, prefix string) error {
	err := json.Unmarshal(b, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return enricher.Errorf(enricher.KindInvalid, "%s%s: expected %s, got %s", prefix, field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return enricher.Errorf(enricher.KindInvalid, "request body is not valid JSON: %s", se.Error())
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return enricher.Errorf(enricher.KindInvalid, "%s%s", prefix, fe.Error())
	}
	return enricher.Errorf(enricher.KindInvalid, "request body is not valid: %s", err.Error())
}

// fieldError is returned by custom UnmarshalJSON methods to name a field and its problem.
type fieldError struct{ field, problem string }

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return goKind
}

// requestID returns the id of this request (set by the server middleware).
func requestID(ctx *fasthttp.RequestCtx) string {
	if v, ok := ctx.UserValue(ctxRequestID).(string); ok {
		return v
	}
	return ""
}

// newRequestID returns the caller's X-Request-ID when it is 1..128 printable ASCII characters,
// else 16 random hex characters.
func newRequestID(given []byte) string {
	if n := len(given); n > 0 && n <= 128 {
		ok := true
		for _, c := range given {
			if c < 0x21 || c > 0x7e {
				ok = false
				break
			}
		}
		if ok {
			return string(given)
		}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// page is a parsed pagination query.
type page struct{ Page, Size int }

// parsePage reads page and page_size from the query.
func parsePage(ctx *fasthttp.RequestCtx) (page, error) {
	p := page{Page: 1, Size: 20}
	args := ctx.QueryArgs()
	if v := args.Peek("page"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return p, enricher.Errorf(enricher.KindInvalid, "page: must be an integer ≥ 1")
		}
		p.Page = n
	}
	if v := args.Peek("page_size"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 100 {
			return p, enricher.Errorf(enricher.KindInvalid, "page_size: must be an integer from 1 to 100")
		}
		p.Size = n
	}
	return p, nil
}

// paginated returns the slice of items on page p plus the page totals (page, page_size, total, total_pages).
func paginated[T any](items []T, p page) (out []T, total, totalPages int) {
	total = len(items)
	totalPages = (total + p.Size - 1) / p.Size
	start := (p.Page - 1) * p.Size
	if start >= total {
		return []T{}, total, totalPages
	}
	end := min(start+p.Size, total)
	return items[start:end], total, totalPages
}

// queryBool parses an optional boolean query parameter.
func queryBool(ctx *fasthttp.RequestCtx, name string, def bool) (bool, error) {
	v := ctx.QueryArgs().Peek(name)
	if v == nil {
		return def, nil
	}
	switch strings.ToLower(string(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return def, enricher.Errorf(enricher.KindInvalid, "%s: expected true or false", name)
}

// pathID returns the path parameter name when it is a well-formed id; a malformed id in a
// path is 404.
func pathID(ctx *fasthttp.RequestCtx, name, what string) (string, error) {
	v, _ := ctx.UserValue(name).(string)
	if !enricher.ValidUUID(v) {
		return "", enricher.Errorf(enricher.KindNotFound, "%s not found", what)
	}
	return v, nil
}
