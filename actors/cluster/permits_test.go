// In-process cluster members: built without -race, as cluster_test.go says why.

//go:build !race

package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// vendor is the one account every node of a test calls: a sim behind a counter of the calls
// in flight on all nodes together. Calls wait until hold is closed (or their caller gives up).
type vendor struct {
	sim      llm.Provider
	hold     chan struct{}
	mu       sync.Mutex
	inflight int
	max      int
}

func (v *vendor) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	v.mu.Lock()
	v.inflight++
	v.max = max(v.max, v.inflight)
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.inflight--
		v.mu.Unlock()
	}()
	select {
	case <-v.hold:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return v.sim.Complete(ctx, req)
}

func (v *vendor) counts() (inflight, most int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.inflight, v.max
}

// TestProviderCapHoldsForTheCluster: three members, each with its own ceiling of 8 calls in
// flight, share cluster_provider_concurrency=6: jobs running on several members never have
// more than 6 calls in flight together. A member that stops (gracefully: a kill costs this
// package's tests 8 s more in the library's shutdown; lost sessions are covered by
// storage/postgres and actors tests) gives its permits back and the others use them; every
// job completes, its jobs on the other members.
func TestProviderCapHoldsForTheCluster(t *testing.T) {
	v := &vendor{sim: sim.New(sim.Config{Profiles: map[string]sim.Profile{"fast": {BaseLatencyMS: 10}}}), hold: make(chan struct{})}
	tc := setupWith(t, 3, options{provider: v, clusterCap: 6})
	var ids []string
	for range 6 {
		ids = append(ids, tc.batch(0, 12))
	}
	held := func(skip int) int {
		n := 0
		for i, m := range tc.members {
			if i != skip && !m.down {
				n += m.permits.Held("sim")
			}
		}
		return n
	}
	// The jobs run on several members, all wanting permits, their calls held: the cap is
	// reached, and stays reached until the calls are let go.
	require.Eventually(t, func() bool { inflight, _ := v.counts(); return inflight == 6 }, 20*time.Second, 10*time.Millisecond,
		"the members reach the cap together")
	busy := -1
	for i, m := range tc.members {
		if m.permits.Held("sim") > 0 && m.permits.Held("sim") < 6 {
			busy = i
		}
	}
	if busy < 0 { // one member holds them all: stop that one
		for i, m := range tc.members {
			if m.permits.Held("sim") > 0 {
				busy = i
			}
		}
	}
	require.GreaterOrEqual(t, busy, 0, "a member holds permits")
	tc.members[busy].leave()
	require.Eventually(t, func() bool { return held(busy) == 6 }, 20*time.Second, 10*time.Millisecond,
		"the surviving members take the stopped member's permits")
	close(v.hold)
	for _, id := range ids {
		j := tc.final(id, 60*time.Second)
		require.Equal(t, enricher.JobCompleted, j.Status)
		require.Equal(t, 12, *j.CompletedEntities)
	}
	inflight, most := v.counts()
	require.LessOrEqual(t, most, 6, "calls in flight on all members together")
	require.Zero(t, inflight)
	require.Eventually(t, func() bool { return held(busy) == 0 }, 5*time.Second, 10*time.Millisecond, "idle members give permits back")
}
