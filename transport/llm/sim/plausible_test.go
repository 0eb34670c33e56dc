package sim

import (
	"context"
	"encoding/json"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// plausibleSchema has one field of each kind of value the simulator recognises, by name,
// description or format, plus bounds and a length limit it must keep to.
const plausibleSchema = `{"type": "object", "properties": {
  "founded_year": {"type": "integer"},
  "release_year": {"type": ["integer", "null"]},
  "yearFounded": {"type": "string"},
  "established": {"type": "integer", "description": "Year the company was established"},
  "revenue_usd": {"type": "number"},
  "annual_revenue_millions": {"type": "number"},
  "market_cap": {"type": "integer"},
  "employees": {"type": "integer"},
  "unit_price": {"type": "number"},
  "ownership_pct": {"type": "number"},
  "gross_margin": {"type": "number", "minimum": 0, "maximum": 60},
  "debt_ratio": {"type": "number"},
  "rating": {"type": "number"},
  "age": {"type": "integer"},
  "population": {"type": "integer"},
  "runtime": {"type": "integer", "description": "Running time in minutes"},
  "store_count": {"type": "integer", "exclusiveMinimum": 10, "maximum": 12},
  "contact_email": {"type": "string"},
  "support": {"type": "string", "format": "email"},
  "website": {"type": "string"},
  "docs": {"type": "string", "format": "uri"},
  "phone": {"type": "string"},
  "country": {"type": "string"},
  "country_code": {"type": "string"},
  "currency": {"type": "string"},
  "headquarters_city": {"type": "string"},
  "ipo_date": {"type": "string"},
  "updated_at": {"type": "string", "format": "date-time"},
  "ceo": {"type": "string"},
  "founders": {"type": "array", "items": {"type": "string"}},
  "sector": {"type": "string"},
  "summary": {"type": "string", "maxLength": 40},
  "latitude": {"type": "number"},
  "longitude": {"type": "number"},
  "uuid": {"type": "string", "format": "uuid"},
  "status": {"type": "string", "enum": ["active", "dissolved"]},
  "mystery": {"type": "string"}
}}`

// plausible checks one value per field kind; each returns "" when the value fits.
var plausible = map[string]func(v any) bool{
	"founded_year": between(1850, 2025, true), "release_year": between(1950, 2025, true),
	"yearFounded": func(v any) bool { return regexp.MustCompile(`^(18[5-9]\d|19\d\d|20[0-2]\d)$`).MatchString(v.(string)) },
	"established": between(1850, 2025, true), "revenue_usd": between(1e6, 5e11, false),
	"annual_revenue_millions": between(1, 5e5, false), "market_cap": between(1e6, 5e11, true),
	"employees": between(5, 300000, true), "unit_price": between(1, 5000, false),
	"ownership_pct": between(0, 100, false), "gross_margin": between(0, 60, false), "debt_ratio": between(0, 1, false),
	"rating": between(1, 5, false), "age": between(18, 95, true), "population": between(1000, 4e7, true),
	"runtime": between(60, 200, true), "store_count": between(11, 12, true),
	"contact_email": isEmail, "support": isEmail, "website": isURL, "docs": isURL,
	"phone":             func(v any) bool { return regexp.MustCompile(`^\+\d{1,3} \d{2,3} \d{3} \d{4}$`).MatchString(v.(string)) },
	"country":           func(v any) bool { return inList(countries, v) },
	"country_code":      func(v any) bool { return inList(countryISO, v) },
	"currency":          func(v any) bool { return inList(currencies, v) },
	"headquarters_city": func(v any) bool { return inList(cities, v) },
	"ipo_date": func(v any) bool {
		d, err := time.Parse(time.DateOnly, v.(string))
		return err == nil && d.Year() >= 1950 && d.Year() <= 2025
	},
	"updated_at": func(v any) bool { _, err := time.Parse(time.RFC3339, v.(string)); return err == nil },
	"ceo":        isPerson,
	"founders": func(v any) bool {
		for _, p := range v.([]any) {
			if !isPerson(p) {
				return false
			}
		}
		return len(v.([]any)) > 0
	},
	"sector": func(v any) bool { return inList(industries, v) },
	"summary": func(v any) bool {
		s := v.(string)
		return utf8.RuneCountInString(s) <= 40 && strings.HasPrefix(s, "Company ")
	},
	"latitude":  between(-90, 90, false),
	"longitude": between(-180, 180, false),
	"uuid": func(v any) bool {
		return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(v.(string))
	},
	"status":  func(v any) bool { return v == "active" || v == "dissolved" },
	"mystery": func(v any) bool { return regexp.MustCompile(`^Mystery [0-9a-f]{6}$`).MatchString(v.(string)) },
}

func between(lo, hi float64, integer bool) func(any) bool {
	return func(v any) bool {
		f, ok := v.(float64)
		return ok && f >= lo && f <= hi && (!integer || f == math.Trunc(f))
	}
}

func isEmail(v any) bool {
	a, err := mail.ParseAddress(v.(string))
	return err == nil && a.Address == v && strings.HasSuffix(v.(string), ".com")
}

func isURL(v any) bool {
	u, err := url.Parse(v.(string))
	return err == nil && u.Scheme == "https" && strings.HasPrefix(u.Host, "www.") && strings.HasSuffix(u.Host, ".com")
}

func isPerson(v any) bool {
	first, last, ok := strings.Cut(v.(string), " ")
	return ok && inList(firstNames, first) && inList(lastNames, last)
}

func inList(list []string, v any) bool {
	s, _ := v.(string)
	for _, x := range list {
		if strings.ReplaceAll(x, "_", " ") == s {
			return true
		}
	}
	return false
}

// Over many entities and two models, every field gets a value of its kind, within its range and
// the schema's bounds; the same call gives the same answer; models agree on the consensus values.
func TestPlausibleValues(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	agree, _ := newTest(Config{Disagreement: -1})
	var props map[string]any
	require.NoError(t, json.Unmarshal([]byte(plausibleSchema), &struct {
		Properties *map[string]any `json:"properties"`
	}{&props}))
	require.Len(t, plausible, len(props), "one check per field")
	distinct := map[string]map[string]bool{}
	for i := range 300 {
		for _, model := range []string{"fast", "realistic"} {
			req := enrichReq(model, company(i), 1, 1)
			req.Schema = json.RawMessage(plausibleSchema)
			resp, err := p.Complete(context.Background(), req)
			require.NoError(t, err)
			again, err := p.Complete(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, resp.Text, again.Text, "deterministic")
			m := decode(t, resp.Text)
			for field, ok := range plausible {
				v, present := m[field]
				require.True(t, present, field)
				if v == nil {
					require.Equal(t, "release_year", field, "only nullable fields are null")
					continue
				}
				require.True(t, ok(v), "%s = %v (entity %d, %s)", field, v, i, model)
				b, _ := json.Marshal(v)
				if distinct[field] == nil {
					distinct[field] = map[string]bool{}
				}
				distinct[field][string(b)] = true
			}
		}
		texts := [2]string{}
		for j, model := range []string{"fast", "realistic"} {
			req := enrichReq(model, company(i), 1, 1)
			req.Schema = json.RawMessage(plausibleSchema)
			resp, err := agree.Complete(context.Background(), req)
			require.NoError(t, err)
			texts[j] = resp.Text
		}
		require.Equal(t, texts[0], texts[1], "without disagreement, models give the consensus values")
	}
	for field, seen := range distinct {
		if field != "status" && field != "store_count" {
			require.Greater(t, len(seen), 2, "%s varies across entities", field)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, desc, format string
		want               fieldKind
	}{
		{name: "founded_year", want: kindOldYear},
		{name: "year", want: kindYear},
		{name: "foundedYear", want: kindOldYear},
		{name: "founding_date", want: kindDate},
		{name: "headquarters_city", want: kindCity},
		{name: "city_population", want: kindPopulation},
		{name: "country_code", want: kindCountryCode},
		{name: "country", want: kindCountry},
		{name: "x", desc: "Number of employees", want: kindEmployees},
		{name: "link", format: "email", want: kindEmail},
		{name: "revenue_usd", want: kindMoney},
		{name: "ceo", want: kindPerson},
		{name: "whatever", want: kindGeneric},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, classify(tt.name, tt.desc, tt.format), tt.name)
	}
}

func TestArticle(t *testing.T) {
	t.Parallel()
	for word, want := range map[string]string{"Entity": "an Entity", "Company": "a Company", "Organization": "an Organization",
		"University": "a University", "hour": "an hour", "European firm": "a European firm", "drug": "a drug"} {
		require.Equal(t, want, withArticle(word))
	}
}

func TestSignificant(t *testing.T) {
	t.Parallel()
	require.Equal(t, 267000000000.0, significant(266999999999.99997, 3))
	require.Equal(t, 0.0123, significant(0.012345, 3))
	require.Equal(t, 0.0, significant(0, 3))
}
