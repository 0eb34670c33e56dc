package api

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

func handleHealth(c *call) error {
	status, storage, code := "ok", "ok", fasthttp.StatusOK
	if err := c.s.deps.Health.Ping(); err != nil {
		status, storage, code = "unavailable", "error", fasthttp.StatusServiceUnavailable
	} else if c.s.deps.Health.LowSpace() {
		// Still 200 and "ok": reads, streams and running jobs go on (their writes wait), and
		// another instance would not help a full data volume; monitors read storage.
		storage = "low_space"
	}
	if c.s.stopping.Load() {
		status, code = "shutting_down", fasthttp.StatusServiceUnavailable
	}
	writeJSON(c.ctx, code, map[string]any{
		"status": status, "version": c.s.cfg.Version, "storage": storage, "jobs_active": c.s.deps.Engine.ActiveJobs(),
		"uptime_seconds": int64(c.s.now().Sub(c.s.started) / time.Second),
	})
	return nil
}

// strategies are the enrichment strategies: single_pass, expert_domains, multi_expertise, waterfall.
var strategies = []map[string]string{
	{"name": "single_pass", "description": "One call per model asking every field at once."},
	{"name": "expert_domains", "description": "One call per model with one section per expertise domain."},
	{"name": "multi_expertise", "description": "One call per expertise domain and model, in parallel; domain results are merged."},
	{"name": "waterfall", "description": "Models one after another, cheapest first: each later model is asked only the fields the earlier ones left null or failed; verify_fields need two agreeing models."},
}

func handleOptions(c *call) error {
	models := c.s.deps.Models.Models()
	available := make([]string, 0, len(models))
	for _, m := range models {
		if m.IsAvailable {
			available = append(available, m.Key)
		}
	}
	langs := map[string]string{}
	for _, l := range enricher.SupportedLanguages() {
		langs[l.Code] = l.Label
	}
	providers := []ProviderLimit{}
	if c.s.deps.Providers != nil {
		providers = append(providers, c.s.deps.Providers.ProviderLimits()...)
	}
	return c.ok(map[string]any{
		"providers": providers,
		"models":    models, "available_models": available, "languages": langs,
		"strategies": strategies, "default_strategy": "single_pass",
		"models_last_updated": enricher.NewTime(c.s.loaded), "limits": c.s.cfg.Limits,
	})
}
