package anthropic

import "encoding/json"

// messageRequest is the body of POST /v1/messages. Field order is the order
// on the wire; the golden test pins it.
type messageRequest struct {
	Model       string         `json:"model"`
	MaxTokens   int            `json:"max_tokens"`
	System      string         `json:"system,omitempty"`
	Messages    []inputMessage `json:"messages"`
	Temperature float64        `json:"temperature"`
	Tools       []tool         `json:"tools,omitempty"`
	ToolChoice  *toolChoice    `json:"tool_choice,omitempty"`
}

// inputMessage is one conversation turn; content is sent as a plain string.
type inputMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// tool is a client tool whose input_schema carries the answer schema.
type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

// toolChoice forces the model to call the tool called Name (Type "tool").
type toolChoice struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// messageResponse is the 200 body of POST /v1/messages.
type messageResponse struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Role       string         `json:"role"`
	Model      string         `json:"model"`
	Content    []contentBlock `json:"content"`
	StopReason string         `json:"stop_reason"`
	Usage      usage          `json:"usage"`
}

// contentBlock is one block of a response: "text" blocks carry Text, "tool_use" blocks Name and
// Input (a JSON object); other types (thinking, server tools) are ignored.
type contentBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

// usage is the token accounting of a response. InputTokens excludes cached tokens.
type usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// errorResponse is the body of every non-2xx answer.
type errorResponse struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Details struct {
			ErrorCode string `json:"error_code"`
		} `json:"details"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}
