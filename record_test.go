package enricher

import "testing"

func TestRecordSetFailure(t *testing.T) {
	str := func(s string) *string { return &s }
	failed := func(code, msg string) PromptCall {
		return PromptCall{ErrorCode: str(code), ErrorMessage: str(msg)}
	}
	tests := []struct {
		name     string
		rec      Record
		wantCode *string
		wantMsg  *string
	}{
		{name: "success keeps nulls", rec: Record{RecordSummary: RecordSummary{Success: true}, Prompts: []PromptCall{failed("timeout", "x")}}},
		{name: "last failing prompt wins",
			rec:      Record{Prompts: []PromptCall{failed("timeout", "first"), {Success: true}, failed("rate_limited", "second"), {Success: true}}},
			wantCode: str("rate_limited"), wantMsg: str("second")},
		{name: "no failing prompt: fallback", rec: Record{Prompts: []PromptCall{{Success: true}}},
			wantCode: str("schema_generation_failed"), wantMsg: str("the schema could not be saved")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rec
			r.SetFailure("schema_generation_failed", "the schema could not be saved")
			if (r.ErrorCode == nil) != (tt.wantCode == nil) || r.ErrorCode != nil && *r.ErrorCode != *tt.wantCode {
				t.Errorf("error_code = %v, want %v", deref(r.ErrorCode), deref(tt.wantCode))
			}
			if (r.ErrorMessage == nil) != (tt.wantMsg == nil) || r.ErrorMessage != nil && *r.ErrorMessage != *tt.wantMsg {
				t.Errorf("error_message = %v, want %v", deref(r.ErrorMessage), deref(tt.wantMsg))
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
