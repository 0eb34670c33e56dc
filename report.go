package enricher

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// JobReport compares the models of one enrichment job (GET /api/llm/jobs/{job_id}/report).
// It is built by a ReportBuilder from the job's stored records; nothing is run again.
type JobReport struct {
	JobID string `json:"job_id"`
	// Entities counts the distinct entities with at least one record.
	Entities int `json:"entities"`
	// ExpectedEntities counts the entities that carried an `_expected` object.
	ExpectedEntities int           `json:"expected_entities"`
	Models           []ModelReport `json:"models"`
	Fused            FusedReport   `json:"fused"`
}

// ModelReport sums one model's enrichment records of a job.
type ModelReport struct {
	Model string `json:"model"`
	// Records is the model's enrichment records (one per entity it ran on); Calls its LLM calls
	// (one per expertise domain and attempt chain, as listed in the records' prompts).
	Records int `json:"records"`
	Calls   int `json:"calls"`
	// SuccessRate is successful records ÷ Records.
	SuccessRate float64 `json:"success_rate"`
	// ValidationRetries counts answers that failed validation (each asked for another attempt
	// or ended the call).
	ValidationRetries int `json:"validation_retries"`
	// NullRate is null leaves ÷ leaves over the model's successful records with provenance.
	NullRate  float64        `json:"null_rate"`
	CostUSD   float64        `json:"cost_usd"`
	LatencyMS LatencySummary `json:"latency_ms"`
	// Fields holds per leaf path the model's agreement with the fused value and, when entities
	// carried `_expected`, its accuracy.
	Fields map[string]*FieldReport `json:"fields"`
}

// FusedReport sums a job's fusion records.
type FusedReport struct {
	Records int                     `json:"records"`
	CostUSD float64                 `json:"cost_usd"`
	Fields  map[string]*FieldReport `json:"fields"`
}

// LatencySummary holds the median and 95th percentile of record processing times (ms, nearest
// rank), 0 without records.
type LatencySummary struct {
	P50 int64 `json:"p50"`
	P95 int64 `json:"p95"`
}

// FieldReport is one leaf's figures. Agreement is Agreed ÷ Fused: among fused records whose
// value at this path is not null and that the model was a source of (under the waterfall
// strategy: and was asked this field for that entity), the share where the model gave that
// value (null answers count as disagreeing); null when there was none.
// Accuracy is Correct ÷ Expected: among records whose entity's `_expected` holds a non-null
// value at this path, the share whose value matches it (ExpectedMatch); null when none did.
type FieldReport struct {
	Fused     int      `json:"fused"`
	Agreed    int      `json:"agreed"`
	Agreement *float64 `json:"agreement"`
	Expected  int      `json:"expected"`
	Correct   int      `json:"correct"`
	Accuracy  *float64 `json:"accuracy"`
}

// ReportBuilder aggregates records into a JobReport as they are read, so a job of any size is
// reported without holding its records: memory grows with the models and fields, plus one
// int32 latency per enrichment record (for exact percentiles) and one entity id per entity;
// for a waterfall job (NoteAsked) also one bitset of the asked fields per entity and model.
// Not safe for concurrent use.
type ReportBuilder struct {
	jobID    string
	models   map[string]*modelAcc
	fused    FusedReport
	entities map[string]bool
	expected map[string]bool
	// asked is nil until NoteAsked is called (waterfall jobs): then it holds per entity and
	// model the leaf paths the model was asked, as bits over pathIDs.
	asked    map[askedKey][]uint64
	pathIDs  map[string]int
	modelIDs map[string]int32
}

// askedKey names one model (by its id in ReportBuilder.modelIDs) on one entity.
type askedKey struct {
	entity string
	model  int32
}

type modelAcc struct {
	ModelReport
	successes, leaves, nulls int
	latencies                []int32
}

// NewReportBuilder starts the report of job jobID.
func NewReportBuilder(jobID string) *ReportBuilder {
	return &ReportBuilder{jobID: jobID, models: map[string]*modelAcc{}, entities: map[string]bool{},
		expected: map[string]bool{}, fused: FusedReport{Fields: map[string]*FieldReport{}}}
}

// Add folds one record in. Enrichment records count for their model, fusion records for the
// fused figures and for the agreement of their source models (after NoteAsked, of those asked
// the field); other records are ignored.
func (b *ReportBuilder) Add(r *Record) {
	if r.Type != RecordEnrichment && r.Type != RecordFusion {
		return
	}
	entity := reportEntity(r)
	b.entities[entity] = true
	var expected map[string]any
	if len(r.Expected) > 0 && json.Unmarshal(r.Expected, &expected) == nil && expected != nil {
		b.expected[entity] = true
	}
	var output map[string]any
	if r.Success && len(r.StructuredOutput) > 0 {
		_ = json.Unmarshal(r.StructuredOutput, &output) // a stored output is a JSON object; else nothing compares
	}
	if r.Type == RecordFusion {
		b.fused.Records++
		b.fused.CostUSD += r.CostUSD
		addAccuracy(b.fused.Fields, expected, output)
		for path, p := range r.FieldProvenance {
			if p.Method == "" || p.Method == ProvenanceWaterfall { // waterfall: the other models were not asked, or gave null
				continue
			}
			for _, m := range r.SourceModels {
				if b.asked != nil && !b.wasAsked(entity, m, path) {
					continue // waterfall: m was not asked this field for this entity
				}
				f := b.model(m).field(path)
				f.Fused++
				if slices.Contains(p.Sources, m) {
					f.Agreed++
				}
			}
		}
		return
	}
	if r.Model == nil {
		return
	}
	m := b.model(*r.Model)
	m.Records++
	m.CostUSD += r.CostUSD
	m.latencies = append(m.latencies, int32(min(r.ProcessingTimeMS, math.MaxInt32)))
	for _, p := range r.Prompts {
		if p.Model != *r.Model || p.CallKind != "enrichment" {
			continue
		}
		m.Calls++
		for _, a := range p.AttemptLog {
			if len(a.ValidationErrors) > 0 {
				m.ValidationRetries++
			}
		}
	}
	if !r.Success {
		return
	}
	m.successes++
	for _, p := range r.FieldProvenance {
		m.leaves++
		if p.Method == "" {
			m.nulls++
		}
	}
	if r.Strategy != nil && Strategy(*r.Strategy) == StrategyWaterfall {
		// a waterfall step answers only what it was asked: the fields of its provenance
		expected = keepPaths(expected, "", r.FieldProvenance)
	}
	addAccuracy(m.Fields, expected, output)
}

// reportEntity returns the key of r's entity: its id, plus "#index" in a batch (a batch may
// hold one entity twice: its index tells them apart).
func reportEntity(r *Record) string {
	entity := ""
	if r.EntityID != nil {
		entity = *r.EntityID
	}
	if r.EntityIndex != nil {
		entity += "#" + strconv.Itoa(*r.EntityIndex)
	}
	return entity
}

// NoteAsked is the first pass of a waterfall job's report: call it with every record of the
// job (in any order, deleted ones too: a model was asked what it was asked) before the first
// Add. It notes the leaf paths each model was asked for each entity, which under the waterfall
// strategy are the keys of the model's enrichment record's field_provenance. Once it was
// called, Add counts a model for the agreement on a fused field only where the model was
// asked that field for that entity (a model without a record of the entity counts for none):
// a later waterfall step is asked only the fields left open, so a field it was not asked is
// no disagreement. Jobs of other strategies skip this pass.
func (b *ReportBuilder) NoteAsked(r *Record) {
	if b.asked == nil {
		b.asked, b.pathIDs, b.modelIDs = map[askedKey][]uint64{}, map[string]int{}, map[string]int32{}
	}
	if r.Type != RecordEnrichment || r.Model == nil || len(r.FieldProvenance) == 0 {
		return
	}
	id, ok := b.modelIDs[*r.Model]
	if !ok {
		id = int32(len(b.modelIDs))
		b.modelIDs[*r.Model] = id
	}
	key := askedKey{entity: reportEntity(r), model: id}
	bits := b.asked[key]
	for path := range r.FieldProvenance {
		i, ok := b.pathIDs[path]
		if !ok {
			i = len(b.pathIDs)
			b.pathIDs[path] = i
		}
		for len(bits) <= i/64 {
			bits = append(bits, 0)
		}
		bits[i/64] |= 1 << (i % 64)
	}
	b.asked[key] = bits
}

// wasAsked reports whether NoteAsked saw model asked path for entity.
func (b *ReportBuilder) wasAsked(entity, model, path string) bool {
	id, ok := b.modelIDs[model]
	if !ok {
		return false
	}
	i, ok := b.pathIDs[path]
	if !ok {
		return false
	}
	bits := b.asked[askedKey{entity: entity, model: id}]
	return i/64 < len(bits) && bits[i/64]&(1<<(i%64)) != 0
}

// keepPaths returns a copy of expected holding only the leaves (dot paths under prefix) that
// are keys of keep.
func keepPaths(expected map[string]any, prefix string, keep map[string]FieldProvenance) map[string]any {
	out := map[string]any{}
	for k, v := range expected {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			out[k] = keepPaths(sub, path, keep)
			continue
		}
		if _, ok := keep[path]; ok {
			out[k] = v
		}
	}
	return out
}

func (b *ReportBuilder) model(key string) *modelAcc {
	m := b.models[key]
	if m == nil {
		m = &modelAcc{ModelReport: ModelReport{Model: key, Fields: map[string]*FieldReport{}}}
		b.models[key] = m
	}
	return m
}

func (m *modelAcc) field(path string) *FieldReport { return reportField(m.Fields, path) }

func reportField(fields map[string]*FieldReport, path string) *FieldReport {
	f := fields[path]
	if f == nil {
		f = &FieldReport{}
		fields[path] = f
	}
	return f
}

// addAccuracy compares output with every non-null leaf of expected (a failed record, whose
// output is nil, counts as wrong on each).
func addAccuracy(fields map[string]*FieldReport, expected, output map[string]any) {
	walkExpected(expected, "", func(path string, want any) {
		f := reportField(fields, path)
		f.Expected++
		if ExpectedMatch(want, valueAtPath(output, path)) {
			f.Correct++
		}
	})
}

// walkExpected calls fn with each leaf of expected that is not null: objects are walked into
// (dot paths), anything else is a leaf.
func walkExpected(expected map[string]any, prefix string, fn func(string, any)) {
	for k, v := range expected {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch x := v.(type) {
		case nil:
		case map[string]any:
			walkExpected(x, path, fn)
		default:
			fn(path, v)
		}
	}
}

// valueAtPath returns the value at a dot path of m, nil when missing.
func valueAtPath(m map[string]any, path string) any {
	var cur any = m
	for name := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[name]
	}
	return cur
}

// ExpectedRelTolerance is the relative tolerance of number comparisons in ExpectedMatch.
const ExpectedRelTolerance = 1e-6

// ExpectedMatch reports whether got matches the known value want: numbers within a relative
// tolerance of ExpectedRelTolerance (|got-want| ≤ 1e-6 × max(|got|, |want|)); strings equal
// after trimming, collapsing inner white space and lower-casing; booleans exactly; arrays and
// objects when their canonical JSON (keys sorted, no spaces) is equal. Values of different JSON
// types never match; null matches nothing.
func ExpectedMatch(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return false
	case string:
		g, ok := got.(string)
		return ok && normalizeExpected(w) == normalizeExpected(g)
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case map[string]any, []any:
		if got == nil {
			return false
		}
		a, errA := json.Marshal(want)
		b, errB := json.Marshal(got)
		return errA == nil && errB == nil && bytes.Equal(a, b)
	}
	wn, ok := fusionNumber(want)
	if !ok {
		return false
	}
	gn, ok := fusionNumber(got)
	if !ok {
		return false
	}
	return math.Abs(gn-wn) <= ExpectedRelTolerance*math.Max(math.Abs(gn), math.Abs(wn))
}

func normalizeExpected(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// Report returns the report: models in key order, rates rounded to 4 decimals.
func (b *ReportBuilder) Report() JobReport {
	out := JobReport{JobID: b.jobID, Entities: len(b.entities), ExpectedEntities: len(b.expected),
		Models: []ModelReport{}, Fused: b.fused}
	for _, f := range out.Fused.Fields {
		f.finish()
	}
	for _, key := range slices.Sorted(maps.Keys(b.models)) {
		m := b.models[key]
		if m.Records > 0 {
			m.SuccessRate = roundConfidence(float64(m.successes) / float64(m.Records))
		}
		if m.leaves > 0 {
			m.NullRate = roundConfidence(float64(m.nulls) / float64(m.leaves))
		}
		m.LatencyMS = latencySummary(m.latencies)
		for _, f := range m.Fields {
			f.finish()
		}
		out.Models = append(out.Models, m.ModelReport)
	}
	return out
}

func (f *FieldReport) finish() {
	f.Agreement, f.Accuracy = ratio(f.Agreed, f.Fused), ratio(f.Correct, f.Expected)
}

func ratio(n, d int) *float64 {
	if d == 0 {
		return nil
	}
	r := roundConfidence(float64(n) / float64(d))
	return &r
}

// latencySummary returns the nearest-rank p50 and p95 of ms (sorted in place).
func latencySummary(ms []int32) LatencySummary {
	if len(ms) == 0 {
		return LatencySummary{}
	}
	slices.Sort(ms)
	rank := func(p float64) int64 { return int64(ms[max(0, int(math.Ceil(p*float64(len(ms))))-1)]) }
	return LatencySummary{P50: rank(0.50), P95: rank(0.95)}
}
