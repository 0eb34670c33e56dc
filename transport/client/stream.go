package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entity-enricher/enricher"
)

// defaultRetry is the reconnection delay before the server has sent a `retry:` field.
const defaultRetry = 3 * time.Second

// Common holds the fields every event carries, plus entity_index (null outside
// batches). The batch counters are nil outside batch jobs.
type Common struct {
	Seq               int64              `json:"seq"`
	JobID             string             `json:"job_id"`
	JobType           enricher.JobType   `json:"job_type"`
	Status            enricher.JobStatus `json:"status"`
	Timestamp         enricher.Time      `json:"timestamp"`
	IsPaused          bool               `json:"is_paused"`
	TotalModels       int                `json:"total_models"`
	CompletedModels   int                `json:"completed_models"`
	RunningModels     []string           `json:"running_models"`
	CurrentModel      *string            `json:"current_model"`
	CurrentAttempt    int                `json:"current_attempt"`
	MaxAttempts       int                `json:"max_attempts"`
	LastErrorSummary  *string            `json:"last_error_summary"`
	TotalEntities     *int               `json:"total_entities"`
	CompletedEntities *int               `json:"completed_entities"`
	FailedEntities    *int               `json:"failed_entities"`
	SkippedEntities   *int               `json:"skipped_entities"`
	EntityIndex       *int               `json:"entity_index"`
}

// Event is one event of a job's stream: its id (the `seq`), its type, the whole JSON object
// as sent, and the common fields decoded. Data belongs to the receiver.
type Event struct {
	ID   int64
	Type string
	Data json.RawMessage
	Common
}

// Terminal reports whether e ends its job (completed, failed or cancelled).
func (e *Event) Terminal() bool { return enricher.TerminalEvent(e.Type) }

// Decode unmarshals the event's JSON into v, typically one of the root package's payload
// types (enricher.EntityCompletedEvent, enricher.ModelCompletedEvent, ...).
func (e *Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// Stream follows job jobID's events after lastEventID (0 for all) and yields them in seq
// order, each exactly once. When a connection ends before the terminal event, Stream
// reconnects with `Last-Event-ID` set to the last id it yielded, after the server's `retry:`
// delay doubled per attempt that brought no event (see WithReconnect); `: ping` comments are
// skipped. The sequence ends after the terminal event, or when the job is terminal and
// already delivered up to lastEventID. Otherwise its last pair carries a non-nil error: an
// *Error for a 4xx answer other than 429 (not retried), the context's error, or the cause
// after too many fruitless reconnections. Breaking out of the loop closes the connection.
func (c *Client) Stream(ctx context.Context, jobID string, lastEventID int64) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		st := &streamState{last: lastEventID, retry: defaultRetry}
		failures := 0
		for {
			progressed, done, err := c.streamOnce(ctx, jobID, st, yield)
			if done {
				return
			}
			if ctx.Err() != nil {
				yield(Event{}, ctx.Err())
				return
			}
			var apiErr *Error
			if errors.As(err, &apiErr) && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests {
				yield(Event{}, err)
				return
			}
			if progressed {
				failures = 0
			}
			// A finished job whose events were all delivered closes the stream at once
			//: nothing is left to wait for.
			if j, jerr := c.Job(ctx, jobID); jerr == nil && j.Status.Terminal() && j.LastSeq <= st.last {
				return
			}
			failures++
			if failures > c.reconnects {
				yield(Event{}, fmt.Errorf("stream of job %s: %d reconnections without an event: %w", jobID, failures-1, err))
				return
			}
			delay := st.retry << (failures - 1)
			if delay > c.maxDelay || delay <= 0 {
				delay = c.maxDelay
			}
			if apiErr != nil && apiErr.RetryAfter > delay {
				delay = apiErr.RetryAfter
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(Event{}, ctx.Err())
				return
			case <-t.C:
			}
		}
	}
}

// streamState is what survives a reconnection: the last id yielded and the retry delay.
type streamState struct {
	last  int64
	retry time.Duration
}

// streamOnce reads one connection. progressed tells whether it yielded an event; done that
// the sequence is over (terminal event yielded, or the consumer stopped). err is why the
// connection ended otherwise (io.ErrUnexpectedEOF for a close before the terminal event).
func (c *Client) streamOnce(ctx context.Context, jobID string, st *streamState, yield func(Event, error) bool) (progressed, done bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache"}
	if st.last > 0 {
		h["Last-Event-ID"] = strconv.FormatInt(st.last, 10)
	}
	req, err := c.newRequest(ctx, request{method: "GET", path: "/api/llm/stream/" + url.PathEscape(jobID), headers: h})
	if err != nil {
		return false, false, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return false, false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, false, decodeError(res)
	}
	rd := bufio.NewReaderSize(res.Body, 64<<10)
	var id string
	var data strings.Builder
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return progressed, false, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" { // dispatch
			if data.Len() == 0 {
				continue
			}
			ev, perr := parseEvent(id, data.String())
			data.Reset()
			if perr != nil {
				return progressed, false, perr
			}
			if ev.ID <= st.last {
				continue // already yielded before a reconnection
			}
			st.last, progressed = ev.ID, true
			if !yield(ev, nil) || ev.Terminal() {
				return true, true, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // comment, e.g. ": ping"
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil && ms >= 0 {
				st.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// parseEvent builds an Event from its id line and data.
func parseEvent(id, data string) (Event, error) {
	ev := Event{Data: json.RawMessage(data)}
	var head struct {
		Type string `json:"type"`
		Common
	}
	if err := json.Unmarshal(ev.Data, &head); err != nil {
		return ev, fmt.Errorf("event %s: %w", id, err)
	}
	ev.Type, ev.Common = head.Type, head.Common
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		n = head.Seq // no id line: fall back to the payload's seq
	}
	ev.ID = n
	return ev, nil
}
