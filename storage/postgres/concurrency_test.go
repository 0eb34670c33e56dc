package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// openNodes opens n stores on one fresh schema, as n nodes sharing a database would, all
// starting at once (their migrations race on the advisory lock).
func openNodes(t *testing.T, n int) []*DB {
	t.Helper()
	url := schemaURL(t, testDatabase(t), 1)
	nodes := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = Open(Config{URL: url}) })
	}
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i])
		t.Cleanup(func() { require.NoError(t, nodes[i].Close()) })
	}
	var versions int
	require.NoError(t, nodes[0].pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&versions))
	files, err := fs.Glob(migrations, "migrations/*.sql")
	require.NoError(t, err)
	require.Equal(t, len(files), versions, "each migration applied once")
	return nodes
}

// TestNodesShareCountersAndKeys runs the read-modify-write methods from several stores on one
// database at once: every increment lands, and a contended idempotency key binds exactly once.
func TestNodesShareCountersAndKeys(t *testing.T) {
	nodes := openNodes(t, 3)
	member := enricher.RoleEditor
	require.NoError(t, nodes[0].CreateAPIKey(&enricher.APIKey{ID: "k", OrganizationID: "o", Role: &member, IsActive: true,
		CreatedAt: enricher.NewTime(time.Now()), Hash: "h"}))
	const rounds = 20
	var wg sync.WaitGroup
	for _, db := range nodes {
		wg.Go(func() {
			for range rounds {
				require.NoError(t, db.AddKeyUsage([]enricher.KeyUsage{{OrgID: "o", KeyID: "k", Uses: 1, LastUsed: time.Now()}}))
			}
		})
	}
	wg.Wait()
	k, err := nodes[1].APIKey("o", "k")
	require.NoError(t, err)
	require.EqualValues(t, len(nodes)*rounds, k.UseCount, "no lost update across nodes")

	bind := &enricher.IdempotencyBinding{Key: "same", Fingerprint: "fp", TTL: time.Hour}
	won := make([]bool, len(nodes))
	for i, db := range nodes {
		wg.Go(func() {
			j := &enricher.Job{ID: fmt.Sprintf("job-%d", i), OrganizationID: "o", Status: enricher.JobPending, CreatedAt: enricher.NewTime(time.Now())}
			err := db.CreateJob(j, bind)
			if err != nil {
				require.True(t, enricher.IsKind(err, enricher.KindConflict), "%v", err)
			}
			won[i] = err == nil
		})
	}
	wg.Wait()
	winners := 0
	for _, w := range won {
		if w {
			winners++
		}
	}
	require.Equal(t, 1, winners, "one start takes the key")
	start, err := nodes[2].Idempotency("o", "same")
	require.NoError(t, err)
	_, err = nodes[0].Job("o", start.JobID)
	require.NoError(t, err, "the key names the job that won")
}
