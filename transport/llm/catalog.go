package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/entity-enricher/enricher"
)

// ProviderInfo is one provider: its wire protocol, endpoint and credential. APIKey is never
// serialised or logged.
type ProviderInfo struct {
	Name           string `json:"name"`
	Protocol       string `json:"protocol"` // anthropic | openai | gemini | sim
	BaseURL        string `json:"base_url"`
	APIKeyEnv      string `json:"api_key_env"`
	APIKey         string `json:"-"`
	MaxConcurrency int    `json:"max_concurrency"`
	Available      bool   `json:"-"`
	// Reason is "no_api_key" or "no_base_url" when not available.
	Reason string `json:"-"`
	// MissingEnv names the variable whose absence makes the provider unavailable.
	MissingEnv string `json:"-"`
}

// SimProfile tunes a simulated model.
type SimProfile struct {
	BaseLatencyMS    int                `json:"base_latency_ms"`
	MSPerOutputToken float64            `json:"ms_per_output_token"`
	Jitter           float64            `json:"jitter"`
	TimeoutMS        int                `json:"timeout_ms"`
	Faults           map[string]float64 `json:"faults"`
	// RPM and WindowMS make the model a rate-limited account: at most RPM requests per
	// WindowMS (default 60000); past it, 429 with Retry-After until the window ends. With
	// TPM (tokens per minute) or Refill "continuous" the account is a token bucket instead:
	// RPM and TPM refill continuously and a request is refused while either is short.
	// NoRetryAfter leaves the Retry-After off the 429s and the budget reports off the answers.
	RPM          int    `json:"rpm"`
	WindowMS     int    `json:"window_ms"`
	TPM          int    `json:"tpm"`
	Refill       string `json:"refill"`
	NoRetryAfter bool   `json:"no_retry_after"`
	// NullRate is the share of nullable leaves the model answers null, drawn per model and
	// field (0: the default, about 10 % tied to the value; negative: never).
	NullRate float64 `json:"null_rate"`
	// BatchDelayMS is how long a batch of the model runs before it ends (0: the simulator's
	// default, 2000).
	BatchDelayMS int `json:"batch_delay_ms"`
}

// BuiltinSimProfiles returns the profiles of sim::fast, sim::realistic and sim::flaky.
func BuiltinSimProfiles() map[string]SimProfile {
	return map[string]SimProfile{
		"fast":      {},
		"realistic": {BaseLatencyMS: 600, MSPerOutputToken: 20, Jitter: 0.25},
		"flaky": {BaseLatencyMS: 150, MSPerOutputToken: 5, Jitter: 0.25, TimeoutMS: 2000, Faults: map[string]float64{
			"rate_limited": 0.08, "server_error": 0.05, "timeout": 0.02, "malformed_json": 0.08,
			"schema_invalid": 0.10, "classification_mismatch": 0.05,
		}},
	}
}

// builtinProviders are the built-in providers, in catalog order.
var builtinProviders = []ProviderInfo{
	{Name: "anthropic", Protocol: "anthropic", BaseURL: "https://api.anthropic.com", APIKeyEnv: "ANTHROPIC_API_KEY"},
	{Name: "openai", Protocol: "openai", BaseURL: "https://api.openai.com/v1", APIKeyEnv: "OPENAI_API_KEY"},
	{Name: "google", Protocol: "gemini", BaseURL: "https://generativelanguage.googleapis.com", APIKeyEnv: "GEMINI_API_KEY"},
	{Name: "deepseek", Protocol: "openai", BaseURL: "https://api.deepseek.com", APIKeyEnv: "DEEPSEEK_API_KEY"},
	{Name: "ollama", Protocol: "openai", BaseURL: "", APIKeyEnv: "OLLAMA_API_KEY"},
	{Name: "sim", Protocol: "sim"},
}

// baseURLEnv names the base URL variable of a built-in provider.
var baseURLEnv = map[string]string{
	"anthropic": "ANTHROPIC_BASE_URL", "openai": "OPENAI_BASE_URL", "google": "GEMINI_BASE_URL",
	"deepseek": "DEEPSEEK_BASE_URL", "ollama": "OLLAMA_BASE_URL",
}

// builtinModels is the built-in model catalog, in table order.
func builtinModels() []enricher.ModelInfo {
	m := func(key, upstream, name string, in, out float64, ctx int, flags string) enricher.ModelInfo {
		provider, model, _ := strings.Cut(key, "::")
		return enricher.ModelInfo{BatchDiscount: builtinBatchDiscount[provider],
			Key: key, Provider: provider, Model: model, DisplayName: name, InputPrice: in, OutputPrice: out,
			ContextLength: ctx, UpstreamModel: upstream, IsSimulated: provider == "sim",
			SupportsVision: strings.Contains(flags, "V"), SupportsToolCalls: strings.Contains(flags, "T"),
			SupportsAudioInput: strings.Contains(flags, "A"), SupportsPDFInput: strings.Contains(flags, "P"),
			SupportsPromptCaching: strings.Contains(flags, "C"), SupportsReasoning: strings.Contains(flags, "R"),
		}
	}
	return []enricher.ModelInfo{
		m("anthropic::claude-sonnet-4-5-20250514", "claude-sonnet-4-5", "Claude Sonnet 4.5", 3.00, 15.00, 200000, "VTPCR"),
		m("openai::gpt-4o", "gpt-4o", "GPT-4o", 2.50, 10.00, 128000, "VTC"),
		m("google::gemini-2.5-pro", "gemini-2.5-pro", "Gemini 2.5 Pro", 1.25, 10.00, 1048576, "VTAPCR"),
		m("deepseek::deepseek-chat", "deepseek-chat", "DeepSeek Chat", 0.28, 0.42, 128000, "TC"),
		m("sim::fast", "fast", "Simulated — fast (no network)", 0.10, 0.40, 1000000, ""),
		m("sim::realistic", "realistic", "Simulated — realistic latency (no network)", 3.00, 15.00, 200000, ""),
		m("sim::flaky", "flaky", "Simulated — injected faults (no network)", 1.00, 4.00, 200000, ""),
	}
}

// builtinBatchDiscount is the batch price share of the built-in providers that have a batch
// API (OpenAI Batch, Anthropic Message Batches, Gemini batch mode: half price; the simulator,
// so batches run in-process). DeepSeek, Ollama and the compatible servers have none: 0.
var builtinBatchDiscount = map[string]float64{"openai": 0.5, "anthropic": 0.5, "google": 0.5, "sim": 0.5}

// HasBatchAPI reports whether p's vendor sells a batch API that its adapter speaks (an
// llm.Batcher): the built-in providers openai, anthropic, google and sim. The
// OpenAI-compatible servers (DeepSeek, Ollama) and the providers a models file declares have
// none, whatever their protocol (a proxy need not serve the batch endpoints). Only models of
// these providers may have a batch_discount.
func HasBatchAPI(p ProviderInfo) bool { return builtinBatchDiscount[p.Name] > 0 }

// CatalogConfig is the input of NewCatalog.
type CatalogConfig struct {
	// Env looks up credentials and base URLs (os.Getenv in the server). Nil: nothing is set.
	Env func(string) string
	// ModelsFile is the content of the models file; nil when there is none.
	ModelsFile []byte
}

// Catalog is the set of known models and providers. It is immutable after NewCatalog and safe
// for concurrent use.
type Catalog struct {
	models    []enricher.ModelInfo
	index     map[string]int
	providers map[string]ProviderInfo
	order     []string
	sim       map[string]SimProfile // by sim model name ("fast")
}

var (
	providerNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// NewCatalog builds the catalog: built-ins, then the models file, then availability from the
// environment. Any error in the models file starts with the line it is on ("line 3: ...") and
// names the entry.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	env := cfg.Env
	if env == nil {
		env = func(string) string { return "" }
	}
	c := &Catalog{index: map[string]int{}, providers: map[string]ProviderInfo{}, sim: BuiltinSimProfiles()}
	for _, p := range builtinProviders {
		c.providers[p.Name] = p
		c.order = append(c.order, p.Name)
	}
	for _, m := range builtinModels() {
		c.index[m.Key] = len(c.models)
		c.models = append(c.models, m)
	}
	if len(bytes.TrimSpace(cfg.ModelsFile)) > 0 {
		if err := c.applyFile(cfg.ModelsFile); err != nil {
			return nil, err
		}
	}
	for name, p := range c.providers {
		if e, ok := baseURLEnv[name]; ok && env(e) != "" {
			p.BaseURL = strings.TrimRight(env(e), "/")
		}
		if p.APIKeyEnv != "" {
			p.APIKey = env(p.APIKeyEnv)
		}
		switch {
		case p.Protocol == "sim":
			p.Available = true
		case name == "ollama":
			p.Available = p.BaseURL != ""
			p.Reason, p.MissingEnv = "no_base_url", "OLLAMA_BASE_URL"
		default:
			p.Available = p.APIKey != "" && p.BaseURL != ""
			p.Reason, p.MissingEnv = "no_api_key", p.APIKeyEnv
			if p.APIKey != "" && p.BaseURL == "" {
				p.Reason, p.MissingEnv = "no_base_url", "base_url"
			}
		}
		if p.Available {
			p.Reason, p.MissingEnv = "", ""
		}
		c.providers[name] = p
	}
	for i := range c.models {
		m := &c.models[i]
		p := c.providers[m.Provider]
		m.IsAvailable = p.Available
		m.UnavailableReason = nil
		if !p.Available {
			r := p.Reason
			m.UnavailableReason = &r
		}
	}
	return c, nil
}

// modelsFile is the JSON shape of the models file.
type modelsFile struct {
	Providers []struct {
		Name           string `json:"name"`
		Protocol       string `json:"protocol"`
		BaseURL        string `json:"base_url"`
		APIKeyEnv      string `json:"api_key_env"`
		MaxConcurrency *int   `json:"max_concurrency"`
	} `json:"providers"`
	Models []struct {
		Key                   string      `json:"key"`
		DisplayName           *string     `json:"display_name"`
		UpstreamModel         *string     `json:"upstream_model"`
		InputPrice            *float64    `json:"input_price"`
		OutputPrice           *float64    `json:"output_price"`
		ContextLength         *int        `json:"context_length"`
		MaxOutputTokens       *int        `json:"max_output_tokens"`
		RPM                   *int        `json:"rpm"`
		TPM                   *int        `json:"tpm"`
		BatchDiscount         *float64    `json:"batch_discount"`
		SupportsVision        *bool       `json:"supports_vision"`
		SupportsToolCalls     *bool       `json:"supports_tool_calls"`
		SupportsAudioInput    *bool       `json:"supports_audio_input"`
		SupportsPDFInput      *bool       `json:"supports_pdf_input"`
		SupportsPromptCaching *bool       `json:"supports_prompt_caching"`
		SupportsReasoning     *bool       `json:"supports_reasoning"`
		Sim                   *SimProfile `json:"sim"`
	} `json:"models"`
	Sim map[string]SimProfile `json:"sim"`
}

func (c *Catalog) applyFile(data []byte) error {
	var f modelsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return decodeError(data, err)
	}
	lines := locateEntries(data)
	for i, p := range f.Providers {
		where := fmt.Sprintf("%sproviders[%d] (%q)", linePrefix(lines.provider(i)), i, p.Name)
		if !providerNameRE.MatchString(p.Name) {
			return fmt.Errorf("%s: invalid provider name", where)
		}
		if p.Name == "sim" {
			return fmt.Errorf("%s: sim cannot be declared as a provider", where)
		}
		cur, builtin := c.providers[p.Name]
		if !builtin {
			switch p.Protocol {
			case "openai", "anthropic", "gemini":
			default:
				return fmt.Errorf("%s: protocol must be openai, anthropic or gemini", where)
			}
			if p.BaseURL == "" {
				return fmt.Errorf("%s: base_url is required", where)
			}
			cur = ProviderInfo{Name: p.Name, Protocol: p.Protocol}
			c.order = append(c.order, p.Name)
		}
		if p.BaseURL != "" {
			cur.BaseURL = strings.TrimRight(p.BaseURL, "/")
		}
		if p.APIKeyEnv != "" {
			cur.APIKeyEnv = p.APIKeyEnv
		}
		if p.MaxConcurrency != nil {
			if *p.MaxConcurrency < 1 {
				return fmt.Errorf("%s: max_concurrency must be at least 1", where)
			}
			cur.MaxConcurrency = *p.MaxConcurrency
		}
		c.providers[p.Name] = cur
	}
	for i, m := range f.Models {
		where := fmt.Sprintf("%smodels[%d] (%q)", linePrefix(lines.model(i)), i, m.Key)
		key, err := enricher.ParseModelKey(m.Key)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		idx, exists := c.index[m.Key]
		if !exists {
			if _, ok := c.providers[key.Provider]; !ok {
				return fmt.Errorf("%s: unknown provider %q", where, key.Provider)
			}
			if key.Provider == "sim" && m.Sim == nil {
				return fmt.Errorf("%s: a new sim model needs a sim profile", where)
			}
			c.index[m.Key] = len(c.models)
			c.models = append(c.models, enricher.ModelInfo{Key: m.Key, Provider: key.Provider, Model: key.Model,
				DisplayName: m.Key, UpstreamModel: key.Model, IsSimulated: key.Provider == "sim", ContextLength: 128000,
				BatchDiscount: builtinBatchDiscount[key.Provider]})
			idx = len(c.models) - 1
		}
		mi := &c.models[idx]
		setIf(&mi.DisplayName, m.DisplayName)
		setIf(&mi.UpstreamModel, m.UpstreamModel)
		setIf(&mi.InputPrice, m.InputPrice)
		setIf(&mi.OutputPrice, m.OutputPrice)
		setIf(&mi.ContextLength, m.ContextLength)
		setIf(&mi.MaxOutputTokens, m.MaxOutputTokens)
		setIf(&mi.RPM, m.RPM)
		setIf(&mi.TPM, m.TPM)
		if mi.RPM < 0 || mi.TPM < 0 {
			return fmt.Errorf("%s: rpm and tpm must not be negative", where)
		}
		setIf(&mi.BatchDiscount, m.BatchDiscount)
		if mi.BatchDiscount < 0 || mi.BatchDiscount > 1 {
			return fmt.Errorf("%s: batch_discount must be between 0 and 1", where)
		}
		if mi.BatchDiscount > 0 && !HasBatchAPI(c.providers[key.Provider]) {
			return fmt.Errorf("%s: provider %q has no batch API, so batch_discount must be 0", where, key.Provider)
		}
		setIf(&mi.SupportsVision, m.SupportsVision)
		setIf(&mi.SupportsToolCalls, m.SupportsToolCalls)
		setIf(&mi.SupportsAudioInput, m.SupportsAudioInput)
		setIf(&mi.SupportsPDFInput, m.SupportsPDFInput)
		setIf(&mi.SupportsPromptCaching, m.SupportsPromptCaching)
		setIf(&mi.SupportsReasoning, m.SupportsReasoning)
		if mi.InputPrice < 0 || mi.OutputPrice < 0 {
			return fmt.Errorf("%s: prices must not be negative", where)
		}
		if m.Sim != nil {
			if key.Provider != "sim" {
				return fmt.Errorf("%s: only sim models take a sim profile", where)
			}
			if err := m.Sim.check(); err != nil {
				return fmt.Errorf("%s: sim: %v", where, err)
			}
			c.sim[key.Model] = *m.Sim
		}
	}
	for k, prof := range f.Sim {
		key, err := enricher.ParseModelKey(k)
		if err != nil || key.Provider != "sim" {
			return fmt.Errorf("%ssim[%q]: not a sim model key", linePrefix(lines.simKey(k)), k)
		}
		if _, ok := c.index[k]; !ok {
			return fmt.Errorf("%ssim[%q]: unknown sim model", linePrefix(lines.simKey(k)), k)
		}
		if err := prof.check(); err != nil {
			return fmt.Errorf("%ssim[%q]: %v", linePrefix(lines.simKey(k)), k, err)
		}
		c.sim[key.Model] = prof
	}
	return nil
}

// check reports a profile's invalid rate-limit settings.
func (p *SimProfile) check() error {
	switch {
	case p.Refill != "" && p.Refill != "window" && p.Refill != "continuous":
		return fmt.Errorf("refill must be window or continuous")
	case p.RPM < 0 || p.TPM < 0 || p.WindowMS < 0:
		return fmt.Errorf("rpm, tpm and window_ms must not be negative")
	case p.BatchDelayMS < 0:
		return fmt.Errorf("batch_delay_ms must not be negative")
	case p.TPM > 0 && p.Refill == "window":
		return fmt.Errorf("tpm needs refill continuous")
	}
	return nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Models returns every model: built-ins in table order, then models-file additions in file
// order. The slice is a copy.
func (c *Catalog) Models() []enricher.ModelInfo {
	return append([]enricher.ModelInfo(nil), c.models...)
}

// Available returns the keys of the available models, in Models order.
func (c *Catalog) Available() []string {
	var out []string
	for _, m := range c.models {
		if m.IsAvailable {
			out = append(out, m.Key)
		}
	}
	return out
}

// Lookup returns the model with key if it is known and available. Errors are KindInvalid with
// the messages "unknown model" and "model is not available: <VAR> is not set".
func (c *Catalog) Lookup(key string) (enricher.ModelInfo, error) {
	i, ok := c.index[key]
	if !ok {
		return enricher.ModelInfo{}, enricher.Errorf(enricher.KindInvalid, "unknown model %q", key)
	}
	m := c.models[i]
	if !m.IsAvailable {
		p := c.providers[m.Provider]
		return m, enricher.Errorf(enricher.KindInvalid, "model %q is not available: %s is not set", key, p.MissingEnv)
	}
	return m, nil
}

// Provider returns the provider called name.
func (c *Catalog) Provider(name string) (ProviderInfo, bool) {
	p, ok := c.providers[name]
	return p, ok
}

// Providers returns every provider, built-ins first.
func (c *Catalog) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.providers[n])
	}
	return out
}

// SimProfiles returns the profile of every sim model, by model name ("fast").
func (c *Catalog) SimProfiles() map[string]SimProfile {
	out := make(map[string]SimProfile, len(c.sim))
	for k, v := range c.sim {
		out[k] = v
	}
	return out
}
