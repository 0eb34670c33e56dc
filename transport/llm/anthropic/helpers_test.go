package anthropic

import (
	"errors"
	"testing"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
	"github.com/stretchr/testify/require"
)

const testKey = "sk-ant-test-secret-key"

// personSchema is a small answer schema used by several tests.
const personSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",` +
	`"properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}`

// testBundle is one fake server and a client pointed at it.
type testBundle struct {
	fake   *llmtest.AnthropicServer
	client *Client
}

// setup starts a fake and a client; mutate adjusts the client config.
func setup(t *testing.T, mutate func(*Config)) *testBundle {
	t.Helper()
	fake := llmtest.NewAnthropicServer(t, testKey)
	cfg := Config{BaseURL: fake.URL + "/", APIKey: testKey, Options: vendorhttp.Options{Timeout: 5 * time.Second}}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return &testBundle{fake: fake, client: c}
}

// personRequest is a request with the person schema.
func personRequest() *llm.Request {
	return &llm.Request{
		Model: "claude-sonnet-4-5", System: "Extract the person.", MaxTokens: 1024,
		Messages: []llm.Message{{Role: "user", Content: "Alice is 30."}},
		Schema:   []byte(personSchema), SchemaName: "person",
		Hints: &llm.Hints{CallKind: "enrichment", ModelKey: "anthropic::secret-hint-model", Prompt: "hint-prompt"},
	}
}

// requireKind asserts that err is an *llm.Error of kind want and returns it.
func requireKind(t *testing.T, err error, want llm.ErrorKind) *llm.Error {
	t.Helper()
	require.Error(t, err)
	var e *llm.Error
	require.True(t, errors.As(err, &e), "not an *llm.Error: %v", err)
	require.Equal(t, want, e.Kind, "error: %v", err)
	require.NotContains(t, err.Error(), testKey)
	return e
}

// waitFor fails the test unless ch delivers within d.
func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
}
