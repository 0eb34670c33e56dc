package actors

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
		// protoactor starts one dead-letter throttle goroutine per actor system and never stops it.
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// fakeProvider answers from a per-model table of values, filtered to the asked properties of
// the request's answer schema. CompleteFunc, when set, decides instead. It counts concurrency.
type fakeProvider struct {
	mu           sync.Mutex
	values       map[string]map[string]any // model key -> property -> value
	CompleteFunc func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error)
	calls        int
	inflight     int
	maxInflight  int
}

var _ llm.Provider = (*fakeProvider)(nil)

func (f *fakeProvider) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.CompleteFunc != nil {
		return f.CompleteFunc(ctx, req, n)
	}
	return f.answer(req), nil
}

func (f *fakeProvider) answer(req *llm.Request) *llm.Response {
	if req.Hints != nil && req.Hints.CallKind == "classification" {
		return &llm.Response{Text: `{"status":"match","expected_type":"Company","entity_description":"a company","confidence":0.9,"reasoning":"ok","alternative_interpretations":[]}`,
			Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}}
	}
	if req.Hints != nil && req.Hints.CallKind == "arbitration" {
		var ds []map[string]any
		for _, c := range req.Hints.Conflicts {
			ds = append(ds, map[string]any{"path": c.Path, "value": c.ValuesByModel["fake::b"], "chosen_model": "fake::b", "reasoning": "b is right"})
		}
		b, _ := json.Marshal(map[string]any{"decisions": ds})
		return &llm.Response{Text: string(b), Usage: llm.Usage{InputTokens: 50, OutputTokens: 10}}
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
	}
	_ = json.Unmarshal(req.Schema, &schema)
	out := map[string]any{}
	for name := range schema.Properties {
		out[name] = f.values[req.Hints.ModelKey][name]
	}
	b, _ := json.Marshal(out)
	return &llm.Response{Text: string(b), Usage: llm.Usage{InputTokens: 100, OutputTokens: 20}}
}

func (f *fakeProvider) max() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxInflight
}

// fakeCatalog knows five models of provider "fake".
type fakeCatalog struct{}

func (fakeCatalog) Lookup(key string) (enricher.ModelInfo, error) {
	prices := map[string]float64{"fake::a": 3, "fake::b": 2, "fake::c": 1, "fake::d": 1, "fake::e": 1}
	p, ok := prices[key]
	if !ok {
		return enricher.ModelInfo{}, enricher.Errorf(enricher.KindInvalid, "unknown model %q", key)
	}
	return enricher.ModelInfo{Key: key, Provider: "fake", Model: key[6:], UpstreamModel: key[6:], InputPrice: p, OutputPrice: p, IsAvailable: true}, nil
}

const testSchema = `{"root": {"name": "Company", "description": "A business", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true, "expertise": "profile"},
	"country": {"type": "string", "is_key": true, "expertise": "profile"},
	"founded_year": {"type": "integer", "expertise": "profile"},
	"ceo": {"type": "string", "expertise": "people"}}},
	"expertise_domains": {"profile": {"name": "Profile", "description": "Identity"}, "people": {"name": "People", "description": "Leaders"}}}`

var defaultValues = map[string]map[string]any{
	"fake::a": {"founded_year": 2010, "ceo": "Stéphane Bancel"},
	"fake::b": {"founded_year": 2010, "ceo": "Stephane Bancel"},
	"fake::c": {"founded_year": 2010, "ceo": "Stéphane Bancel"},
}

type bundle struct {
	t        *testing.T
	db       *storage.DB
	engine   *Engine
	provider *fakeProvider
	retries  chan time.Duration
}

func setup(t *testing.T, cfg Config, concurrency int) *bundle {
	t.Helper()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	b := &bundle{t: t, db: db, provider: &fakeProvider{values: defaultValues}, retries: make(chan time.Duration, 100)}
	cfg.OnRetry = func(_ string, _ int, d time.Duration) { b.retries <- d }
	if cfg.Retry.Base == 0 {
		cfg.Retry.Base = time.Millisecond
	}
	b.engine, err = New(cfg, Deps{Store: db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: b.provider, Concurrency: concurrency}}})
	require.NoError(t, err)
	t.Cleanup(func() {
		b.engine.Stop()
		require.NoError(t, db.Close())
	})
	return b
}

func spec(models ...string) *enricher.EnrichSpec {
	return &enricher.EnrichSpec{
		EntityData:    map[string]any{"name": "Moderna Inc", "country": "US"},
		SchemaContent: json.RawMessage(testSchema), Models: models, Languages: []string{"en"},
		Strategy: enricher.StrategySinglePass, OnMismatch: enricher.MismatchPause,
	}
}

// event is a decoded event.
type event map[string]any

func (e event) typ() string { return e["type"].(string) }

// start starts a job and returns its id and a subscription opened right away.
func (b *bundle) start(s *enricher.EnrichSpec) (string, *Stream) {
	b.t.Helper()
	job, err := b.engine.Start("org1", enricher.CreatedBy{}, s)
	require.NoError(b.t, err)
	stream, err := b.engine.Subscribe("org1", job.ID, 0)
	require.NoError(b.t, err)
	b.t.Cleanup(stream.Close)
	return job.ID, stream
}

// collect reads a stream opened after seq after until its end and returns the events,
// checking that seqs run after+1, after+2 ... without gaps.
// collectTimeout bounds how long collect waits for a stream's terminal event.
const collectTimeout = time.Minute

func (b *bundle) collect(s *Stream, after int64) []event {
	b.t.Helper()
	var out []event
	last := after
	add := func(seq int64, data []byte) {
		require.Equal(b.t, last+1, seq, "events arrive in order without gaps")
		last = seq
		var e event
		require.NoError(b.t, json.Unmarshal(data, &e))
		require.EqualValues(b.t, seq, e["seq"])
		require.Equal(b.t, e["type"], e["event"])
		out = append(out, e)
	}
	// A hang detector, not a speed check: generous, since the whole suite under -race on a
	// loaded 2-core machine runs a 264-entity batch in well over 10 s.
	deadline := time.Now().Add(collectTimeout)
	for {
		ev, ok, err := s.Next(context.Background(), time.Until(deadline))
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(b.t, err)
		if !ok {
			b.t.Fatalf("no terminal event within %s; got %d events", collectTimeout, len(out))
		}
		add(ev.Seq, ev.Data)
	}
}

func types(events []event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.typ()
	}
	return out
}
