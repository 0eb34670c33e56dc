package sdkcheck_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	openai "github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// The official SDKs are the clients here: each decodes what the matching fake serves, so the
// fakes' success and error bodies are what real client code understands.

// sdkPersonSchema is the answer schema the SDK calls ask for.
var sdkPersonSchema = map[string]any{
	"type": "object", "additionalProperties": false, "required": []any{"name", "age"},
	"properties": map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
}

func openAISDK(t *testing.T, fake *llmtest.OpenAIServer, key string) openai.Client {
	t.Helper()
	return openai.NewClient(openaioption.WithBaseURL(fake.URL+"/"), openaioption.WithAPIKey(key), openaioption.WithMaxRetries(0))
}

func openAIParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:               "gpt-4o",
		MaxCompletionTokens: openai.Int(256),
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Extract the person."), openai.UserMessage("Alice is 30.")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Strict: openai.Bool(true), Schema: sdkPersonSchema},
		}},
	}
}

func TestOpenAISDKDecodesFakeAnswers(t *testing.T) {
	t.Parallel()
	fixed := `{"id":"chatcmpl-1","object":"chat.completion","created":1764380000,"model":"gpt-4o-2024-08-06",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"name\":\"Alice\",\"age\":30}","refusal":null,"annotations":[]},` +
		`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":9,"total_tokens":40,` +
		`"prompt_tokens_details":{"cached_tokens":5,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,` +
		`"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_x"}`
	tests := []struct {
		name                     string
		reply                    llmtest.OpenAIReply
		wantContent              string // "" means: any JSON object with name and age
		wantPrompt, wantComplete int64  // 0 means: positive
		wantCached               int64
	}{
		{name: "the fake's own answer"},
		{name: "a scripted answer", reply: llmtest.OpenAIReply{Status: 200, Body: fixed},
			wantContent: `{"name":"Alice","age":30}`, wantPrompt: 31, wantComplete: 9, wantCached: 5},
		{name: "an answer after keep-alive lines", reply: llmtest.OpenAIReply{KeepAlive: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-test")
			fake.Script(func(int, []byte) llmtest.OpenAIReply { return tt.reply })
			client := openAISDK(t, fake, "sk-test")
			resp, err := client.Chat.Completions.New(context.Background(), openAIParams())
			require.NoError(t, err)
			require.Len(t, resp.Choices, 1)
			content := resp.Choices[0].Message.Content
			if tt.wantContent != "" {
				require.JSONEq(t, tt.wantContent, content)
			} else {
				var got map[string]any
				require.NoError(t, json.Unmarshal([]byte(content), &got))
				require.Contains(t, got, "name")
				require.Contains(t, got, "age")
			}
			require.Equal(t, "stop", resp.Choices[0].FinishReason)
			if tt.wantPrompt != 0 {
				require.Equal(t, tt.wantPrompt, resp.Usage.PromptTokens)
				require.Equal(t, tt.wantComplete, resp.Usage.CompletionTokens)
				require.Equal(t, tt.wantCached, resp.Usage.PromptTokensDetails.CachedTokens)
			} else {
				require.Positive(t, resp.Usage.PromptTokens)
				require.Positive(t, resp.Usage.CompletionTokens)
			}
			require.Equal(t, resp.Usage.PromptTokens+resp.Usage.CompletionTokens, resp.Usage.TotalTokens)
		})
	}
}

func TestOpenAISDKDecodesFakeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		reply    llmtest.OpenAIReply
		wantCode string
		wantType string
		wantHint string // the retry-after header the SDK's response carries
	}{
		{name: "429 with retry-after", reply: llmtest.OpenAIReply{Status: 429, Headers: map[string]string{"retry-after": "2"},
			Body: llmtest.OpenAIErrorBody("Rate limit reached for gpt-4o.", "requests", "rate_limit_exceeded")},
			wantCode: "rate_limit_exceeded", wantType: "requests", wantHint: "2"},
		{name: "503 overloaded", reply: llmtest.OpenAIReply{Status: 503, Body: llmtest.OpenAIErrorBody("Server Overloaded", "server_error", "")},
			wantType: "server_error"},
		{name: "400 context length", reply: llmtest.OpenAIReply{Status: 400, Body: llmtest.OpenAIErrorBody(
			"This model's maximum context length is 128000 tokens.", "invalid_request_error", "context_length_exceeded")},
			wantCode: "context_length_exceeded", wantType: "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-test")
			fake.Script(func(int, []byte) llmtest.OpenAIReply { return tt.reply })
			client := openAISDK(t, fake, "sk-test")
			_, err := client.Chat.Completions.New(context.Background(), openAIParams())
			var apiErr *openai.Error
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.reply.Status, apiErr.StatusCode)
			require.Equal(t, tt.wantCode, apiErr.Code)
			require.Equal(t, tt.wantType, apiErr.Type)
			require.NotEmpty(t, apiErr.Message)
			require.Equal(t, tt.wantHint, apiErr.Response.Header.Get("retry-after"))
			require.Len(t, fake.Requests(), 1, "no SDK retries")
		})
	}
}

func anthropicSDK(fake *llmtest.AnthropicServer) anthropic.Client {
	return anthropic.NewClient(anthropicoption.WithBaseURL(fake.URL+"/"), anthropicoption.WithAPIKey(fake.Key),
		anthropicoption.WithMaxRetries(0))
}

func anthropicParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Extract the person."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Alice is 30."))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "record_answer",
			InputSchema: anthropic.ToolInputSchemaParam{Properties: sdkPersonSchema["properties"], Required: []string{"name", "age"}}}}},
		ToolChoice: anthropic.ToolChoiceParamOfTool("record_answer"),
	}
}

func TestAnthropicSDKDecodesFakeAnswers(t *testing.T) {
	t.Parallel()
	fixed := `{"id":"msg_01Ab","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
		`"content":[{"type":"tool_use","id":"toolu_01Xy","name":"record_answer","input":{"name":"Alice","age":30}}],` +
		`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":412,"output_tokens":38,` +
		`"cache_creation_input_tokens":7,"cache_read_input_tokens":100,` +
		`"cache_creation":{"ephemeral_5m_input_tokens":7,"ephemeral_1h_input_tokens":0},"service_tier":"standard"}}`
	tests := []struct {
		name                           string
		reply                          *llmtest.AnthropicReply
		wantInput                      string // "" means: any object with name and age
		wantIn, wantOut, wantCacheRead int64  // 0 means: positive (cache: zero)
	}{
		{name: "the fake's own answer"},
		{name: "a scripted answer with cache usage", reply: &llmtest.AnthropicReply{Status: 200, Body: fixed},
			wantInput: `{"name":"Alice","age":30}`, wantIn: 412, wantOut: 38, wantCacheRead: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := llmtest.NewAnthropicServer(t, "sk-ant-test")
			if tt.reply != nil {
				fake.Script(func(int, []byte) llmtest.AnthropicReply { return *tt.reply })
			}
			client := anthropicSDK(fake)
			msg, err := client.Messages.New(context.Background(), anthropicParams())
			require.NoError(t, err)
			require.Equal(t, anthropic.StopReasonToolUse, msg.StopReason)
			require.Len(t, msg.Content, 1)
			block := msg.Content[0].AsToolUse()
			require.Equal(t, "record_answer", block.Name)
			if tt.wantInput != "" {
				require.JSONEq(t, tt.wantInput, string(block.Input))
				require.Equal(t, tt.wantIn, msg.Usage.InputTokens)
				require.Equal(t, tt.wantOut, msg.Usage.OutputTokens)
				require.Equal(t, tt.wantCacheRead, msg.Usage.CacheReadInputTokens)
				require.Equal(t, int64(7), msg.Usage.CacheCreation.Ephemeral5mInputTokens)
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal(block.Input, &got))
			require.Contains(t, got, "name")
			require.Contains(t, got, "age")
			require.Positive(t, msg.Usage.InputTokens)
			require.Positive(t, msg.Usage.OutputTokens)
		})
	}
}

func TestAnthropicSDKDecodesFakeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		reply    llmtest.AnthropicReply
		wantHint string
	}{
		{name: "429 with retry-after", reply: llmtest.AnthropicReply{Status: 429, Headers: map[string]string{"retry-after": "7", "request-id": "req_42"},
			Body: llmtest.AnthropicErrorBody("rate_limit_error", "Number of requests has exceeded your rate limit")}, wantHint: "7"},
		{name: "529 overloaded", reply: llmtest.AnthropicReply{Status: 529, Headers: map[string]string{"request-id": "req_42"},
			Body: llmtest.AnthropicErrorBody("overloaded_error", "Overloaded")}},
		{name: "400 prompt too long", reply: llmtest.AnthropicReply{Status: 400, Headers: map[string]string{"request-id": "req_42"},
			Body: llmtest.AnthropicErrorBody("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := llmtest.NewAnthropicServer(t, "sk-ant-test")
			fake.Script(func(int, []byte) llmtest.AnthropicReply { return tt.reply })
			client := anthropicSDK(fake)
			_, err := client.Messages.New(context.Background(), anthropicParams())
			var apiErr *anthropic.Error
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.reply.Status, apiErr.StatusCode)
			require.Equal(t, "req_42", apiErr.RequestID)
			var body struct {
				Error struct{ Type, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(apiErr.RawJSON()), &body))
			var want struct {
				Error struct{ Type, Message string } `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(tt.reply.Body), &want))
			require.Equal(t, want.Error, body.Error)
			require.Equal(t, tt.wantHint, apiErr.Response.Header.Get("retry-after"))
			require.Len(t, fake.Requests(), 1, "no SDK retries")
		})
	}
}

func geminiSDK(t *testing.T, fake *llmtest.GeminiServer) *genai.Client {
	t.Helper()
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{APIKey: "gemini-test-key", Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: fake.URL + "/"}})
	require.NoError(t, err)
	return client
}

func geminiConfig() *genai.GenerateContentConfig {
	return &genai.GenerateContentConfig{
		SystemInstruction:  genai.NewContentFromText("Extract the person.", genai.RoleUser),
		ResponseMIMEType:   "application/json",
		ResponseJsonSchema: sdkPersonSchema,
	}
}

func TestGeminiSDKDecodesFakeAnswers(t *testing.T) {
	t.Parallel()
	fake := llmtest.NewGeminiServer(t)
	fake.ThoughtsTokens = 19
	resp, err := geminiSDK(t, fake).Models.GenerateContent(context.Background(), "gemini-2.5-pro", genai.Text("Alice is 30."), geminiConfig())
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(resp.Text()), &got))
	require.Contains(t, got, "name")
	require.Contains(t, got, "age")
	require.Equal(t, genai.FinishReasonStop, resp.Candidates[0].FinishReason)
	u := resp.UsageMetadata
	require.Positive(t, u.PromptTokenCount)
	require.Positive(t, u.CandidatesTokenCount)
	require.Equal(t, int32(19), u.ThoughtsTokenCount)
	require.Equal(t, u.PromptTokenCount+u.CandidatesTokenCount+u.ThoughtsTokenCount, u.TotalTokenCount)
}

func TestGeminiSDKDecodesFakeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		rpcStatus  string
		retryDelay string
	}{
		{name: "429 with RetryInfo", status: http.StatusTooManyRequests, rpcStatus: "RESOURCE_EXHAUSTED", retryDelay: "37s"},
		{name: "503 overloaded", status: http.StatusServiceUnavailable, rpcStatus: "UNAVAILABLE"},
		{name: "400 context length", status: http.StatusBadRequest, rpcStatus: "INVALID_ARGUMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := llmtest.NewGeminiServer(t)
			body := llmtest.GeminiErrorBody(tt.status, tt.rpcStatus, "message for "+tt.name, tt.retryDelay)
			fake.Script(func(int, []byte) llmtest.GeminiReply { return llmtest.GeminiReply{Status: tt.status, Body: body} })
			_, err := geminiSDK(t, fake).Models.GenerateContent(context.Background(), "gemini-2.5-pro", genai.Text("Alice is 30."), geminiConfig())
			var apiErr genai.APIError
			require.True(t, errors.As(err, &apiErr), "error %T: %v", err, err)
			require.Equal(t, tt.status, apiErr.Code)
			require.Equal(t, tt.rpcStatus, apiErr.Status)
			require.Equal(t, "message for "+tt.name, apiErr.Message)
			if tt.retryDelay != "" {
				var delays []any
				for _, d := range apiErr.Details {
					if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
						delays = append(delays, d["retryDelay"])
					}
				}
				require.Equal(t, []any{tt.retryDelay}, delays)
			}
			require.Len(t, fake.Requests(), 1, "no SDK retries")
		})
	}
}
