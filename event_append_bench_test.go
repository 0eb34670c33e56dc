package enricher

import (
	"encoding/json"
	"testing"
	"time"
)

// benchEvent is a model_completed event of a typical single-model result.
func benchEvent() (*EventHeader, ModelCompletedEvent) {
	id, cur := "rec-0b6f3c1e", "openai/gpt-4o"
	h := &EventHeader{Type: EventModelCompleted, Seq: 2, JobID: "job-5f1d", JobType: JobSingleEnrichment, Status: JobRunning,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), TotalModels: 1, RunningModels: []string{}, CurrentModel: &cur}
	result := json.RawMessage(`{"name":"Acme Corporation","country":"US","founded_year":1947,"revenue_usd":1.25e9,` +
		`"description":{"en":"Acme makes anvils & rockets for <coyotes>.","de":"Acme stellt Ambosse her."},` +
		`"headquarters":{"city":"Phoenix","country":"US"},"is_listed":true,"subsidiaries":[{"name":"Acme Rockets","country":"US","ownership_pct":100}]}`)
	return h, ModelCompletedEvent{ModelResult: ModelResult{Model: cur, Success: true, Result: result, RecordID: &id,
		CostUSD: 0.00123, InputTokens: 812, OutputTokens: 245, ProcessingTimeMS: 1432, Attempts: 1}}
}

func BenchmarkAppendEventModelCompleted(b *testing.B) {
	h, ev := benchEvent()
	buf := make([]byte, 0, 4096)
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendEvent(buf[:0], h, ev, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			body, err := json.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			appendEventBody(buf[:0], h, body)
		}
	})
}

func BenchmarkAppendRawJSON(b *testing.B) {
	_, ev := benchEvent()
	raw := ev.Result
	buf := make([]byte, 0, 4096)
	b.Run("appendRawJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := appendRawJSON(buf[:0], raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for b.Loop() {
			if !json.Valid(raw) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
