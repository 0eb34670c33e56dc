package main

import (
	"context"
	"fmt"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/transport/api"
	"github.com/entity-enricher/enricher/transport/fetch"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/anthropic"
	"github.com/entity-enricher/enricher/transport/llm/gemini"
	"github.com/entity-enricher/enricher/transport/llm/openai"
	"github.com/entity-enricher/enricher/transport/llm/sim"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

// newProviders builds one client per available provider, by its wire protocol.
func newProviders(cat *llm.Catalog, seed int64, timeout time.Duration) (map[string]actors.Provider, error) {
	out := map[string]actors.Provider{}
	for _, p := range cat.Providers() {
		if !p.Available {
			continue
		}
		var impl llm.Provider
		var err error
		switch p.Protocol {
		case "sim":
			profiles := map[string]sim.Profile{}
			for name, sp := range cat.SimProfiles() {
				profiles[name] = sim.Profile{BaseLatencyMS: sp.BaseLatencyMS, MSPerOutputToken: sp.MSPerOutputToken,
					Jitter: sp.Jitter, TimeoutMS: sp.TimeoutMS, Faults: sp.Faults, RPM: sp.RPM, WindowMS: sp.WindowMS, NullRate: sp.NullRate,
					TPM: sp.TPM, Refill: sp.Refill, NoRetryAfter: sp.NoRetryAfter, BatchDelayMS: sp.BatchDelayMS}
			}
			impl = sim.New(sim.Config{Seed: seed, Profiles: profiles})
		case "anthropic":
			impl, err = anthropic.New(anthropic.Config{BaseURL: p.BaseURL, APIKey: p.APIKey, Options: vendorhttp.Options{Timeout: timeout}})
		case "gemini":
			impl, err = gemini.New(gemini.Config{BaseURL: p.BaseURL, APIKey: p.APIKey, Options: vendorhttp.Options{Timeout: timeout}})
		case "openai":
			cfg := openai.Config{BaseURL: p.BaseURL, APIKey: p.APIKey, Options: vendorhttp.Options{Timeout: timeout}}
			if p.Name != "openai" { // OpenAI-compatible servers take max_tokens
				cfg.LegacyMaxTokens = true
			}
			if p.Name == "deepseek" { // DeepSeek has no json_schema mode
				cfg.Mode = openai.ModeJSONObject
			}
			impl, err = openai.New(cfg)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		prov := actors.Provider{Impl: impl, Concurrency: p.MaxConcurrency, Budgets: budgetsOf(cat, p.Name)}
		prov.Batch = batcherOf(p, impl)
		out[p.Name] = prov
	}
	return out, nil
}

// batcherOf returns the batch API of provider p whose client is impl: impl itself when p's
// vendor serves one (llm.HasBatchAPI: the built-in openai, anthropic, google and sim) and the
// client implements llm.Batcher; nil otherwise (DeepSeek, Ollama and the providers of the
// models file, whose client may be OpenAI's or Anthropic's but whose server has none).
func batcherOf(p llm.ProviderInfo, impl llm.Provider) llm.Batcher {
	b, ok := impl.(llm.Batcher)
	if !ok || !llm.HasBatchAPI(p) {
		return nil
	}
	return b
}

// budgetsOf returns the rate-limit budgets (rpm, tpm in the models file) of provider's
// models, by model key; nil when none has one.
func budgetsOf(cat *llm.Catalog, provider string) map[string]actors.Budget {
	var out map[string]actors.Budget
	for _, m := range cat.Models() {
		if m.Provider != provider || (m.RPM <= 0 && m.TPM <= 0) {
			continue
		}
		if out == nil {
			out = map[string]actors.Budget{}
		}
		out[m.Key] = actors.Budget{RPM: m.RPM, TPM: m.TPM}
	}
	return out
}

// engineAPI adapts actors.Engine to the front end's Engine interface.
type engineAPI struct{ *actors.Engine }

// ProviderLimits reports the providers' adaptive limits of calls in flight.
func (e engineAPI) ProviderLimits() []api.ProviderLimit {
	limits := e.Engine.ProviderLimits()
	out := make([]api.ProviderLimit, len(limits))
	for i, l := range limits {
		out[i] = api.ProviderLimit{Name: l.Name, Limit: l.Limit, Ceiling: l.Ceiling}
	}
	return out
}

// Start starts a job, storing bind (an Idempotency-Key) with it.
func (e engineAPI) Start(org string, by enricher.CreatedBy, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	return e.Engine.StartBound(org, by, spec, bind)
}

// StartFusion starts a fusion job, storing bind with it.
func (e engineAPI) StartFusion(org string, by enricher.CreatedBy, ids []string, arbiter *string, webhook *enricher.WebhookTarget,
	bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	return e.Engine.StartFusionBound(org, by, ids, arbiter, webhook, bind)
}

// StartSchemaJob starts a schema job, storing bind with it.
func (e engineAPI) StartSchemaJob(org string, by enricher.CreatedBy, spec *enricher.SchemaJobSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	return e.Engine.StartSchemaJobBound(org, by, spec, bind)
}

// Subscribe returns the engine's stream as an enricher.EventStream.
func (e engineAPI) Subscribe(org, id string, after int64) (enricher.EventStream, error) {
	s, err := e.Engine.Subscribe(org, id, after)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// fetcherAPI adapts transport/fetch to the front end.
type fetcherAPI struct{ *fetch.Fetcher }

// FetchEntities GETs url and decodes its entities.
func (f fetcherAPI) FetchEntities(ctx context.Context, url string, a enricher.FetchAuth) ([]map[string]any, string, time.Duration, error) {
	res, err := f.Fetch(ctx, url, a)
	if err != nil {
		return nil, "", 0, err
	}
	return res.Entities, res.Format, res.Elapsed, nil
}
