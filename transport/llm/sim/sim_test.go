package sim

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

func TestCompleteDeterministic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		other func(r *llm.Request)
		same  bool
	}{
		{name: "identical request", other: func(*llm.Request) {}, same: true},
		{name: "entity key order is irrelevant", other: func(r *llm.Request) {
			r.Hints.Entity = map[string]any{"country": "FR", "name": "Company 1"}
		}, same: true},
		{name: "later attempt gives the same values", other: func(r *llm.Request) { r.Hints.Attempt = 3 }, same: true},
		{name: "other entity", other: func(r *llm.Request) { r.Hints.Entity = company(2) }, same: false},
		{name: "other seed", other: nil, same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			a, err := p.Complete(context.Background(), enrichReq("fast", company(1), 1, 1))
			require.NoError(t, err)
			q := p
			req := enrichReq("fast", company(1), 1, 1)
			if tt.other == nil {
				q, _ = newTest(Config{Seed: 42})
			} else {
				tt.other(req)
			}
			b, err := q.Complete(context.Background(), req)
			require.NoError(t, err)
			if tt.same {
				require.Equal(t, a, b)
			} else {
				require.NotEqual(t, a.Text, b.Text)
			}
		})
	}
}

// TestAgreement checks the agreement contract: each model deviates from the consensus on about
// `disagreement` of the leaves, so two models agree on most leaves where neither deviates.
func TestAgreement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		disagreement float64
		want         float64 // expected share of leaves where a model deviates from the consensus
	}{
		{name: "default 0.3", disagreement: 0, want: 0.3},
		{name: "0.1", disagreement: 0.1, want: 0.1},
		{name: "0.5", disagreement: 0.5, want: 0.5},
	}
	const entities = 400
	leaves := []string{"sector", "founded_year", "revenue_usd", "employees"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			consensus, _ := newTest(Config{Disagreement: -1})
			p, _ := newTest(Config{Disagreement: tt.disagreement})
			var deviateA, deviateB, conflicts, total int
			for i := range entities {
				c, err := consensus.Complete(context.Background(), enrichReq("fast", company(i), 1, 1))
				require.NoError(t, err)
				a, err := p.Complete(context.Background(), enrichReq("fast", company(i), 1, 1))
				require.NoError(t, err)
				b, err := p.Complete(context.Background(), enrichReq("realistic", company(i), 1, 1))
				require.NoError(t, err)
				cm, am, bm := decode(t, c.Text), decode(t, a.Text), decode(t, b.Text)
				for _, leaf := range leaves {
					total++
					if am[leaf] != cm[leaf] {
						deviateA++
					}
					if bm[leaf] != cm[leaf] {
						deviateB++
					}
					if am[leaf] != bm[leaf] {
						conflicts++
					}
				}
			}
			for _, dev := range []int{deviateA, deviateB} {
				share := float64(dev) / float64(total)
				require.InDelta(t, tt.want, share, 0.05, "deviation share")
			}
			// Two independent deviations: conflict share ≈ 1 - (1-d)².
			wantConflict := 1 - (1-tt.want)*(1-tt.want)
			require.InDelta(t, wantConflict, float64(conflicts)/float64(total), 0.06, "conflict share")
		})
	}
}

func TestUnknownModel(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	_, err := p.Complete(context.Background(), enrichReq("nope", company(1), 1, 1))
	var lerr *llm.Error
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, llm.KindBadRequest, lerr.Kind)

	req := enrichReq("fast", company(1), 1, 1)
	req.Hints.CallKind = "poetry"
	_, err = p.Complete(context.Background(), req)
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, llm.KindBadRequest, lerr.Kind)
}

func TestTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		system    string
		messages  []string
		wantInput int
	}{
		{name: "empty prompt", wantInput: 0},
		{name: "exact multiple", system: "abcd", messages: []string{"efgh"}, wantInput: 2},
		{name: "rounded up", system: "abcd", messages: []string{"hello", "x"}, wantInput: 3},
		{name: "multi-byte runes count bytes", messages: []string{"héé"}, wantInput: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			req := enrichReq("fast", company(1), 1, 1)
			req.System = tt.system
			req.Messages = nil
			for _, m := range tt.messages {
				req.Messages = append(req.Messages, llm.Message{Role: "user", Content: m})
			}
			resp, err := p.Complete(context.Background(), req)
			require.NoError(t, err)
			require.Equal(t, tt.wantInput, resp.Usage.InputTokens)
			require.Equal(t, (len(resp.Text)+3)/4, resp.Usage.OutputTokens)
			require.Positive(t, resp.Usage.OutputTokens)
		})
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		model     string
		directive map[string]any
		check     func(t *testing.T, slept []time.Duration, out int)
	}{
		{name: "fast never sleeps", model: "fast", check: func(t *testing.T, slept []time.Duration, _ int) {
			require.Empty(t, slept)
		}},
		{name: "realistic sleeps base plus per token within jitter", model: "realistic", check: func(t *testing.T, slept []time.Duration, out int) {
			require.Len(t, slept, 1)
			nominal := float64(600+20*out) * float64(time.Millisecond)
			require.InDelta(t, nominal, float64(slept[0]), nominal*0.25)
		}},
		{name: "directive latency_ms overrides", model: "realistic", directive: map[string]any{"latency_ms": 250.0},
			check: func(t *testing.T, slept []time.Duration, _ int) {
				require.Equal(t, []time.Duration{250 * time.Millisecond}, slept)
			}},
		{name: "directive latency applies to fast", model: "fast", directive: map[string]any{"latency_ms": 40.0},
			check: func(t *testing.T, slept []time.Duration, _ int) {
				require.Equal(t, []time.Duration{40 * time.Millisecond}, slept)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, rec := newTest(Config{})
			req := enrichReq(tt.model, company(1), 1, 1)
			req.Hints.Directive = tt.directive
			resp, err := p.Complete(context.Background(), req)
			require.NoError(t, err)
			tt.check(t, rec.total(), resp.Usage.OutputTokens)
		})
	}
}

func TestJitterVaries(t *testing.T) {
	t.Parallel()
	p, rec := newTest(Config{})
	for i := range 50 {
		_, err := p.Complete(context.Background(), enrichReq("realistic", company(i), 1, 1))
		require.NoError(t, err)
	}
	distinct := map[time.Duration]bool{}
	for _, d := range rec.total() {
		distinct[d] = true
	}
	require.Greater(t, len(distinct), 25)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sleep func(ctx context.Context, d time.Duration) error
	}{
		{name: "default timer", sleep: nil},
		{name: "injected sleep", sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := New(Config{Sleep: tt.sleep})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := p.Complete(ctx, enrichReq("realistic", company(1), 1, 1))
			require.True(t, errors.Is(err, context.Canceled), "%v", err)
		})
	}
}

func TestTimerSleepHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- timerSleep(ctx, time.Hour) }()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, timerSleep(context.Background(), time.Microsecond))
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	want, err := p.Complete(context.Background(), enrichReq("flaky", company(7), 2, 1))
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			got, gerr := p.Complete(context.Background(), enrichReq("flaky", company(7), 2, 1))
			if gerr != nil || err != nil {
				if gerr == nil || err == nil || gerr.Error() != err.Error() {
					errs <- errors.New("errors differ")
					return
				}
				errs <- nil
				return
			}
			if got.Text != want.Text {
				errs <- errors.New("answers differ")
				return
			}
			errs <- nil
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
}

func BenchmarkCompleteFast(b *testing.B) {
	p := New(Config{})
	req := enrichReq("fast", company(1), 1, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Complete(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWithoutHints(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	req := func(content string) *llm.Request {
		return &llm.Request{Model: "fast", Schema: []byte(companySchema),
			Messages: []llm.Message{{Role: "user", Content: content}}}
	}
	a, err := p.Complete(context.Background(), req("entity one"))
	require.NoError(t, err)
	b, err := p.Complete(context.Background(), req("entity one"))
	require.NoError(t, err)
	c, err := p.Complete(context.Background(), req("entity two"))
	require.NoError(t, err)
	require.Equal(t, a.Text, b.Text)
	require.NotEqual(t, a.Text, c.Text)
	var v any
	require.NoError(t, json.Unmarshal([]byte(a.Text), &v))
	require.Empty(t, conform(schemaMap(t, companySchema), v, "answer"))
}
