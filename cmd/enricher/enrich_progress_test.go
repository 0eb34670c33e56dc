package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// manualClock is a clock that moves only when told.
type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time { return c.t }

// setupProgress returns a progress on a buffer whose clock starts at the returned manualClock.
func setupProgress(t *testing.T, bar bool, total int) (*progress, *bytes.Buffer, *manualClock) {
	t.Helper()
	var w bytes.Buffer
	clock := &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newProgress(&w, bar, total, 0, 0, 0)
	p.now, p.start = clock.now, clock.now()
	return p, &w, clock
}

func TestProgressPlainLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		total int
		step  time.Duration // before each entity
		want  []string
	}{
		{name: "one entity: its line is the final line, printed once", total: 1, step: 500 * time.Millisecond,
			want: []string{"enrich: 1/1 entities, 0 failed, 2.0 entities/s, ETA 0s, cost $0.010000"}},
		{name: "fast entities: the first and the final line", total: 3, step: 100 * time.Millisecond,
			want: []string{
				"enrich: 1/3 entities, 0 failed, 10.0 entities/s, ETA 0s, cost $0.010000",
				"enrich: 3/3 entities, 0 failed, 10.0 entities/s, ETA 0s, cost $0.030000",
			}},
		{name: "slow entities: a line each, no repeat at the end", total: 2, step: 2 * time.Second,
			want: []string{
				"enrich: 1/2 entities, 0 failed, 0.5 entities/s, ETA 2s, cost $0.010000",
				"enrich: 2/2 entities, 0 failed, 0.5 entities/s, ETA 0s, cost $0.020000",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, w, clock := setupProgress(t, false, tt.total)
			for range tt.total {
				clock.t = clock.t.Add(tt.step)
				p.add(true, 0.01)
			}
			p.finish()
			require.Equal(t, tt.want, strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n"))
		})
	}
}

// The bar shows no rate before an entity of this run is done, and then this run's own rate:
// never the "0 entities/hr" its library measures on a first frame.
func TestProgressBarRate(t *testing.T) {
	t.Parallel()
	p, w, clock := setupProgress(t, true, 4)
	require.Equal(t, "enrich: 0 failed, cost $0.000000", p.describe(), "no rate before the first entity")
	clock.t = clock.t.Add(2 * time.Second)
	p.add(true, 0.5)
	require.Equal(t, "enrich: 0 failed, cost $0.500000, 0.5 entities/s, ETA 6s", p.describe())
	clock.t = clock.t.Add(2 * time.Second)
	p.add(false, 0)
	p.finish()
	out := w.String()
	require.NotContains(t, out, "/hr")
	require.NotContains(t, out, "/min")
	require.Contains(t, out, "1 failed, cost $0.500000")
	require.Contains(t, p.describe(), "entities/s, ETA")
}
