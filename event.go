package enricher

import (
	"encoding/json"
	"strconv"
	"time"
)

// Event names.
const (
	EventClassificationStarted   = "classification_started"
	EventClassificationCompleted = "classification_completed"
	EventMismatchPause           = "classification_mismatch_pause"
	EventJobResumed              = "job_resumed"
	EventModelStarted            = "model_started"
	EventAttemptFailed           = "attempt_failed"
	EventExpertiseCompleted      = "expertise_completed"
	EventModelCompleted          = "model_completed"
	EventWaterfallEscalated      = "waterfall_escalated"
	EventFusionStarted           = "fusion_started"
	EventConflictsDetected       = "conflicts_detected"
	EventArbitrationStarted      = "arbitration_started"
	EventArbitrationCompleted    = "arbitration_completed"
	EventFusionCompleted         = "fusion_completed"
	EventBatchStarted            = "batch_started"
	EventEntityStarted           = "entity_started"
	EventEntityCompleted         = "entity_completed"
	EventBatchCompleted          = "batch_completed"
	EventProviderBatchSubmitted  = "provider_batch_submitted"
	EventProviderBatchProgress   = "provider_batch_progress"
	EventProviderBatchEnded      = "provider_batch_ended"
	EventError                   = "error"
	EventCompleted               = "completed"
	EventFailed                  = "failed"
	EventCancelled               = "cancelled"
)

// TerminalEvent reports whether an event of type t ends its job's stream.
func TerminalEvent(t string) bool {
	return t == EventCompleted || t == EventFailed || t == EventCancelled
}

// EventHeader holds the common fields of every event. The job actor fills it from
// its state when it emits an event.
type EventHeader struct {
	Type             string
	Seq              int64
	JobID            string
	JobType          JobType
	Status           JobStatus
	Timestamp        time.Time
	TotalModels      int
	CompletedModels  int
	RunningModels    []string
	CurrentModel     *string
	CurrentAttempt   int
	MaxAttempts      int
	LastErrorSummary *string
	Batch            *BatchCounters // nil outside batch jobs: the fields are then absent
}

// BatchCounters are the entity counters of a batch job.
type BatchCounters struct {
	TotalEntities     int `json:"total_entities"`
	CompletedEntities int `json:"completed_entities"`
	FailedEntities    int `json:"failed_entities"`
	SkippedEntities   int `json:"skipped_entities"`
}

// Truncatable is implemented by payloads whose object fields may be dropped when the event is
// too large: Truncated returns a copy with those fields null and "truncated": true.
type Truncatable interface{ Truncated() any }

// AppendEvent appends the JSON of one event (header fields first, then the payload's fields)
// to dst. payload must encode as a JSON object (a struct or map), or be nil. When the encoded
// payload is larger than maxPayload (> 0) and implements Truncatable, its truncated form is
// used instead. The hot payloads encode themselves (payloadAppender, event_append.go); the
// others go through json.Marshal. On error dst is returned unchanged.
func AppendEvent(dst []byte, h *EventHeader, payload any, maxPayload int) ([]byte, error) {
	if p, ok := payload.(payloadAppender); ok {
		return appendEventWith(dst, h, p, maxPayload)
	}
	var body []byte
	if payload != nil {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return dst, err
		}
		if t, ok := payload.(Truncatable); ok && maxPayload > 0 && len(body) > maxPayload {
			if body, err = json.Marshal(t.Truncated()); err != nil {
				return dst, err
			}
		}
	}
	return appendEventBody(dst, h, body), nil
}

// appendEventWith appends the event of a self-encoding payload: the header, then the
// payload's object appended in place, its opening brace turned into the comma that splices its
// fields after the header's.
func appendEventWith(dst []byte, h *EventHeader, p payloadAppender, maxPayload int) ([]byte, error) {
	orig := len(dst)
	dst = appendEventHeader(dst, h)
	mark := len(dst)
	dst, err := p.appendJSON(dst)
	if err != nil {
		return dst[:orig], err
	}
	if t, ok := p.(Truncatable); ok && maxPayload > 0 && len(dst)-mark > maxPayload {
		short, ok := t.Truncated().(payloadAppender)
		if !ok { // a Truncated form always encodes itself; json.Marshal is the fallback
			return AppendEvent(dst[:orig], h, t.Truncated(), 0)
		}
		if dst, err = short.appendJSON(dst[:mark]); err != nil {
			return dst[:orig], err
		}
	}
	if len(dst)-mark <= 2 { // an empty object
		return append(dst[:mark], '}'), nil
	}
	dst[mark] = ','
	return dst, nil
}

// AppendBareEvent appends the JSON of an event without payload fields (the fallback when a
// payload cannot be encoded). It cannot fail.
func AppendBareEvent(dst []byte, h *EventHeader) []byte {
	return appendEventBody(dst, h, nil)
}

// appendEventBody appends the header fields of h, then the fields of body (a JSON object, or
// empty).
func appendEventBody(dst []byte, h *EventHeader, body []byte) []byte {
	dst = appendEventHeader(dst, h)
	if len(body) > 2 { // a non-empty object: splice its fields in
		dst = append(dst, ',')
		return append(dst, body[1:]...)
	}
	return append(dst, '}')
}

// appendEventHeader appends the opening brace and the header fields of h, without the
// closing brace.
func appendEventHeader(dst []byte, h *EventHeader) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, h.Type)
	dst = append(dst, `,"event":`...)
	dst = appendJSONString(dst, h.Type)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, h.Seq, 10)
	dst = append(dst, `,"job_id":`...)
	dst = appendJSONString(dst, h.JobID)
	dst = append(dst, `,"job_type":`...)
	dst = appendJSONString(dst, string(h.JobType))
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(h.Status))
	dst = append(dst, `,"timestamp":"`...)
	dst = h.Timestamp.UTC().AppendFormat(dst, TimeLayout)
	dst = append(dst, `","is_paused":`...)
	dst = strconv.AppendBool(dst, h.Status == JobPaused)
	dst = append(dst, `,"total_models":`...)
	dst = strconv.AppendInt(dst, int64(h.TotalModels), 10)
	dst = append(dst, `,"completed_models":`...)
	dst = strconv.AppendInt(dst, int64(h.CompletedModels), 10)
	dst = append(dst, `,"running_models":[`...)
	for i, m := range h.RunningModels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, m)
	}
	dst = append(dst, `],"current_model":`...)
	dst = appendNullableString(dst, h.CurrentModel)
	dst = append(dst, `,"current_attempt":`...)
	dst = strconv.AppendInt(dst, int64(h.CurrentAttempt), 10)
	dst = append(dst, `,"max_attempts":`...)
	dst = strconv.AppendInt(dst, int64(h.MaxAttempts), 10)
	dst = append(dst, `,"last_error_summary":`...)
	dst = appendNullableString(dst, h.LastErrorSummary)
	if b := h.Batch; b != nil {
		dst = append(dst, `,"total_entities":`...)
		dst = strconv.AppendInt(dst, int64(b.TotalEntities), 10)
		dst = append(dst, `,"completed_entities":`...)
		dst = strconv.AppendInt(dst, int64(b.CompletedEntities), 10)
		dst = append(dst, `,"failed_entities":`...)
		dst = strconv.AppendInt(dst, int64(b.FailedEntities), 10)
		dst = append(dst, `,"skipped_entities":`...)
		dst = strconv.AppendInt(dst, int64(b.SkippedEntities), 10)
	}
	return dst
}
