package actors

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

func TestSingleModel(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	id, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, []string{"model_started", "model_completed", "completed"}, types(events))

	done := events[1]
	require.Equal(t, true, done["success"])
	require.Equal(t, map[string]any{"name": "Moderna Inc", "country": "US", "founded_year": 2010.0, "ceo": "Stéphane Bancel"}, done["result"])
	recordID := done["record_id"].(string)
	rec, err := b.db.Record("org1", recordID)
	require.NoError(t, err, "the record named by model_completed is stored")
	require.Len(t, rec.Prompts, 1)
	require.Equal(t, 1, rec.Prompts[0].Attempts)
	require.InDelta(t, 100*3/1e6+20*3/1e6, rec.CostUSD, 1e-12)

	final := events[2]
	require.Equal(t, "completed", final["status"])
	outcome := final["result"].(map[string]any)
	require.Equal(t, true, outcome["success"])
	require.Equal(t, false, outcome["is_fused"])
	require.Equal(t, recordID, outcome["record_id"])

	job, err := b.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, enricher.JobCompleted, job.Status)
	require.EqualValues(t, 3, job.LastSeq)
	_, err = b.engine.Job("org2", id)
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "another organization's job is not found")
}

func TestThreeModelsFuse(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	_, stream := b.start(spec("fake::b", "fake::a", "fake::c"))
	events := b.collect(stream, 0)
	tt := types(events)
	require.Equal(t, []string{"model_started", "model_started", "model_started"}, tt[:3])
	require.Equal(t, []string{"fusion_started", "conflicts_detected", "fusion_completed", "completed"}, tt[6:])

	conflicts := events[7]
	require.EqualValues(t, 4, conflicts["total_fields"])
	require.EqualValues(t, 1, conflicts["conflicted_fields"])
	require.Equal(t, []any{"ceo"}, conflicts["conflict_paths"])
	fusion := events[8]
	require.Equal(t, true, fusion["success"])
	merged := fusion["merged_result"].(map[string]any)
	require.Equal(t, "Stéphane Bancel", merged["ceo"], "two of three models agree")

	outcome := events[9]["result"].(map[string]any)
	require.Equal(t, true, outcome["is_fused"])
	require.Nil(t, outcome["model"])
	require.Equal(t, fusion["record_id"], outcome["record_id"])
	require.Equal(t, []any{"fake::b", "fake::a", "fake::c"}, outcome["source_models"])
}

func TestMultiExpertise(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	s := spec("fake::a")
	s.Strategy = enricher.StrategyMultiExpertise
	_, stream := b.start(s)
	events := b.collect(stream, 0)
	require.Equal(t, []string{"model_started", "expertise_completed", "expertise_completed", "model_completed", "completed"}, types(events))
	require.Equal(t, []any{"profile", "people"}, events[0]["expertise_keys"])
	last := events[2]
	require.EqualValues(t, 2, last["completed_expertises"])
	require.NotNil(t, last["partial_result"])
	done := events[3]
	require.Len(t, done["expertise_breakdown"], 2)
	require.Equal(t, "Stéphane Bancel", done["result"].(map[string]any)["ceo"])
}

func TestSelfCorrection(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.Attempt == 1 {
			return &llm.Response{Text: `{"founded_year": "twenty ten", "ceo": null}`, Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}}, nil
		}
		require.Len(t, req.Messages, 3, "the previous answer and the problems are sent back")
		require.Contains(t, req.Messages[2].Content, "founded_year: expected integer, got string")
		return b.provider.answer(req), nil
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, []string{"model_started", "attempt_failed", "model_completed", "completed"}, types(events))
	failed := events[1]
	require.Equal(t, "validation_failed", failed["error_kind"])
	require.Equal(t, true, failed["will_retry"])
	require.EqualValues(t, 1, failed["attempt"])
	require.EqualValues(t, 2, events[2]["attempts"])
	rec, err := b.db.Record("org1", events[2]["record_id"].(string))
	require.NoError(t, err)
	require.Len(t, rec.Prompts[0].AttemptLog, 2, "both answers are billed and logged")
}

func TestValidationGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{MaxAttempts: 3}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		return &llm.Response{Text: "I do not know", Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}}, nil
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, []string{"model_started", "attempt_failed", "attempt_failed", "attempt_failed", "model_completed", "error", "failed"}, types(events))
	require.Equal(t, false, events[3]["will_retry"])
	require.Equal(t, "validation_failed", events[4]["error_code"])
	require.Equal(t, true, events[5]["fatal"])
	require.Equal(t, "all_models_failed", events[6]["error_code"])
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.Try == 1 {
			return nil, &llm.Error{Kind: llm.KindRateLimited, Status: 429, RetryAfter: 40 * time.Millisecond, Message: "slow down"}
		}
		return b.provider.answer(req), nil
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, []string{"model_started", "attempt_failed", "model_completed", "completed"}, types(events))
	require.Equal(t, "rate_limited", events[1]["error_kind"])
	require.Equal(t, true, events[1]["will_retry"])
	require.Equal(t, 40*time.Millisecond, <-b.retries, "the provider waits the Retry-After, not its backoff")
	require.EqualValues(t, 1, events[2]["attempts"], "transport retries do not use validation attempts")
}

func TestAuthErrorNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		return nil, &llm.Error{Kind: llm.KindAuth, Status: 401, Message: "invalid key"}
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, "auth_failed", events[len(events)-3]["error_code"])
	require.Equal(t, 1, b.provider.calls)
	require.Empty(t, b.retries)
}

func TestProviderCap(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 2)
	release := make(chan struct{})
	var once sync.Once
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if n == 2 {
			once.Do(func() { close(release) })
		}
		<-release
		return b.provider.answer(req), nil
	}
	s := spec("fake::a", "fake::b", "fake::c")
	s.Strategy = enricher.StrategyMultiExpertise
	var streams []*Stream
	for range 3 {
		_, st := b.start(s)
		streams = append(streams, st)
	}
	for _, st := range streams {
		events := b.collect(st, 0)
		require.Equal(t, "completed", events[len(events)-1].typ())
	}
	require.Equal(t, 2, b.provider.max(), "never more calls in flight than the cap")
	require.Equal(t, 2, b.engine.ProviderMaxInflight("fake"))
	require.Equal(t, 18, b.provider.calls)
}

func TestCancelAbortsCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	aborted := make(chan struct{}, 10)
	entered := make(chan struct{}, 10)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		entered <- struct{}{}
		<-ctx.Done()
		aborted <- struct{}{}
		return nil, ctx.Err()
	}
	id, stream := b.start(spec("fake::a", "fake::b"))
	<-entered
	<-entered
	require.NoError(t, b.engine.Cancel("org1", id))
	events := b.collect(stream, 0)
	require.Equal(t, "cancelled", events[len(events)-1].typ())
	require.Equal(t, "user", events[len(events)-1]["reason"])
	<-aborted
	<-aborted
	for _, e := range events {
		if e.typ() == "model_completed" {
			require.Equal(t, true, e["cancelled"])
		}
	}
	job, err := b.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, enricher.JobCancelled, job.Status)
	err = b.engine.Cancel("org1", id)
	require.True(t, enricher.IsKind(err, enricher.KindConflict), "cancelling twice is a conflict")
}

func mismatchProvider(b *bundle) {
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.CallKind == "classification" {
			return &llm.Response{Text: `{"status":"mismatch","expected_type":"Company","entity_description":"a drug","confidence":0.8,"reasoning":"it is a drug","alternative_interpretations":["drug"]}`,
				Usage: llm.Usage{InputTokens: 10, OutputTokens: 5}}, nil
		}
		return b.provider.answer(req), nil
	}
}

func TestClassificationMismatch(t *testing.T) {
	t.Parallel()
	classifier := "fake::c"
	tests := []struct {
		name   string
		policy string
		act    func(b *bundle, id string)
		want   []string
		final  string
	}{
		{name: "pause then continue", policy: "pause", act: func(b *bundle, id string) { require.NoError(t, b.engine.Continue("org1", id)) },
			want: []string{"classification_started", "classification_completed", "classification_mismatch_pause", "job_resumed", "model_started", "model_completed", "completed"}},
		{name: "pause then cancel", policy: "pause", act: func(b *bundle, id string) { require.NoError(t, b.engine.Cancel("org1", id)) },
			want: []string{"classification_started", "classification_completed", "classification_mismatch_pause", "cancelled"}, final: "user"},
		{name: "pause timeout", policy: "pause", act: func(b *bundle, id string) {},
			want: []string{"classification_started", "classification_completed", "classification_mismatch_pause", "cancelled"}, final: "pause_timeout"},
		{name: "cancel", policy: "cancel",
			want: []string{"classification_started", "classification_completed", "cancelled"}, final: "classification_mismatch"},
		{name: "continue", policy: "continue",
			want: []string{"classification_started", "classification_completed", "model_started", "model_completed", "completed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{PauseTimeout: 50 * time.Millisecond}, 0)
			if tt.name != "pause timeout" {
				b.engine.cfg.PauseTimeout = time.Hour
			}
			mismatchProvider(b)
			s := spec("fake::a")
			s.ClassificationModel, s.OnMismatch = &classifier, tt.policy
			id, stream := b.start(s)
			var events []event
			if tt.act != nil {
				// wait for the pause before acting
				events = waitFor(t, b, stream, "classification_mismatch_pause")
				tt.act(b, id)
				events = append(events, b.collect(stream, int64(len(events)))...)
			} else {
				events = b.collect(stream, 0)
			}
			require.Equal(t, tt.want, types(events))
			last := events[len(events)-1]
			if tt.final != "" {
				require.Equal(t, tt.final, last["reason"])
				job, err := b.engine.Job("org1", id)
				require.NoError(t, err)
				require.Len(t, job.RecordIDs, 1, "the classification call is kept in the first model's record")
				rec, err := b.db.Record("org1", job.RecordIDs[0])
				require.NoError(t, err)
				require.Equal(t, "classification", rec.Prompts[0].CallKind)
				require.True(t, rec.Cancelled)
			}
		})
	}
}

// waitFor reads stored and live events until one of type typ, and returns them.
func waitFor(t *testing.T, b *bundle, s *Stream, typ string) []event {
	t.Helper()
	var out []event
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ev, ok, err := s.Next(context.Background(), 10*time.Millisecond)
		require.NoError(t, err)
		if !ok {
			continue
		}
		var e event
		require.NoError(t, json.Unmarshal(ev.Data, &e))
		out = append(out, e)
		if e.typ() == typ {
			return out
		}
	}
	t.Fatalf("no %s event", typ)
	return nil
}

func TestQuotaExhaustedNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		return nil, &llm.Error{Kind: llm.KindQuotaExhausted, Status: 429, Message: "insufficient_quota"}
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	done := events[len(events)-3]
	require.Equal(t, "model_completed", done.typ())
	require.Equal(t, "rate_limited", done["error_code"], "quota exhaustion is reported as rate_limited")
	require.Equal(t, 1, b.provider.calls, "and never retried")
	require.Empty(t, b.retries)
}

func TestRetryTotalWaitCap(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{Retry: llm.RetryPolicy{Base: 10 * time.Millisecond, Retries: 5, MaxTotalWait: 35 * time.Millisecond}}, 0)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 500, Message: "boom"}
	}
	_, stream := b.start(spec("fake::a"))
	events := b.collect(stream, 0)
	require.Equal(t, "failed", events[len(events)-1].typ())
	var waited time.Duration
	for len(b.retries) > 0 {
		waited += <-b.retries
	}
	require.LessOrEqual(t, waited, 35*time.Millisecond, "retries stop before the total wait passes the cap")
	require.Less(t, b.provider.calls, 6, "the cap cuts the retries short of llm_retries")
}
