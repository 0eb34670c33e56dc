package openai

import "encoding/json"

// chatRequest is the body of POST /chat/completions (only the fields the adapter sends).
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Temperature         float64         `json:"temperature"`
	MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
	MaxTokens           int             `json:"max_tokens,omitempty"`
	ResponseFormat      *responseFormat `json:"response_format,omitempty"`
}

// chatMessage is one message of a request.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// responseFormat is `response_format`: {"type":"json_object"} or a strict json_schema.
type responseFormat struct {
	Type       string            `json:"type"`
	JSONSchema *jsonSchemaFormat `json:"json_schema,omitempty"`
}

// jsonSchemaFormat is `response_format.json_schema`.
type jsonSchemaFormat struct {
	Name   string          `json:"name"`
	Strict bool            `json:"strict"`
	Schema json.RawMessage `json:"schema"`
}

// chatResponse is the body of a successful completion.
type chatResponse struct {
	ID      string       `json:"id"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage"`
}

// chatChoice is one entry of `choices`.
type chatChoice struct {
	Index        int           `json:"index"`
	Message      answerMessage `json:"message"`
	FinishReason string        `json:"finish_reason"`
}

// answerMessage is `choices[i].message`; content and refusal are nullable.
type answerMessage struct {
	Role    string  `json:"role"`
	Content *string `json:"content"`
	Refusal *string `json:"refusal"`
}

// chatUsage is `usage`, with DeepSeek's cache fields.
type chatUsage struct {
	PromptTokens          int           `json:"prompt_tokens"`
	CompletionTokens      int           `json:"completion_tokens"`
	TotalTokens           int           `json:"total_tokens"`
	PromptTokensDetails   *promptDetail `json:"prompt_tokens_details"`
	PromptCacheHitTokens  int           `json:"prompt_cache_hit_tokens"`
	PromptCacheMissTokens int           `json:"prompt_cache_miss_tokens"`
}

// promptDetail is `usage.prompt_tokens_details`.
type promptDetail struct {
	CachedTokens     int `json:"cached_tokens"`
	CacheWriteTokens int `json:"cache_write_tokens"`
}

// errorEnvelope is an error body: OpenAI's {"error":{...}}, Ollama's {"error":"text"}, or
// vLLM's older flat {"object":"error","message",...}.
type errorEnvelope struct {
	Error   json.RawMessage `json:"error"`
	Object  string          `json:"object"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// errorDetail is the object form of `error`. code is a string at OpenAI and a number at
// llama.cpp.
type errorDetail struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}
