package llm

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestBuiltinCatalog(t *testing.T) {
	c, err := NewCatalog(CatalogConfig{Env: env(map[string]string{"OPENAI_API_KEY": "sk-1", "OLLAMA_BASE_URL": "http://localhost:11434/v1/"})})
	require.NoError(t, err)
	models := c.Models()
	require.Len(t, models, 7)
	want := []string{"anthropic::claude-sonnet-4-5-20250514", "openai::gpt-4o", "google::gemini-2.5-pro",
		"deepseek::deepseek-chat", "sim::fast", "sim::realistic", "sim::flaky"}
	for i, m := range models {
		require.Equal(t, want[i], m.Key)
	}
	require.Equal(t, []string{"openai::gpt-4o", "sim::fast", "sim::realistic", "sim::flaky"}, c.Available())
	require.Equal(t, 3.0, models[0].InputPrice)
	require.Equal(t, 15.0, models[0].OutputPrice)
	require.Equal(t, "claude-sonnet-4-5", models[0].UpstreamModel)
	require.True(t, models[0].SupportsReasoning && models[0].SupportsPDFInput && !models[0].SupportsAudioInput)
	require.Equal(t, "no_api_key", *models[0].UnavailableReason)
	require.True(t, models[4].IsSimulated)

	tests := []struct{ key, err string }{
		{"openai::gpt-5", `unknown model "openai::gpt-5"`},
		{"google::gemini-2.5-pro", `model "google::gemini-2.5-pro" is not available: GEMINI_API_KEY is not set`},
		{"sim::fast", ""},
		{"openai::gpt-4o", ""},
	}
	for _, tt := range tests {
		_, err := c.Lookup(tt.key)
		if tt.err == "" {
			require.NoError(t, err, tt.key)
			continue
		}
		require.EqualError(t, err, tt.err)
		require.True(t, enricher.IsKind(err, enricher.KindInvalid))
	}
	p, ok := c.Provider("ollama")
	require.True(t, ok)
	require.True(t, p.Available, "ollama needs only a base URL")
	require.Equal(t, "http://localhost:11434/v1", p.BaseURL)
	op, _ := c.Provider("openai")
	require.Equal(t, "sk-1", op.APIKey)
}

func TestModelsFile(t *testing.T) {
	tests := []struct {
		name string
		file string
		err  string
		test func(t *testing.T, c *Catalog)
	}{
		{name: "extra provider and model", file: `{"providers": [{"name": "together", "protocol": "openai", "base_url": "https://api.together.xyz/v1", "api_key_env": "TOGETHER_API_KEY", "max_concurrency": 4}],
			"models": [{"key": "together::meta-llama/Llama-3.3-70B", "display_name": "Llama", "input_price": 0.88, "output_price": 0.88, "max_output_tokens": 8192}]}`,
			test: func(t *testing.T, c *Catalog) {
				m, err := c.Lookup("together::meta-llama/Llama-3.3-70B")
				require.NoError(t, err)
				require.Equal(t, "meta-llama/Llama-3.3-70B", m.UpstreamModel)
				require.Equal(t, 8192, m.MaxOutputTokens)
				p, _ := c.Provider("together")
				require.Equal(t, 4, p.MaxConcurrency)
				require.Equal(t, "together::meta-llama/Llama-3.3-70B", c.Models()[7].Key, "file models come after the built-ins")
			}},
		{name: "override price only", file: `{"models": [{"key": "openai::gpt-4o", "input_price": 2.0}]}`,
			test: func(t *testing.T, c *Catalog) {
				m := c.Models()[1]
				require.Equal(t, 2.0, m.InputPrice)
				require.Equal(t, 10.0, m.OutputPrice, "fields not given keep their value")
			}},
		{name: "new sim model", file: `{"models": [{"key": "sim::slow", "display_name": "Slow", "sim": {"base_latency_ms": 5000}}]}`,
			test: func(t *testing.T, c *Catalog) {
				_, err := c.Lookup("sim::slow")
				require.NoError(t, err)
				require.Equal(t, 5000, c.SimProfiles()["slow"].BaseLatencyMS)
			}},
		{name: "rate-limited sim model", file: `{"models": [{"key": "sim::limited", "sim": {"rpm": 600, "window_ms": 6000}}]}`,
			test: func(t *testing.T, c *Catalog) {
				require.Equal(t, 600, c.SimProfiles()["limited"].RPM)
				require.Equal(t, 6000, c.SimProfiles()["limited"].WindowMS)
			}},
		{name: "token-bucket sim account", file: `{"models": [{"key": "sim::bucket", "sim": {"rpm": 600, "tpm": 200000, "no_retry_after": true}}]}`,
			test: func(t *testing.T, c *Catalog) {
				p := c.SimProfiles()["bucket"]
				require.Equal(t, 200000, p.TPM)
				require.True(t, p.NoRetryAfter)
			}},
		{name: "model budgets", file: `{"models": [{"key": "openai::gpt-4o", "rpm": 500, "tpm": 30000}]}`,
			test: func(t *testing.T, c *Catalog) {
				m := c.Models()[1]
				require.Equal(t, 500, m.RPM)
				require.Equal(t, 30000, m.TPM)
				require.Zero(t, c.Models()[0].RPM, "other models have none")
			}},
		{name: "negative budget", file: `{"models": [{"key": "openai::gpt-4o", "tpm": -1}]}`, err: "rpm and tpm must not be negative"},
		{name: "bad refill", file: `{"models": [{"key": "sim::x", "sim": {"rpm": 5, "refill": "sometimes"}}]}`, err: "refill must be window or continuous"},
		{name: "tpm needs a bucket", file: `{"sim": {"sim::fast": {"tpm": 5, "refill": "window"}}}`, err: "tpm needs refill continuous"},
		{name: "tune flaky", file: `{"sim": {"sim::flaky": {"faults": {"rate_limited": 0.2}}}}`,
			test: func(t *testing.T, c *Catalog) {
				require.Equal(t, 0.2, c.SimProfiles()["flaky"].Faults["rate_limited"])
			}},
		{name: "unknown provider", file: `{"models": [{"key": "foo::bar"}]}`, err: `models[0] ("foo::bar"): unknown provider "foo"`},
		{name: "sim as provider", file: `{"providers": [{"name": "sim", "protocol": "openai", "base_url": "http://x"}]}`, err: "sim cannot be declared"},
		{name: "bad protocol", file: `{"providers": [{"name": "x", "protocol": "soap", "base_url": "http://x"}]}`, err: "protocol must be"},
		{name: "sim model without profile", file: `{"models": [{"key": "sim::new"}]}`, err: "needs a sim profile"},
		{name: "bad key", file: `{"models": [{"key": "nokey"}]}`, err: `models[0] ("nokey")`},
		{name: "not json", file: `{`, err: "not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCatalog(CatalogConfig{Env: env(map[string]string{"TOGETHER_API_KEY": "k"}), ModelsFile: []byte(tt.file)})
			if tt.err != "" {
				require.Error(t, err)
				require.True(t, strings.Contains(err.Error(), tt.err), err.Error())
				return
			}
			require.NoError(t, err)
			tt.test(t, c)
		})
	}
}

func TestCost(t *testing.T) {
	m := enricher.ModelInfo{InputPrice: 3, OutputPrice: 15}
	require.InDelta(t, 1105*3/1e6+88*15/1e6, m.Cost(1105, 88), 1e-15)
}

func TestRetryPolicy(t *testing.T) {
	p := RetryPolicy{}.WithDefaults()
	rate := &Error{Kind: KindRateLimited, RetryAfter: 7 * time.Second}
	tests := []struct {
		name   string
		tries  int
		err    error
		random float64
		delay  time.Duration
		retry  bool
	}{
		{"first backoff", 1, &Error{Kind: KindServerError}, 0.5, time.Second, true},
		{"second backoff", 2, &Error{Kind: KindTimeout}, 0.5, 2 * time.Second, true},
		{"third backoff", 3, &Error{Kind: KindOverloaded}, 0.5, 4 * time.Second, true},
		{"retries exhausted", 4, &Error{Kind: KindServerError}, 0.5, 0, false},
		{"jitter low", 1, &Error{Kind: KindServerError}, 0, 800 * time.Millisecond, true},
		{"jitter high", 1, &Error{Kind: KindServerError}, 1, 1200 * time.Millisecond, true},
		{"retry-after honoured", 1, rate, 0.5, 7 * time.Second, true},
		{"retry-after too long falls back", 1, &Error{Kind: KindRateLimited, RetryAfter: 2 * time.Minute}, 0.5, time.Second, true},
		{"auth not retried", 1, &Error{Kind: KindAuth}, 0.5, 0, false},
		{"quota not retried", 1, &Error{Kind: KindQuotaExhausted}, 0.5, 0, false},
		{"bad request not retried", 1, &Error{Kind: KindBadRequest}, 0.5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, retry := p.Delay(tt.tries, tt.err, tt.random)
			require.Equal(t, tt.retry, retry)
			require.Equal(t, tt.delay, d)
		})
	}
	none := RetryPolicy{Retries: -1}.WithDefaults()
	_, retry := none.Delay(1, &Error{Kind: KindServerError}, 0.5)
	require.False(t, retry, "llm_retries=0 means no retry")
}

// Every models-file error starts with the line of the entry or of the JSON mistake.
func TestModelsFileErrorLines(t *testing.T) {
	tests := []struct {
		name string
		file string
		err  string
	}{
		{name: "model entry", file: "{\n  \"models\": [\n    {\"key\": \"openai::gpt-4o\"},\n    {\"key\": \"foo::bar\"}\n  ]\n}",
			err: `line 4: models[1] ("foo::bar"): unknown provider "foo"`},
		{name: "provider entry after other keys", file: "{\"sim\": {},\n \"models\": [],\n \"providers\": [\n\n  {\"name\": \"x\", \"protocol\": \"soap\", \"base_url\": \"http://x\"}]}",
			err: `line 5: providers[0] ("x"): protocol must be openai, anthropic or gemini`},
		{name: "sim key", file: "{\n\"sim\": {\n  \"sim::fast\": {},\n  \"sim::nope\": {}\n}}",
			err: `line 4: sim["sim::nope"]: unknown sim model`},
		{name: "syntax", file: "{\"models\": [\n  {\"key\": \"openai::gpt-4o\",}\n]}",
			err: "line 2: not valid JSON: invalid character '}'"},
		{name: "truncated", file: "{\"models\": [\n", err: "line 1: not valid JSON: unexpected end of JSON input"},
		{name: "wrong type", file: "{\"models\": [\n  {\"key\": \"openai::gpt-4o\",\n   \"input_price\": \"cheap\"}]}",
			err: "line 3: models.input_price must be a number, not a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCatalog(CatalogConfig{ModelsFile: []byte(tt.file)})
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tt.err), err.Error())
		})
	}
}

// TestBatchDiscount: the built-in providers with a batch API price batches at half, the
// others at 0; the models file sets batch_discount within 0..1, only on providers with a batch
// API, and new models of a built-in provider inherit its discount.
func TestBatchDiscount(t *testing.T) {
	c, err := NewCatalog(CatalogConfig{})
	require.NoError(t, err)
	want := map[string]float64{"anthropic::claude-sonnet-4-5-20250514": 0.5, "openai::gpt-4o": 0.5,
		"google::gemini-2.5-pro": 0.5, "deepseek::deepseek-chat": 0, "sim::fast": 0.5, "sim::realistic": 0.5, "sim::flaky": 0.5}
	for _, m := range c.Models() {
		require.Equal(t, want[m.Key], m.BatchDiscount, m.Key)
	}

	c, err = NewCatalog(CatalogConfig{ModelsFile: []byte(`{"models": [
		{"key": "openai::gpt-4o", "batch_discount": 0.4},
		{"key": "anthropic::claude-haiku", "input_price": 1},
		{"key": "ollama::llama3", "batch_discount": 0},
		{"key": "sim::slowbatch", "sim": {"batch_delay_ms": 50}}]}`)})
	require.NoError(t, err)
	got := map[string]float64{}
	for _, m := range c.Models() {
		got[m.Key] = m.BatchDiscount
	}
	for key, d := range map[string]float64{"openai::gpt-4o": 0.4, "anthropic::claude-haiku": 0.5, "ollama::llama3": 0, "sim::slowbatch": 0.5} {
		require.Contains(t, got, key)
		require.Equal(t, d, got[key], key)
	}
	require.Equal(t, 50, c.SimProfiles()["slowbatch"].BatchDelayMS)

	for file, msg := range map[string]string{
		`{"models": [{"key": "openai::gpt-4o", "batch_discount": 1.5}]}`:                                                                                 "batch_discount must be between 0 and 1",
		`{"models": [{"key": "deepseek::deepseek-chat", "batch_discount": 0.5}]}`:                                                                        `provider "deepseek" has no batch API`,
		`{"models": [{"key": "sim::fast", "sim": {"batch_delay_ms": -1}}]}`:                                                                              "batch_delay_ms must not be negative",
		`{"providers": [{"name": "together", "protocol": "openai", "base_url": "http://x"}], "models": [{"key": "together::m", "batch_discount": 0.5}]}`: `provider "together" has no batch API`,
	} {
		_, err := NewCatalog(CatalogConfig{ModelsFile: []byte(file)})
		require.ErrorContains(t, err, msg, file)
	}
}
