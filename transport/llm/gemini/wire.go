package gemini

import "encoding/json"

// The JSON shapes of the generateContent endpoint, limited to the fields this
// adapter sends or reads. Field names are the API's lowerCamelCase proto-JSON names.

// generateRequest is the body of POST /v1beta/models/{model}:generateContent.
type generateRequest struct {
	Contents          []content        `json:"contents"`
	SystemInstruction *content         `json:"systemInstruction,omitempty"`
	GenerationConfig  generationConfig `json:"generationConfig"`
}

// content is one turn (role "user" or "model"); the system instruction has role "user", as
// the official client sends it.
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part is one piece of a turn. Thought marks a thinking summary, which is not answer text.
type part struct {
	Text    string `json:"text"`
	Thought bool   `json:"thought,omitempty"`
}

// generationConfig holds the sampling and output settings. At most one of ResponseSchema and
// ResponseJSONSchema is set: the API rejects both.
type generationConfig struct {
	Temperature        float64         `json:"temperature"`
	MaxOutputTokens    int             `json:"maxOutputTokens,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseSchema     json.RawMessage `json:"responseSchema,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
}

// generateResponse is the success body.
type generateResponse struct {
	Candidates     []candidate     `json:"candidates"`
	PromptFeedback *promptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata,omitempty"`
	ModelVersion   string          `json:"modelVersion,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
}

// candidate is one answer; Content is nil when nothing was produced (a blocked answer, or a
// thinking model that spent its budget).
type candidate struct {
	Content      *content `json:"content,omitempty"`
	FinishReason string   `json:"finishReason,omitempty"`
	Index        int      `json:"index"`
}

// promptFeedback is set when the prompt itself was blocked (then there are no candidates).
type promptFeedback struct {
	BlockReason        string `json:"blockReason,omitempty"`
	BlockReasonMessage string `json:"blockReasonMessage,omitempty"`
}

// usageMetadata is the token accounting. PromptTokenCount includes CachedContentTokenCount;
// CandidatesTokenCount excludes ThoughtsTokenCount.
type usageMetadata struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount,omitempty"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount,omitempty"`
	ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount,omitempty"`
	TotalTokenCount         int `json:"totalTokenCount"`
}

// errorBody is a google.rpc.Status error response.
type errorBody struct {
	Error struct {
		Code    int           `json:"code"`
		Message string        `json:"message"`
		Status  string        `json:"status"`
		Details []errorDetail `json:"details"`
	} `json:"error"`
}

// errorDetail is one entry of details; only RetryInfo's retryDelay is read.
type errorDetail struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay,omitempty"`
}
