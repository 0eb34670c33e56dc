package enricher

// ModelInfo describes one model of the catalog as clients see it. Prices are USD
// per million tokens. The catalog in transport/llm owns the values; a ModelInfo is a copy.
type ModelInfo struct {
	Key                   string  `json:"key"`
	Provider              string  `json:"provider"`
	Model                 string  `json:"model"`
	DisplayName           string  `json:"display_name"`
	InputPrice            float64 `json:"input_price"`
	OutputPrice           float64 `json:"output_price"`
	ContextLength         int     `json:"context_length"`
	IsAvailable           bool    `json:"is_available"`
	UnavailableReason     *string `json:"unavailable_reason"`
	IsSimulated           bool    `json:"is_simulated"`
	SupportsVision        bool    `json:"supports_vision"`
	SupportsToolCalls     bool    `json:"supports_tool_calls"`
	SupportsAudioInput    bool    `json:"supports_audio_input"`
	SupportsPDFInput      bool    `json:"supports_pdf_input"`
	SupportsPromptCaching bool    `json:"supports_prompt_caching"`
	SupportsReasoning     bool    `json:"supports_reasoning"`
	// BatchDiscount is the share of the price a call costs through the vendor's batch API
	// (0.5: half price); 0 when the model's provider has no batch API.
	BatchDiscount float64 `json:"batch_discount"`

	// UpstreamModel is the id sent to the vendor; MaxOutputTokens caps a call's answer (0 =
	// no model-specific cap). Neither is shown to clients.
	UpstreamModel   string `json:"-"`
	MaxOutputTokens int    `json:"-"`
	// RPM and TPM are the model's rate limits at its vendor for this server's key, requests
	// and tokens per minute (0: none known); calls wait for them rather than meet a 429.
	// Not shown to clients.
	RPM int `json:"-"`
	TPM int `json:"-"`
}

// Cost returns the price in USD of a response with the given token counts.
func (m *ModelInfo) Cost(inputTokens, outputTokens int) float64 {
	return float64(inputTokens)*m.InputPrice/1e6 + float64(outputTokens)*m.OutputPrice/1e6
}

// BatchCost returns the price in USD of a response with the given token counts answered
// through the vendor's batch API: Cost times BatchDiscount.
func (m *ModelInfo) BatchCost(inputTokens, outputTokens int) float64 {
	return m.Cost(inputTokens, outputTokens) * m.BatchDiscount
}
