package actors

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

func TestStuckSubscriberIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{SSEBuffer: 2}, 0)
	s := spec("fake::a", "fake::b", "fake::c")
	s.Strategy = enricher.StrategyMultiExpertise
	job, err := b.engine.Start("org1", enricher.CreatedBy{}, s)
	require.NoError(t, err)
	stuck, err := b.engine.Subscribe("org1", job.ID) // never read
	require.NoError(t, err)
	defer stuck.Close()
	reader, err := b.engine.Subscribe("org1", job.ID)
	require.NoError(t, err)
	defer reader.Close()

	// The job finishes although one subscriber reads nothing; the other sees every event by
	// resuming from the log whenever it is dropped too.
	var events []event
	for len(events) == 0 || !enricher.TerminalEvent(events[len(events)-1].typ()) {
		part := b.collect(reader, int64(len(events)))
		events = append(events, part...)
		if len(events) > 0 && enricher.TerminalEvent(events[len(events)-1].typ()) {
			break
		}
		reader.Close()
		reader, err = b.engine.Subscribe("org1", job.ID)
		require.NoError(t, err)
	}
	require.Equal(t, "completed", events[len(events)-1].typ())
	require.True(t, stuck.Dropped(), "a subscriber whose buffer filled up is disconnected")
	n := 0
	for range stuck.Live() {
		n++
	}
	require.Equal(t, 2, n, "it keeps what its buffer held; the rest comes from the log")
}

func TestSubscriberLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{SSEMaxSubscribers: 2}, 0)
	release := make(chan struct{})
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		<-release
		return b.provider.answer(req), nil
	}
	id, first := b.start(spec("fake::a"))
	second, err := b.engine.Subscribe("org1", id)
	require.NoError(t, err)
	defer second.Close()
	_, err = b.engine.Subscribe("org1", id)
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "more than sse_max_subscribers is 429")
	close(release)
	require.Equal(t, "completed", b.collect(first, 0)[2].typ())
	late, err := b.engine.Subscribe("org1", id)
	require.NoError(t, err, "a finished job is served from the log to anyone")
	require.Len(t, b.collect(late, 0), 3)
	_, err = b.engine.Subscribe("org2", id)
	require.True(t, enricher.IsKind(err, enricher.KindNotFound))
}

func TestExpertDomainsOneCallWithSections(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	var mu sync.Mutex
	var prompts []string
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		mu.Lock()
		prompts = append(prompts, req.Messages[0].Content)
		mu.Unlock()
		return b.provider.answer(req), nil
	}
	for _, models := range [][]string{{"fake::a"}, {"fake::a", "fake::b", "fake::c"}} {
		mu.Lock()
		prompts = nil
		mu.Unlock()
		s := spec(models...)
		s.Strategy = enricher.StrategyExpertDomains
		_, stream := b.start(s)
		events := b.collect(stream, 0)
		require.Equal(t, "completed", events[len(events)-1].typ())
		mu.Lock()
		require.Len(t, prompts, len(models), "one call per model")
		require.Contains(t, prompts[0], "## Profile")
		require.Contains(t, prompts[0], "## People")
		mu.Unlock()
		require.Empty(t, events[0]["expertise_keys"])
	}
}
