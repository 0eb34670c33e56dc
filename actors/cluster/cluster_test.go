// The nodes of these tests share one process, and protoactor's remote.Start replaces grpc's
// process-wide logger each time a node starts (grpclog.SetLoggerV2) while the gRPC servers of
// the nodes already started read it: a race inside the libraries, not in this module, that
// -race reports. So these tests build without -race; .ci/run runs them so, and fails when
// they did not run.

//go:build !race

package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage/postgres"
	"github.com/entity-enricher/enricher/storage/postgres/pgtest"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// testDatabase creates a database of its own for this test, dropped when t ends (pgtest).
func testDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.Database(t, "enricher_cluster", "the cluster tests")
}

// member is one node of a test cluster: its store, job locks, engine and cluster node.
type member struct {
	db      *postgres.DB
	locks   *postgres.Locks
	permits *postgres.Permits // with a cluster-wide provider cap
	engine  *actors.Engine
	node    *Node
	down    bool
}

// closePermits gives the member's provider permits back (its session ends).
func (m *member) closePermits() {
	if m.permits != nil {
		_ = m.permits.Close()
	}
}

// kill ends the member as abruptly as one process allows: its jobs stop where they are (what
// they stored stays), its database session ends (which frees its job locks) and it leaves
// the cluster without a word.
func (m *member) kill() {
	m.down = true
	m.engine.Stop()
	_ = m.locks.Close()
	m.closePermits()
	close(m.node.stop)
	m.node.done.Wait()
	_ = m.node.c.Config.ClusterProvider.Shutdown(false) // in-memory membership: the node stops renewing itself
	m.node.c.Shutdown(false)
	_ = m.db.Close()
}

// leave stops the member gracefully, as a node shut down does: it leaves the cluster, then
// its jobs stop (and move to the other members) and its locks and permits are given back.
func (m *member) leave() {
	m.down = true
	m.node.Stop()
	m.engine.Stop()
	_ = m.locks.Close()
	m.closePermits()
	_ = m.db.Close()
}

type testCluster struct {
	t       *testing.T
	members []*member
}

const org = "org1"

// setup starts n nodes in this process on one in-memory membership agent and one fresh
// database; every sim call takes latency.
func setup(t *testing.T, n int, latency time.Duration) *testCluster {
	t.Helper()
	return setupWith(t, n, options{latency: latency})
}

// options are the variants of a test cluster.
type options struct {
	latency    time.Duration // of every sim call (each node has its own sim)
	provider   llm.Provider  // when set, the "sim" provider of every node instead
	clusterCap int           // cluster_provider_concurrency; 0: none
}

func setupWith(t *testing.T, n int, o options) *testCluster {
	t.Helper()
	latency := o.latency
	url := testDatabase(t)
	agent := test.NewInMemAgent()
	tc := &testCluster{t: t}
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	require.NoError(t, err)
	for range n {
		db, err := postgres.Open(postgres.Config{URL: url, MaxJobs: 50, MaxJobsPerOrg: 20})
		require.NoError(t, err)
		locks, err := db.OpenLocks()
		require.NoError(t, err)
		// provider replaces the one Provider names: in-memory membership, short TTLs.
		node, err := New(Config{Provider: ProviderAutomanaged, SweepInterval: 500 * time.Millisecond, RequestTimeout: 2 * time.Second,
			provider: test.NewTestProvider(agent, test.WithTestProviderServiceTtl(time.Second),
				test.WithTestProviderRefreshTtl(200*time.Millisecond), test.WithTestProviderDeregisterCritical(2*time.Second))}, db)
		require.NoError(t, err)
		var provider llm.Provider = sim.New(sim.Config{Profiles: map[string]sim.Profile{"fast": {BaseLatencyMS: int(latency.Milliseconds())}}})
		if o.provider != nil {
			provider = o.provider
		}
		deps := actors.Deps{Store: db, Catalog: cat,
			Providers: map[string]actors.Provider{"sim": {Impl: provider}}, Placement: node, Fence: locks}
		var permits *postgres.Permits
		if o.clusterCap > 0 {
			permits, err = db.OpenPermits()
			require.NoError(t, err)
			deps.Permits = permits
		}
		engine, err := actors.New(actors.Config{BatchConcurrency: 4, ClusterProviderConcurrency: o.clusterCap}, deps)
		require.NoError(t, err)
		node.Start(engine)
		m := &member{db: db, locks: locks, permits: permits, engine: engine, node: node}
		tc.members = append(tc.members, m)
	}
	t.Cleanup(func() { // together: each leave sleeps 2 s
		var wg sync.WaitGroup
		for _, m := range tc.members {
			if !m.down {
				wg.Go(m.leave)
			}
		}
		wg.Wait()
	})
	require.Eventually(t, func() bool {
		for _, m := range tc.members {
			if m.node.Members() != n {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "every node sees every member")
	return tc
}

const testSchema = `{"root": {"name": "Company", "description": "A business", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true, "expertise": "profile"},
	"founded_year": {"type": "integer", "expertise": "profile"}}},
	"expertise_domains": {"profile": {"name": "Profile", "description": "Identity"}}}`

// batch starts a batch of n entities through member via.
func (tc *testCluster) batch(via, n int) string {
	tc.t.Helper()
	entities := make([]map[string]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i)}
	}
	job, err := tc.members[via].engine.Start(org, enricher.CreatedBy{}, &enricher.EnrichSpec{Entities: entities,
		SchemaContent: []byte(testSchema), Models: []string{"sim::fast"}, Languages: []string{"en"}, Strategy: enricher.StrategySinglePass})
	require.NoError(tc.t, err)
	return job.ID
}

// runner waits until exactly one live member runs job id and returns its index.
func (tc *testCluster) runner(id string) int {
	tc.t.Helper()
	at := -1
	require.Eventually(tc.t, func() bool {
		at = -1
		for i, m := range tc.members {
			if m.down || m.locks.Held() == 0 {
				continue
			}
			if at >= 0 {
				tc.t.Fatalf("job %s runs on members %d and %d", id, at, i)
			}
			at = i
		}
		return at >= 0
	}, 10*time.Second, 20*time.Millisecond, "a member runs the job")
	return at
}

// final waits for job id to end and returns its stored state.
func (tc *testCluster) final(id string, within time.Duration) *enricher.Job {
	tc.t.Helper()
	var j *enricher.Job
	require.Eventually(tc.t, func() bool {
		var err error
		for _, m := range tc.members {
			if !m.down {
				j, err = m.db.Job(org, id)
				require.NoError(tc.t, err)
				break
			}
		}
		return j.Status.Terminal()
	}, within, 50*time.Millisecond, "the job ends")
	return j
}

// TestJobRunsOnOneNodeAndCancelsFromAnother starts jobs through one node: each runs on
// exactly one member (its grain's), never on two; a cancel sent through a node that does not
// run the job reaches it.
func TestJobRunsOnOneNodeAndCancelsFromAnother(t *testing.T) {
	tc := setup(t, 3, 50*time.Millisecond)
	done := tc.batch(0, 12)
	at := tc.runner(done)
	grain := tc.members[2].node.c.Get(done, kind) // the grain's activation, as any member finds it
	require.NotNil(t, grain)
	require.Equal(t, tc.members[at].node.Address(), grain.Address, "the job runs on its grain's node")
	j := tc.final(done, 20*time.Second)
	require.Equal(t, enricher.JobCompleted, j.Status)
	require.Equal(t, 12, *j.CompletedEntities)
	for _, m := range tc.members {
		require.Eventually(t, func() bool { return m.locks.Held() == 0 }, 5*time.Second, 20*time.Millisecond, "claims are given back")
	}

	long := tc.batch(0, 400)
	at = tc.runner(long)
	other := (at + 1) % len(tc.members)
	require.NoError(t, tc.members[other].engine.Cancel(org, long))
	j = tc.final(long, 10*time.Second)
	require.Equal(t, enricher.JobCancelled, j.Status)
	err := tc.members[other].engine.Cancel(org, long)
	require.True(t, enricher.IsKind(err, enricher.KindConflict), "cancelling a finished job: %v", err)
}

// TestJobOfALostNodeFinishesElsewhere kills the member running a batch in its middle: a
// surviving member resumes it from its stored events and completes it, with every entity
// counted once and one record per entity.
func TestJobOfALostNodeFinishesElsewhere(t *testing.T) {
	tc := setup(t, 3, 30*time.Millisecond)
	const n = 120
	id := tc.batch(0, n)
	at := tc.runner(id)
	require.Eventually(t, func() bool {
		j, err := tc.members[at].db.Job(org, id)
		require.NoError(t, err)
		return j.CompletedEntities != nil && *j.CompletedEntities >= 10
	}, 20*time.Second, 10*time.Millisecond, "the batch is under way")
	tc.members[at].kill()
	killed := time.Now()
	next := tc.runner(id)
	require.NotEqual(t, at, next)
	t.Logf("resumed on a surviving node %v after the kill", time.Since(killed).Round(time.Millisecond))
	j := tc.final(id, 30*time.Second)
	t.Logf("completed %v after the kill", time.Since(killed).Round(time.Millisecond))
	require.Equal(t, enricher.JobCompleted, j.Status)
	require.Equal(t, n, *j.CompletedEntities)
	require.Zero(t, *j.FailedEntities)
	records, err := tc.members[next].db.RecordsOfJob(org, id)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, r := range records {
		require.NotNil(t, r.EntityIndex)
		require.False(t, seen[*r.EntityIndex], "entity %d has two records", *r.EntityIndex)
		seen[*r.EntityIndex] = true
	}
	require.Len(t, seen, n)
	require.Equal(t, n, j.RecordCount)
}
