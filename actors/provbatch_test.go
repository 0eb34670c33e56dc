package actors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

// fakeBatcher is a vendor batch API in memory: a batch is ended (all its requests answered)
// as soon as it is looked at, unless hold is set; its results come from line, per request.
// It remembers every submit and cancel.
type fakeBatcher struct {
	mu      sync.Mutex
	batches map[string]*fakeVendorBatch
	submits [][]llm.BatchRequest
	cancels []string
	hold    atomic.Bool
	// line answers one request of a batch: a response, or an error line.
	line func(r llm.BatchRequest) (*llm.Response, error)
}

type fakeVendorBatch struct {
	reqs      []llm.BatchRequest
	cancelled bool
}

var _ llm.Batcher = (*fakeBatcher)(nil)

func (f *fakeBatcher) SubmitBatch(_ context.Context, reqs []llm.BatchRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.batches == nil {
		f.batches = map[string]*fakeVendorBatch{}
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.CustomID] || len(r.CustomID) > 64 || strings.Trim(r.CustomID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			return "", &llm.Error{Kind: llm.KindBadRequest, Message: "bad custom id " + r.CustomID}
		}
		seen[r.CustomID] = true
		if r.Request.Model != reqs[0].Request.Model {
			return "", &llm.Error{Kind: llm.KindBadRequest, Message: "two models in one batch"}
		}
	}
	id := fmt.Sprintf("vb_%d", len(f.submits)+1)
	f.submits = append(f.submits, reqs)
	f.batches[id] = &fakeVendorBatch{reqs: reqs}
	return id, nil
}

func (f *fakeBatcher) get(id string) (*fakeVendorBatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vb := f.batches[id]
	if vb == nil {
		return nil, &llm.Error{Kind: llm.KindNotFound, Message: "no batch " + id}
	}
	return vb, nil
}

func (f *fakeBatcher) Batch(_ context.Context, id string) (*llm.BatchState, error) {
	vb, err := f.get(id)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if vb.cancelled {
		return &llm.BatchState{Status: "cancelled", Ended: true, Total: len(vb.reqs)}, nil
	}
	if f.hold.Load() {
		return &llm.BatchState{Status: "in_progress", Total: len(vb.reqs)}, nil
	}
	return &llm.BatchState{Status: "ended", Ended: true, Total: len(vb.reqs), Succeeded: len(vb.reqs)}, nil
}

func (f *fakeBatcher) BatchResults(_ context.Context, id string, fn func(llm.BatchResult) error) error {
	vb, err := f.get(id)
	if err != nil {
		return err
	}
	if vb.cancelled {
		return nil
	}
	for _, r := range vb.reqs {
		resp, err := f.line(r)
		if err := fn(llm.BatchResult{CustomID: r.CustomID, Response: resp, Err: err}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeBatcher) CancelBatch(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id)
	if vb := f.batches[id]; vb != nil {
		vb.cancelled = true
	}
	return nil
}

// submitted returns how many batches were submitted and the requests of each.
func (f *fakeBatcher) submitted() [][]llm.BatchRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]llm.BatchRequest(nil), f.submits...)
}

// batchCatalog is fakeCatalog with batch prices: fake::a and fake::b at half price; fake::c
// has no batch API.
type batchCatalog struct{}

func (batchCatalog) Lookup(key string) (enricher.ModelInfo, error) {
	m, err := fakeCatalog{}.Lookup(key)
	if err == nil && key != "fake::c" {
		m.BatchDiscount = 0.5
	}
	return m, err
}

// pbConfig is an engine config for provider batch tests: a short poll, and a linger long
// enough that the calls of one round reach their collector within it on a loaded machine
// (the tests count the batches each round makes).
func pbConfig() Config {
	return Config{BatchConcurrency: 3, Retry: llm.RetryPolicy{Base: time.Millisecond},
		ProviderBatch: ProviderBatchConfig{Linger: 200 * time.Millisecond, Poll: 5 * time.Millisecond}}
}

// pbSetup starts an engine whose provider "fake" has the batch API fb (realtime calls go to
// p), on db (a new store when nil).
func pbSetup(t *testing.T, db *storage.DB, p *fakeProvider, fb *fakeBatcher) *bundle {
	t.Helper()
	return pbSetupWith(t, pbConfig(), db, p, fb)
}

// pbSetupWith is pbSetup with the engine config cfg.
func pbSetupWith(t *testing.T, cfg Config, db *storage.DB, p *fakeProvider, fb *fakeBatcher) *bundle {
	t.Helper()
	if db == nil {
		var err error
		db, err = storage.Open(storage.Config{InMemory: true})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, db.Close()) })
	}
	if fb.line == nil {
		fb.line = func(r llm.BatchRequest) (*llm.Response, error) { return p.answer(r.Request), nil }
	}
	e, err := New(cfg, Deps{Store: db, Catalog: batchCatalog{}, Providers: map[string]Provider{"fake": {Impl: p, Batch: fb}}})
	require.NoError(t, err)
	t.Cleanup(e.Stop)
	return &bundle{t: t, db: db, engine: e, provider: p}
}

func pbSpec(n int, models ...string) *enricher.EnrichSpec {
	s := batchSpec(n, models...)
	s.Execution = enricher.ExecutionProviderBatch
	return s
}

// batchesByModel counts the provider_batch_submitted events by model.
func batchesByModel(events []event) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		if e.typ() == enricher.EventProviderBatchSubmitted {
			n[e["model"].(string)]++
		}
	}
	return n
}

// TestProviderBatch runs 50 entities × 2 models through the batch API: one vendor batch per
// model, then a follow-up batch per model for what failed (an error line on entity 7's
// model-b request, an invalid answer of entity 3 for model a); every run is answered from the
// batches at the batch price, none realtime, and the stream shows the vendor batches.
func TestProviderBatch(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{values: defaultValues}
	fb := &fakeBatcher{}
	fb.line = func(r llm.BatchRequest) (*llm.Response, error) {
		h := r.Request.Hints
		switch {
		case h.Entity["name"] == "Company 7" && h.ModelKey == "fake::b" && strings.HasSuffix(r.CustomID, "-t1"):
			return nil, &llm.Error{Kind: llm.KindServerError, Message: "vendor hiccup"}
		case h.Entity["name"] == "Company 3" && h.ModelKey == "fake::a" && h.Attempt == 1:
			return &llm.Response{Text: `{"founded_year": "not a number"}`, Usage: llm.Usage{InputTokens: 100, OutputTokens: 20}}, nil
		}
		return p.answer(r.Request), nil
	}
	obs := &countingObserver{}
	cfg := pbConfig()
	cfg.Observer = obs
	b := pbSetupWith(t, cfg, nil, p, fb)
	id, stream := b.start(pbSpec(50, "fake::a", "fake::b"))
	events := b.collect(stream, 0)
	require.Equal(t, "completed", events[len(events)-1].typ())
	sum := events[len(events)-1]["result"].(map[string]any)
	require.EqualValues(t, 50, sum["completed_entities"])

	require.Equal(t, map[string]int{"fake::a": 2, "fake::b": 2}, batchesByModel(events), "one batch per model and one follow-up each")
	subs := fb.submitted()
	require.Len(t, subs, 4)
	sizes := map[int]int{}
	for _, s := range subs {
		sizes[len(s)]++
	}
	require.Equal(t, map[int]int{50: 2, 1: 2}, sizes, "the first batches hold every entity's call, the follow-ups the one retried")
	ended := 0
	for _, e := range events {
		if e.typ() == enricher.EventProviderBatchEnded {
			ended++
			require.Equal(t, "ended", e["status"])
		}
		if e.typ() == enricher.EventProviderBatchSubmitted {
			require.Len(t, e["custom_ids"], int(e["requests"].(float64)))
		}
	}
	require.Equal(t, 4, ended)
	require.Zero(t, p.calls, "no call went realtime")
	require.Equal(t, 102, obs.tries(), "every request of every vendor batch counts as a provider try (100, and the 2 follow-ups)")

	records, err := b.db.RecordsOfJob("org1", id)
	require.NoError(t, err)
	runs := 0
	for _, r := range records {
		if r.Type != enricher.RecordEnrichment {
			continue
		}
		runs++
		require.True(t, r.Success, "entity %d %s", *r.EntityIndex, *r.Model)
		m, _ := batchCatalog{}.Lookup(*r.Model)
		perAnswer := m.BatchCost(100, 20)
		require.InDelta(t, perAnswer*float64(r.Prompts[0].Attempts), r.CostUSD, 1e-12, "batch price for %s", *r.Model)
		if *r.EntityIndex == 3 && *r.Model == "fake::a" {
			require.Equal(t, 2, r.Prompts[0].Attempts, "the invalid answer was asked again")
		}
	}
	require.Equal(t, 100, runs)
}

// TestProviderBatchCancel cancels a job whose vendor batches are open: they are cancelled
// at the vendor and the job ends cancelled.
func TestProviderBatchCancel(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{values: defaultValues}
	fb := &fakeBatcher{}
	fb.hold.Store(true)
	b := pbSetup(t, nil, p, fb)
	id, stream := b.start(pbSpec(6, "fake::a", "fake::b"))
	waitStoredCounts(t, b.db, id, "both vendor batches submitted", func(n map[string]int) bool {
		return n[enricher.EventProviderBatchSubmitted] == 2
	})
	err := b.engine.Cancel("org1", id)
	require.NoError(t, err)
	events := b.collect(stream, 0)
	require.Equal(t, "cancelled", events[len(events)-1].typ())
	require.Eventually(t, func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		return len(fb.cancels) == 2
	}, 5*time.Second, 5*time.Millisecond)
	fb.mu.Lock()
	defer fb.mu.Unlock()
	require.ElementsMatch(t, []string{"vb_1", "vb_2"}, fb.cancels)
}

// TestProviderBatchRestart stops the engine between submit and results and starts another on
// the same store: with the vendor still holding the batches, the re-issued calls wait for
// them (nothing is submitted again); with a vendor that forgot them, they are submitted again.
func TestProviderBatchRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		forgets bool
		submits int
	}{{"vendor keeps the batches", false, 2}, {"vendor forgot the batches", true, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &fakeProvider{values: defaultValues}
			fb := &fakeBatcher{}
			fb.hold.Store(true)
			b := pbSetup(t, nil, p, fb)
			id, stream := b.start(pbSpec(8, "fake::a", "fake::b"))
			waitStoredCounts(t, b.db, id, "both vendor batches submitted", func(n map[string]int) bool {
				return n[enricher.EventProviderBatchSubmitted] == 2
			})
			stream.Close()
			b.engine.Stop()
			before := storedEvents(t, b.db, id)

			if tc.forgets {
				fb.mu.Lock()
				fb.batches = nil
				fb.mu.Unlock()
			}
			fb.hold.Store(false)
			b2 := pbSetup(t, b.db, p, fb)
			s2, err := b2.engine.Subscribe("org1", id, int64(len(before)))
			require.NoError(t, err)
			defer s2.Close()
			b2.collect(s2, int64(len(before)))
			all := storedEvents(t, b.db, id)
			require.Equal(t, "completed", all[len(all)-1].typ())
			require.EqualValues(t, 8, all[len(all)-1]["result"].(map[string]any)["completed_entities"])
			require.Len(t, fb.submitted(), tc.submits)
			require.Zero(t, p.calls, "no call went realtime")
			records, err := b.db.RecordsOfJob("org1", id)
			require.NoError(t, err)
			runs := 0
			for _, r := range records {
				if r.Type == enricher.RecordEnrichment {
					runs++
					require.True(t, r.Success)
				}
			}
			require.Equal(t, 16, runs, "one record per (entity, model)")
		})
	}
}

// TestProviderBatchRefused: execution provider_batch is 400 for a model without a batch
// price or a provider without a batch API, and outside batch jobs.
func TestProviderBatchRefused(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{values: defaultValues}
	b := pbSetup(t, nil, p, &fakeBatcher{})
	_, err := b.engine.Start("org1", enricher.CreatedBy{}, pbSpec(2, "fake::a", "fake::c"))
	require.True(t, enricher.IsKind(err, enricher.KindInvalid), "%v", err)
	require.Contains(t, err.Error(), `"fake::c"`)

	single := spec("fake::a")
	single.Execution = enricher.ExecutionProviderBatch
	_, err = b.engine.Start("org1", enricher.CreatedBy{}, single)
	require.True(t, enricher.IsKind(err, enricher.KindInvalid), "%v", err)
	require.Contains(t, err.Error(), "batch jobs only")

	plain := setup(t, Config{}, 0) // provider without a batch API
	_, err = plain.engine.Start("org1", enricher.CreatedBy{}, pbSpec(2, "fake::a"))
	require.True(t, enricher.IsKind(err, enricher.KindInvalid), "%v", err)
	require.Contains(t, err.Error(), `"fake::a"`)
}

// TestProviderBatchWindow: a vendor batch still open past provider_batch_window is cancelled
// and its calls are made realtime, at the realtime price.
func TestProviderBatchWindow(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{values: defaultValues}
	fb := &fakeBatcher{}
	fb.hold.Store(true) // the vendor never finishes
	cfg := pbConfig()
	cfg.ProviderBatch.Window = 50 * time.Millisecond
	b := pbSetupWith(t, cfg, nil, p, fb)
	id, stream := b.start(pbSpec(4, "fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, "completed", events[len(events)-1].typ())
	require.Equal(t, map[string]int{"fake::a": 1}, batchesByModel(events))
	require.Equal(t, 4, p.calls, "every call went realtime")
	fb.mu.Lock()
	require.Equal(t, []string{"vb_1"}, fb.cancels, "the vendor batch was cancelled")
	fb.mu.Unlock()
	records, err := b.db.RecordsOfJob("org1", id)
	require.NoError(t, err)
	m, _ := batchCatalog{}.Lookup("fake::a")
	for _, r := range records {
		require.InDelta(t, m.Cost(100, 20), r.CostUSD, 1e-12, "realtime price")
	}
}

// TestProviderBatchFollowUps runs classification, multi_expertise and arbitration through
// the batch API: each step's calls go into a follow-up batch of their model, and nothing is
// called realtime.
func TestProviderBatchFollowUps(t *testing.T) {
	t.Parallel()
	p := &fakeProvider{values: defaultValues}
	fb := &fakeBatcher{}
	b := pbSetup(t, nil, p, fb)
	s := pbSpec(5, "fake::a", "fake::b")
	s.Strategy = enricher.StrategyMultiExpertise
	cls, arb := "fake::a", "fake::b"
	s.ClassificationModel, s.ArbitrationModel = &cls, &arb
	id, stream := b.start(s)
	events := b.collect(stream, 0)
	require.Equal(t, "completed", events[len(events)-1].typ())
	require.EqualValues(t, 5, events[len(events)-1]["result"].(map[string]any)["completed_entities"])
	require.Zero(t, p.calls, "no call went realtime")
	// a: the classifications, then both domains' calls; b: both domains' calls, then the
	// arbitrations of the conflicting ceo.
	require.Equal(t, map[string]int{"fake::a": 2, "fake::b": 2}, batchesByModel(events))
	kinds := map[string]int{}
	for _, sub := range fb.submitted() {
		for _, r := range sub {
			kinds[r.Request.Hints.CallKind]++
		}
	}
	require.Equal(t, map[string]int{"classification": 5, "enrichment": 20, "arbitration": 5}, kinds)
	records, err := b.db.RecordsOfJob("org1", id)
	require.NoError(t, err)
	arbitrated := 0
	for _, r := range records {
		for _, pc := range r.Prompts {
			if pc.CallKind == "arbitration" {
				arbitrated++
				m, _ := batchCatalog{}.Lookup("fake::b")
				require.InDelta(t, m.BatchCost(50, 10), pc.CostUSD, 1e-12, "batch price of the arbitration")
			}
		}
	}
	require.Equal(t, 5, arbitrated)
}
